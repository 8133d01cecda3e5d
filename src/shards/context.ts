/**
 * What a shard command handler sees: the decoded request (argument spans into the ring or
 * a large-frame buffer), the database, the store, and the reply writer. One instance per
 * shard, reused for every command, so handlers stay monomorphic and allocation-free.
 */
import type { RespWriter } from '../wire/resp-writer.js';
import type { Store } from './store.js';
import { isKeyword, parseI64, parseSafeInt } from '../wire/bytes.js';

/** Limits a shard applies (from configuration). */
export interface ShardLimits {
  maxBulkLen: number;
}

/** The per-command execution context. */
export class Ctx {
  buf: Uint8Array = new Uint8Array(0);
  argc = 0;
  as = new Int32Array(64);
  al = new Int32Array(64);
  db = 0;
  /** Lower-case command name, for error texts that name the command. */
  name = '';
  /** Command id, client connection id and request sequence (blocking commands keep them). */
  cmd = 0;
  conn = 0;
  seq = 0;
  /** Set by a handler that blocked: the shard writes no reply now (one comes later). */
  deferred = false;
  /** Set while running queued commands (EXEC): blocking commands time out at once, as in Redis. */
  noBlock = false;
  /** The context of a script's redis.call (some commands refuse options there, as Redis's CLIENT_SCRIPT). */
  script = false;
  /** The command just run was refused before its handler (OOM under maxmemory). */
  refused = false;
  /** A script's call went to another shard, which counts it. */
  forwarded = false;
  /** Set by a write handler that changed nothing (SETBIT of the bit it holds): Redis's dirty counter does not move. */
  unchanged = false;
  /** The AOF is on: scripts report the writes they make. */
  logEffects = false;

  constructor(
    readonly store: Store,
    readonly out: RespWriter,
    readonly limits: ShardLimits,
  ) {}

  /** Makes room for `n` argument spans. */
  reserve(n: number): void {
    if (n <= this.as.length) return;
    let size = this.as.length;
    while (size < n) size *= 2;
    this.as = new Int32Array(size);
    this.al = new Int32Array(size);
  }

  /** Argument `i` equals the upper-case ASCII keyword, ignoring case. */
  is(i: number, upper: string): boolean {
    return isKeyword(this.buf, this.as[i]!, this.al[i]!, upper);
  }

  /** Argument `i` as a 64-bit integer (number or bigint), or null. */
  i64(i: number): number | bigint | null {
    return parseI64(this.buf, this.as[i]!, this.al[i]!);
  }

  /** Argument `i` as a safe integer, or null. */
  int(i: number): number | null {
    return parseSafeInt(this.buf, this.as[i]!, this.al[i]!);
  }

  /** Argument `i` decoded as a UTF-8 string (only for rare paths, never keys on the hot path). */
  str(i: number): string {
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + this.as[i]!, this.al[i]!).toString('utf8');
  }

  /** Looks up argument `i` as a key for reading. */
  lookupRead(i: number): number {
    return this.store.lookupRead(this.db, this.buf, this.as[i]!, this.al[i]!);
  }

  /** Looks up argument `i` as a key for writing (no hit/miss accounting). */
  lookup(i: number): number {
    return this.store.lookup(this.db, this.buf, this.as[i]!, this.al[i]!);
  }
}

/** A shard command handler. */
export type Handler = (c: Ctx) => void;
