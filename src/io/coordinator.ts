/**
 * The cross-shard coordinator: work that must see several shards at one point of the command
 * stream. Such work is queued and runs one piece at a time, in order; while a piece runs it
 * holds its shards (`held`), and the acceptor parks any client command that needs a held shard
 * until the piece releases them, so nothing lands between its reads and its writes. The
 * coordinator reaches shards only through ShardPorts, with system calls: frames sent on behalf of
 * the server itself, whose replies the acceptor hands back to answer().
 *
 * Its operations: MSETNX, RENAME/RENAMENX, COPY and (with the AOF on) FLUSHDB/FLUSHALL across
 * shards, and collection commands whose keys live on several shards, gathered into one.
 */
import { Buffer } from 'node:buffer';
import { keySlot } from '../wire/key-slot.js';
import { RespWriter } from '../wire/resp-writer.js';
import * as F from '../wire/frames.js';
import { CMD } from '../commands/ids.generated.js';
import { COMMANDS, F_BLOCKING, F_READONLY } from '../commands/table.js';
import { E_NO_KEY, wrongArityError } from '../wire/error-text.js';
import { internalId } from '../commands/internal.js';
import { parseCopyOptions, type CopyOptions } from '../commands/copy-args.js';
import type { AofEntry, AofOrder } from './aof-order.js';
import { parseSortArgs, patternField, patternKey, patternReadsKeys } from '../commands/sort-args.js';

/** How the coordinator reaches one shard: the request side of a ShardLink (tests pass fakes). */
export interface ShardPort {
  /** Starts a request frame and writes its header; returns the buffer its arguments go into. */
  begin(conn: number, seq: number, cmd: number, db: number, flags: number, argc: number, payloadLen: number): Uint8Array;
  /** Appends one argument to the frame being built. */
  arg(buf: Uint8Array, src: Uint8Array, start: number, len: number): void;
  /** Completes the frame (it is published at the end of the tick). */
  end(): void;
}

/** What the acceptor hands the coordinator. */
export interface CoordinatorOptions {
  /** Each shard's port, by shard id (the array may be filled after construction, before the first call). */
  ports: readonly ShardPort[];
  /** Number of shards. */
  count: number;
  /** Databases per shard (COPY … DB checks its index). */
  databases: number;
  aof: AofOrder;
  /** Frames were written: publish them this tick. */
  wake(): void;
  /** The holds were dropped: parked clients may go on. */
  released(): void;
  /** An operation finished with `reply` (keyspace events for RENAME/COPY). */
  operationDone(id: number, args: Buffer[], db: number, reply: RespWriter): void;
}

/** Command groups whose multi-key commands run across shards by gathering the keys into one. */
const GATHERED_GROUPS = new Set(['list', 'set', 'sorted-set', 'hash', 'geo', 'bitmap', 'hyperloglog']);

/** True for the collection commands (and LCS) that run across shards by gathering their keys into one. */
export function runsGathered(id: number): boolean {
  if (id === CMD.LCS) return true;
  return GATHERED_GROUPS.has(COMMANDS[id]!.docs.group) && (COMMANDS[id]!.flags & F_BLOCKING) === 0;
}

/** The elements of a RESP2 array reply of bulk strings (null for a null bulk). */
export function bulkArray(reply: Uint8Array): (Buffer | null)[] {
  let p = reply.indexOf(13);
  const n = Number(Buffer.from(reply.subarray(1, p)).toString('latin1'));
  p += 2;
  const out: (Buffer | null)[] = [];
  for (let i = 0; i < n; i++) {
    const cr = reply.indexOf(13, p);
    const len = Number(Buffer.from(reply.subarray(p + 1, cr)).toString('latin1'));
    if (len < 0) {
      out.push(null);
      p = cr + 2;
    } else {
      out.push(Buffer.from(reply.subarray(cr + 2, cr + 2 + len)));
      p = cr + 2 + len + 2;
    }
  }
  return out;
}

/** Argument spans of a copied command (for the parsers that read frames). */
function spans(args: Buffer[]): { buf: Buffer; as: Int32Array; al: Int32Array } {
  const as = new Int32Array(args.length);
  const al = Int32Array.from(args, (a) => a.length);
  for (let i = 1; i < args.length; i++) as[i] = as[i - 1]! + al[i - 1]!;
  return { buf: Buffer.concat(args), as, al };
}

/** The payload of a bulk-string reply (null for a null reply). */
function bulkBody(reply: Uint8Array): Buffer | null {
  if (reply[0] !== 36 || reply[1] === 45) return null;
  const cr = reply.indexOf(13);
  return Buffer.from(reply.subarray(cr + 2, reply.length - 2));
}

