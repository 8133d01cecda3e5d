/** Streaming reader of RDB files up to version 11 (every encoding Redis 7.0 writes or still loads), checksum verified. */
import { openSync, closeSync } from 'node:fs';
import { RdbInput } from './rdb-input.js';
import { RdbError } from './rdb-error.js';
import type { RdbEntry } from './rdb-types.js';
import { RDB_MAX_READ_VERSION, RdbOpcode } from './rdb-constants.js';
import { readValue } from './rdb-value.js';

/** One item of an RDB file, in file order. */
export type RdbRecord =
  | { kind: 'aux'; key: string; value: Uint8Array }
  | { kind: 'resizedb'; db: number; keys: number; expires: number }
  /** A function library (its FUNCTION LOAD code). */
  | { kind: 'function'; code: Uint8Array }
  | { kind: 'entry'; entry: RdbEntry };

/** What the reader learned once the whole file was read. */
export interface RdbSummary {
  version: number;
  /** 'absent' for versions < 5 and files saved with rdbchecksum no (a zero checksum). */
  checksum: 'verified' | 'absent';
  /** Offset just past the file's last byte (an AOF with an RDB preamble goes on from here). */
  endOffset: number;
}

const MAGIC = [0x52, 0x45, 0x44, 0x49, 0x53];
const decoder = new TextDecoder();

/**
 * Yields the records of an RDB held in bytes or read from a file descriptor. Errors are RdbError with the
 * byte offset; a checksum mismatch is only known at the end, so a loader stages entries and keeps them
 * only once the generator has returned its summary.
 */
export function* readRdb(source: Uint8Array | number): Generator<RdbRecord, RdbSummary, void> {
  const input = new RdbInput(source);
  let magic: Uint8Array;
  try {
    magic = input.bytes(9);
  } catch {
    throw new RdbError('BAD_MAGIC', 'not an RDB file: shorter than its header', 0);
  }
  if (!MAGIC.every((b, i) => magic[i] === b)) throw new RdbError('BAD_MAGIC', 'not an RDB file: wrong magic', 0);
  const digits = decoder.decode(magic.subarray(5));
  const version = /^\d{4}$/.test(digits) ? Number(digits) : NaN;
  if (!(version >= 1 && version <= RDB_MAX_READ_VERSION)) {
    throw new RdbError('BAD_VERSION', `unsupported RDB version "${digits}"`, 5);
  }
  let db = 0;
  let expireAtMs = 0;
  for (;;) {
    const at = input.offset;
    const op = input.u8();
    switch (op) {
      case RdbOpcode.EOF: {
        if (version < 5) return { version, checksum: 'absent', endOffset: input.offset };
        const expected = input.checksumSoFar();
        const stored = input.bytes(8);
        if (stored.every((b) => b === 0)) return { version, checksum: 'absent', endOffset: input.offset };
        if (!stored.every((b, i) => b === expected[i])) {
          throw new RdbError('CHECKSUM', 'RDB checksum does not match the contents', at + 1);
        }
        return { version, checksum: 'verified', endOffset: input.offset };
      }
      case RdbOpcode.SELECTDB:
        db = input.length();
        continue;
      case RdbOpcode.RESIZEDB:
        yield { kind: 'resizedb', db, keys: input.length(), expires: input.length() };
        continue;
      case RdbOpcode.AUX: {
        const key = decoder.decode(input.string());
        yield { kind: 'aux', key, value: input.string() };
        continue;
      }
      case RdbOpcode.EXPIRETIME_MS: {
        const v = input.i64le();
        // Redis stores whatever the clock said; clamp nonsense rather than keep a BigInt around.
        expireAtMs = v <= 0n ? 1 : v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
        continue;
      }
      case RdbOpcode.EXPIRETIME:
        expireAtMs = Math.max(1, input.u32le() * 1000);
        continue;
      case RdbOpcode.IDLE:
        input.length();
        continue;
      case RdbOpcode.FREQ:
        input.u8();
        continue;
      case RdbOpcode.FUNCTION2:
        yield { kind: 'function', code: input.string() };
        continue;
      case RdbOpcode.FUNCTION_PRE_GA:
        throw new RdbError('UNSUPPORTED', 'pre-release function format is not supported', at);
      case RdbOpcode.MODULE_AUX:
        throw new RdbError('UNSUPPORTED', 'module aux data is not supported', at);
      default: {
        const key = input.string();
        const value = readValue(input, op);
        yield { kind: 'entry', entry: { db, key, expireAtMs, value } };
        expireAtMs = 0;
      }
    }
  }
}

/** readRdb over a file, closing it when the generator finishes or is abandoned. */
export function* readRdbFile(path: string): Generator<RdbRecord, RdbSummary, void> {
  const fd = openSync(path, 'r');
  try {
    return yield* readRdb(fd);
  } finally {
    closeSync(fd);
  }
}

/** The library codes in a run of FUNCTION2 records (the body of a FUNCTION DUMP payload). */
export function functionCodes(records: Uint8Array): Uint8Array[] {
  const input = new RdbInput(records);
  const codes: Uint8Array[] = [];
  while (!input.atEnd()) {
    const op = input.u8();
    if (op !== RdbOpcode.FUNCTION2) throw new RdbError('CORRUPT', `unexpected opcode ${op} among function records`);
    codes.push(input.string());
  }
  return codes;
}
