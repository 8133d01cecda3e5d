/**
 * Running Lua in a shard: the VM with Redis's API (redis.call/pcall and friends, cjson, bit),
 * the state of the script running now, and the call path from a script into the shard's own
 * command handlers (no ring round trip, so a script is atomic by construction), or, for a key of
 * another shard while every shard serves this script, through that shard's mailbox
 * (script-across.ts). EVAL and FCALL (t_script.ts, t_function.ts) both run their functions
 * through runFunction.
 */
import { performance } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import { Ctx, type ShardLimits } from './context.js';
import type { Store } from './store.js';
import { RespWriter, formatDouble17, writeDigits } from '../wire/resp-writer.js';
import { copyBytes } from '../wire/bytes.js';
import { COMMANDS, F_NOSCRIPT, F_READONLY, F_WRITE, checkArity, extractKeys, lookupCommand, lookupSubcommand } from '../commands/table.js';
import { COMMAND_NAMES } from '../commands/internal.js';
import { E_DB_RANGE, E_NOREPLICAS, E_OOM, E_READONLY_REPLICA, E_XSHARD_SPLIT, E_XSHARD_UNDECLARED } from '../wire/error-text.js';
import { shardPosition } from './t_keys.js';
import { keySlot } from '../wire/key-slot.js';
import { across, callShard } from './script-across.js';
import { REDIS_COMPAT_VERSION } from '../version.js';
import { LUA_REGISTRYINDEX, LuaVm, bigIndex, MASK_COUNT, MASK_LINE, T_NUMBER, T_STRING, T_TABLE, loadLuaModule } from './lua-vm.js';
import { PRELUDE } from './lua-prelude.js';
import { scriptAclDenied, scriptUserAllows } from './script-acl.js';
import { countRanCall, countRejectedCall } from './script-stats.js';
import { convertFlags, oneLine, pushReply, writeLuaValue } from './lua-convert.js';
import { pushCjson } from './lua-cjson.js';
import { CMSGPACK, pushMsgpackDecoder, pushMsgpackEncoder } from './lua-cmsgpack.js';
import { CMD } from '../commands/ids.generated.js';

/** Runs command `cmd` as the shard runs a client's (watch, notifications, eviction, errors). */
export type CommandRunner = (c: Ctx, cmd: number) => void;

/** Shebang flags (Redis's SCRIPT_FLAG_*). */
export const SF_NO_WRITES = 1;
export const SF_ALLOW_OOM = 2;
export const SF_ALLOW_STALE = 4;
export const SF_NO_CLUSTER = 8;
export const SF_EVAL_COMPAT = 16;
export const SF_ALLOW_CROSS_SLOT = 32;
export const FLAG_NAMES: [string, number][] = [
  ['no-writes', SF_NO_WRITES],
  ['allow-oom', SF_ALLOW_OOM],
  ['allow-stale', SF_ALLOW_STALE],
  ['no-cluster', SF_NO_CLUSTER],
  ['allow-cross-slot-keys', SF_ALLOW_CROSS_SLOT],
];

/** The script running now. */
export const running = {
  active: false,
  readOnly: false,
  /** The RESP version redis.call replies are converted from (redis.setresp). */
  resp: 2 as 2 | 3,
  wrote: false,
  /** It ran a read-only command: a tracking client then tracks the keys it declared, as Redis does. */
  read: false,
  db: 0,
  /** Client connection and request running the script. */
  conn: 0,
  seq: 0,
  /** When it started (ms), for the busy threshold. */
  start: 0,
  /** SCRIPT KILL / FUNCTION KILL asked for it to stop. */
  kill: false,
  /** True for EVAL scripts, false for functions (error texts differ). */
  isEval: true,
  /** Record its writes for the AOF. */
  logEffects: false,
  /** The function's name (f_<sha> for EVAL) and the client command running it. */
  name: '',
  ctx: null as Ctx | null,
};

