/**
 * Keyspace notifications on a shard: after a write succeeds, the events Redis would
 * notify are sent to the acceptor as reply frames with connId 0 and seq 0, body
 * [0][db u8][event length u8][event][key]; the acceptor publishes them. The worker calls in
 * here only while `notify-keyspace-events` enables a class (notifyState.flags !== 0).
 */
import { CMD } from '../commands/ids.generated.js';
import { internalId } from '../commands/internal.js';
import { parseSortArgs } from '../commands/sort-args.js';
import { recKeyLen, recKeyOff } from './record.js';
import type { Ctx, Handler } from './context.js';
import type { Store } from './store.js';
import { copyBytes } from '../wire/bytes.js';
import { smoveState } from './t_set.js';
import {
  NOTIFY_EXPIRED as EXPIRED,
  NOTIFY_GENERIC as GENERIC,
  NOTIFY_HASH as HASH,
  NOTIFY_LIST as LIST,
  NOTIFY_SET as SET,
  NOTIFY_STRING as STRING,
  NOTIFY_STREAM,
  NOTIFY_ZSET as ZSET,
} from '../wire/keyspace-events.js';

/** The class bits the acceptor pushed (keyspace-events bit layout). */
export const notifyState = { flags: 0 };

let sink: (body: Uint8Array, len: number) => void = () => {};
let ev = new Uint8Array(1024);
/** DEL/UNLINK (and a STORE's destination): which keys existed before the command ran. */
let existed: boolean[] = [];

/** Where event frames go (the worker's reply ring). */
export function setEventSink(fn: (body: Uint8Array, len: number) => void): void {
  sink = fn;
}

/** Emits one event for the key `b[s, s+n)` if its class is enabled. */
function emit(cls: number, name: string, db: number, b: Uint8Array, s: number, n: number): void {
  if ((notifyState.flags & cls) === 0) return;
  const len = 3 + name.length + n;
  if (ev.length < len) ev = new Uint8Array(len * 2);
  ev[0] = 0;
  ev[1] = db;
  ev[2] = name.length;
  for (let i = 0; i < name.length; i++) ev[3 + i] = name.charCodeAt(i);
  copyBytes(ev, 3 + name.length, b, s, n);
  sink(ev, len);
}

/** Emits event `name` of class `cls` for key argument `i` of the running command. */
export function keyEvent(c: Ctx, cls: number, name: string, i: number): void {
  emit(cls, name, c.db, c.buf, c.as[i]!, c.al[i]!);
}

/** Expiry hook: the record at `a` is being deleted because its TTL passed. */
export function notifyExpired(store: Store, db: number, a: number): void {
  if (notifyState.flags === 0) return;
  const m = store.arena;
  emit(EXPIRED, 'expired', db, m.u8, recKeyOff(m, a), recKeyLen(m, a));
}

/** Before a command: remembers what the after-hook cannot see any more. */
export function beforeCommand(c: Ctx, cmd: number): void {
  if (STORES.has(cmd)) {
    existed = [c.lookup(1) !== 0];
    return;
  }
  const at = storeArg(c, cmd);
  if (at >= 0) {
    existed = [at > 0 && c.lookup(at) !== 0];
    return;
  }
  if (cmd !== CMD.DEL && cmd !== CMD.UNLINK) return;
  existed = [];
  for (let i = 1; i < c.argc; i++) existed.push(c.lookup(i) !== 0);
}

/** Reply classes the after-hook tells apart. */
function replyKind(c: Ctx): 'error' | 'null' | 'zero' | 'other' {
  const b = c.out.bytes;
  if (b[0] === 45) return 'error';
  if (b[0] === 95 || (b[1] === 45 && (b[0] === 36 || b[0] === 42))) return 'null';
  if (b[0] === 58 && b[1] === 48) return 'zero';
  return 'other';
}

/** Whether SET's options include a TTL (EX, PX, EXAT, PXAT). */
function setHasTtl(c: Ctx): boolean {
  for (let i = 3; i < c.argc; i++) if (c.is(i, 'EX') || c.is(i, 'PX') || c.is(i, 'EXAT') || c.is(i, 'PXAT')) return true;
  return false;
}

function hasGet(c: Ctx): boolean {
  for (let i = 3; i < c.argc; i++) if (c.is(i, 'GET')) return true;
  return false;
}

/**
 * Collection commands that change key argument 1: their event class and name, as Redis
 * notifies them. A reply of 0 or null means nothing changed (no event); a command that
 * empties its key also notifies `del`, and a STORE with an empty result only that.
 */
