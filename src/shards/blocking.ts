/**
 * Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN…): a FIFO of waiters per key, served
 * first-blocked-first-served right after the command that made a key ready, before the
 * next request; deadlines reply a null array; `__unblock <connId>` drops a gone client.
 *
 * A waiter keeps a copy of its request's arguments and is served by re-running its own
 * handler with `serving` set: the handler then either replies (served) or calls
 * blockOn() again, which only notes that nothing was there.
 */
import type { Ctx, Handler } from './context.js';
import { E_NOT_INT, E_SYNTAX } from '../wire/error-text.js';
import { T_LIST, T_ZSET } from './record.js';
import { parseBlockingTimeout } from '../commands/blocking-timeout.js';
import { internalId } from '../commands/internal.js';

/** The acceptor's watches for cross-shard blocking pops and reads: they block no client of their own (the acceptor counts those). */
const BWATCH = internalId('__bwatch');
const XWATCH = internalId('__xwatch');

/** One blocked request. */
export interface Waiter {
  conn: number;
  seq: number;
  cmd: number;
  proto: 2 | 3;
  db: number;
  name: string;
  args: Uint8Array;
  as: Int32Array;
  al: Int32Array;
  argc: number;
  /** Absolute ms, or 0 to wait forever. */
  deadline: number;
  /** Record type it pops from (T_LIST or T_ZSET): a key of another type does not serve it. */
  type: number;
  keys: string[];
  /** Fails (instead of waiting on) when its stream key goes away: XREADGROUP's group goes with it. */
  failsOnGone: boolean;
  /** What the command saved when it blocked (XREAD's resolved ids), handed back in serving.extra. */
  extra: Uint32Array | null;
}

const byKey = new Map<string, Waiter[]>();
const byConn = new Map<number, Waiter[]>();
const ready: string[] = [];
const readySet = new Set<string>();
/** Clients blocked here (INFO blocked_clients), not counting __bwatch waits. */
let blockedClients = 0;
/** True while a waiter's handler is re-run; blockOn() then records a miss instead of blocking. */
export const serving: { active: boolean; missed: boolean; extra: Uint32Array | null } = { active: false, missed: false, extra: null };

/** Number of keys with waiters (Store checks it before signalling). */
export function blockedKeyCount(): number {
  return byKey.size;
}

function keyName(db: number, buf: Uint8Array, s: number, n: number): string {
  return `${db}:${Buffer.from(buf.buffer, buf.byteOffset + s, n).toString('latin1')}`;
}

/** Clients blocked in this shard now (INFO clients' blocked_clients). */
export function blockedClientCount(): number {
  return blockedClients;
}

/** Marks a key ready if clients wait on it (called when a list or sorted set key is created). */
export function signalReady(db: number, buf: Uint8Array, s: number, n: number): void {
  const k = keyName(db, buf, s, n);
  if (!byKey.has(k) || readySet.has(k)) return;
  readySet.add(k);
  ready.push(k);
}

/** SWAPDB: keys of `db` that clients wait on and that exist now (`exists`) become ready. */
export function signalDbReady(db: number, exists: (key: Buffer) => boolean): void {
  const prefix = `${db}:`;
  for (const k of byKey.keys()) {
    if (!k.startsWith(prefix) || readySet.has(k)) continue;
    if (!exists(Buffer.from(k.slice(prefix.length), 'latin1'))) continue;
    readySet.add(k);
    ready.push(k);
  }
}

/** Marks every key of `db` that clients wait on ready (FLUSHDB/FLUSHALL: their XREADGROUP waiters fail). */
export function signalDb(db: number): void {
  const prefix = `${db}:`;
  for (const k of byKey.keys()) {
    if (!k.startsWith(prefix) || readySet.has(k)) continue;
    readySet.add(k);
    ready.push(k);
  }
}

/** A stream got entries: marks it ready when clients wait on it. */
export function signalStream(db: number, buf: Uint8Array, s: number, n: number): void {
  if (byKey.size !== 0) signalReady(db, buf, s, n);
}

/** Whether any key became ready since the last serve. */
export function hasReady(): boolean {
  return ready.length > 0;
}

/**
 * Parses a blocking timeout in seconds (fractions allowed) into ms (0 = forever); -1 after
 * replying the error Redis gives.
 */
export function parseTimeout(c: Ctx, i: number): number {
  const ms = parseBlockingTimeout(c.buf, c.as[i]!, c.al[i]!);
  if (typeof ms === 'string') {
    c.out.error(ms);
    return -1;
  }
  return ms;
}

/**
 * Blocks the current request on key arguments `from`..`to` for `ms` (0 = forever) until a
 * key of `type` appears there: sets c.deferred so no reply is written now.
 */