let vm: LuaVm;
let errorHandler = 0;
/** The real global table (KEYS/ARGV are set there). */
let globals = 0;
/** set_loading(on): switches the globals scripts see to FUNCTION LOAD's and back. */
let setLoadingRef = 0;
let runner: CommandRunner;
let sctx: Ctx;
let argBuf = new Uint8Array(1024);
/** The count hook (a wasm function pointer) and how many counts pass between its calls. */
let hook = 0;
/** 100k instructions, as Redis; or 10k trap points (loop edges, calls, returns) where the VM counts those (lua-vm.ts patchTraceExec). */
let hookEvery = 100_000;
/** Called every hookEvery counts of a running script; returns true to stop it. */
let onSlice: () => boolean = () => false;
/** Called when a script ends. */
let onEnd: () => void = () => {};
/** redis.register_function while a library loads (t_function.ts sets it). */
let registerHook: ((L: number) => number) | null = null;

/** The shard's VM (after initScripting). */
export function luaVm(): LuaVm {
  return vm;
}

/** Lower-case hex SHA1 of bytes. */
export function sha1hex(b: Uint8Array): string {
  return createHash('sha1').update(b).digest('hex');
}

/** Pushes {err = text} (Redis's luaPushErrorBuff: a leading "-CODE" becomes the code, else "ERR "). */
export function pushErrorTable(text: string): void {
  let msg: string;
  if (text.startsWith('-')) {
    const sp = text.indexOf(' ');
    msg = sp === -1 ? `ERR ${text.slice(1)}` : `${text.slice(1, sp)} ${text.slice(sp + 1)}`;
  } else msg = `ERR ${text}`;
  msg = msg.replace(/[\r\n]+$/, '');
  vm.m._lua_createtable(vm.L, 0, 1);
  vm.pushUtf8(msg);
  vm.setField(-2, 'err');
}

/** Pushes an error table and raises it as a Lua error. */
export function raiseError(text: string): number {
  pushErrorTable(text);
  return vm.m._lua_error(vm.L);
}

function ensureArgs(n: number): void {
  if (argBuf.length >= n) return;
  let size = argBuf.length * 2;
  while (size < n) size *= 2;
  const next = new Uint8Array(size);
  next.set(argBuf);
  argBuf = next;
}

/** Commands the acceptor answers for clients that a script may also call. */
function runLocal(id: number, out: RespWriter): boolean {
  switch (id) {
    case CMD.PUBLISH:
      out.int(publishSink(argBuf, sctx.as[1]!, sctx.al[1]!, sctx.as[2]!, sctx.al[2]!));
      return true;
    case CMD.PING:
      if (sctx.argc > 1) out.bulk(argBuf, sctx.as[1]!, sctx.al[1]!);
      else out.simple('PONG');
      return true;
    case CMD.ECHO:
      out.bulk(argBuf, sctx.as[1]!, sctx.al[1]!);
      return true;
    case CMD.TIME: {
      // Redis 7 scripts may read the clock (effects, not the script, are replicated): [seconds, microseconds].
      const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
      out.arrayHeader(2);
      out.bulkString(String(Math.floor(us / 1e6)));
      out.bulkString(String(us % 1e6));
      return true;
    }
    case CMD.SELECT: {
      const db = sctx.int(1);
      if (db === null) out.error('ERR value is not an integer or out of range');
      else if (db < 0 || db >= sctx.store.dbs.length) out.error(E_DB_RANGE);
      else {
        running.db = db;
        out.simple('OK');
      }
      return true;
    }
    default:
      return false;
  }
}

