/**
 * Shard worker thread: the single writer of its keyspace. Drains its request ring in
 * batches, executes each command, writes replies to its reply ring, rings the acceptor's
 * doorbell once per batch, and sleeps in Atomics.wait when idle (waking for expiry).
 */
import { performance } from 'node:perf_hooks';
import { readlinkSync } from 'node:fs';
import { parentPort, workerData, receiveMessageOnPort } from 'node:worker_threads';
import { LITTLE_ENDIAN, RingReader, RingWriter, readU32, writeU32 } from '../wire/ring.js';
import type { ShardInit } from '../wire/shard-init.js';
import { RespWriter } from '../wire/resp-writer.js';
import { Store } from './store.js';
import { Ctx } from './context.js';
import { buildHandlerTable } from './command-set.js';
import { COMMAND_NAMES, internalId } from '../commands/internal.js';
import { shardPosition } from './t_keys.js';
import { touchAfter, touchCommand, touchExpired, watchState } from './watch.js';
import { afterCommand, beforeCommand, notifyExpired, notifyState, setEventSink } from './notify.js';
import { setTrackingSink, trackAfter, trackBefore, trackEvicted, trackExpired, trackRead, trackState } from './tracking.js';
import { afterTimed, initLatency, latencyState, untimedArgc } from './latency.js';
import * as F from '../wire/frames.js';
import { copyBytes } from '../wire/bytes.js';
import { recKeyLen, recKeyOff } from './record.js';
import { E_OOM, E_STREAM_GONE, internalError, noHandler } from '../wire/error-text.js';
import { blockedClientCount, expireWaiters, hasReady, msUntilDeadline, serveReady, serving, type Waiter } from './blocking.js';
import { COMMANDS, F_DENYOOM, F_WRITE } from '../commands/table.js';
import { Evictor } from './evict.js';
import { dropped, reclaim } from '../reclaim.js';
import { cachedScriptBytes, cachedScripts } from './t_script.js';
import { SCRIPT_CALLS } from '../commands/script-calls.js';
import {
  initScripting,
  luaHeapBytes,
  running as script,
  setEffectsSink,
  setMemoryCheck,
  setReplicaCheck,
  setMinReplicasCheck,
  setSliceHandler,
  setErrorStatSink,
  setPublishSink,
  takeReplyErrorCounted,
  writeScriptInfo,
} from './script-run.js';
import { CALL_FAILED, CALL_REJECTED, setCallCounter } from './script-stats.js';
import { functionCounts, libraryBytes } from './t_function.js';
import { clearScriptUser, setScriptUser } from './script-acl.js';
import { across, attachMailboxes, endAcross, serveMailbox } from './script-across.js';
// Registers the collection types' persistence codecs (SAVE, load, DUMP, RESTORE).
import './collection-codecs.js';
import './stream-codec.js';

const init = workerData as ShardInit;
shardPosition.id = init.id;
shardPosition.count = init.count;
attachMailboxes(init.id, init.mailboxes);

const req = new RingReader(init.req);
const rep = new RingWriter(init.rep);
/**
 * 32-bit views of the rings' data areas: frame payloads start 4-byte aligned, so the
 * u32 header fields are single loads and stores instead of four byte accesses each
 * (little-endian hosts only, which is what the frame layout is; others take the byte path).
 */
const req32 = req.u32;
const rep32 = rep.u32;
const bell = new Int32Array(init.doorbell);
const stats = new Float64Array(init.stats);
const cmdStats = new Float64Array(init.cmdStats);
/**
 * Command time (INFO commandstats usec) is read per run of frames of one command, not per
 * frame: a pipeline of SETs costs one clock read. `runCmd` is the command of the run being
 * timed (-1: none), `clock` when it started (ms).
 */
let runCmd = -1;
let clock = 0;

