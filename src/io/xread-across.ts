/**
 * XREAD and XREADGROUP over streams on several shards, run by the coordinator: each shard reads its
 * own streams without blocking (one request per shard), and the parts come back as one reply in
 * the order the streams were named. With BLOCK and nothing to give, `$` ids are first pinned to
 * each stream's last id, every shard watches its streams (__xwatch answers once one has entries
 * past its id, or past its group's last delivered one), and the read is tried again, until the
 * timeout or the client leaves.
 */
import { Buffer } from 'node:buffer';
import * as F from '../wire/frames.js';
import { isKeyword } from '../wire/bytes.js';
import { E_SYNTAX } from '../wire/error-text.js';
import { CMD } from '../commands/ids.generated.js';
import { internalId } from '../commands/internal.js';
import type { Coordinator } from './coordinator.js';
import type { BlockedClient } from './block-across.js';

/** A planned cross-shard read. */
export interface XreadPlan {
  id: number;
  /** Arguments before STREAMS (command name, GROUP g c, COUNT n, NOACK; BLOCK removed). */
  head: Buffer[];
  keys: Buffer[];
  ids: Buffer[];
  /** Group name for XREADGROUP, else null. */
  group: Buffer | null;
  /** Timeout in ms (0: forever), or -1 without BLOCK. */
  blockMs: number;
}

const is = (a: Buffer, word: string): boolean => isKeyword(a, 0, a.length, word);

/** Splits the arguments; returns Redis's error text when the shape is wrong (the shards check the rest). */
export function planXread(id: number, args: Buffer[], noBlock: boolean): XreadPlan | string {
  const head: Buffer[] = [args[0]!];
  let blockMs = -1;
  let group: Buffer | null = null;
  let i = 1;
  for (; i < args.length; i++) {
    const a = args[i]!;
    const more = args.length - i - 1;
    if (is(a, 'BLOCK') && more > 0) {
      const v = Number(args[++i]!.toString('latin1'));
      if (!Number.isInteger(v)) return 'ERR timeout is not an integer or out of range';
      if (v < 0) return 'ERR timeout is negative';
      blockMs = v;
    } else if (is(a, 'STREAMS') && more > 0) {
      i++;
      break;
    } else if (is(a, 'GROUP') && more >= 2) {
      group = args[i + 1]!;
      head.push(a, args[i + 1]!, args[i + 2]!);
      i += 2;
    } else if (is(a, 'COUNT') && more > 0) head.push(a, args[++i]!);
    else head.push(a);
  }
  const left = args.length - i;
  if (left <= 0 || left % 2 !== 0) return E_SYNTAX;
  const n = left / 2;
  if (noBlock) blockMs = -1;
  return { id, head, keys: args.slice(i, i + n), ids: args.slice(i + n), group, blockMs };
}

/** End of the RESP element starting at `p` (any type, nested). */
function skip(b: Uint8Array, p: number): number {
  const t = b[p]!;
  const cr = b.indexOf(13, p);
  const n = Number(Buffer.from(b.buffer, b.byteOffset + p + 1, cr - p - 1).toString('latin1'));
  let q = cr + 2;
  if (t === 36 || t === 61 || t === 33) return n < 0 ? q : q + n + 2;
  if (t === 42 || t === 126 || t === 62 || t === 37) {
    const k = n < 0 ? 0 : t === 37 ? 2 * n : n;
    for (let i = 0; i < k; i++) q = skip(b, q);
    return q;
  }
  return q;
}

/** The [key, entries] parts of a shard's read reply, by key (latin1), as raw RESP bytes of the entries. */
function parts(r: Uint8Array, out: Map<string, Uint8Array>): string | null {
  if (r[0] === 45) return Buffer.from(r).toString('latin1', 1, r.length - 2);
  if (r[0] === 95 || r[1] === 45) return null;
  const map = r[0] === 37;
  const cr = r.indexOf(13);
  const n = Number(Buffer.from(r.buffer, r.byteOffset + 1, cr - 1).toString('latin1'));
  let p = cr + 2;
  for (let i = 0; i < n; i++) {
    if (!map) p = r.indexOf(10, p) + 1;
    const keyEnd = skip(r, p);
    const kcr = r.indexOf(13, p);
    const key = Buffer.from(r.buffer, r.byteOffset + kcr + 2, keyEnd - kcr - 4).toString('latin1');
    const end = skip(r, keyEnd);
    out.set(key, r.subarray(keyEnd, end));
    p = end;
  }
  return null;
}