const COLLECTION_EVENTS = new Map<number, [number, string]>([
  [CMD.LPUSH, [LIST, 'lpush']],
  [CMD.LPUSHX, [LIST, 'lpush']],
  [CMD.RPUSH, [LIST, 'rpush']],
  [CMD.RPUSHX, [LIST, 'rpush']],
  [CMD.LPOP, [LIST, 'lpop']],
  [CMD.RPOP, [LIST, 'rpop']],
  [CMD.LSET, [LIST, 'lset']],
  [CMD.LTRIM, [LIST, 'ltrim']],
  [CMD.LINSERT, [LIST, 'linsert']],
  [CMD.LREM, [LIST, 'lrem']],
  [CMD.HSET, [HASH, 'hset']],
  [CMD.HSETNX, [HASH, 'hset']],
  [CMD.HMSET, [HASH, 'hset']],
  [CMD.HDEL, [HASH, 'hdel']],
  [CMD.HINCRBY, [HASH, 'hincrby']],
  [CMD.HINCRBYFLOAT, [HASH, 'hincrbyfloat']],
  [CMD.SADD, [SET, 'sadd']],
  [CMD.SREM, [SET, 'srem']],
  [CMD.SPOP, [SET, 'spop']],
  [CMD.SINTERSTORE, [SET, 'sinterstore']],
  [CMD.SUNIONSTORE, [SET, 'sunionstore']],
  [CMD.SDIFFSTORE, [SET, 'sdiffstore']],
  [CMD.ZADD, [ZSET, 'zadd']],
  [CMD.ZINCRBY, [ZSET, 'zincr']],
  [CMD.ZREM, [ZSET, 'zrem']],
  [CMD.ZPOPMIN, [ZSET, 'zpopmin']],
  [CMD.ZPOPMAX, [ZSET, 'zpopmax']],
  [CMD.ZREMRANGEBYRANK, [ZSET, 'zremrangebyrank']],
  [CMD.ZREMRANGEBYSCORE, [ZSET, 'zremrangebyscore']],
  [CMD.ZREMRANGEBYLEX, [ZSET, 'zremrangebylex']],
  [CMD.ZUNIONSTORE, [ZSET, 'zunionstore']],
  [CMD.ZINTERSTORE, [ZSET, 'zinterstore']],
  [CMD.ZDIFFSTORE, [ZSET, 'zdiffstore']],
  [CMD.ZRANGESTORE, [ZSET, 'zrangestore']],
  [CMD.GEOADD, [ZSET, 'zadd']],
  [CMD.GEOSEARCHSTORE, [ZSET, 'geosearchstore']],
  [internalId('__sortstore'), [LIST, 'sortstore']],
]);

/** Store commands: an empty result deletes the destination rather than writing it. */
const STORES = new Set<number>([
  CMD.SINTERSTORE,
  CMD.SUNIONSTORE,
  CMD.SDIFFSTORE,
  CMD.ZUNIONSTORE,
  CMD.ZINTERSTORE,
  CMD.ZDIFFSTORE,
  CMD.ZRANGESTORE,
  CMD.GEOSEARCHSTORE,
  internalId('__sortstore'),
]);

const SORTRUN = internalId('__sortrun');

/** The STORE destination's argument index of a SORT or GEORADIUS[BYMEMBER] (0: none), where it varies. */
function storeArg(c: Ctx, cmd: number): number {
  if (cmd === CMD.SORT) return parseSortArgs(c.buf, c.as, c.al, c.argc, false).store;
  if (cmd === SORTRUN) {
    // `__sortrun s <n> <values…> <SORT args…>` stores here; `r` leaves the store to another shard.
    if (c.al[1] !== 1 || c.buf[c.as[1]!] !== 115) return 0;
    const b0 = 3 + (c.int(2) ?? 0);
    const store = parseSortArgs(c.buf, c.as.subarray(b0), c.al.subarray(b0), c.argc - b0, false).store;
    return store === 0 ? 0 : store + b0;
  }
  if (cmd !== CMD.GEORADIUS && cmd !== CMD.GEORADIUSBYMEMBER) return -1;
  let at = 0;
  for (let i = cmd === CMD.GEORADIUS ? 6 : 5; i + 1 < c.argc; i++) if (c.is(i, 'STORE') || c.is(i, 'STOREDIST')) at = ++i;
  return at;
}