/** Ends the timed run, adding its time to its command. */
function endRun(): void {
  if (runCmd < 0) return;
  cmdStats[runCmd * F.CS_SLOTS + F.CS_USEC]! += (performance.now() - clock) * 1000;
  runCmd = -1;
}
const store = new Store(init.databases);
const out = new RespWriter(1 << 16);
const ctx = new Ctx(store, out, { maxBulkLen: init.maxBulkLen });
const handlers = buildHandlerTable();
const SHUTDOWN = internalId('__shutdown');
const DUMP = internalId('__dump');
const RESTORE = internalId('__restore');
const XSERVE = internalId('__xserve');
const OK_REPLY = new TextEncoder().encode('+OK\r\n');
/** Scratch for event frames (DEL_TAG, ERRSTAT_TAG, PUBLISH_TAG). */
let eventFrame = new Uint8Array(256);

/** The scratch for an event frame (connId 0, seq 0) of `n` bytes: writeReply copies it, so one serves every kind. */
function eventScratch(n: number): Uint8Array {
  if (eventFrame.length < n) eventFrame = new Uint8Array(2 * n);
  return eventFrame;
}

/** The acceptor's answer to a script's PUBLISH (frames.ts PUB_*). */
const publishAnswer = new Int32Array(init.publish);
/** How long a script's PUBLISH waits for the acceptor before it counts no receivers (the acceptor is stopping). */
const PUBLISH_WAIT_MS = 10_000;

/**
 * A script's PUBLISH: hands channel and message to the acceptor through the reply ring, after this
 * batch's earlier replies and events, and waits for the number of clients that received it. The
 * acceptor never waits on a shard, so it answers as soon as its event loop drains the ring.
 */
function scriptPublish(b: Uint8Array, cs: number, cn: number, ms: number, mn: number): number {
  const n = 5 + cn + mn;
  const frame = eventScratch(n);
  frame[0] = F.PUBLISH_TAG;
  writeU32(frame, 1, cn);
  copyBytes(frame, 5, b, cs, cn);
  copyBytes(frame, 5 + cn, b, ms, mn);
  Atomics.store(publishAnswer, F.PUB_STATE, F.PUB_WAITING);
  writeReply(0, 0, frame, n);
  endRun();
  flushReplies();
  const deadline = Date.now() + PUBLISH_WAIT_MS;
  while (Atomics.load(publishAnswer, F.PUB_STATE) === F.PUB_WAITING) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    Atomics.wait(publishAnswer, F.PUB_STATE, F.PUB_WAITING, left);
  }
  const answered = Atomics.load(publishAnswer, F.PUB_STATE) === F.PUB_ANSWERED;
  Atomics.store(publishAnswer, F.PUB_STATE, F.PUB_IDLE);
  return answered ? Atomics.load(publishAnswer, F.PUB_RECEIVERS) : 0;
}

/** Sends the acceptor an errorstats count (ERRSTAT_TAG) or its undo for the error line b[s, s + n). */
function errorStat(tag: number, b: Uint8Array, s: number, n: number): void {
  // The code is all the count needs: the first 40 bytes hold it.
  n = Math.min(n, 40);
  const frame = eventScratch(n + 1);
  frame[0] = tag;
  copyBytes(frame, 1, b, s, n);
  writeReply(0, 0, frame, n + 1);
}