/** One non-blocking try on every shard; the combined reply, or null when no stream had anything. */
async function tryOnce(c: Coordinator, plan: XreadPlan, ids: Buffer[], db: number, proto: 2 | 3): Promise<Uint8Array | null> {
  const byShard = new Map<number, number[]>();
  plan.keys.forEach((k, i) => {
    const s = c.shardOfKey(k);
    if (!byShard.has(s)) byShard.set(s, []);
    byShard.get(s)!.push(i);
  });
  const flags = (proto === 3 ? F.FLAG_RESP3 : 0) | F.FLAG_NOBLOCK;
  const got = new Map<string, Uint8Array>();
  const write = plan.id === CMD.XREADGROUP;
  const replies = await c.queued(() =>
    Promise.all(
      [...byShard].map(([s, idx]) => {
        const args = [...plan.head, Buffer.from('STREAMS'), ...idx.map((i) => plan.keys[i]!), ...idx.map((i) => ids[i]!)];
        return c.call(s, db, plan.id, args, flags, 0, write ? c.logEntry(db, plan.id, args) : null);
      }),
    ),
  );
  for (const r of replies) {
    const err = parts(r, got);
    if (err !== null) return Buffer.from(`-${err}\r\n`);
  }
  if (got.size === 0) return null;
  const chunks: Uint8Array[] = [Buffer.from(`${proto === 3 ? '%' : '*'}${got.size}\r\n`)];
  const seen = new Set<string>();
  for (const k of plan.keys) {
    const name = k.toString('latin1');
    const entries = got.get(name);
    if (entries === undefined || seen.has(name)) continue;
    seen.add(name);
    if (proto === 2) chunks.push(Buffer.from('*2\r\n'));
    chunks.push(Buffer.from(`$${k.length}\r\n`), k, Buffer.from('\r\n'), entries);
  }
  return Buffer.concat(chunks);
}

/** Pins `$` to each stream's current last id (a blocked XREAD waits for entries after it). */
async function pinDollars(c: Coordinator, plan: XreadPlan, db: number): Promise<Buffer[]> {
  const ids = plan.ids.slice();
  const last = internalId('__xlastids');
  await Promise.all(
    plan.keys.map(async (k, i) => {
      if (ids[i]!.length !== 1 || ids[i]![0] !== 36) return;
      // The reply is *1, then the id as a bulk string.
      const r = await c.call(c.shardOfKey(k), db, last, [Buffer.from('__xlastids'), k]);
      const body = r.indexOf(10, r.indexOf(10) + 1) + 1;
      ids[i] = Buffer.from(r.subarray(body, r.length - 2));
    }),
  );
  return ids;
}

/**
 * Runs a planned read for `client` until it is served, times out or the client closes; resolves with
 * its reply (a null array when nothing came).
 */
export async function runXread(c: Coordinator, plan: XreadPlan, db: number, proto: 2 | 3, client: BlockedClient): Promise<Uint8Array> {
  const nil = Buffer.from(proto === 3 ? '_\r\n' : '*-1\r\n');
  const ids = plan.blockMs >= 0 && plan.group === null ? await pinDollars(c, plan, db) : plan.ids;
  const deadline = plan.blockMs <= 0 ? (plan.blockMs === 0 ? Infinity : 0) : Date.now() + plan.blockMs;
  const xwatch = internalId('__xwatch');
  const unblock = internalId('__unblock');
  const opConn = c.systemConn();
  while (!client.closed) {
    const r = await tryOnce(c, plan, ids, db, proto);
    if (r !== null) return r;
    const left = deadline - Date.now();
    if (plan.blockMs < 0 || left <= 0) break;
    const byShard = new Map<number, number[]>();
    plan.keys.forEach((k, i) => {
      const s = c.shardOfKey(k);
      if (!byShard.has(s)) byShard.set(s, []);
      byShard.get(s)!.push(i);
    });
    const group = plan.group ?? Buffer.alloc(0);
    const watches = [...byShard].map(([s, idx]) =>
      c.call(
        s,
        db,
        xwatch,
        [Buffer.from('__xwatch'), group, Buffer.from(String(idx.length)), ...idx.map((i) => plan.keys[i]!), ...idx.map((i) => ids[i]!)],
        0,
        opConn,
      ),
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
    await Promise.all([...byShard.keys()].map((s) => c.call(s, 0, unblock, args)));
    c.forget(opConn);
    const u = client.unblockReply;
    if (u !== null) {
      client.unblockReply = null;
      return u;
    }
  }
  return nil;
}