/** Copies the Lua call's arguments into sctx (strings as bytes, numbers as Redis prints them); an error text for none or others. */
function loadCallArgs(L: number): string | null {
  const m = vm.m;
  const argc = m._lua_gettop(L);
  if (argc === 0) return 'Please specify at least one argument for this redis lib call';
  sctx.reserve(argc);
  let off = 0;
  for (let i = 1; i <= argc; i++) {
    const t = m._lua_type(L, i);
    let len: number;
    if (t === T_STRING) {
      const p = vm.strAt(i);
      len = vm.lastLen;
      ensureArgs(off + len);
      copyBytes(argBuf, off, m.HEAPU8, p, len);
    } else if (t === T_NUMBER) {
      const d = m._lua_tonumberx(L, i, 0);
      ensureArgs(off + 24);
      if (Number.isSafeInteger(d) && (d !== 0 || 1 / d > 0)) {
        // Timestamps, scores and counts: digits written in place, no BigInt and no string. A float
        // holding such a value prints the same under %.17g (only -0.0 differs, and goes below).
        len = writeDigits(argBuf, off, d) - off;
      } else {
        const s = m._lua_isinteger(L, i) !== 0 ? String(m._lua_tointegerx(L, i, 0)) : formatDouble17(d);
        len = s.length;
        ensureArgs(off + len);
        for (let j = 0; j < len; j++) argBuf[off + j] = s.charCodeAt(j);
      }
    } else {
      return 'Lua redis lib command arguments must be strings or integers';
    }
    sctx.as[i - 1] = off;
    sctx.al[i - 1] = len;
    off += len;
  }
  sctx.buf = argBuf;
  sctx.argc = argc;
  return null;
}

/** redis.call (raise = true) and redis.pcall: runs a command in this shard and converts its reply. */
function redisCall(L: number, raise: boolean): number {
  const m = vm.m;
  const bad = loadCallArgs(L);
  if (bad !== null) {
    pushErrorTable(bad);
    return raise ? m._lua_error(L) : 1;
  }
  const err = execute();
  if (err !== null) {
    pushErrorTable(err);
    countCallError();
    return raise ? m._lua_error(L) : 1;
  }
  const out = sctx.out;
  pushReply(vm, out.bytes, 0);
  if (out.bytes[0] !== 45) return 1;
  countCallError();
  return raise ? m._lua_error(L) : 1;
}

/** Field Redis sets on the error table of a failed call, which it counted already: the script's reply carrying it is not counted again. */
const COUNTED_FIELD = 'ignore_error_stats_update';
let errorStatSink: (line: Uint8Array) => void = () => {};

/** Publishes channel b[cs, cs + cn) message b[ms, ms + mn) from a script; returns the receivers (the acceptor's count). */
let publishSink: (b: Uint8Array, cs: number, cn: number, ms: number, mn: number) => number = () => 0;

/** Sets how a script's PUBLISH reaches the server's pub/sub. */
export function setPublishSink(fn: (b: Uint8Array, cs: number, cn: number, ms: number, mn: number) => number): void {
  publishSink = fn;
}

/** Sets where the errors a script's calls get are counted (the acceptor's errorstats). */
export function setErrorStatSink(fn: (line: Uint8Array) => void): void {
  errorStatSink = fn;
}

/** Whether the reply just written is an error already counted; reads and clears the flag. */
export function takeReplyErrorCounted(): boolean {
  const v = convertFlags.errorCounted;
  convertFlags.errorCounted = false;
  return v;
}

/** Counts the error table at the top (a call's error) in errorstats now, as Redis does, and marks it counted. */
function countCallError(): void {
  const m = vm.m;
  const L = vm.L;
  m._lua_getfield(L, -1, vm.name('err'));
  const text = m._lua_type(L, -1) === T_STRING ? vm.utf8At(-1) : 'ERR';
  m._lua_settop(L, -2);
  errorStatSink(Buffer.from(`-${text}`, 'utf8'));
  m._lua_pushboolean(L, 1);
  vm.setField(-2, COUNTED_FIELD);
}

/** The command (or subcommand) id sctx's arguments name, or -1. */
function callCommand(): number {
  const id = lookupCommand(argBuf, sctx.as[0]!, sctx.al[0]!);
  if (id < 0 || COMMANDS[id]!.subcommands === null || sctx.argc < 2) return id;
  return lookupSubcommand(id, argBuf, sctx.as[1]!, sctx.al[1]!);
}

/** Runs the command in sctx's arguments; returns an error text when the script may not run it. */
function execute(): string | null {
  const id = callCommand();
  if (id < 0) return 'Unknown Redis command called from script';
  const err = executeCommand(id);
  // A call another shard ran is counted there.
  if (err !== null) countRejectedCall(id);
  else if (!sctx.forwarded) countRanCall(id, sctx);
  return err;
}