/** COPY's options from copied arguments (the shard parses the same from its frame). */
function copyOptions(args: Buffer[], databases: number): CopyOptions | string {
  const as = new Int32Array(args.length);
  const al = Int32Array.from(args, (a) => a.length);
  for (let i = 1; i < args.length; i++) as[i] = as[i - 1]! + al[i - 1]!;
  return parseCopyOptions(Buffer.concat(args), as, al, args.length, databases);
}

/** Holds, the queue of cross-shard work, system calls to shards, and the operations built on them. */
export class Coordinator {
  /** Shards held by the piece of work running now (1: held); the acceptor reads it for every command. */
  readonly held: Uint8Array;
  private readonly all: number[];
  private chain: Promise<void> = Promise.resolve();
  private seq = 0;
  /** System calls waiting for their reply, by seq. */
  private readonly calls = new Map<number, (b: Uint8Array, s: number, len: number) => void>();
  /** System calls made as a given system connection (so they can be forgotten when it is cancelled). */
  private readonly owners = new Map<number, number[]>();
  /** Gathered operations started, for their temporary key names. */
  private gatherOps = 0;
  /** System connections handed out (cross-shard blocking waits). */
  private systemConns = 0;
  /** Clients waiting in a cross-shard blocking pop (block-across.ts), for INFO blocked_clients. */
  blockedAcross = 0;

  constructor(private readonly opts: CoordinatorOptions) {
    this.held = new Uint8Array(opts.count);
    this.all = Array.from({ length: opts.count }, (_, i) => i);
  }

  /** Shard owning a key. */
  shardOfKey(k: Buffer): number {
    return keySlot(k, 0, k.length) % this.opts.count;
  }

  /** Whether some shard is held. */
  anyHeld(): boolean {
    return this.held.includes(1);
  }

  /** An AOF entry for a write made through system calls on a client's behalf; null while the AOF is off. */
  logEntry(db: number, id: number, argv: Uint8Array[]): AofEntry | null {
    return this.opts.aof.sink === null ? null : { db, id, argv, resp: null };
  }

  // ---- system calls ----

  /**
   * Sends a command to `shard` on behalf of the server and resolves with its raw reply. `asConn`
   * names a system connection the shard may block it under (see forget); `logged` is logged to
   * the AOF when the reply comes.
   */
  call(shard: number, db: number, id: number, args: Buffer[], flags = 0, asConn = 0, logged: AofEntry | null = null): Promise<Uint8Array> {
    return new Promise((resolve) => this.send(shard, db, id, args, (b, s, len) => resolve(b.slice(s, s + len)), flags, asConn, logged));
  }

  /**
   * As call, handing the reply to `done` as bytes [s, s + len) of `b`, valid only during the call: no
   * promise and no copy per call, for long runs of calls (loading a file).
   */
  send(
    shard: number,
    db: number,
    id: number,
    args: readonly Uint8Array[],
    done: (b: Uint8Array, s: number, len: number) => void,
    flags = 0,
    asConn = 0,
    logged: AofEntry | null = null,
  ): void {
    const port = this.opts.ports[shard]!;
    const seq = (this.seq = (this.seq % 0xfffffffe) + 1);
    if (logged !== null) this.opts.aof.awaitSystem(seq, logged);
    let size = F.REQ_ARGS;
    for (const a of args) size += 4 + a.length;
    const buf = port.begin(asConn, seq, id, db, flags, args.length, size);
    for (const a of args) port.arg(buf, a, 0, a.length);
    port.end();
    this.opts.wake();
    if (asConn !== 0) {
      const seqs = this.owners.get(asConn);
      if (seqs === undefined) this.owners.set(asConn, [seq]);
      else seqs.push(seq);
    }
    this.calls.set(seq, done);
  }

  /** The same call to every shard; resolves with their replies by shard id. */
  callAll(db: number, id: number, args: Buffer[]): Promise<Uint8Array[]> {
    return Promise.all(this.all.map((s) => this.call(s, db, id, args)));
  }

  /** A shard answered system call `seq`; returns false when no call waits for it (forgotten). */
  answer(seq: number, b: Uint8Array, s: number, len: number): boolean {
    this.opts.aof.systemReplied(seq, b, s, len);
    const done = this.calls.get(seq);
    if (done === undefined) return false;
    this.calls.delete(seq);
    done(b, s, len);
    return true;
  }

  /** A fresh system connection id, for calls a shard may block (cross-shard blocking waits). */
  systemConn(): number {
    return F.SYSTEM_CONN_BASE + (this.systemConns = (this.systemConns + 1) % 0x7ffffff0);
  }