export function blockOn(
  c: Ctx,
  from: number,
  to: number,
  ms: number,
  type: number,
  extra: Uint32Array | null = null,
  failsOnGone = false,
): void {
  if (serving.active) {
    serving.missed = true;
    return;
  }
  if (c.noBlock) {
    c.out.nullArray();
    return;
  }
  const start = c.as[0]!;
  const end = c.as[c.argc - 1]! + c.al[c.argc - 1]!;
  const args = c.buf.slice(start, end);
  const as = new Int32Array(c.argc);
  const al = new Int32Array(c.argc);
  for (let i = 0; i < c.argc; i++) {
    as[i] = c.as[i]! - start;
    al[i] = c.al[i]!;
  }
  const w: Waiter = {
    conn: c.conn,
    seq: c.seq,
    cmd: c.cmd,
    proto: c.out.proto,
    db: c.db,
    name: c.name,
    args,
    as,
    al,
    argc: c.argc,
    deadline: ms === 0 ? 0 : Date.now() + ms,
    type,
    keys: [],
    extra,
    failsOnGone,
  };
  for (let i = from; i <= to; i++) {
    const k = keyName(c.db, c.buf, c.as[i]!, c.al[i]!);
    if (w.keys.includes(k)) continue;
    w.keys.push(k);
    const q = byKey.get(k);
    if (q === undefined) byKey.set(k, [w]);
    else q.push(w);
  }
  const cq = byConn.get(c.conn);
  if (cq === undefined) byConn.set(c.conn, [w]);
  else cq.push(w);
  if (w.cmd !== BWATCH && w.cmd !== XWATCH) blockedClients++;
  c.deferred = true;
}

function remove(w: Waiter): void {
  for (const k of w.keys) {
    const q = byKey.get(k);
    if (q === undefined) continue;
    const i = q.indexOf(w);
    if (i >= 0) q.splice(i, 1);
    if (q.length === 0) byKey.delete(k);
  }
  const cq = byConn.get(w.conn);
  if (cq !== undefined) {
    const i = cq.indexOf(w);
    if (i >= 0) {
      cq.splice(i, 1);
      if (w.cmd !== BWATCH && w.cmd !== XWATCH) blockedClients--;
    }
    if (cq.length === 0) byConn.delete(w.conn);
  }
}

/**
 * Serves waiters of ready keys in blocking order. `typeOf` gives a ready key's record type
 * (-1 once it is gone); `fail` answers a waiter whose stream went away; `run` re-executes a waiter's request (with `serving.active` set)
 * and returns true when it replied.
 */
export function serveReady(typeOf: (db: number, key: Buffer) => number, run: (w: Waiter) => boolean, fail: (w: Waiter) => void): void {
  while (ready.length > 0) {
    const k = ready.shift()!;
    readySet.delete(k);
    const q = byKey.get(k);
    if (q === undefined) continue;
    const colon = k.indexOf(':');
    const db = Number(k.slice(0, colon));
    const key = Buffer.from(k.slice(colon + 1), 'latin1');
    for (const w of q.slice()) {
      const t = typeOf(db, key);
      if (t !== w.type && w.failsOnGone) {
        remove(w);
        fail(w);
        continue;
      }
      if (t === -1) break;
      if (t !== w.type) continue;
      serving.active = true;
      serving.missed = false;
      serving.extra = w.extra;
      let replied = false;
      try {
        replied = run(w);
      } finally {
        serving.active = false;
        serving.extra = null;
      }
      if (replied) remove(w);
    }
  }
}

/** Ms until the nearest waiter deadline (capped at `max`). */
export function msUntilDeadline(now: number, max: number): number {
  let best = max;
  for (const q of byConn.values()) {
    for (const w of q) if (w.deadline !== 0 && w.deadline - now < best) best = Math.max(0, w.deadline - now);
  }
  return best;
}

/** Removes waiters whose deadline passed, calling `timedOut` for each (to reply a null array); returns how many. */
export function expireWaiters(now: number, timedOut: (w: Waiter) => void): number {
  if (byConn.size === 0) return 0;
  const due: Waiter[] = [];
  for (const q of byConn.values()) for (const w of q) if (w.deadline !== 0 && w.deadline <= now) due.push(w);
  due.sort((a, b) => a.deadline - b.deadline);
  for (const w of due) {
    remove(w);
    timedOut(w);
  }
  return due.length;
}

/** Internal: `__unblock <connId>` drops a disconnected client's waiters; replies how many. */
const unblock: Handler = (c) => {
  const id = c.int(1);
  if (id === null) {
    c.out.error(E_NOT_INT);
    return;
  }
  const q = byConn.get(id);
  const n = q === undefined ? 0 : q.length;
  if (q !== undefined) for (const w of q.slice()) remove(w);
  c.out.int(n);
};

/**
 * Internal, for blocking calls whose keys span shards: `__bwatch <list|zset> key…` replies :1
 * as soon as one of these keys (all in this shard) holds that type, at once if one does; it
 * pops nothing, so the acceptor then retries the real command. Cancel with __unblock.
 */
const bwatch: Handler = (c) => {
  const type = c.is(1, 'LIST') ? T_LIST : c.is(1, 'ZSET') ? T_ZSET : -1;
  if (type === -1) {
    c.out.error(E_SYNTAX);
    return;
  }
  for (let i = 2; i < c.argc; i++) {
    const a = c.lookup(i);
    if (a !== 0 && c.store.arena.u8[a] === type) {
      c.out.int(1);
      return;
    }
  }
  blockOn(c, 2, c.argc - 1, 0, type);
};

/** Handlers by lower-case command name. */
export const blockingCommands: Record<string, Handler> = { __unblock: unblock, __bwatch: bwatch };