/** Reports a key the shard deletes on its own (record at `a` of database `db`) while writes are propagated. */
function propagateDel(db: number, a: number): void {
  if (stats[F.CT_PROPAGATE] === 0) return;
  const m = store.arena;
  const n = recKeyLen(m, a);
  const frame = eventScratch(n + 2);
  frame[0] = F.DEL_TAG;
  frame[1] = db;
  copyBytes(frame, 2, m.u8, recKeyOff(m, a), n);
  writeReply(0, 0, frame, n + 2);
}
store.onExpired = (db, a) => {
  touchExpired(store, db, a);
  notifyExpired(store, db, a);
  trackExpired(store, a);
  propagateDel(db, a);
};
setEventSink((body, len) => writeReply(0, 0, body, len));
setTrackingSink((body, len) => writeReply(0, 0, body, len));
initLatency(init.latency, (body, len) => writeReply(0, 0, body, len));
const evictor = new Evictor(store, stats);
evictor.onEvict = (a, db) => {
  trackEvicted(store, a);
  propagateDel(db, a);
};
/** Per command id: 1 = a write (evicts first under maxmemory), 3 = a write refused with OOM when nothing can be evicted. */
const MEMORY_CLASS = Uint8Array.from(COMMANDS, (c) => ((c.flags & F_WRITE) === 0 ? 0 : (c.flags & F_DENYOOM) !== 0 ? 3 : 1));
/**
 * A batch publishes its replies at least this often (ms): see runBatch. BullMQ's worker (A/B, 50k jobs): 1 ms
 * +16% processed jobs/s, 0.5 ms +9%; after every command of 10 µs or more, +11% processed but -12% added
 * (addBulk's 500 pipelined scripts came back in 500 writes).
 */
const FLUSH_EVERY_MS = 1;
/** Active expiry runs at least this often while busy. */
const EXPIRE_EVERY_MS = 10;
let lastExpire = 0;
/** stats[CT_REPLICA], read once per batch: non-zero while the server is a replica (no active expiry then). */
let replicaMode = 0;
let running = true;
let commands = 0;

/** The clock read that ended the previous client command, when it was timed and nothing ran since (else -1). */
let chainClock = -1;

/** Tells the acceptor replies are published (called after rep.publish()): not needed while its end-of-tick pass is due. */
function ringDoorbell(): void {
  if (Atomics.load(bell, F.ACCEPTOR_AWAKE) === 1) return;
  if (Atomics.exchange(bell, F.DOORBELL_WORD, 1) === 0) Atomics.notify(bell, F.DOORBELL_WORD);
}

function flushReplies(): void {
  closeRun();
  rep.publish();
  ringDoorbell();
}

/**
 * The open KIND_RUN frame (frames.ts): reserved in the ring at runPos (RUN_MAX_BYTES of payload) and not yet
 * committed, so every other frame closes it first. A pipeline's replies go to the acceptor as one frame: one
 * reservation and header here, one lookup and copy there (one hot key at -P 16: shard CPU a request 0.157 ->
 * 0.13 us, acceptor 0.54 -> 0.51 us; GET +1-3%, PFCOUNT +5%, BITCOUNT +3-17% in A/Bs).
 */
let runPos = -1;
let runConn = 0;
let runSeq = 0;
let runBytes = 0;
let runCount = 0;
/** Replies in the run to writes that changed nothing (KIND_UNCHANGED had they been frames of their own). */
let runUnchanged = 0;
const runLengths = new Uint32Array(F.RUN_MAX_REPLIES);

/** Commits the open run, if any: its header, then its lengths after its replies. */
function closeRun(): void {
  if (runPos === -1) return;
  const b = rep.buf;
  const body = runPos + F.REP_BODY;
  for (let i = 0; i < runCount; i++) writeU32(b, body + runBytes + 4 * i, runLengths[i]!);
  writeU32(b, runPos + F.REP_CONN, runConn);
  writeU32(b, runPos + F.REP_SEQ, runSeq);
  writeU32(b, runPos + F.REP_KIND, F.runKind(runCount, runUnchanged));
  rep.commit(runPos, F.REP_BODY + runBytes + 4 * runCount);
  runPos = -1;
}

/**
 * A command's reply (kind KIND_INLINE or KIND_UNCHANGED): joins the open run when it is the next reply of the
 * same connection, else starts one.
 */