  /** Forgets the pending calls made as `asConn`, whose shard waiters were dropped: they never answer. */
  forget(asConn: number): void {
    const seqs = this.owners.get(asConn);
    if (seqs === undefined) return;
    for (const seq of seqs) this.calls.delete(seq);
    this.owners.delete(asConn);
  }

  // ---- the queue and holds ----

  /** Runs `fn` after every piece of work queued before it, and before any queued after it. */
  queued<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Runs `fn` in turn with `shards` held; every hold is released when it settles. */
  holding<T>(shards: Iterable<number>, fn: () => Promise<T>): Promise<T> {
    return this.queued(async () => {
      for (const s of shards) this.held[s] = 1;
      try {
        return await fn();
      } finally {
        this.release();
      }
    });
  }

  /**
   * Runs `fn` with every shard held: commands that need a shard wait until it settles, so what `fn`
   * asks the shards sees one point in time (SAVE, snapshots).
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.holding(this.all, fn);
  }

  /** Runs `fn` with the holds lifted: a held EXEC dispatches its own commands to the shards it holds. */
  withoutHolds(fn: () => void): void {
    const held = Uint8Array.from(this.held);
    this.held.fill(0);
    try {
      fn();
    } finally {
      this.held.set(held);
    }
  }

  private release(): void {
    this.held.fill(0);
    this.opts.released();
  }

  // ---- operations ----

  /**
   * Runs a script whose keys span shards in shard `home` with every shard held, every other shard
   * serving its mailbox until the script ends; resolves with the script's reply.
   */
  scriptAcross(home: number, id: number, args: Buffer[], db: number, flags: number): Promise<Uint8Array> {
    return this.holding(this.all, async () => {
      const serve = internalId('__xserve');
      const serving: Promise<Uint8Array>[] = [];
      for (const s of this.all) if (s !== home) serving.push(this.call(s, db, serve, []));
      const reply = await this.call(home, db, id, args, flags);
      await Promise.all(serving);
      return reply;
    });
  }

  /**
   * Queues a client's cross-shard operation and resolves with its reply: a gathered collection
   * command when `keys` lists its key arguments, else MSETNX/RENAME/RENAMENX/COPY/FLUSHDB/FLUSHALL.
   * `logged` goes to the AOF before the holds are released.
   */
  operation(id: number, args: Buffer[], keys: number[] | null, db: number, proto: 2 | 3, logged: AofEntry | null): Promise<Uint8Array> {
    return this.queued(async () => {
      const w = new RespWriter(256);
      w.proto = proto;
      await this.perform(id, args, keys, db, w);
      // Logged while the shards are still held, so nothing that ran after it is logged before it.
      if (logged !== null) this.opts.aof.commit(logged, w.bytes, 0, w.len);
      this.release();
      return w.bytes.subarray(0, w.len);
    });
  }

  /**
   * Runs one MSETNX/RENAME/RENAMENX/COPY inside work that already holds shards (a held EXEC);
   * the holds it adds are dropped again after it.
   */
  async step(id: number, args: Buffer[], db: number, proto: 2 | 3): Promise<Uint8Array> {
    const held = Uint8Array.from(this.held);
    const w = new RespWriter(256);
    w.proto = proto;
    await this.perform(id, args, null, db, w);
    this.held.set(held);
    return w.bytes.subarray(0, w.len);
  }

  /**
   * Runs a cross-shard command for the server itself (AOF replay) with every shard held and
   * resolves with its reply: MSETNX/RENAME/RENAMENX/COPY, or a gathered collection command when
   * `keys` lists its key arguments.
   */
  async serverOperation(id: number, args: Buffer[], db: number, keys: number[] | null = null): Promise<Uint8Array> {
    const w = new RespWriter(256);
    await this.exclusive(() => (keys !== null ? this.runGathered(id, args, keys, db, w) : this.runOperation(id, args, db, w)));
    return w.bytes.slice(0, w.len);
  }

  /** Runs an operation into `w`, reporting it done; a failure becomes an error reply. */
  private async perform(id: number, args: Buffer[], keys: number[] | null, db: number, w: RespWriter): Promise<void> {
    try {
      if (keys !== null) await this.runGathered(id, args, keys, db, w);
      else await this.runOperation(id, args, db, w);
      this.opts.operationDone(id, args, db, w);
    } catch (err) {
      w.len = 0;
      w.error(`ERR ${(err as Error).message}`);
    }
  }

