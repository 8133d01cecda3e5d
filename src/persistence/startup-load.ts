/** Start-up loading as Redis does it: the AOF when appendonly is on, else the RDB; expired keys skipped; truncated AOF tails cut. */
import { closeSync, existsSync, openSync, ftruncateSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import type { RdbEntry } from './rdb-types.js';
import { readRdbFile } from './rdb-reader.js';
import { readAofFile } from './aof-reader.js';
import { aofReplayOrder } from './aof-manifest.js';

/** Where the data lives and how to treat a damaged AOF tail. */
export interface StartupLoadOptions {
  dir: string;
  dbfilename: string;
  appendonly: boolean;
  appendfilename: string;
  /** Redis 7's appenddirname: when `<dir>/<appenddirname>/<appendfilename>.manifest` exists, its files are loaded. */
  appenddirname?: string;
  /** aof-load-truncated (default yes): load up to the last complete command and cut the file there. */
  aofLoadTruncated?: boolean;
  nowMs?: number;
  log?: (line: string) => void;
}

/** Receives the data in file order; a shard router behind it applies each key or command. */
export interface LoadSink {
  entry(e: RdbEntry): void;
  command(db: number, argv: Uint8Array[]): void;
  /** A function library from the RDB (its FUNCTION LOAD code), before any key. */
  functionCode(code: Uint8Array): void;
  /** Asked after each key or command: a promise to wait for before reading on (the sink is behind), or null. */
  backlog?(): Promise<void> | null;
}

/** What was loaded, for the log and INFO persistence. */
export interface StartupLoadResult {
  source: 'aof' | 'rdb' | 'none';
  keysLoaded: number;
  keysExpired: number;
  commands: number;
  /** Bytes of an incomplete AOF tail that were dropped and truncated away. */
  truncatedBytes: number;
}

/**
 * Loads the data set into `sink`. Throws RdbError for a corrupt or (with aof-load-truncated no) truncated
 * file: the server must then exit without serving, so a bad file never leaves a half-loaded server.
 */
export async function loadAtStartup(opts: StartupLoadOptions, sink: LoadSink): Promise<StartupLoadResult> {
  const now = opts.nowMs ?? Date.now();
  const log = opts.log ?? (() => undefined);
  const result: StartupLoadResult = { source: 'none', keysLoaded: 0, keysExpired: 0, commands: 0, truncatedBytes: 0 };
  const entry = (e: RdbEntry): void => {
    // A master drops keys that expired while it was down, as Redis does.
    if (e.expireAtMs > 0 && e.expireAtMs <= now) result.keysExpired++;
    else {
      sink.entry(e);
      result.keysLoaded++;
    }
  };
  if (opts.appendonly) {
    const multiDir = join(opts.dir, opts.appenddirname ?? 'appendonlydir');
    const manifest = `${opts.appendfilename}.manifest`;
    const paths = existsSync(join(multiDir, manifest)) ? aofReplayOrder(multiDir, manifest) : [join(opts.dir, opts.appendfilename)];
    if (!paths.every(existsSync)) return result;
    result.source = 'aof';
    for (const path of paths) {
      // Only the last file may have a truncated tail; an earlier one cut short is corrupt.
      const last = path === paths[paths.length - 1];
      await loadAofFile(path, last && (opts.aofLoadTruncated ?? true), entry, sink, result, log);
    }
    log(`DB loaded from append only file: ${result.keysLoaded} keys, ${result.commands} commands`);
    return result;
  }
  const path = join(opts.dir, opts.dbfilename);
  if (!existsSync(path)) return result;
  result.source = 'rdb';
  for (const r of readRdbFile(path)) {
    if (r.kind === 'function') {
      sink.functionCode(r.code);
      continue;
    }
    if (r.kind !== 'entry') continue;
    entry(r.entry);
    const wait = sink.backlog?.();
    if (wait) await wait;
  }
  log(`DB loaded from disk: ${result.keysLoaded} keys loaded, ${result.keysExpired} expired keys skipped`);
  return result;
}

/** Replays one AOF file into the sink, cutting its truncated tail off when that was allowed. */
async function loadAofFile(
  path: string,
  loadTruncated: boolean,
  entry: (e: RdbEntry) => void,
  sink: LoadSink,
  result: StartupLoadResult,
  log: (line: string) => void,
): Promise<void> {
  const gen = readAofFile(path, { loadTruncated });
  let r = gen.next();
  for (; !r.done; r = gen.next()) {
    if (r.value.kind === 'entry') entry(r.value.entry);
    else sink.command(r.value.db, r.value.argv);
    const wait = sink.backlog?.();
    if (wait) await wait;
  }
  result.commands += r.value.commands;
  if (r.value.droppedBytes > 0) {
    log(
      `!!! Warning: short read while loading the AOF file ${path}: dropped the last ${r.value.droppedBytes} bytes (aof-load-truncated yes)`,
    );
    const fd = openSync(path, 'r+');
    try {
      ftruncateSync(fd, r.value.validBytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    result.truncatedBytes = r.value.droppedBytes;
  }
}