function writeClientReply(conn: number, seq: number, body: Uint8Array, len: number, kind: number): void {
  // Error replies stay frames of their own (the acceptor counts them as it delivers them), as do the server's own.
  if (len === 0 || body[0] === 45 || conn === 0 || conn >= F.SYSTEM_CONN_BASE) {
    writeReply(conn, seq, body, len, kind);
    return;
  }
  const joins =
    runPos !== -1 &&
    conn === runConn &&
    seq === runSeq + runCount &&
    runCount < F.RUN_MAX_REPLIES &&
    runBytes + len + 4 * (runCount + 1) <= F.RUN_MAX_BYTES;
  if (!joins) {
    closeRun();
    const p = len + 4 <= F.RUN_MAX_BYTES ? rep.reserve(F.REP_BODY + F.RUN_MAX_BYTES) : -1;
    if (p === -1) {
      writeReply(conn, seq, body, len, kind);
      return;
    }
    runPos = p;
    runConn = conn;
    runSeq = seq;
    runBytes = 0;
    runCount = 0;
    runUnchanged = 0;
  }
  copyBytes(rep.buf, runPos + F.REP_BODY + runBytes, body, 0, len);
  runLengths[runCount++] = len;
  runBytes += len;
  if (kind === F.KIND_UNCHANGED) runUnchanged++;
}

/** Writes one reply frame, waiting for the acceptor to drain the ring if it is full. */
function writeReply(conn: number, seq: number, body: Uint8Array, len: number, kind = F.KIND_INLINE): void {
  closeRun();
  if (len + F.REP_BODY > rep.maxPayload) {
    const big = new Uint8Array(len);
    big.set(body.subarray(0, len));
    init.port.postMessage(big.buffer, [big.buffer]);
    writeHeaderOnly(conn, seq, kind === F.KIND_EFFECTS ? F.KIND_EFFECTS_BIG : F.KIND_BIG);
    return;
  }
  let p = rep.reserve(len + F.REP_BODY);
  while (p === -1) {
    flushReplies();
    rep.waitForSpace(50);
    chainClock = -1;
    p = rep.reserve(len + F.REP_BODY);
  }
  const b = rep.buf;
  if (LITTLE_ENDIAN) {
    const w = p >>> 2;
    rep32[w + (F.REP_CONN >>> 2)] = conn;
    rep32[w + (F.REP_SEQ >>> 2)] = seq;
    rep32[w + (F.REP_KIND >>> 2)] = kind;
  } else {
    writeU32(b, p + F.REP_CONN, conn);
    writeU32(b, p + F.REP_SEQ, seq);
    writeU32(b, p + F.REP_KIND, kind);
  }
  copyBytes(b, p + F.REP_BODY, body, 0, len);
  rep.commit(p, len + F.REP_BODY);
}

function writeHeaderOnly(conn: number, seq: number, kind: number): void {
  closeRun();
  let p = rep.reserve(F.REP_BODY);
  while (p === -1) {
    flushReplies();
    rep.waitForSpace(50);
    chainClock = -1;
    p = rep.reserve(F.REP_BODY);
  }
  writeU32(rep.buf, p + F.REP_CONN, conn);
  writeU32(rep.buf, p + F.REP_SEQ, seq);
  writeU32(rep.buf, p + F.REP_KIND, kind);
  rep.commit(p, F.REP_BODY);
}