  /**
   * A collection command over keys on several shards: copy each key living elsewhere into the
   * first key's shard under a temporary name, run the command there, then copy written keys
   * back (or delete them if the command emptied them) and drop the copies. Runs while every
   * involved shard is held, so it is atomic; it costs a copy of the foreign keys' values.
   */
  private async runGathered(id: number, args: Buffer[], keys: number[], db: number, w: RespWriter): Promise<void> {
    // Run where the written key lives, so it keeps its own name (and its keyspace events): the
    // first key, except for GEORADIUS[BYMEMBER] … STORE, whose destination comes last.
    const written = id === CMD.GEORADIUS || id === CMD.GEORADIUSBYMEMBER ? keys[keys.length - 1]! : keys[0]!;
    const home = this.shardOfKey(args[written]!);
    for (const k of keys) this.held[this.shardOfKey(args[k]!)] = 1;
    const dump = internalId('__dump');
    const restore = internalId('__restore');
    const op = ++this.gatherOps;
    const moved: { arg: number; shard: number; temp: Buffer }[] = [];
    const local = args.slice();
    for (const k of keys) {
      const shard = this.shardOfKey(args[k]!);
      if (shard === home) continue;
      const temp = Buffer.from(`\u0000sabre:gather:${op}:${k}`);
      const payload = bulkBody(await this.call(shard, db, dump, [Buffer.from('__dump'), args[k]!, Buffer.from('0')]));
      if (payload !== null) await this.call(home, db, restore, [Buffer.from('__restore'), temp, payload, Buffer.from('1')]);
      moved.push({ arg: k, shard, temp });
      local[k] = temp;
    }
    const reply = await this.call(home, db, id, local, w.proto === 3 ? F.FLAG_RESP3 | F.FLAG_NOBLOCK : F.FLAG_NOBLOCK);
    const readOnly = (COMMANDS[id]!.flags & F_READONLY) !== 0;
    for (const m of moved) {
      const back = bulkBody(await this.call(home, db, dump, [Buffer.from('__dump'), m.temp, Buffer.from('1')]));
      if (readOnly) continue;
      if (back !== null) await this.call(m.shard, db, restore, [Buffer.from('__restore'), args[m.arg]!, back, Buffer.from('1')]);
      else await this.call(m.shard, db, CMD.DEL, [Buffer.from('del'), args[m.arg]!]);
    }
    w.raw(reply, 0, reply.length);
  }

  /**
   * A SORT whose STORE key or pattern keys may live on other shards, run with every shard held
   * (which keys the patterns name is only known from the elements): the source's shard lists the
   * elements, each shard reads the pattern keys it owns, the source's shard sorts with those values,
   * and a STORE on another shard is written there. It costs a round trip per step and a copy of the
   * elements and values through the acceptor.
   */
  private async runSort(id: number, args: Buffer[], db: number, w: RespWriter): Promise<void> {
    this.held.fill(1);
    const home = this.shardOfKey(args[1]!);
    const sp = spans(args);
    const parsed = parseSortArgs(sp.buf, sp.as, sp.al, args.length, id === CMD.SORT_RO);
    const patterns = parsed.patterns.slice();
    const store = parsed.store;
    const reads = patterns.map((p) => patternReadsKeys(args[p]!, 0, args[p]!.length));
    const values: Buffer[] = [];
    if (parsed.error === null && reads.includes(true)) {
      const listed = await this.call(home, db, internalId('__sortelems'), [Buffer.from('__sortelems'), ...args]);
      if (listed[0] === 45) {
        w.raw(listed, 0, listed.length);
        return;
      }
      const elems = bulkArray(listed);
      const NONE = Buffer.from([0]);
      const asks = new Map<number, { slots: number[]; args: Buffer[] }>();
      let key: Uint8Array = new Uint8Array(256);
      elems.forEach((e, j) => {
        patterns.forEach((p, k) => {
          const slot = j * patterns.length + k;
          values[slot] = NONE;
          if (!reads[k]) return;
          const pat = args[p]!;
          const [kb, kn] = patternKey(pat, 0, pat.length, e!, 0, e!.length, key);
          key = kb;
          const name = Buffer.from(kb.subarray(0, kn));
          const f = patternField(pat, 0, pat.length);
          const shard = this.shardOfKey(name);
          let ask = asks.get(shard);
          if (ask === undefined) asks.set(shard, (ask = { slots: [], args: [Buffer.from('__sortget')] }));
          ask.slots.push(slot);
          ask.args.push(name, f < 0 ? Buffer.alloc(0) : pat.subarray(f));
        });
      });
      await Promise.all(
        [...asks].map(async ([shard, ask]) => {
          const got = bulkArray(await this.call(shard, db, internalId('__sortget'), ask.args));
          got.forEach((v, i) => {
            if (v !== null) values[ask.slots[i]!] = Buffer.concat([Buffer.from([1]), v]);
          });
        }),
      );
    }
    const remote = parsed.error === null && store !== 0 && this.shardOfKey(args[store]!) !== home;
    const head = [Buffer.from('__sortrun'), Buffer.from(remote ? 'r' : 's'), Buffer.from(String(values.length))];
    const flags = !remote && w.proto === 3 ? F.FLAG_RESP3 : 0;
    const reply = await this.call(home, db, internalId('__sortrun'), [...head, ...values, ...args], flags);
    if (!remote || reply[0] === 45) {
      w.raw(reply, 0, reply.length);
      return;
    }
    const rows = bulkArray(reply).map((v) => v ?? Buffer.alloc(0));
    const stored = await this.call(this.shardOfKey(args[store]!), db, internalId('__sortstore'), [
      Buffer.from('__sortstore'),
      args[store]!,
      ...rows,
    ]);
    w.raw(stored, 0, stored.length);
  }