/** Events of a collection command on key argument 1 (see COLLECTION_EVENTS). */
function collectionEvent(c: Ctx, cmd: number, ev: [number, string], r: ReturnType<typeof replyKind>): void {
  const gone = c.lookup(1) === 0;
  if (STORES.has(cmd)) {
    if (!gone) keyEvent(c, ev[0], ev[1], 1);
    else if (existed[0]) keyEvent(c, GENERIC, 'del', 1);
    return;
  }
  if (r === 'null' || r === 'zero') return;
  keyEvent(c, ev[0], ev[1], 1);
  if (gone) keyEvent(c, GENERIC, 'del', 1);
}

/** Where the first element of an array reply sits, when it is a bulk string: [offset, length] in out.bytes. */
function replyKey(c: Ctx): [number, number] | null {
  const b = c.out.bytes;
  const end = c.out.len;
  if (b[0] !== 42) return null;
  let p = 1;
  while (p < end && b[p] !== 13) p++;
  p += 2;
  if (b[p] !== 36) return null;
  let n = 0;
  for (p++; p < end && b[p] !== 13; p++) n = n * 10 + b[p]! - 48;
  return p + 2 + n <= end ? [p + 2, n] : null;
}

/**
 * A pop that names its key in the reply ([key, …]: BLPOP, LMPOP, BZPOPMIN, ZMPOP and their kin):
 * the pop event on that key, and `del` when the pop emptied it.
 */
function popEvent(c: Ctx, cls: number, name: string): void {
  const k = replyKey(c);
  if (k === null) return;
  const b = c.out.bytes;
  emit(cls, name, c.db, b, k[0], k[1]);
  if (c.store.lookup(c.db, b, k[0], k[1]) === 0) emit(GENERIC, 'del', c.db, b, k[0], k[1]);
}

/** The LEFT|RIGHT or MIN|MAX argument of LMPOP/ZMPOP (first = index of numkeys). */
function mpopWhere(c: Ctx, first: number): number {
  return first + 1 + (c.int(first) ?? 0);
}