/** Decodes and executes one request frame whose payload starts at `pos` in `buf`. */
function execFrame(buf: Uint8Array, pos: number): void {
  const flags = buf[pos + F.REQ_FLAGS]!;
  if (flags & F.FLAG_BIG) {
    const msg = receiveMessageOnPort(init.port);
    if (msg === undefined) throw new Error('large request frame missing from the port');
    buf = new Uint8Array(msg.message as ArrayBuffer);
    pos = 0;
  }
  let conn: number;
  let seq: number;
  let argc: number;
  if (LITTLE_ENDIAN && buf === req.buf) {
    const w = pos >>> 2;
    conn = req32[w + (F.REQ_CONN >>> 2)]!;
    seq = req32[w + (F.REQ_SEQ >>> 2)]!;
    argc = req32[w + (F.REQ_ARGC >>> 2)]!;
  } else {
    conn = readU32(buf, pos + F.REQ_CONN);
    seq = readU32(buf, pos + F.REQ_SEQ);
    argc = readU32(buf, pos + F.REQ_ARGC);
  }
  const cmd = buf[pos + F.REQ_CMD]! | (buf[pos + F.REQ_CMD + 1]! << 8);
  if (cmd === SHUTDOWN) {
    running = false;
    return;
  }
  if (cmd === XSERVE) {
    // Earlier replies go out before this shard waits on another's script.
    endRun();
    flushReplies();
    serveMailbox(store, ctx.limits, runOn);
    chainClock = -1;
    writeReply(conn, seq, OK_REPLY, OK_REPLY.length);
    return;
  }
  ctx.reserve(argc);
  const as = ctx.as;
  const al = ctx.al;
  let p = pos + F.REQ_ARGS;
  for (let i = 0; i < argc; i++) {
    const l = readU32(buf, p);
    as[i] = p + 4;
    al[i] = l;
    p += 4 + l;
  }
  // A restricted client's script: its user's rules ride as a last argument, for the script's calls only.
  if (flags & F.FLAG_ACL) {
    argc--;
    setScriptUser(buf, as[argc]!, al[argc]!);
  }
  ctx.buf = buf;
  ctx.argc = argc;
  ctx.db = buf[pos + F.REQ_DB]!;
  ctx.name = COMMAND_NAMES[cmd]!;
  ctx.cmd = cmd;
  ctx.conn = conn;
  ctx.seq = seq;
  out.len = 0;
  out.proto = flags & F.FLAG_RESP3 ? 3 : 2;
  ctx.noBlock = (flags & F.FLAG_NOBLOCK) !== 0;
  if (cmd !== runCmd) {
    const t = performance.now();
    if (runCmd >= 0) cmdStats[runCmd * F.CS_SLOTS + F.CS_USEC]! += (t - clock) * 1000;
    clock = t;
    runCmd = cmd;
  }
  ctx.logEffects = (flags & F.FLAG_EFFECTS) !== 0;
  if (flags & F.FLAG_ACROSS) {
    across.active = true;
    runHandler(cmd);
    across.active = false;
    endAcross();
  } else runHandler(cmd);
  if (flags & F.FLAG_ACL) clearScriptUser();
  // A script's declared keys are tracked only when it ran a read command, as in Redis.
  if (flags & F.FLAG_TRACK && (!SCRIPT_CALLS.has(cmd) || script.read)) trackRead(ctx);
  // A blocked request gets its reply later, from serveWaiter or its timeout.
  if (ctx.deferred) {
    ctx.deferred = false;
    if (stats[F.CT_MONITOR] !== 0) writeHeaderOnly(conn, seq, F.KIND_BLOCKED);
  } else {
    // Refused before its handler (OOM): Redis counts it as rejected, not failed.
    if (ctx.refused) {
      cmdStats[cmd * F.CS_SLOTS + F.CS_REJECTED]!++;
    } else if (out.bytes[0] === 45 && out.len > 0) cmdStats[cmd * F.CS_SLOTS + F.CS_FAILED]!++;
    // A script failing with the error a call got: that error was counted then, the reply counts it again.
    if (takeReplyErrorCounted() && out.len > 0 && out.bytes[0] === 45) errorStat(F.ERRSTAT_UNDO_TAG, out.bytes, 0, out.len);
    writeClientReply(conn, seq, out.bytes, out.len, ctx.unchanged ? F.KIND_UNCHANGED : F.KIND_INLINE);
  }
  ctx.unchanged = false;
  // A transaction's commands (no-block frames, sent together) run before any waiter sees their keys, as EXEC is atomic.
  if (!ctx.noBlock && hasReady()) {
    endRun();
    chainClock = -1;
    serveReady(readyType, serveWaiter, failWaiter);
  }
  if (out.bytes.length > 1 << 22) {
    dropped(out.bytes.length);
    out.reset();
  }
  if (buf !== req.buf) {
    // A large request's own buffer: let it go (waiters keep copies of their arguments).
    ctx.buf = req.buf;
    dropped(buf.length);
  }
  commands++;
}