function executeCommand(id: number): string | null {
  sctx.refused = false;
  sctx.forwarded = false;
  const spec = COMMANDS[id]!;
  if (!checkArity(spec, sctx.argc)) return 'Wrong number of args calling Redis command from script';
  if ((spec.flags & F_NOSCRIPT) !== 0) return 'This Redis command is not allowed from script';
  const denied = scriptAclDenied(id, sctx);
  if (denied !== null) return denied;
  const write = (spec.flags & F_WRITE) !== 0;
  if ((spec.flags & F_READONLY) !== 0) running.read = true;
  if (write) {
    if (running.readOnly) return 'Write commands are not allowed from read-only scripts.';
    if (replicaReadOnly()) return `-${E_READONLY_REPLICA}`;
    if (replicasShort()) return `-${E_NOREPLICAS}`;
    running.wrote = true;
  }
  const out = sctx.out;
  out.len = 0;
  out.proto = running.resp;
  sctx.db = running.db;
  sctx.name = COMMAND_NAMES[id]!;
  sctx.cmd = id;
  sctx.conn = running.conn;
  sctx.seq = running.seq;
  sctx.noBlock = true;
  if (runLocal(id, out)) return null;
  if (!shardRuns(id)) return 'This Redis command is not allowed from script';
  if (shardPosition.count > 1) {
    const home = keysShard(spec);
    if (home === -2) return E_XSHARD_SPLIT;
    if (home >= 0) {
      // Only a script whose declared keys span shards has every shard serving it.
      if (!across.active) return E_XSHARD_UNDECLARED;
      const r = callShard(home, id, running.db, running.resp, argBuf, sctx.as, sctx.al, sctx.argc);
      if (r === null) return 'Script call arguments too large for a call to another shard';
      sctx.forwarded = true;
      out.raw(r, 0, r.length);
      if (write && running.logEffects && out.bytes[0] !== 45) recordEffect();
      return null;
    }
  }
  runner(sctx, id);
  sctx.deferred = false;
  if (write && running.logEffects && out.bytes[0] !== 45) recordEffect();
  return null;
}

let keyIdx = new Int32Array(16);

/** Shard owning the keys of the call in sctx: -1 for this shard (or no keys), -2 when they span shards. */
function keysShard(spec: (typeof COMMANDS)[number]): number {
  if (keyIdx.length < sctx.argc) keyIdx = new Int32Array(sctx.argc * 2);
  const nk = extractKeys(spec, argBuf, sctx.as, sctx.al, sctx.argc, keyIdx);
  let home = -1;
  for (let k = 0; k < nk; k++) {
    const i = keyIdx[k]!;
    const s = keySlot(argBuf, sctx.as[i]!, sctx.al[i]!) % shardPosition.count;
    if (k === 0) home = s;
    else if (s !== home) return -2;
  }
  return home === shardPosition.id ? -1 : home;
}

/** The writes the running script made, for the AOF: RESP arrays [db, argv...]. */
const effects = new RespWriter(1024);
let effectCount = 0;
let effectsSink: (conn: number, seq: number, body: Uint8Array, len: number) => void = () => {};

/** Sets where a script's writes go when it ends (the AOF, through the acceptor). */
export function setEffectsSink(fn: (conn: number, seq: number, body: Uint8Array, len: number) => void): void {
  effectsSink = fn;
}

function recordEffect(): void {
  effects.arrayHeader(sctx.argc + 1);
  effects.bulkString(String(running.db));
  for (let i = 0; i < sctx.argc; i++) effects.bulk(argBuf, sctx.as[i]!, sctx.al[i]!);
  effectCount++;
}

let shardRuns: (id: number) => boolean = () => false;
/** True when a write would be refused for memory (maxmemory reached, nothing left to evict). */
let memoryFull: () => boolean = () => false;

/** True while the server is a read-only replica: a script's writes are refused (READONLY), as Redis's scriptVerifyWriteCommandAllow. */
let replicaReadOnly: () => boolean = () => false;

