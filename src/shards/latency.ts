/**
 * Per-command latency on a shard. With latency tracking on, every command is timed and
 * counted in a shared histogram the acceptor reads directly (log2 octaves of nanoseconds,
 * 8 sub-buckets each). With only the slow log on, the commands Redis flags `fast` and
 * SET/SETEX/PSETEX are not timed: a clock read costs 25-250 ns depending on the host's clocksource, too
 * much for GET/SET, and O(1) commands do not reach slow-log thresholds. Neither do calls whose cost is
 * bounded by their argument count (BOUNDED_ARGC) under a threshold of 1 ms or more. Commands slower
 * than the threshold are reported to the acceptor as event frames.
 */
import { performance } from 'node:perf_hooks';
import type { Ctx, Handler } from './context.js';
import { COMMANDS, F_FAST } from '../commands/table.js';
import { dtConfig, onDatatypeConfig } from './dt-config.js';
import { LAT_BUCKETS, bucketOf } from '../wire/latency-buckets.js';

/** Slow log limits (Redis's SLOWLOG_ENTRY_MAX_ARGC / _MAX_STRING). */
const MAX_ARGS = 32;
const MAX_STRING = 128;

/** What the acceptor configured: histograms on, and the slow-log threshold in µs (-1: off). */
export const latencyState = { track: false, slowUs: -1 };
/** A call count of arguments no call reaches: the command is never timed. */
const NEVER = 0x7fffffff;
/**
 * Per command id, under the current configuration: the worker times a call with more arguments than this (the
 * name included); -1 times every call, NEVER none (internal ids past COMMANDS are never timed).
 */
export const untimedArgc = new Int32Array(COMMANDS.length + 64).fill(NEVER);
/** Commands left untimed when only the slow log is on with a threshold above 0: Redis's `fast` ones, and SET/SETEX/PSETEX (O(1), unflagged because of SET's options). */
const UNTIMED_SLOWLOG: boolean[] = COMMANDS.map(
  (c) => (c.flags & F_FAST) !== 0 || c.name === 'set' || c.name === 'setex' || c.name === 'psetex',
);
/**
 * Commands whose calls with at most this many arguments cost tens of µs at worst: PFCOUNT of one key reads its
 * cached count, or counts 16,384 registers or a sparse HLL of at most hll-sparse-max-bytes once (PFADD is `fast`).
 * Untimed under a slow-log threshold of BOUNDED_FROM_US or more while hll-sparse-max-bytes stays within Redis's
 * advised 16,000 (a bigger sparse HLL costs in proportion).
 */
const BOUNDED_ARGC: Int32Array = Int32Array.from(COMMANDS, (c) => (c.name === 'pfcount' ? 2 : -1));
const BOUNDED_FROM_US = 1000;
const BOUNDED_MAX_SPARSE = 16_000;

let hist: Float64Array = new Float64Array(0);
let sink: (body: Uint8Array, len: number) => void = () => {};
let buf = new Uint8Array(4096);

/** Attaches the shared histogram memory and the event sink. */
export function initLatency(sab: SharedArrayBuffer, emit: (body: Uint8Array, len: number) => void): void {
  hist = new Float64Array(sab);
  sink = emit;
}

function put32(p: number, v: number): number {
  buf[p] = v & 0xff;
  buf[p + 1] = (v >>> 8) & 0xff;
  buf[p + 2] = (v >>> 16) & 0xff;
  buf[p + 3] = v >>> 24;
  return p + 4;
}

function ensure(n: number): void {
  if (buf.length < n) {
    const b = new Uint8Array(n * 2);
    b.set(buf);
    buf = b;
  }
}

/** Reports a slow command: [1][u32 conn][u32 µs][u16 cmd][u8 db][u32 argc][per arg: u32 len, bytes, u32 omitted]. */
function reportSlow(c: Ctx, conn: number, cmd: number, us: number): void {
  const argc = Math.min(c.argc, MAX_ARGS);
  ensure(16);
  buf[0] = 1;
  let p = put32(1, conn);
  p = put32(p, us);
  buf[p++] = cmd & 0xff;
  buf[p++] = cmd >>> 8;
  buf[p++] = c.db;
  p = put32(p, c.argc);
  for (let i = 0; i < argc; i++) {
    const n = Math.min(c.al[i]!, MAX_STRING);
    ensure(p + 12 + n);
    p = put32(p, n);
    buf.set(c.buf.subarray(c.as[i]!, c.as[i]! + n), p);
    p += n;
    p = put32(p, c.al[i]! - n);
  }
  sink(buf, p);
}

/** After a timed command that started at `t0` (performance.now()): counts it and reports it if it was slow; returns the clock read at its end. */
export function afterTimed(c: Ctx, conn: number, cmd: number, t0: number): number {
  const t1 = performance.now();
  const ns = (t1 - t0) * 1e6;
  if (latencyState.track) hist[cmd * LAT_BUCKETS + bucketOf(ns)]!++;
  const us = Math.floor(ns / 1000);
  if (latencyState.slowUs >= 0 && us >= latencyState.slowUs && conn !== 0) reportSlow(c, conn, cmd, us);
  return t1;
}

/** `__latencycfg track slowUs`: the acceptor pushes latency-tracking and slowlog-log-slower-than. */
const latencyCfg: Handler = (c) => {
  latencyState.track = c.int(1) === 1;
  latencyState.slowUs = c.int(2) ?? -1;
  refreshTiming();
  c.out.simple('OK');
};

onDatatypeConfig((field) => {
  if (field === 'hllSparseMaxBytes') refreshTiming();
});

/** Recomputes untimedArgc from latencyState and hll-sparse-max-bytes (after either changes). */
function refreshTiming(): void {
  const slow = latencyState.slowUs;
  const bounded = slow >= BOUNDED_FROM_US && dtConfig.hllSparseMaxBytes <= BOUNDED_MAX_SPARSE;
  for (let id = 0; id < COMMANDS.length; id++) {
    // A threshold of 0 logs every command, O(1) ones included.
    if (latencyState.track || slow === 0) untimedArgc[id] = -1;
    else if (slow < 0 || UNTIMED_SLOWLOG[id]) untimedArgc[id] = NEVER;
    else untimedArgc[id] = bounded ? BOUNDED_ARGC[id]! : -1;
  }
}

/** `__latencyreset`: clears this shard's histograms (CONFIG RESETSTAT, LATENCY RESET). */
const latencyReset: Handler = (c) => {
  hist.fill(0);
  c.out.simple('OK');
};

/** Internal latency commands. */
export const latencyCommands: Record<string, Handler> = { __latencycfg: latencyCfg, __latencyreset: latencyReset };