/** Runs the handler of command `cmd` on ctx, turning exceptions into error replies. */
function runHandler(cmd: number): void {
  runOn(ctx, cmd);
}

/** Like Redis's processCommand, a client's every command evicts first under maxmemory; inside a script only writes do. */
function mayEvict(c: Ctx, cmd: number): boolean {
  return MEMORY_CLASS[cmd] !== 0 || c === ctx;
}

/** Runs command `cmd` on context `c` (a client's, or a script's redis.call) as the shard runs every command. */
function runOn(c: Ctx, cmd: number): void {
  const h = handlers[cmd];
  const o = c.out;
  c.refused = false;
  // On a replica, reads hide expired keys without deleting them (the master's DEL does).
  store.hideExpired = replicaMode !== 0 && MEMORY_CLASS[cmd] === 0;
  if (watchState.keys !== 0) touchCommand(c, cmd, DUMP, RESTORE);
  if (notifyState.flags !== 0) beforeCommand(c, cmd);
  const tracked = trackState.on !== 0;
  if (tracked) trackBefore(c, cmd, DUMP, RESTORE);
  // A client's timed command right after another starts at that one's end-of-command clock read (one read per
  // command in a pipeline, not two; frame decoding between them is counted in). Latency histograms keep exact reads.
  const isTimed = c.argc > untimedArgc[cmd]!;
  const t0 = isTimed ? (c === ctx && chainClock >= 0 ? chainClock : performance.now()) : 0;
  try {
    if (h === undefined) o.error(noHandler(c.name));
    else if (
      evictor.enabled &&
      mayEvict(c, cmd) &&
      !evictor.makeRoom(MEMORY_CLASS[cmd] === 0 ? 0 : incomingBytes(c)) &&
      MEMORY_CLASS[cmd] === 3
    ) {
      o.error(E_OOM);
      c.refused = true;
    } else h(c);
    if (watchState.keys !== 0) touchAfter(c);
    if (notifyState.flags !== 0) afterCommand(c, cmd);
  } catch (err) {
    o.len = 0;
    c.deferred = false;
    o.error(err instanceof RangeError && err.message === 'arena full' ? E_OOM : internalError((err as Error).message));
  }
  if (tracked) trackAfter(c);
  if (isTimed) {
    const t1 = afterTimed(c, c.conn, cmd, t0);
    if (c === ctx && !latencyState.track) chainClock = t1;
  } else if (c === ctx) chainClock = -1;
}

/** Record type of a key that became ready, or -1 when it no longer exists. */
function readyType(db: number, key: Buffer): number {
  const a = store.lookup(db, key, 0, key.length);
  return a === 0 ? -1 : store.arena.u8[a]!;
}

/** Answers a blocked XREADGROUP whose stream was deleted or replaced. */
function failWaiter(w: Waiter): void {
  out.len = 0;
  out.proto = w.proto;
  out.error(E_STREAM_GONE);
  cmdStats[w.cmd * F.CS_SLOTS + F.CS_FAILED]!++;
  writeReply(w.conn, w.seq, out.bytes, out.len);
}

/** Re-runs a blocked request now that one of its keys is ready; true when it replied. */
function serveWaiter(w: Waiter): boolean {
  ctx.reserve(w.argc);
  ctx.as.set(w.as);
  ctx.al.set(w.al);
  ctx.buf = w.args;
  ctx.argc = w.argc;
  ctx.db = w.db;
  ctx.name = w.name;
  ctx.cmd = w.cmd;
  ctx.conn = w.conn;
  ctx.seq = w.seq;
  out.len = 0;
  out.proto = w.proto;
  ctx.noBlock = false;
  const t0 = performance.now();
  runHandler(w.cmd);
  cmdStats[w.cmd * F.CS_SLOTS + F.CS_USEC]! += (performance.now() - t0) * 1000;
  ctx.deferred = false;
  if (serving.missed) return false;
  // A waiter answered with an error (its stream or group went) is a failed call, as in Redis.
  if (out.len > 0 && out.bytes[0] === 45) cmdStats[w.cmd * F.CS_SLOTS + F.CS_FAILED]!++;
  writeReply(w.conn, w.seq, out.bytes, out.len);
  return true;
}