/** Sets the shard's read-only replica test. */
export function setReplicaCheck(fn: () => boolean): void {
  replicaReadOnly = fn;
}

/** Sets the shard's maxmemory check, for scripts whose shebang does not allow OOM. */
export function setMemoryCheck(fn: () => boolean): void {
  memoryFull = fn;
}

/** True while min-replicas-to-write is not met (the acceptor's CT_NOREPLICAS word). */
let replicasShort: () => boolean = () => false;

/** Sets the shard's min-replicas check. */
export function setMinReplicasCheck(fn: () => boolean): void {
  replicasShort = fn;
}

/**
 * Redis refuses a script whose shebang lets it write on a read-only replica (READONLY) or while too
 * few replicas are good (NOREPLICAS), and one that may write and lacks allow-oom while memory is
 * full (OOM): true after replying the error.
 */
export function refusedForMemory(c: Ctx, flags: number): boolean {
  if ((flags & (SF_EVAL_COMPAT | SF_NO_WRITES)) === 0 && (replicaReadOnly() || replicasShort())) {
    c.out.error(replicaReadOnly() ? E_READONLY_REPLICA : E_NOREPLICAS);
    return true;
  }
  if ((flags & (SF_EVAL_COMPAT | SF_NO_WRITES | SF_ALLOW_OOM)) !== 0 || !memoryFull()) return false;
  c.out.error(E_OOM);
  return true;
}

function pushRedisApi(): void {
  const m = vm.m;
  const L = vm.L;
  m._lua_createtable(L, 0, 24);
  vm.pushFunction((L) => redisCall(L, true));
  vm.setField(-2, 'call');
  vm.pushFunction((L) => redisCall(L, false));
  vm.setField(-2, 'pcall');
  vm.pushFunction((L) => {
    if (m._lua_gettop(L) !== 1 || m._lua_type(L, -1) !== T_STRING) {
      pushErrorTable('wrong number or type of arguments');
      return 1;
    }
    const s = vm.utf8At(-1);
    pushErrorTable(s.startsWith('-') ? s : `-${s}`);
    return 1;
  });
  vm.setField(-2, 'error_reply');
  vm.pushFunction((L) => {
    if (m._lua_gettop(L) !== 1 || m._lua_type(L, -1) !== T_STRING) {
      pushErrorTable('wrong number or type of arguments');
      return 1;
    }
    m._lua_createtable(L, 0, 1);
    m._lua_pushvalue(L, -2);
    vm.setField(-2, 'ok');
    return 1;
  });
  vm.setField(-2, 'status_reply');
  vm.pushFunction((L) => {
    if (m._lua_gettop(L) !== 1) return raiseError('wrong number of arguments');
    const p = vm.strAt(1);
    vm.pushString(sha1hex(p === 0 ? new Uint8Array(0) : m.HEAPU8.subarray(p, p + vm.lastLen)));
    return 1;
  });
  vm.setField(-2, 'sha1hex');
  vm.pushFunction((L) => {
    const bad = loadCallArgs(L);
    if (bad !== null) return raiseError(bad);
    const id = callCommand();
    if (id < 0) return raiseError('Invalid command passed to redis.acl_check_cmd()');
    m._lua_pushboolean(L, scriptUserAllows(id, sctx) ? 1 : 0);
    return 1;
  });
  vm.setField(-2, 'acl_check_cmd');
  vm.pushFunction((L) => {
    const argc = m._lua_gettop(L);
    if (argc < 2) return raiseError('redis.log() requires two arguments or more.');
    if (m._lua_type(L, 1) !== T_NUMBER) return raiseError('First argument must be a number');
    const level = m._lua_tonumberx(L, 1, 0);
    if (level < 0 || level > 3 || !Number.isInteger(level)) return raiseError('Invalid debug level.');
    if (level >= 2) {
      const parts: string[] = [];
      for (let i = 2; i <= argc; i++) parts.push(vm.utf8At(i));
      process.stderr.write(`${process.pid}:M ${new Date().toISOString()} ${level === 3 ? '#' : '*'} ${parts.join(' ')}\n`);
    }
    return 0;
  });
  vm.setField(-2, 'log');
  vm.pushFunction((L) => {
    if (m._lua_gettop(L) !== 1) return raiseError('redis.setresp() requires one argument.');
    const v = m._lua_tonumberx(L, 1, 0);
    if (v !== 2 && v !== 3) return raiseError('RESP version must be 2 or 3.');
    running.resp = v;
    return 0;
  });
  vm.setField(-2, 'setresp');
  vm.pushFunction((L) => {
    if (m._lua_gettop(L) !== 1) return raiseError('redis.set_repl() requires two arguments.');
    const v = m._lua_tonumberx(L, 1, 0);
    if (!Number.isInteger(v) || v < 0 || v > 3)
      return raiseError('Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.');
    return 0;
  });
  vm.setField(-2, 'set_repl');
  vm.pushFunction((L) => {
    m._lua_pushboolean(L, 1);
    return 1;
  });
  vm.setField(-2, 'replicate_commands');
  vm.pushFunction((L) => {
    m._lua_pushboolean(L, 0);
    return 1;
  });
  vm.setField(-2, 'breakpoint');
  vm.pushFunction(() => 0);
  vm.setField(-2, 'debug');
  const ints: [string, number][] = [
    ['LOG_DEBUG', 0],
    ['LOG_VERBOSE', 1],
    ['LOG_NOTICE', 2],
    ['LOG_WARNING', 3],
    ['REPL_NONE', 0],
    ['REPL_AOF', 1],
    ['REPL_SLAVE', 2],
    ['REPL_REPLICA', 2],
    ['REPL_ALL', 3],
  ];
  for (const [k, v] of ints) {
    m._lua_pushinteger(L, BigInt(v));
    vm.setField(-2, k);
  }
  vm.pushString(REDIS_COMPAT_VERSION);
  vm.setField(-2, 'REDIS_VERSION');
  const [maj, min, pat] = REDIS_COMPAT_VERSION.split('.').map(Number);
  m._lua_pushinteger(L, BigInt((maj! << 16) | (min! << 8) | pat!));
  vm.setField(-2, 'REDIS_VERSION_NUM');
}

