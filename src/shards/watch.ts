/**
 * WATCH on a shard: which connections watch which of this shard's keys, and which of
 * them saw a watched key change (written, expired, flushed). The acceptor registers keys
 * with `__watch`, asks `__watchcheck` at EXEC and drops them with `__unwatch`; the
 * worker calls touchCommand() before each write only while any key is watched.
 */
import { COMMANDS, F_WRITE, extractKeys } from '../commands/table.js';
import { CMD } from '../commands/ids.generated.js';
import { hashBytes } from './key-table.js';
import { recKeyLen, recKeyOff } from './record.js';
import type { Ctx, Handler } from './context.js';
import type { Store } from './store.js';

/** One watched key and the connections watching it. */
interface Watched {
  db: number;
  hash: number;
  key: Uint8Array;
  conns: Set<number>;
}

const byHash = new Map<number, Watched[]>();
const byConn = new Map<number, Watched[]>();
const dirty = new Set<number>();
/** Number of watched keys on this shard; the worker's hot path tests only this. */
export const watchState = { keys: 0 };

const WRITE_FLAGS: boolean[] = COMMANDS.map((c) => (c.flags & F_WRITE) !== 0);
let keyIdx = new Int32Array(64);

function sameBytes(a: Uint8Array, b: Uint8Array, s: number, n: number): boolean {
  if (a.length !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[s + i]) return false;
  return true;
}

/** Marks every watcher of the key `b[s, s+n)` in `db` dirty. */
export function touchKey(db: number, b: Uint8Array, s: number, n: number): void {
  const w = findWatched(db, b, s, n);
  if (w !== undefined) for (const c of w.conns) dirty.add(c);
}

/** Expiry hook: the record at `a` is being deleted because its TTL passed. */
export function touchExpired(store: Store, db: number, a: number): void {
  if (watchState.keys === 0) return;
  const m = store.arena;
  touchKey(db, m.u8, recKeyOff(m, a), recKeyLen(m, a));
}

/** Before a flush: watchers of keys that exist in `db` (-1: every db) become dirty. */
function touchFlush(store: Store, db: number): void {
  for (const list of byHash.values()) {
    for (const w of list) {
      if (db !== -1 && w.db !== db) continue;
      if (store.lookup(w.db, w.key, 0, w.key.length) !== 0) for (const c of w.conns) dirty.add(c);
    }
  }
}

/** SWAPDB: watchers of keys of db `a` or `b` that exist in either become dirty (Redis's touchAllWatchedKeysInDb). */
export function touchSwap(store: Store, a: number, b: number): void {
  for (const list of byHash.values()) {
    for (const w of list) {
      if (w.db !== a && w.db !== b) continue;
      const n = w.key.length;
      if (store.lookup(a, w.key, 0, n) !== 0 || store.lookup(b, w.key, 0, n) !== 0) for (const c of w.conns) dirty.add(c);
    }
  }
}

/** Watched keys the running write command names, and whether each existed before it ran. */
const pending: Watched[] = [];
const existedBefore: boolean[] = [];
/** The key argument index of each pending entry. */
const pendingArg: number[] = [];

function findWatched(db: number, b: Uint8Array, s: number, n: number): Watched | undefined {
  const list = byHash.get(hashBytes(b, s, n));
  if (list === undefined) return undefined;
  for (const w of list) if (w.db === db && sameBytes(w.key, b, s, n)) return w;
  return undefined;
}

/**
 * Called by the worker before command `cmd` runs while keys are watched. Flushes and the
 * internal move halves mark watchers at once; other writes remember their watched keys so
 * that touchAfter() can tell a change from a no-op on an absent key (DEL of a missing key).
 */
