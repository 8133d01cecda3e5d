/**
 * Start-up loading into the shards: the AOF or RDB is read (persistence/startup-load.ts) and replayed
 * as it is read, in file order, with a bounded number of requests in flight: RDB entries go to their
 * keys' shards in packed chunks, AOF commands are routed as the acceptor routes them. Nothing of the
 * file is kept beyond the window, so load time and memory grow linearly with the file.
 */
import { join } from 'node:path';
import { keySlot } from '../wire/key-slot.js';
import type { Acceptor } from '../io/acceptor.js';
import { runsGathered } from '../io/coordinator.js';
import type { Logger } from '../log.js';
import { CMD } from '../commands/ids.generated.js';
import { COMMANDS, extractKeys, lookupCommand, lookupSubcommand } from '../commands/table.js';
import { internalId } from '../commands/internal.js';
import { sortSpansShards } from '../commands/sort-args.js';
import { TO_EVERY_SHARD } from '../commands/script-calls.js';
import { DataLoadError } from '../errors.js';
import { EntryPacker, RdbError, loadAtStartup, readRdbFile, type StartupLoadResult } from '../persistence/index.js';

const FUNCTION = Buffer.from('FUNCTION');
const LOAD = Buffer.from('LOAD');
const REPLACE = Buffer.from('REPLACE');

/** Entries go to a shard in chunks of about this many packed bytes while loading. */
const LOAD_CHUNK_BYTES = 1 << 20;
/** Requests in flight before reading pauses; reading goes on once half of them are answered. */
const WINDOW = 16384;

/** Sends replay requests, counting those not yet answered, so reading can wait for the shards. */
class Replay {
  private inflight = 0;
  private wake: (() => void) | null = null;
  private resumeAt = 0;
  /** The first error a __load chunk answered. */
  loadError: string | null = null;

  constructor(readonly a: Acceptor) {}

  /** Counts a request until its reply. */
  private readonly answered = (): void => {
    this.inflight--;
    if (this.wake !== null && this.inflight <= this.resumeAt) {
      const w = this.wake;
      this.wake = null;
      w();
    }
  };

  private readonly loadAnswered = (b: Uint8Array, s: number, len: number): void => {
    if (b[s] === 45 && this.loadError === null)
      this.loadError = Buffer.from(b.subarray(s + 1, s + len))
        .toString('latin1')
        .trim();
    this.answered();
  };

  /** Sends one request; a __load chunk's reply is checked for errors. */
  send(shard: number, db: number, id: number, args: readonly Uint8Array[], load = false): void {
    this.inflight++;
    this.a.coordinator.send(shard, db, id, args, load ? this.loadAnswered : this.answered);
  }

  /** Runs a held operation alone: after every request before it was answered, before any after it. */
  async barrier(op: () => Promise<Uint8Array>): Promise<void> {
    await this.until(0);
    await op();
  }

  /** Null while few requests are in flight, else a promise that settles once half the window is answered. */
  backlog(): Promise<void> | null {
    return this.inflight < WINDOW ? null : this.until(WINDOW >> 1);
  }

  /** Settles once at most `n` requests are in flight. */
  until(n: number): Promise<void> {
    if (this.inflight <= n) return Promise.resolve();
    this.resumeAt = n;
    return new Promise((resolve) => (this.wake = resolve));
  }
}