/**
 * Loads the VM and Redis's Lua API into this shard. `runs(id)` says whether the shard has a
 * handler for a command; `run` executes one as for a client.
 */
export async function initScripting(store: Store, limits: ShardLimits, run: CommandRunner, runs: (id: number) => boolean): Promise<void> {
  const module = await loadLuaModule();
  if (module.hookCountsTraps === true) hookEvery = 10_000;
  vm = new LuaVm(module);
  runner = run;
  shardRuns = runs;
  sctx = new Ctx(store, new RespWriter(1024), limits);
  sctx.script = true;
  const m = vm.m;
  const L = vm.L;
  if (vm.load(Buffer.from(PRELUDE), '=prelude') !== 0) throw new Error(`Lua prelude: ${vm.stringAt(-1)}`);
  m._lua_createtable(L, 0, 4);
  pushRedisApi();
  vm.setField(-2, 'redis');
  pushCjson(vm);
  vm.setField(-2, 'cjson');
  if (vm.load(Buffer.from(CMSGPACK), '=cmsgpack') !== 0) throw new Error(`Lua cmsgpack: ${vm.stringAt(-1)}`);
  pushMsgpackDecoder(vm);
  pushMsgpackEncoder(vm);
  if (m._lua_pcallk(L, 2, 1, 0, 0, 0) !== 0) throw new Error(`Lua cmsgpack: ${vm.stringAt(-1)}`);
  vm.setField(-2, 'cmsgpack');
  vm.pushFunction((L) =>
    registerHook === null ? raiseError('redis.register_function can only be called on FUNCTION LOAD command') : registerHook(L),
  );
  vm.setField(-2, 'register_function');
  if (m._lua_pcallk(L, 1, 4, 0, 0, 0) !== 0) throw new Error(`Lua prelude: ${vm.stringAt(-1)}`);
  setLoadingRef = vm.ref();
  globals = vm.ref();
  // Scripts compiled from now on see the read-only proxy as their globals (_ENV).
  m._lua_pushvalue(L, -1);
  m._lua_rawseti(L, LUA_REGISTRYINDEX, 2n);
  m._lua_settop(L, -2);
  errorHandler = vm.ref();
  hook = m.addFunction(() => {
    if (loading !== 0 && Date.now() - loading > LOAD_TIMEOUT_MS) {
      pushErrorTable('FUNCTION LOAD timeout');
      vm.m._lua_error(vm.L);
    } else if (running.active && (running.kill || onSlice())) {
      if (!running.kill) {
        // From now on every line fails, so a pcall in the script cannot swallow the kill (as Redis does).
        running.kill = true;
        vm.m._lua_sethook(vm.L, hook, MASK_LINE | MASK_COUNT, 1);
      }
      pushErrorTable(running.isEval ? 'Script killed by user with SCRIPT KILL...' : 'Script killed by user with FUNCTION KILL...');
      vm.m._lua_error(vm.L);
    }
  }, 'vii');
  m._lua_sethook(L, hook, MASK_COUNT, hookEvery);
}

