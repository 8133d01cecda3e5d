/**
 * Replay reader of Sabre's append-only file. Format (documented choice): one file, `appendonly.aof`,
 * holding an optional RDB preamble (as Redis's aof-use-rdb-preamble writes) followed by RESP commands;
 * not Redis 7's multi-part appendonlydir. Redis 7 base files (.base.aof / .base.rdb) read the same way.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { RdbError } from './rdb-error.js';
import type { RdbEntry } from './rdb-types.js';
import { readRdb } from './rdb-reader.js';
import { parseCommand } from './resp-command.js';

/** One replayable item: a key from the RDB preamble, or a command to execute in database `db`. */
export type AofRecord = { kind: 'entry'; entry: RdbEntry } | { kind: 'command'; db: number; argv: Uint8Array[] };

/** How the replay ended. */
export interface AofSummary {
  /** Bytes up to the end of the last complete command: the file should be truncated to this when `droppedBytes` > 0. */
  validBytes: number;
  /** Bytes of an incomplete command (or unfinished MULTI block) at the tail, skipped like aof-load-truncated yes. */
  droppedBytes: number;
  commands: number;
}

const CHUNK = 1 << 20;
/** Whether `b` is `word` (lower-case ASCII) in any case; compared in place, as it runs for every command. */
function isWord(b: Uint8Array, word: string): boolean {
  if (b.length !== word.length) return false;
  for (let i = 0; i < b.length; i++) if ((b[i]! | 0x20) !== word.charCodeAt(i)) return false;
  return true;
}

/**
 * Yields the records of an AOF held in bytes or read from a file descriptor (from its start). SELECT is
 * applied here (records carry their db); MULTI ... EXEC blocks are yielded only once their EXEC is read.
 * A truncated tail is dropped and reported when `loadTruncated` (Redis's default), else it is an RdbError
 * TRUNCATED; malformed data before the tail is always an RdbError CORRUPT with its offset.
 */
export function* readAof(source: Uint8Array | number, opts: { loadTruncated?: boolean } = {}): Generator<AofRecord, AofSummary, void> {
  const loadTruncated = opts.loadTruncated ?? true;
  const size = typeof source === 'number' ? fstatSync(source).size : source.length;
  let start = 0;
  const isRdb = (head: Uint8Array): boolean => Buffer.from(head).toString('latin1') === 'REDIS';
  const head = typeof source === 'number' ? readAt(source, 0, Math.min(5, size)) : source.subarray(0, 5);
  if (size >= 5 && isRdb(head)) {
    const rdb = readRdb(source);
    for (;;) {
      const r = rdb.next();
      if (r.done) {
        start = r.value.endOffset;
        break;
      }
      if (r.value.kind === 'entry') yield { kind: 'entry', entry: r.value.entry };
    }
  }
  let db = 0;
  let commands = 0;
  let validBytes = start;
  let multi: Array<{ db: number; argv: Uint8Array[] }> | null = null;
  // `pending` holds unparsed bytes starting at file offset `base`.
  let pending: Uint8Array = new Uint8Array(0);
  let base = start;
  let fileAt = start;
  for (;;) {
    let p = 0;
    for (;;) {
      const cmd = parseCommand(pending, p, base);
      if (!cmd) break;
      p = cmd.next;
      const name = cmd.argv[0]!;
      if (isWord(name, 'select')) {
        const n = Number(Buffer.from(cmd.argv[1] ?? new Uint8Array()).toString());
        if (!Number.isInteger(n) || n < 0) throw new RdbError('CORRUPT', 'invalid SELECT in append-only file', base + p);
        db = n;
      } else if (isWord(name, 'multi')) {
        multi = [];
      } else if (isWord(name, 'exec')) {
        if (!multi) throw new RdbError('CORRUPT', 'EXEC without MULTI in append-only file', base + p);
        for (const c of multi) yield { kind: 'command', ...c };
        commands += multi.length;
        multi = null;
      } else if (multi) {
        multi.push({ db, argv: cmd.argv });
      } else {
        yield { kind: 'command', db, argv: cmd.argv };
        commands++;
      }
      if (!multi) validBytes = base + p;
    }
    const rest = pending.subarray(p);
    let more: Uint8Array = new Uint8Array(0);
    if (typeof source === 'number') {
      if (fileAt < size) more = readAt(source, fileAt, Math.min(CHUNK, size - fileAt));
    } else if (fileAt < size) {
      more = source.subarray(fileAt);
    }
    fileAt += more.length;
    if (more.length === 0) break;
    const next = new Uint8Array(rest.length + more.length);
    next.set(rest);
    next.set(more, rest.length);
    base += p;
    pending = next;
  }
  const droppedBytes = size - validBytes;
  if (droppedBytes > 0 && !loadTruncated) {
    throw new RdbError('TRUNCATED', `append-only file ends inside a command (${droppedBytes} bytes)`, validBytes);
  }
  return { validBytes, droppedBytes, commands };
}

function readAt(fd: number, position: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, out, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return out.subarray(0, got);
}

/** readAof over a file, closing it when the generator finishes or is abandoned. */
export function* readAofFile(path: string, opts: { loadTruncated?: boolean } = {}): Generator<AofRecord, AofSummary, void> {
  const fd = openSync(path, 'r');
  try {
    return yield* readAof(fd, opts);
  } finally {
    closeSync(fd);
  }
}
