/**
 * Client-side caching (CLIENT TRACKING) on a shard: the tracking table of this shard's keys,
 * key → ids of the clients that read it (Redis's TrackingTable; like Redis's it ignores the
 * database), and the reports the acceptor turns into invalidation messages. Every key lives on
 * exactly one shard, so a per-shard table sees every write, expiry and eviction of its keys.
 *
 * A tracked read's frame carries FLAG_TRACK (trackRead registers its keys for the frame's
 * connection); reads whose frames name someone else (a transaction's collector) are registered with
 * `__track id key...`, sent right behind them. `__trackcfg` says how many clients track. The worker
 * calls in here only while trackState.on is non-zero: no client tracks and no key is tracked
 * costs one field test per command.
 *
 * Report frames (reply frames with connId 0, seq 0), body little-endian:
 *   key:   [2][1][phase][bcast][u32 current][u32 seq][u32 modifier][u32 n][n × u32 id][key bytes]
 *   flush: [2][2][phase][0][u32 current][u32 seq]
 * `current` is the connection whose command `seq` was running (0: none, e.g. active expiry), `phase`
 * says whether the change came before the command ran (eviction) or during it, `modifier` is the
 * writer for BCAST's NOLOOP (0 for expiry and eviction), `bcast` asks the acceptor to match the key
 * against the BCAST prefixes.
 */
import { COMMANDS, F_WRITE, KEY_WRITE, extractKeyAccess, extractKeys } from '../commands/table.js';
import { CMD } from '../commands/ids.generated.js';
import { hashBytes } from './key-table.js';
import { recKeyLen, recKeyOff } from './record.js';
import type { Ctx, Handler } from './context.js';
import type { Store } from './store.js';
import { copyBytes } from '../wire/bytes.js';
import { shardPosition } from './t_keys.js';
import { PHASE_BEFORE, PHASE_DURING, PHASE_NONE, TRACK_FLUSH, TRACK_KEY, TRACK_TAG } from '../wire/frames.js';

/** One tracked key and the ids of the clients that read it. */
interface Tracked {
  hash: number;
  key: Uint8Array;
  ids: Set<number>;
}

const byHash = new Map<number, Tracked[]>();
/** Insertion order of the tracked keys: the oldest go first when the table is over its limit. */
const order = new Set<Tracked>();

/**
 * Tracked keys and key/client pairs (INFO tracking_total_keys/items); clients tracking and BCAST
 * clients, pushed by the acceptor; `on` is non-zero while any of them is: the worker's only test.
 */
export const trackState = { on: 0, keys: 0, items: 0, clients: 0, bcast: 0 };

function refresh(): void {
  trackState.on = trackState.keys + trackState.clients;
}

let sink: (body: Uint8Array, len: number) => void = () => {};
let frame = new Uint8Array(1024);
/** The connection whose command runs now (0 between commands) and its sequence number, for the reports. */
let current = 0;
let currentSeq = 0;

/** Where report frames go (the worker's reply ring). */
export function setTrackingSink(fn: (body: Uint8Array, len: number) => void): void {
  sink = fn;
}

function sameBytes(a: Uint8Array, b: Uint8Array, s: number, n: number): boolean {
  if (a.length !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[s + i]) return false;
  return true;
}

function find(b: Uint8Array, s: number, n: number): Tracked | undefined {
  const list = byHash.get(hashBytes(b, s, n));
  if (list === undefined) return undefined;
  for (const t of list) if (sameBytes(t.key, b, s, n)) return t;
  return undefined;
}

function forget(t: Tracked): void {
  const list = byHash.get(t.hash)!;
  list.splice(list.indexOf(t), 1);
  if (list.length === 0) byHash.delete(t.hash);
  order.delete(t);
  trackState.keys--;
  trackState.items -= t.ids.size;
  refresh();
}

function putU32(p: number, v: number): void {
  frame[p] = v & 255;
  frame[p + 1] = (v >>> 8) & 255;
  frame[p + 2] = (v >>> 16) & 255;
  frame[p + 3] = (v >>> 24) & 255;
}