/** Writes [name, argv...] of the running script (FUNCTION STATS's running_script). */
export function writeScriptInfo(out: RespWriter): void {
  const c = running.ctx!;
  out.arrayHeader(c.argc + 1);
  out.bulkString(running.name);
  for (let i = 0; i < c.argc; i++) out.bulk(c.buf, c.as[i]!, c.al[i]!);
}

/** Sets what the VM does every hookEvery counts of a running script (busy tracking, kills) and when it ends. */
export function setSliceHandler(slice: () => boolean, end: () => void): void {
  onSlice = slice;
  onEnd = end;
}

/** How long FUNCTION LOAD may run a library's code (Redis's LOAD_TIMEOUT_MS). */
const LOAD_TIMEOUT_MS = 500;
/** When the library being loaded started running (0: none). */
let loading = 0;

function setLoading(on: boolean): void {
  vm.pushRef(setLoadingRef);
  vm.m._lua_pushboolean(vm.L, on ? 1 : 0);
  vm.m._lua_pcallk(vm.L, 1, 0, 0, 0, 0);
}

/**
 * Runs a function library's code with FUNCTION LOAD's globals, `register` receiving its
 * redis.register_function calls; returns null, or the error text FUNCTION LOAD replies.
 */
export function runLibraryCode(code: Uint8Array, register: (L: number) => number): string | null {
  const m = vm.m;
  const L = vm.L;
  m._lua_settop(L, 0);
  vm.pushRef(errorHandler);
  if (vm.load(code, '@user_function') !== 0) {
    const msg = vm.utf8At(-1);
    m._lua_settop(L, 0);
    return `ERR Error compiling function: ${msg}`;
  }
  setLoading(true);
  registerHook = register;
  loading = Date.now();
  const rc = m._lua_pcallk(L, 0, 0, 1, 0, 0);
  loading = 0;
  registerHook = null;
  setLoading(false);
  let err: string | null = null;
  if (rc !== 0) {
    let msg = 'unknown error';
    if (m._lua_type(L, -1) === T_TABLE) {
      m._lua_getfield(L, -1, vm.name('err'));
      if (m._lua_type(L, -1) === T_STRING) msg = vm.utf8At(-1);
    } else if (m._lua_type(L, -1) === T_STRING) msg = vm.utf8At(-1);
    err = `ERR Error registering functions: ${msg}`;
  }
  m._lua_settop(L, 0);
  return err;
}

const GC_CYCLE_PERIOD = 50;
let runsSinceStep = 0;

/** Bytes of this shard's Lua heap (a call into the VM). */
export function luaHeapBytes(): number {
  return vm.heapBytes();
}

/** Pushes a table of the arguments [from, from + n) of `c` (KEYS or ARGV). */
export function pushArgTable(c: Ctx, from: number, n: number): void {
  vm.m._lua_createtable(vm.L, n, 0);
  for (let i = 0; i < n; i++) {
    vm.pushBytes(c.buf, c.as[from + i]!, c.al[from + i]!);
    vm.m._lua_rawseti(vm.L, -2, bigIndex(i + 1));
  }
}