/** Loads the AOF or RDB into the shards before the server listens; a bad file throws DataLoadError, so no client ever sees part of it. */
export async function loadDataSet(a: Acceptor, log: Logger): Promise<StartupLoadResult> {
  const cfg = a.config;
  const n = a.shards.length;
  const loadId = internalId('__load');
  const loadName = Buffer.from('__load');
  const packers = a.shards.map(() => new EntryPacker());
  const replay = new Replay(a);
  // A held operation waits for what was read before it; `barrier` is the one in progress.
  let barrier: Promise<void> | null = null;
  const flush = (s: number): void => replay.send(s, 0, loadId, [loadName, Buffer.from(packers[s]!.take())], true);
  const flushAll = (): void => {
    for (let s = 0; s < packers.length; s++) if (packers[s]!.count > 0) flush(s);
  };
  const appendonly = cfg.get('appendonly') === 'yes';
  try {
    const result = await loadAtStartup(
      {
        dir: cfg.get('dir'),
        dbfilename: cfg.get('dbfilename'),
        appendonly,
        appendfilename: cfg.get('appendfilename'),
        aofLoadTruncated: cfg.get('aof-load-truncated') === 'yes',
        log: (line) => log.info(line),
      },
      {
        entry: (e) => {
          const s = keySlot(e.key, 0, e.key.length) % n;
          packers[s]!.add(e);
          if (packers[s]!.size >= LOAD_CHUNK_BYTES) flush(s);
        },
        functionCode: (code) => {
          // Libraries live in every shard; REPLACE, as a full sync may load over a library already there.
          for (let s = 0; s < n; s++) replay.send(s, 0, CMD.FUNCTION_LOAD, [FUNCTION, LOAD, REPLACE, code], true);
        },
        command: (db, argv) => {
          flushAll();
          const op = replayCommand(a, replay, db, argv);
          if (op !== null) barrier = replay.barrier(op);
        },
        backlog: () => {
          if (barrier === null) return replay.backlog();
          const b = barrier;
          barrier = null;
          return b;
        },
      },
    );
    flushAll();
    await replay.until(0);
    if (replay.loadError !== null) throw new DataLoadError(`error loading the data set: ${replay.loadError}`);
    return result;
  } catch (e) {
    if (e instanceof RdbError) {
      const file = join(cfg.get('dir'), appendonly ? cfg.get('appendfilename') : cfg.get('dbfilename'));
      throw new DataLoadError(
        `Bad file format reading ${file}: ${e.message} (offset ${e.offset ?? '?'}); not starting with a partial data set`,
      );
    }
    throw e;
  }
}

/**
 * Loads the RDB a replica received from its master (keys and function libraries) into the (emptied) shards. Keys already past
 * their expiry are loaded too: a replica keeps them until its master's DEL, as Redis's replicas do.
 * Returns the number of keys and the file's aux fields (repl-id, repl-offset…).
 */
export async function loadReplicaRdb(a: Acceptor, path: string): Promise<{ keys: number; aux: Map<string, string> }> {
  const n = a.shards.length;
  const loadId = internalId('__load');
  const loadName = Buffer.from('__load');
  const packers = a.shards.map(() => new EntryPacker());
  const replay = new Replay(a);
  const aux = new Map<string, string>();
  let keys = 0;
  const flush = (s: number): void => replay.send(s, 0, loadId, [loadName, Buffer.from(packers[s]!.take())], true);
  for (const r of readRdbFile(path)) {
    if (r.kind === 'aux') aux.set(r.key, Buffer.from(r.value).toString('latin1'));
    // The master's function libraries, into every shard (as start-up loading does).
    if (r.kind === 'function') for (let s = 0; s < n; s++) replay.send(s, 0, CMD.FUNCTION_LOAD, [FUNCTION, LOAD, REPLACE, r.code], true);
    if (r.kind !== 'entry') continue;
    const e = r.entry;
    const s = keySlot(e.key, 0, e.key.length) % n;
    packers[s]!.add(e);
    if (packers[s]!.size >= LOAD_CHUNK_BYTES) flush(s);
    keys++;
    const wait = replay.backlog();
    if (wait) await wait;
  }
  for (let s = 0; s < n; s++) if (packers[s]!.count > 0) flush(s);
  await replay.until(0);
  if (replay.loadError !== null) throw new DataLoadError(`error loading the master's RDB: ${replay.loadError}`);
  return { keys, aux };
}

/**
 * Replays one AOF command: to its keys' shard; split per shard for DEL/UNLINK/TOUCH/MSET as the
 * acceptor splits them; skipped when its keys span shards otherwise (the command was refused with
 * CROSSSLOT and changed nothing). Cross-shard MSETNX/RENAME/COPY and collection commands (gathered,
 * as the acceptor runs them) are held operations: returned, to run alone once what came before is done.
 */