/** Replies the null array to waiters whose timeout passed; returns how many. */
function timeOutWaiters(now: number): number {
  return expireWaiters(now, (w) => {
    out.len = 0;
    out.proto = w.proto;
    out.nullArray();
    writeReply(w.conn, w.seq, out.bytes, out.len);
  });
}

/** Upper estimate of what a write adds: its arguments plus a record header, expiry and block rounding. */
function incomingBytes(c: Ctx): number {
  let n = 64;
  for (let i = 1; i < c.argc; i++) n += c.al[i]!;
  return n;
}

/** When publishStats last read the Lua heap's size. */
let luaHeapAt = 0;

/** Publishes the statistics block INFO reads; `now` is the caller's clock read (ms). */
function publishStats(now: number): void {
  const m = store.arena;
  let overhead = 0;
  for (let i = 0; i < store.dbs.length; i++) {
    const t = store.dbs[i]!;
    stats[F.ST_KEYS + i] = t.size;
    stats[F.ST_EXPIRES + i] = store.expires[i]!;
    overhead += t.overheadBytes;
  }
  stats[F.ST_USED_MEMORY] = m.used + overhead;
  stats[F.ST_ARENA_BYTES] = m.capacity;
  stats[F.ST_HITS] = store.stats.hits;
  stats[F.ST_MISSES] = store.stats.misses;
  stats[F.ST_EXPIRED] = store.stats.expired;
  stats[F.ST_EVICTED] = evictor.evicted;
  stats[F.ST_COMMANDS] = commands;
  stats[F.ST_TRACKING_KEYS] = trackState.keys;
  stats[F.ST_TRACKING_ITEMS] = trackState.items;
  stats[F.ST_BLOCKED] = blockedClientCount();
  stats[F.ST_CACHED_SCRIPTS] = cachedScripts();
  stats[F.ST_FUNCTION_COUNTS] = functionCounts(F.FUNCTIONS_SPAN);
  stats[F.ST_SCRIPT_BYTES] = cachedScriptBytes();
  stats[F.ST_FUNCTION_BYTES] = libraryBytes();
  // Reading the Lua heap's size is a call into the VM: at most every 100 ms.
  if (now - luaHeapAt >= 100) {
    luaHeapAt = now;
    stats[F.ST_LUA_BYTES] = luaHeapBytes();
  }
}

function runBatch(): void {
  chainClock = -1;
  const now = Date.now();
  store.tick(now);
  store.trackLfu = evictor.tracksLfu;
  replicaMode = stats[F.CT_REPLICA]!;
  let pos: number;
  let n = 0;
  let flushBy = performance.now() + FLUSH_EVERY_MS;
  while ((pos = req.next()) !== -1) {
    execFrame(req.buf, pos);
    if (!running) break;
    // Long batches publish as they go: every 256 frames, which frees ring space for the acceptor, and every
    // FLUSH_EVERY_MS, so a client pipelining slow commands (a queue's scripts) gets replies while the batch
    // runs on. The clock is a timed command's own end read, or else one read in 16 frames.
    const t = chainClock >= 0 ? chainClock : (n & 15) === 15 ? performance.now() : 0;
    if ((++n & 255) === 0 || t >= flushBy) {
      endRun();
      req.release();
      flushReplies();
      flushBy = (t > 0 ? t : performance.now()) + FLUSH_EVERY_MS;
    }
  }
  endRun();
  req.release();
  chainClock = -1;
  if (hasReady()) serveReady(readyType, serveWaiter, failWaiter);
  timeOutWaiters(now);
  if (replicaMode === 0 && now - lastExpire >= EXPIRE_EVERY_MS) {
    lastExpire = now;
    store.expireCycle(200);
  }
  publishStats(now);
  flushReplies();
  reclaim(false, now);
}