  /** The steps of MSETNX, RENAME/RENAMENX, COPY, FLUSHDB/FLUSHALL and SORT across shards. */
  private async runOperation(id: number, args: Buffer[], db: number, w: RespWriter): Promise<void> {
    if (id === CMD.SORT || id === CMD.SORT_RO) return this.runSort(id, args, db, w);
    if (id === CMD.FLUSHALL || id === CMD.FLUSHDB || id === CMD.SWAPDB) {
      this.held.fill(1);
      const replies = await this.callAll(db, id, args);
      const failed = replies.find((r) => r[0] === 45);
      if (failed !== undefined) w.raw(failed, 0, failed.length);
      else w.simple('OK');
      return;
    }
    if (id === CMD.MSETNX) {
      const parts = new Map<number, Buffer[]>();
      for (let i = 1; i + 1 < args.length; i += 2) {
        const s = this.shardOfKey(args[i]!);
        if (!parts.has(s)) parts.set(s, []);
        parts.get(s)!.push(args[i]!, args[i + 1]!);
      }
      if ((args.length & 1) === 0) {
        w.error(wrongArityError('msetnx'));
        return;
      }
      for (const s of parts.keys()) this.held[s] = 1;
      const exists = await Promise.all(
        [...parts].map(([s, kv]) => this.call(s, db, CMD.EXISTS, [Buffer.from('exists'), ...kv.filter((_, j) => j % 2 === 0)])),
      );
      if (exists.some((r) => r[0] !== 58 || r[1] !== 48)) {
        w.int(0);
        return;
      }
      await Promise.all([...parts].map(([s, kv]) => this.call(s, db, CMD.MSET, [Buffer.from('mset'), ...kv])));
      w.int(1);
      return;
    }
    // RENAME / RENAMENX / COPY: take the source's payload, then create the destination.
    const src = args[1]!;
    const dst = args[2]!;
    const ss = this.shardOfKey(src);
    const ds = this.shardOfKey(dst);
    this.held[ss] = 1;
    this.held[ds] = 1;
    let replace = id === CMD.RENAME;
    let dstDb = db;
    if (id === CMD.COPY) {
      const opts = copyOptions(args, this.opts.databases);
      if (typeof opts === 'string') return w.error(opts);
      replace = opts.replace;
      if (opts.db !== -1) dstDb = opts.db;
    }
    if (id === CMD.RENAMENX || (id === CMD.COPY && !replace)) {
      const e = await this.call(ds, dstDb, CMD.EXISTS, [Buffer.from('exists'), dst]);
      const srcExists = await this.call(ss, db, CMD.EXISTS, [Buffer.from('exists'), src]);
      if (srcExists[1] === 48) {
        if (id === CMD.COPY) w.int(0);
        else w.error(E_NO_KEY);
        return;
      }
      if (e[1] !== 48) return w.int(0);
    }
    const dump = await this.call(ss, db, internalId('__dump'), [Buffer.from('__dump'), src, Buffer.from(id === CMD.COPY ? '0' : '1')]);
    if (dump[0] === 45) {
      w.raw(dump, 0, dump.length);
      return;
    }
    if (dump[1] === 45 || dump[0] === 95) {
      if (id === CMD.COPY) w.int(0);
      else w.error(E_NO_KEY);
      return;
    }
    const cr = dump.indexOf(13);
    const payload = Buffer.from(dump.subarray(cr + 2, dump.length - 2));
    await this.call(ds, dstDb, internalId('__restore'), [Buffer.from('__restore'), dst, payload, Buffer.from(replace ? '1' : '0')]);
    if (id === CMD.RENAME) w.simple('OK');
    else w.int(1);
  }
}