/** Sets globals KEYS and ARGV from the arguments of an EVAL (`numkeys` keys from argument 3). */
export function setKeysAndArgv(c: Ctx, numkeys: number): void {
  vm.pushRef(globals);
  pushArgTable(c, 3, numkeys);
  vm.setField(-2, 'KEYS');
  pushArgTable(c, 3 + numkeys, c.argc - 3 - numkeys);
  vm.setField(-2, 'ARGV');
  vm.m._lua_settop(vm.L, -2);
}

/**
 * Calls the function held by registry reference `fn` with `nargs` arguments already pushed on the
 * stack (above nothing else), and writes its result or error as the client's reply.
 */
export function runFunction(c: Ctx, fn: number, nargs: number, name: string, readOnly: boolean, isEval: boolean): void {
  const m = vm.m;
  const L = vm.L;
  vm.pushRef(errorHandler);
  vm.pushRef(fn);
  // Arguments were pushed first: move the handler and function below them.
  if (nargs > 0) {
    m._lua_rotate(L, 1, 2);
  }
  running.active = true;
  running.readOnly = readOnly;
  running.resp = 2;
  running.wrote = false;
  running.read = false;
  running.db = c.db;
  running.conn = c.conn;
  running.seq = c.seq;
  running.start = Date.now();
  running.kill = false;
  running.isEval = isEval;
  running.logEffects = c.logEffects;
  running.name = name;
  running.ctx = c;
  // Restart the count: the hook's first call comes after this script's first hookEvery counts, not at a count left by earlier scripts.
  m._lua_sethook(L, hook, MASK_COUNT, hookEvery);
  const rc = m._lua_pcallk(L, nargs, 1, 1, 0, 0);
  running.active = false;
  // Like Redis (LUA_GC_CYCLE_PERIOD), a collector step every 50 runs keeps the heap near its live size.
  if (++runsSinceStep === GC_CYCLE_PERIOD) {
    runsSinceStep = 0;
    vm.gcStep(GC_CYCLE_PERIOD);
  }
  // A killed script left the hook firing on every line.
  if (running.kill) m._lua_sethook(L, hook, MASK_COUNT, hookEvery);
  onEnd();
  if (effectCount !== 0) {
    effectsSink(c.conn, c.seq, effects.bytes, effects.len);
    effects.len = 0;
    effectCount = 0;
  }
  const out = c.out;
  if (rc === 0) writeLuaValue(vm, out, running.resp);
  else writeError(name, out);
  m._lua_settop(L, 0);
}

/** The error a failed run left on the stack, as Redis replies it. */
function writeError(name: string, out: RespWriter): void {
  const m = vm.m;
  const L = vm.L;
  if (m._lua_type(L, -1) !== T_TABLE) {
    const msg = m._lua_type(L, -1) === T_STRING ? vm.utf8At(-1) : 'execution failure';
    out.error(oneLine(`ERR Error running script ${name}, ${msg.slice(0, 100)}`));
    return;
  }
  m._lua_getfield(L, -1, vm.name('err'));
  const err = m._lua_type(L, -1) === T_STRING ? vm.utf8At(-1) : '';
  m._lua_getfield(L, -2, vm.name('source'));
  const source = m._lua_type(L, -1) === T_STRING ? vm.utf8At(-1) : '';
  m._lua_getfield(L, -3, vm.name('line'));
  const line = m._lua_type(L, -1) === T_NUMBER ? String(m._lua_tointegerx(L, -1, 0)) : '';
  m._lua_getfield(L, -4, vm.name(COUNTED_FIELD));
  convertFlags.errorCounted = m._lua_toboolean(L, -1) !== 0;
  m._lua_settop(L, -5);
  let text = err;
  if (line !== '' && source !== '') text += ` script: ${name}, on ${source}:${line}.`;
  out.error(oneLine(text));
}
