/**
 * Start-up loading into the shards: the AOF or RDB is parsed (persistence/startup-load.ts) into steps
 * run in file order; RDB entries go to their keys' shards in packed chunks, AOF commands are routed
 * as the acceptor routes them.
 */
import { join } from 'node:path';
import calculateSlot from 'cluster-key-slot';
import type { Acceptor } from '../io/acceptor.js';
import { runsGathered } from '../io/coordinator.js';
import type { Logger } from '../log.js';
import { CMD } from '../commands/ids.generated.js';
import { COMMANDS, extractKeys, lookupCommand, lookupSubcommand } from '../commands/table.js';
import { internalId } from '../commands/internal.js';
import { DataLoadError } from '../errors.js';
import { EntryPacker, RdbError, loadAtStartup, type StartupLoadResult } from '../persistence/index.js';

/** Entries go to a shard in chunks of about this many packed bytes while loading. */
const LOAD_CHUNK_BYTES = 1 << 20;

/** One replay step: `run` sends its commands; a barrier step runs alone, after every earlier one completed. */
interface Step {
  barrier: boolean;
  /** Its replies are __load results, whose errors abort start-up. */
  loads: boolean;
  run: () => Promise<Uint8Array>[];
}

/** Loads the AOF or RDB into the shards before the server listens; a bad file throws DataLoadError, so no client ever sees part of it. */
export async function loadDataSet(a: Acceptor, log: Logger): Promise<StartupLoadResult> {
  const cfg = a.config;
  const n = a.shards.length;
  const loadId = internalId('__load');
  const loadName = Buffer.from('__load');
  const packers = a.shards.map(() => new EntryPacker());
  // The file is parsed first, into steps run in file order: sends go out together, a cross-shard
  // operation waits for everything before it and holds the shards while it runs.
  const steps: Step[] = [];
  const flush = (s: number): void => {
    const chunk = Buffer.from(packers[s]!.take());
    steps.push({ barrier: false, loads: true, run: () => [a.coordinator.call(s, 0, loadId, [loadName, chunk])] });
  };
  const flushAll = (): void => {
    for (let s = 0; s < packers.length; s++) if (packers[s]!.count > 0) flush(s);
  };
  const appendonly = cfg.get('appendonly') === 'yes';
  try {
    const result = loadAtStartup(
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
          const s = calculateSlot(Buffer.from(e.key.buffer, e.key.byteOffset, e.key.length)) % n;
          packers[s]!.add(e);
          if (packers[s]!.size >= LOAD_CHUNK_BYTES) flush(s);
        },
        command: (db, argv) => {
          flushAll();
          steps.push(replayStep(a, db, argv));
        },
      },
    );
    flushAll();
    let pending: Promise<Uint8Array>[] = [];
    const loads: Promise<Uint8Array>[] = [];
    for (const step of steps) {
      if (step.barrier) {
        // A held operation runs alone: after everything before it, before anything after it.
        await Promise.all(pending);
        pending = [];
        await Promise.all(step.run());
        continue;
      }
      const sent = step.run();
      pending.push(...sent);
      if (step.loads) loads.push(...sent);
    }
    await Promise.all(pending);
    for (const r of await Promise.all(loads)) {
      if (r[0] === 45) throw new DataLoadError(`error loading the data set: ${Buffer.from(r).toString('latin1').slice(1).trim()}`);
    }
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
 * How one AOF command is replayed: to its keys' shard; split per shard for DEL/UNLINK/TOUCH/MSET as the
 * acceptor splits them; as a held operation for cross-shard MSETNX/RENAME/COPY and collection commands
 * (gathered, as the acceptor runs them); skipped when its keys span shards otherwise (the command was
 * refused with CROSSSLOT and changed nothing).
 */
function replayStep(a: Acceptor, db: number, argv: Uint8Array[]): Step {
  const args = argv.map((x) => Buffer.from(x.buffer, x.byteOffset, x.length));
  const lens = Int32Array.from(args, (x) => x.length);
  const starts = new Int32Array(args.length);
  for (let i = 1; i < args.length; i++) starts[i] = starts[i - 1]! + lens[i - 1]!;
  const joined = Buffer.concat(args);
  let id = lookupCommand(joined, 0, lens[0]!);
  if (id >= 0 && COMMANDS[id]!.subcommands !== null && args.length > 1) id = lookupSubcommand(id, joined, starts[1]!, lens[1]!);
  if (id < 0) return { barrier: false, loads: false, run: () => [] };
  const keyIdx = new Int32Array(args.length);
  const nk = Math.max(0, extractKeys(COMMANDS[id]!, joined, starts, lens, args.length, keyIdx));
  const shardOf = (i: number): number => calculateSlot(args[i]!) % a.shards.length;
  const byShard = new Map<number, number[]>();
  for (let k = 0; k < nk; k++) {
    const i = keyIdx[k]!;
    const s = shardOf(i);
    if (!byShard.has(s)) byShard.set(s, []);
    byShard.get(s)!.push(i);
    if (id === CMD.MSET) byShard.get(s)!.push(i + 1);
  }
  if (byShard.size <= 1) {
    const s = nk > 0 ? shardOf(keyIdx[0]!) : 0;
    if (nk === 0 && (id === CMD.FLUSHALL || id === CMD.FLUSHDB))
      return { barrier: false, loads: false, run: () => a.shards.map((_, i) => a.coordinator.call(i, db, id, args)) };
    return { barrier: false, loads: false, run: () => [a.coordinator.call(s, db, id, args)] };
  }
  switch (id) {
    case CMD.DEL:
    case CMD.UNLINK:
    case CMD.TOUCH:
    case CMD.MSET:
      return {
        barrier: false,
        loads: false,
        run: () => [...byShard].map(([s, idx]) => a.coordinator.call(s, db, id, [args[0]!, ...idx.map((i) => args[i]!)])),
      };
    case CMD.MSETNX:
    case CMD.RENAME:
    case CMD.RENAMENX:
    case CMD.COPY:
      return { barrier: true, loads: false, run: () => [a.coordinator.serverOperation(id, args, db)] };
    default:
      if (runsGathered(id)) {
        const keys = Array.from(keyIdx.subarray(0, nk));
        return { barrier: true, loads: false, run: () => [a.coordinator.serverOperation(id, args, db, keys)] };
      }
      return { barrier: false, loads: false, run: () => [] };
  }
}