function replayCommand(a: Acceptor, replay: Replay, db: number, argv: Uint8Array[]): (() => Promise<Uint8Array>) | null {
  const argc = argv.length;
  let id = lookupCommand(argv[0]!, 0, argv[0]!.length);
  if (id >= 0 && COMMANDS[id]!.subcommands !== null && argc > 1) id = lookupSubcommand(id, argv[1]!, 0, argv[1]!.length);
  if (id < 0) return null;
  const n = a.shards.length;
  if (n === 1) {
    replay.send(0, db, id, argv);
    return null;
  }
  // Scripts and function libraries live in every shard: replayed to all of them, as the acceptor runs them.
  if (TO_EVERY_SHARD.has(id)) {
    for (let s = 0; s < n; s++) replay.send(s, db, id, argv);
    return null;
  }
  // Key positions need the arguments as spans of one buffer.
  let size = 0;
  for (let i = 0; i < argc; i++) size += argv[i]!.length;
  if (joined.length < size) joined = Buffer.allocUnsafe(Math.max(size, joined.length * 2));
  if (starts.length < argc) {
    starts = new Int32Array(argc * 2);
    lens = new Int32Array(argc * 2);
    keyIdx = new Int32Array(argc * 2);
  }
  let at = 0;
  for (let i = 0; i < argc; i++) {
    const x = argv[i]!;
    joined.set(x, at);
    starts[i] = at;
    lens[i] = x.length;
    at += x.length;
  }
  if (
    (id === CMD.SORT || id === CMD.SORT_RO) &&
    sortSpansShards(joined, starts, lens, argc, id === CMD.SORT_RO, (b, s, k) => keySlot(b, s, k) % n)
  ) {
    const args = argv.map((x) => Buffer.from(x));
    return () => a.coordinator.serverOperation(id, args, db);
  }
  const nk = Math.max(0, extractKeys(COMMANDS[id]!, joined, starts, lens, argc, keyIdx));
  const shardOf = (i: number): number => keySlot(argv[i]!, 0, argv[i]!.length) % n;
  let single = true;
  const first = nk > 0 ? shardOf(keyIdx[0]!) : 0;
  for (let k = 1; k < nk && single; k++) single = shardOf(keyIdx[k]!) === first;
  if (single) {
    if (nk === 0 && (id === CMD.FLUSHALL || id === CMD.FLUSHDB || id === CMD.SWAPDB))
      for (let s = 0; s < n; s++) replay.send(s, db, id, argv);
    else replay.send(first, db, id, argv);
    return null;
  }
  switch (id) {
    case CMD.DEL:
    case CMD.UNLINK:
    case CMD.TOUCH:
    case CMD.MSET: {
      const byShard = new Map<number, Uint8Array[]>();
      for (let k = 0; k < nk; k++) {
        const i = keyIdx[k]!;
        const s = shardOf(i);
        let list = byShard.get(s);
        if (list === undefined) byShard.set(s, (list = [argv[0]!]));
        list.push(argv[i]!);
        if (id === CMD.MSET) list.push(argv[i + 1]!);
      }
      for (const [s, list] of byShard) replay.send(s, db, id, list);
      return null;
    }
    default: {
      const held = id === CMD.MSETNX || id === CMD.RENAME || id === CMD.RENAMENX || id === CMD.COPY;
      if (!held && !runsGathered(id)) return null;
      const args = argv.map((x) => Buffer.from(x));
      const keys = held ? null : Array.from(keyIdx.subarray(0, nk));
      return () => a.coordinator.serverOperation(id, args, db, keys);
    }
  }
}

/** Scratch for key extraction in replayCommand (reused: one command at a time). */
let joined = Buffer.allocUnsafe(4096);
let starts = new Int32Array(64);
let lens = new Int32Array(64);
let keyIdx = new Int32Array(64);