export function touchCommand(c: Ctx, cmd: number, dumpId: number, restoreId: number): void {
  pending.length = 0;
  if (cmd === CMD.FLUSHDB || cmd === CMD.FLUSHALL) {
    touchFlush(c.store, cmd === CMD.FLUSHDB ? c.db : -1);
    return;
  }
  if (cmd === restoreId || (cmd === dumpId && c.argc > 2 && c.buf[c.as[2]!] === 49)) {
    touchKey(c.db, c.buf, c.as[1]!, c.al[1]!);
    return;
  }
  if (cmd >= WRITE_FLAGS.length || !WRITE_FLAGS[cmd]) return;
  if (keyIdx.length < c.argc) keyIdx = new Int32Array(c.argc * 2);
  const nk = extractKeys(COMMANDS[cmd]!, c.buf, c.as, c.al, c.argc, keyIdx);
  for (let i = 0; i < nk; i++) {
    const k = keyIdx[i]!;
    const w = findWatched(c.db, c.buf, c.as[k]!, c.al[k]!);
    if (w === undefined) continue;
    existedBefore[pending.length] = c.store.lookup(c.db, w.key, 0, w.key.length) !== 0;
    pendingArg[pending.length] = k;
    pending.push(w);
  }
}

/**
 * After a write command: its watched keys count as changed if they existed before or
 * exist now (a conservative stand-in for Redis's per-modification signal: a failed
 * SET NX on an existing key still counts).
 */
export function touchAfter(c: Ctx): void {
  for (let i = 0; i < pending.length; i++) {
    const w = pending[i]!;
    if (existedBefore[i] || c.store.lookup(w.db, w.key, 0, w.key.length) !== 0) for (const conn of w.conns) dirty.add(conn);
  }
  pending.length = 0;
}

/** The running write left key argument `i` as it was (SMOVE's destination already had the member): its watchers stay clean. */
export function keyUnchanged(i: number): void {
  for (let j = pending.length - 1; j >= 0; j--) {
    if (pendingArg[j] !== i) continue;
    pending.splice(j, 1);
    existedBefore.splice(j, 1);
    pendingArg.splice(j, 1);
  }
}

function forget(conn: number): void {
  dirty.delete(conn);
  const mine = byConn.get(conn);
  if (mine === undefined) return;
  byConn.delete(conn);
  for (const w of mine) {
    w.conns.delete(conn);
    if (w.conns.size !== 0) continue;
    const list = byHash.get(w.hash)!;
    list.splice(list.indexOf(w), 1);
    if (list.length === 0) byHash.delete(w.hash);
    watchState.keys--;
  }
}

/** `__watch connId key...`: watches keys of the frame's db. Already-expired keys are purged first, so they count as absent. */
const watch: Handler = (c) => {
  const conn = c.int(1)!;
  let mine = byConn.get(conn);
  if (mine === undefined) byConn.set(conn, (mine = []));
  for (let i = 2; i < c.argc; i++) {
    const s = c.as[i]!;
    const n = c.al[i]!;
    c.lookup(i);
    const h = hashBytes(c.buf, s, n);
    let list = byHash.get(h);
    if (list === undefined) byHash.set(h, (list = []));
    let w = list.find((x) => x.db === c.db && sameBytes(x.key, c.buf, s, n));
    if (w === undefined) {
      w = { db: c.db, hash: h, key: c.buf.slice(s, s + n), conns: new Set() };
      list.push(w);
      watchState.keys++;
    }
    if (!w.conns.has(conn)) {
      w.conns.add(conn);
      mine.push(w);
    }
  }
  c.out.simple('OK');
};

/** `__watchcheck connId`: :1 if a watched key changed; looking the keys up first turns due expiries into changes. */
const watchCheck: Handler = (c) => {
  const conn = c.int(1)!;
  for (const w of byConn.get(conn) ?? []) c.store.lookup(w.db, w.key, 0, w.key.length);
  c.out.int(dirty.has(conn) ? 1 : 0);
};

/** `__unwatch connId`: forgets the connection's watches. */
const unwatch: Handler = (c) => {
  forget(c.int(1)!);
  c.out.simple('OK');
};

/** Internal WATCH commands. */
export const watchCommands: Record<string, Handler> = {
  __watch: watch,
  __watchcheck: watchCheck,
  __unwatch: unwatch,
};
