/**
 * Blocking pops whose keys span shards, run by the coordinator. BLPOP/BRPOP/BZPOPMIN/BZPOPMAX/
 * BLMPOP/BZMPOP try each run of consecutive same-shard keys without blocking, in the order given;
 * BLMOVE and BRPOPLPUSH try the gathered (atomic) LMOVE/RPOPLPUSH. When nothing was there, every
 * shard watches its keys (__bwatch answers once one holds data, at once if one already does, so
 * no push is missed) and the command is tried again, until the timeout or the client leaves.
 */
import { Buffer } from 'node:buffer';
import * as F from '../wire/frames.js';
import { isKeyword } from '../wire/bytes.js';
import { E_SYNTAX } from '../wire/error-text.js';
import { CMD } from '../commands/ids.generated.js';
import { parseBlockingTimeout } from '../commands/blocking-timeout.js';
import { internalId } from '../commands/internal.js';
import type { Coordinator } from './coordinator.js';

/** The client a blocking wait serves (a Connection): the wait ends when it closes. */
export interface BlockedClient {
  readonly closed: boolean;
  /** Called once when the client goes away, or when CLIENT UNBLOCK ends the wait (setting unblockReply first). */
  onClosed: (() => void) | null;
  /** The reply CLIENT UNBLOCK gave the wait (a timeout's null or an UNBLOCKED error), or null. */
  unblockReply: Uint8Array | null;
}

/** What a cross-shard blocking command tries and watches, from planBlock(). */
export interface BlockPlan {
  id: number;
  /** The atomic move to try (BLMOVE, BRPOPLPUSH), or null for pops. */
  move: { id: number; args: Buffer[] } | null;
  /** The pops to try in order: one request per run of consecutive keys on the same shard. */
  tries: { shard: number; args: Buffer[] }[];
  /** Keys each shard watches while the command waits. */
  watched: Map<number, Buffer[]>;
  /** Record type the keys must hold to serve it. */
  watchType: Buffer;
  /** Timeout in ms (0: forever). */
  timeoutMs: number;
}

/** A null reply in either protocol: RESP3 `_`, RESP2 `*-1` or `$-1` (nothing to pop or move). */
function isNullReply(r: Uint8Array): boolean {
  return r[0] === 95 || ((r[0] === 42 || r[0] === 36) && r[1] === 45);
}

/** LEFT or RIGHT, as BLMOVE checks its directions before its timeout. */
function isSide(a: Buffer): boolean {
  return isKeyword(a, 0, a.length, 'LEFT') || isKeyword(a, 0, a.length, 'RIGHT');
}

/**
 * Checks a blocking command's arguments (`args`, with key arguments at `keys`) and plans its
 * tries and watches; returns the error text Redis answers when they are invalid.
 */
export function planBlock(c: Coordinator, id: number, args: Buffer[], keys: number[]): BlockPlan | string {
  if (id === CMD.BLMOVE && (!isSide(args[3]!) || !isSide(args[4]!))) return E_SYNTAX;
  const timeoutArg = args[id === CMD.BLMPOP || id === CMD.BZMPOP ? 1 : args.length - 1]!;
  const timeoutMs = parseBlockingTimeout(timeoutArg, 0, timeoutArg.length);
  if (typeof timeoutMs === 'string') return timeoutMs;
  const moving = id === CMD.BLMOVE || id === CMD.BRPOPLPUSH;
  const zero = Buffer.from('0');
  const name = args[0]!;
  const tries: { shard: number; args: Buffer[] }[] = [];
  const watched = new Map<number, Buffer[]>();
  for (const i of moving ? [1] : keys) {
    const s = c.shardOfKey(args[i]!);
    if (!watched.has(s)) watched.set(s, []);
    watched.get(s)!.push(args[i]!);
    if (tries.length === 0 || tries[tries.length - 1]!.shard !== s) tries.push({ shard: s, args: [] });
    tries[tries.length - 1]!.args.push(args[i]!);
  }
  if (id === CMD.BLMPOP || id === CMD.BZMPOP) {
    const tail = args.slice(keys[keys.length - 1]! + 1);
    for (const t of tries) t.args = [name, zero, Buffer.from(String(t.args.length)), ...t.args, ...tail];
  } else for (const t of tries) t.args = [name, ...t.args, zero];
  return {
    id,
    move: !moving
      ? null
      : id === CMD.BLMOVE
        ? { id: CMD.LMOVE, args: [Buffer.from('lmove'), args[1]!, args[2]!, args[3]!, args[4]!] }
        : { id: CMD.RPOPLPUSH, args: [Buffer.from('rpoplpush'), args[1]!, args[2]!] },
    tries,
    watched,
    watchType: Buffer.from(id === CMD.BZPOPMIN || id === CMD.BZPOPMAX || id === CMD.BZMPOP ? 'zset' : 'list'),
    timeoutMs,
  };
}

/**
 * Runs a planned blocking command for `client` until it is served, times out or the client
 * closes; resolves with its reply (a null array when it timed out). Each try is logged to the
 * AOF as what it took when its shard answers it.
 */
export async function runBlock(c: Coordinator, plan: BlockPlan, db: number, proto: 2 | 3, client: BlockedClient): Promise<Uint8Array> {
  const id = plan.id;
  const flags = (proto === 3 ? F.FLAG_RESP3 : 0) | F.FLAG_NOBLOCK;
  const deadline = plan.timeoutMs === 0 ? Infinity : Date.now() + plan.timeoutMs;
  const bwatch = internalId('__bwatch');
  const unblock = internalId('__unblock');
  const opConn = c.systemConn();
  while (!client.closed) {
    if (plan.move !== null) {
      const m = plan.move;
      const r = await c.operation(m.id, m.args, [1, 2], db, proto, c.logEntry(db, m.id, m.args));
      if (!isNullReply(r)) return r;
    } else {
      // Queued like cross-shard operations, so a snapshot's point never falls between a try and its log entry.
      const r = await c.queued(async () => {
        for (const t of plan.tries) {
          const got = await c.call(t.shard, db, id, t.args, flags, 0, c.logEntry(db, id, t.args));
          if (!isNullReply(got)) return got;
        }
        return null;
      });
      if (r !== null) return r;
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    const watches = [...plan.watched].map(([s, keys]) =>
      c.call(s, db, bwatch, [Buffer.from('__bwatch'), plan.watchType, ...keys], 0, opConn),
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = left === Infinity ? null : new Promise<void>((res) => (timer = setTimeout(res, left)));
    const closed = new Promise<void>((res) => (client.onClosed = res));
    c.blockedAcross++;
    await Promise.race([...watches, ...(timedOut ? [timedOut] : []), closed]);
    c.blockedAcross--;
    clearTimeout(timer);
    client.onClosed = null;
    const args = [Buffer.from('__unblock'), Buffer.from(String(opConn))];
    await Promise.all([...plan.watched.keys()].map((s) => c.call(s, 0, unblock, args)));
    c.forget(opConn);
    const r = client.unblockReply;
    if (r !== null) {
      client.unblockReply = null;
      return r;
    }
  }
  return Buffer.from(proto === 3 ? '_\r\n' : '*-1\r\n');
}