/**
 * The key `b[s, s+n)` changed: reports it to its readers (and drops it from the table, as
 * Redis does: a reader registers again when it reads again) and, with BCAST clients, for prefix matching.
 */
function changed(b: Uint8Array, s: number, n: number, phase: number, modifier: number): void {
  const t = trackState.keys === 0 ? undefined : find(b, s, n);
  const bcast = trackState.bcast !== 0;
  if (t === undefined && !bcast) return;
  const ids = t === undefined ? 0 : t.ids.size;
  const len = 20 + 4 * ids + n;
  if (frame.length < len) frame = new Uint8Array(len * 2);
  frame[0] = TRACK_TAG;
  frame[1] = TRACK_KEY;
  frame[2] = phase;
  frame[3] = bcast ? 1 : 0;
  putU32(4, current);
  putU32(8, currentSeq);
  putU32(12, modifier);
  putU32(16, ids);
  let p = 20;
  if (t !== undefined) {
    for (const id of t.ids) {
      putU32(p, id);
      p += 4;
    }
    forget(t);
  }
  copyBytes(frame, p, b, s, n);
  sink(frame, len);
}

/** Expiry hook: the record at `a` is being deleted because its TTL passed (lazily inside a command, or actively). */
export function trackExpired(store: Store, a: number): void {
  if (trackState.on === 0) return;
  const m = store.arena;
  changed(m.u8, recKeyOff(m, a), recKeyLen(m, a), current === 0 ? PHASE_NONE : PHASE_DURING, 0);
}

/** Eviction hook (maxmemory): runs before the command that needed the room. */
export function trackEvicted(store: Store, a: number): void {
  if (trackState.on === 0) return;
  const m = store.arena;
  changed(m.u8, recKeyOff(m, a), recKeyLen(m, a), current === 0 ? PHASE_NONE : PHASE_BEFORE, 0);
}

const WRITE_FLAGS: boolean[] = COMMANDS.map((c) => (c.flags & F_WRITE) !== 0);
let keyIdx = new Int32Array(64);
let keyAccess = new Uint8Array(64);
/** Keys the running write names (argument indexes) and whether each existed before it ran. */
let pending = new Int32Array(64);
let existed = new Uint8Array(64);
let nPending = 0;

/** Drops the whole table (FLUSHDB and FLUSHALL do, as in Redis) and lets shard 0 report the flush. */
function flushed(): void {
  byHash.clear();
  order.clear();
  trackState.keys = 0;
  trackState.items = 0;
  refresh();
  if (shardPosition.id !== 0 || trackState.clients === 0) return;
  frame[0] = TRACK_TAG;
  frame[1] = TRACK_FLUSH;
  frame[2] = PHASE_DURING;
  frame[3] = 0;
  putU32(4, current);
  putU32(8, currentSeq);
  sink(frame, 12);
}

/**
 * Before command `cmd` runs (while trackState.on): remembers which of a write's keys exist, so
 * that trackAfter() reports the ones it changed; a flush empties the table at once.
 */
export function trackBefore(c: Ctx, cmd: number, dumpId: number, restoreId: number): void {
  current = c.conn;
  currentSeq = c.seq;
  nPending = 0;
  if (cmd === CMD.FLUSHDB || cmd === CMD.FLUSHALL) {
    flushed();
    return;
  }
  let nk: number;
  if (cmd === restoreId || (cmd === dumpId && c.argc > 2 && c.buf[c.as[2]!] === 49)) {
    // The halves of a cross-shard RENAME/COPY/MOVE: argument 1 is the key written or removed.
    keyIdx[0] = 1;
    keyAccess[0] = KEY_WRITE;
    nk = 1;
  } else {
    if (cmd >= WRITE_FLAGS.length || !WRITE_FLAGS[cmd]) return;
    if (keyIdx.length < c.argc) {
      keyIdx = new Int32Array(c.argc * 2);
      keyAccess = new Uint8Array(c.argc * 2);
    }
    nk = extractKeyAccess(COMMANDS[cmd]!, c.buf, c.as, c.al, c.argc, keyIdx, keyAccess);
  }
  if (pending.length < nk) {
    pending = new Int32Array(nk * 2);
    existed = new Uint8Array(nk * 2);
  }
  const bcast = trackState.bcast !== 0;
  for (let i = 0; i < nk; i++) {
    // Keys the command only reads (a STORE's sources, COPY's source) are not changed by it.
    if ((keyAccess[i]! & KEY_WRITE) === 0) continue;
    const k = keyIdx[i]!;
    if (!bcast && find(c.buf, c.as[k]!, c.al[k]!) === undefined) continue;
    pending[nPending] = k;
    existed[nPending++] = c.lookup(k) !== 0 ? 1 : 0;
  }
}