/** This thread's kernel id (the acceptor sets its scheduling policy), or 0 off Linux. */
function threadId(): number {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : 0;
  } catch {
    return 0;
  }
}

function loop(): void {
  while (running) {
    if (req.poll()) {
      runBatch();
      continue;
    }
    const now = Date.now();
    store.tick(now);
    lastExpire = now;
    replicaMode = stats[F.CT_REPLICA]!;
    // A replica expires nothing itself: its master sends the DELs.
    const expired = replicaMode === 0 ? store.expireCycle(1000) : 0;
    const rehashing = store.rehashIdle();
    if (expired > 0) {
      publishStats(now);
      // Expiry may have written event frames (keyspace notifications).
      flushReplies();
    }
    if (timeOutWaiters(now) > 0) {
      publishStats(now);
      flushReplies();
    }
    if (expired >= 1000 || rehashing) continue;
    reclaim(true, now);
    req.sleep(msUntilDeadline(now, replicaMode === 0 ? store.wheel.msUntilNext(now, 100) : 100));
  }
  flushReplies();
  init.port.close();
}

await initScripting(store, ctx.limits, runOn, (id) => handlers[id] !== undefined);
setMemoryCheck(() => evictor.enabled && !evictor.makeRoom(64));
setReplicaCheck(() => (stats[F.CT_REPLICA]! & F.REPLICA_READ_ONLY) !== 0);
setMinReplicasCheck(() => stats[F.CT_NOREPLICAS] !== 0);
setEffectsSink((conn, seq, body, len) => writeReply(conn, seq, body, len, F.KIND_EFFECTS));
// The errors a script's calls get count in INFO errorstats when they happen (a frame to the acceptor).
setErrorStatSink((line) => errorStat(F.ERRSTAT_TAG, line, 0, line.length));
setPublishSink(scriptPublish);
// A script's calls count in INFO commandstats as Redis counts them: run (and failed), or rejected before running.
setCallCounter((id, outcome) => {
  const i = id * F.CS_SLOTS;
  if (outcome === CALL_REJECTED) cmdStats[i + F.CS_SCRIPT_REJECTED]!++;
  else {
    cmdStats[i + F.CS_SCRIPT_CALLS]!++;
    if (outcome === CALL_FAILED) cmdStats[i + F.CS_FAILED]!++;
  }
});
// A script running long is published to the acceptor (BUSY replies, SCRIPT KILL) from its instruction hook.
setSliceHandler(
  () => {
    if (stats[F.ST_SCRIPT_START] === 0) {
      stats[F.ST_SCRIPT_START] = script.start;
      const info = new RespWriter(256);
      writeScriptInfo(info);
      writeReply(0, 0, info.bytes, info.len, F.KIND_SCRIPT_INFO);
      flushReplies();
    }
    stats[F.ST_SCRIPT_STATE] = (script.wrote ? F.SCRIPT_WROTE : 0) | (script.isEval ? 0 : F.SCRIPT_FUNCTION);
    const kill = stats[F.CT_SCRIPT_KILL]!;
    if (kill === 0) return false;
    stats[F.CT_SCRIPT_KILL] = 0;
    if (kill === F.KILL_FORCED) running = false;
    return kill === F.KILL_FORCED || !script.wrote;
  },
  () => {
    if (stats[F.ST_SCRIPT_START] !== 0) {
      stats[F.ST_SCRIPT_START] = 0;
      stats[F.ST_SCRIPT_STATE] = 0;
    }
  },
);
// INFO reads the statistics block before any command has run (the Lua heap's size among them).
publishStats(Date.now());
parentPort?.postMessage({ ready: true, tid: threadId() });
loop();