/** After a command: emits the events Redis notifies for it when it succeeded. */
export function afterCommand(c: Ctx, cmd: number): void {
  // A command that blocked has changed nothing yet (and written no reply): it notifies when it is served.
  if (c.deferred) return;
  const r = replyKind(c);
  if (r === 'error') return;
  const ev = COLLECTION_EVENTS.get(cmd);
  if (ev !== undefined) {
    collectionEvent(c, cmd, ev, r);
    return;
  }
  switch (cmd) {
    case CMD.SMOVE:
      if (r === 'zero') return;
      keyEvent(c, SET, 'srem', 1);
      if (c.lookup(1) === 0) keyEvent(c, GENERIC, 'del', 1);
      if (smoveState.added) keyEvent(c, SET, 'sadd', 2);
      return;
    case CMD.BLPOP:
      if (r !== 'null') popEvent(c, LIST, 'lpop');
      return;
    case CMD.BRPOP:
      if (r !== 'null') popEvent(c, LIST, 'rpop');
      return;
    case CMD.LMPOP:
    case CMD.BLMPOP:
      if (r !== 'null') popEvent(c, LIST, c.is(mpopWhere(c, cmd === CMD.LMPOP ? 1 : 2), 'LEFT') ? 'lpop' : 'rpop');
      return;
    case CMD.BZPOPMIN:
      if (r !== 'null') popEvent(c, ZSET, 'zpopmin');
      return;
    case CMD.BZPOPMAX:
      if (r !== 'null') popEvent(c, ZSET, 'zpopmax');
      return;
    case CMD.ZMPOP:
    case CMD.BZMPOP:
      if (r !== 'null') popEvent(c, ZSET, c.is(mpopWhere(c, cmd === CMD.ZMPOP ? 1 : 2), 'MIN') ? 'zpopmin' : 'zpopmax');
      return;
    case CMD.LMOVE:
    case CMD.BLMOVE:
    case CMD.RPOPLPUSH:
    case CMD.BRPOPLPUSH: {
      if (r === 'null') return;
      const fromLeft = (cmd === CMD.LMOVE || cmd === CMD.BLMOVE) && c.is(3, 'LEFT');
      const toLeft = cmd === CMD.RPOPLPUSH || cmd === CMD.BRPOPLPUSH || c.is(4, 'LEFT');
      // Redis notifies the push before the pop (lmoveGenericCommand).
      keyEvent(c, LIST, toLeft ? 'lpush' : 'rpush', 2);
      keyEvent(c, LIST, fromLeft ? 'lpop' : 'rpop', 1);
      if (c.lookup(1) === 0) keyEvent(c, GENERIC, 'del', 1);
      return;
    }
    case CMD.SET:
      if (r === 'null' && !hasGet(c)) return;
      keyEvent(c, STRING, 'set', 1);
      if (setHasTtl(c)) keyEvent(c, GENERIC, 'expire', 1);
      return;
    case CMD.SETNX:
      if (r !== 'zero') keyEvent(c, STRING, 'set', 1);
      return;
    case CMD.SETEX:
    case CMD.PSETEX:
      keyEvent(c, STRING, 'set', 1);
      keyEvent(c, GENERIC, 'expire', 1);
      return;
    case CMD.GETSET:
      keyEvent(c, STRING, 'set', 1);
      return;
    case CMD.MSET:
    case CMD.MSETNX:
      if (r === 'zero') return;
      for (let i = 1; i < c.argc; i += 2) keyEvent(c, STRING, 'set', i);
      return;
    case CMD.INCR:
    case CMD.DECR:
    case CMD.INCRBY:
    case CMD.DECRBY:
      keyEvent(c, STRING, 'incrby', 1);
      return;
    case CMD.INCRBYFLOAT:
      keyEvent(c, STRING, 'incrbyfloat', 1);
      return;
    case CMD.APPEND:
      keyEvent(c, STRING, 'append', 1);
      return;
    case CMD.SETRANGE:
      keyEvent(c, STRING, 'setrange', 1);
      return;
    case CMD.GETDEL:
      if (r !== 'null') keyEvent(c, GENERIC, 'del', 1);
      return;
    case CMD.GETEX:
      if (r === 'null') return;
      for (let i = 2; i < c.argc; i++) {
        if (c.is(i, 'PERSIST')) keyEvent(c, GENERIC, 'persist', 1);
        else if (c.is(i, 'EX') || c.is(i, 'PX') || c.is(i, 'EXAT') || c.is(i, 'PXAT'))
          keyEvent(c, GENERIC, c.lookup(1) === 0 ? 'del' : 'expire', 1);
      }
      return;
    case CMD.DEL:
    case CMD.UNLINK:
      for (let i = 1; i < c.argc; i++) if (existed[i - 1]) keyEvent(c, GENERIC, 'del', i);
      return;
    case CMD.EXPIRE:
    case CMD.PEXPIRE:
    case CMD.EXPIREAT:
    case CMD.PEXPIREAT:
      if (r !== 'zero') keyEvent(c, GENERIC, c.lookup(1) === 0 ? 'del' : 'expire', 1);
      return;
    case CMD.PERSIST:
      if (r !== 'zero') keyEvent(c, GENERIC, 'persist', 1);
      return;
    case CMD.RENAME:
    case CMD.RENAMENX:
      if (r === 'zero') return;
      keyEvent(c, GENERIC, 'rename_from', 1);
      keyEvent(c, GENERIC, 'rename_to', 2);
      return;
    case CMD.COPY:
      if (r !== 'zero') keyEvent(c, GENERIC, 'copy_to', 2);
      return;
    case CMD.MOVE:
      if (r === 'zero') return;
      keyEvent(c, GENERIC, 'move_from', 1);
      emit(GENERIC, 'move_to', c.int(2)!, c.buf, c.as[1]!, c.al[1]!);
      return;
    case SORTRUN:
    case CMD.SORT:
    case CMD.GEORADIUS:
    case CMD.GEORADIUSBYMEMBER: {
      // A STORE writes its destination, or deletes it when nothing matched.
      const at = storeArg(c, cmd);
      if (at <= 0) return;
      const sort = cmd === CMD.SORT || cmd === SORTRUN;
      if (c.lookup(at) !== 0) keyEvent(c, sort ? LIST : ZSET, sort ? 'sortstore' : 'georadiusstore', at);
      else if (existed[0]) keyEvent(c, GENERIC, 'del', at);
      return;
    }
  }
}

/** `__notifyflags n`: the acceptor pushes the enabled classes. */
const notifyFlags: Handler = (c) => {
  notifyState.flags = c.int(1) ?? 0;
  c.out.simple('OK');
};

/** Internal notification commands. */
export const notifyCommands: Record<string, Handler> = { __notifyflags: notifyFlags };

/** A stream event (`t` class) for key argument `i`, emitted by the stream commands as they act. */
export function notifyStream(c: Ctx, name: string, i: number): void {
  if ((notifyState.flags & NOTIFY_STREAM) !== 0) keyEvent(c, NOTIFY_STREAM, name, i);
}