/**
 * After the command: a key it writes changed if it existed before or exists now, and the command
 * did not fail (a conservative stand-in for Redis's per-modification signal, as WATCH uses).
 */
export function trackAfter(c: Ctx): void {
  // A command that blocked changed nothing yet (it reports when served); one that failed changed nothing.
  if (c.deferred || (c.out.len !== 0 && c.out.bytes[0] === 45)) nPending = 0;
  for (let i = 0; i < nPending; i++) {
    const k = pending[i]!;
    if (existed[i] === 1 || c.lookup(k) !== 0) changed(c.buf, c.as[k]!, c.al[k]!, PHASE_DURING, c.conn);
  }
  nPending = 0;
  current = 0;
}

/** Client `id` read the key `b[s, s+n)`. */
function remember(id: number, b: Uint8Array, s: number, n: number): void {
  let t = find(b, s, n);
  if (t === undefined) {
    const h = hashBytes(b, s, n);
    let list = byHash.get(h);
    if (list === undefined) byHash.set(h, (list = []));
    t = { hash: h, key: b.slice(s, s + n), ids: new Set() };
    list.push(t);
    order.add(t);
    trackState.keys++;
  }
  if (!t.ids.has(id)) {
    t.ids.add(id);
    trackState.items++;
  }
}

/** A read frame with FLAG_TRACK ran: its connection (a client with tracking on) read the command's keys. */
export function trackRead(c: Ctx): void {
  if (keyIdx.length < c.argc) {
    keyIdx = new Int32Array(c.argc * 2);
    keyAccess = new Uint8Array(c.argc * 2);
  }
  const nk = extractKeys(COMMANDS[c.cmd]!, c.buf, c.as, c.al, c.argc, keyIdx);
  for (let i = 0; i < nk; i++) remember(c.conn, c.buf, c.as[keyIdx[i]!]!, c.al[keyIdx[i]!]!);
  refresh();
}

/** `__track id key...`: client `id` read these keys (reads whose frames could not say so themselves). */
const track: Handler = (c) => {
  const id = c.int(1)!;
  for (let i = 2; i < c.argc; i++) remember(id, c.buf, c.as[i]!, c.al[i]!);
  refresh();
  c.out.simple('OK');
};

/** `__trackcfg clients bcast`: how many clients track, and how many of them in BCAST mode. */
const trackCfg: Handler = (c) => {
  trackState.clients = c.int(1) ?? 0;
  trackState.bcast = c.int(2) ?? 0;
  refresh();
  c.out.simple('OK');
};

/** `__trackevict n`: the table is over tracking-table-max-keys; drops its n oldest keys, invalidating them. */
const trackEvict: Handler = (c) => {
  let n = c.int(1) ?? 0;
  let done = 0;
  for (const t of order) {
    if (n-- <= 0) break;
    const saved = trackState.bcast;
    // Not a change of the key itself: BCAST clients hear nothing of it.
    trackState.bcast = 0;
    changed(t.key, 0, t.key.length, PHASE_NONE, 0);
    trackState.bcast = saved;
    done++;
  }
  c.out.int(done);
};

/** Internal tracking commands. */
export const trackingCommands: Record<string, Handler> = {
  __track: track,
  __trackcfg: trackCfg,
  __trackevict: trackEvict,
};
