/**
 * Redis's conversions between command replies and Lua values (script_lua.c): a reply a command
 * wrote (RESP2 or RESP3 bytes) becomes Lua values on the stack, and the script's return value
 * becomes the client's reply, with the same rules for nil/false, status and error tables,
 * integers (floats truncated), and RESP3's maps, sets, doubles, big numbers and booleans.
 */
import type { RespWriter } from '../wire/resp-writer.js';
import { type LuaVm, bigIndex, T_BOOLEAN, T_NIL, T_NUMBER, T_STRING, T_TABLE } from './lua-vm.js';

/** Position the parser reached in the reply being converted. */
let at = 0;

function lineEnd(b: Uint8Array, p: number): number {
  while (b[p] !== 13) p++;
  return p;
}

function lineInt(b: Uint8Array, s: number, e: number): number {
  let neg = false;
  let n = 0;
  if (b[s] === 45) {
    neg = true;
    s++;
  }
  for (let i = s; i < e; i++) n = n * 10 + (b[i]! - 48);
  return neg ? -n : n;
}

function pushTagged(vm: LuaVm, tag: string): void {
  vm.m._lua_createtable(vm.L, 0, 1);
  vm.m._lua_pushvalue(vm.L, -2);
  vm.setField(-2, tag);
  vm.m._lua_rotate(vm.L, -2, 1);
  vm.m._lua_settop(vm.L, -2);
}

/** Pushes the reply at b[p…] as a Lua value (Redis's redisProtocolToLuaType); returns the offset after it. */
export function pushReply(vm: LuaVm, b: Uint8Array, p: number): number {
  at = p;
  pushOne(vm, b);
  return at;
}

function pushOne(vm: LuaVm, b: Uint8Array): void {
  const m = vm.m;
  const L = vm.L;
  m._lua_checkstack(L, 5);
  const type = b[at]!;
  const s = at + 1;
  const e = lineEnd(b, s);
  at = e + 2;
  switch (type) {
    case 58: {
      // :integer → a Lua number, as Redis pushes it (5.1 numbers are doubles; integral ones print as integers here too).
      m._lua_pushnumber(L, lineInt(b, s, e));
      return;
    }
    case 36: {
      // $bulk
      const n = lineInt(b, s, e);
      if (n < 0) {
        m._lua_pushboolean(L, 0);
        return;
      }
      vm.pushBytes(b, at, n);
      at += n + 2;
      return;
    }
    case 43: // +status → {ok=...}
      m._lua_createtable(L, 0, 1);
      vm.pushBytes(b, s, e - s);
      vm.setField(-2, 'ok');
      return;
    case 45: // -error → {err=...}
      m._lua_createtable(L, 0, 1);
      vm.pushBytes(b, s, e - s);
      vm.setField(-2, 'err');
      return;
    case 42: // *array
    case 62: {
      // >push
      const n = lineInt(b, s, e);
      if (n < 0) {
        m._lua_pushboolean(L, 0);
        return;
      }
      m._lua_createtable(L, n, 0);
      for (let i = 1; i <= n; i++) {
        pushOne(vm, b);
        m._lua_rawseti(L, -2, bigIndex(i));
      }
      return;
    }
    case 37: {
      // %map → {map={k=v}}
      const n = lineInt(b, s, e);
      m._lua_createtable(L, 0, n);
      for (let i = 0; i < n; i++) {
        pushOne(vm, b);
        pushOne(vm, b);
        m._lua_rawset(L, -3);
      }
      pushTagged(vm, 'map');
      return;
    }
    case 126: {
      // ~set → {set={k=true}}
      const n = lineInt(b, s, e);
      m._lua_createtable(L, 0, n);
      for (let i = 0; i < n; i++) {
        pushOne(vm, b);
        m._lua_pushboolean(L, 1);
        m._lua_rawset(L, -3);
      }
      pushTagged(vm, 'set');
      return;
    }
    case 95: // _null
      m._lua_pushnil(L);
      return;
    case 35: // #t / #f
      m._lua_pushboolean(L, b[s] === 116 ? 1 : 0);
      return;
    case 44: // ,double → {double=n}
      m._lua_pushnumber(L, parseDouble(Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('latin1')));
      pushTagged(vm, 'double');
      return;
    case 40: // (big number → {big_number=s}
      vm.pushBytes(b, s, e - s);
      pushTagged(vm, 'big_number');
      return;
    case 61: {
      // =verbatim → {verbatim_string={format=..., string=...}}
      const n = lineInt(b, s, e);
      m._lua_createtable(L, 0, 2);
      vm.pushBytes(b, at, 3);
      vm.setField(-2, 'format');
      vm.pushBytes(b, at + 4, n - 4);
      vm.setField(-2, 'string');
      at += n + 2;
      pushTagged(vm, 'verbatim_string');
      return;
    }
    default:
      m._lua_pushnil(L);
  }
}

function parseDouble(s: string): number {
  if (s === 'inf') return Infinity;
  if (s === '-inf') return -Infinity;
  return Number(s);
}

/** Replaces CR and LF with spaces, as Redis does for status and error texts a script returns. */
export function oneLine(s: string): string {
  return s.replace(/[\r\n]/g, ' ');
}

/** Field `k` of the table at stack index -1 (raw access), pushed; returns its type. */
function rawField(vm: LuaVm, k: string): number {
  // A C string the VM keeps: Lua's string cache finds it by address, no bytes copied or hashed.
  vm.m._lua_pushstring(vm.L, vm.name(k));
  return vm.m._lua_rawget(vm.L, -2);
}

/** Nesting depth past which a reply is cut with "reached lua stack limit" (Redis hits its C stack check; this keeps JS recursion shallow). */
const MAX_DEPTH = 1000;
let depth = 0;
/** The script's own protocol (redis.setresp): booleans follow it, not the client's. */
let scriptResp = 2;

/** Writes the value on top of the stack as the client's reply and pops it (Redis's luaReplyToRedisReply). */
export function writeLuaValue(vm: LuaVm, out: RespWriter, resp: number): void {
  depth = 0;
  scriptResp = resp;
  writeValue(vm, out);
}

function writeValue(vm: LuaVm, out: RespWriter): void {
  const m = vm.m;
  const L = vm.L;
  if (depth >= MAX_DEPTH || m._lua_checkstack(L, 4) === 0) {
    out.error('ERR reached lua stack limit');
    m._lua_settop(L, -2);
    return;
  }
  const t = m._lua_type(L, -1);
  switch (t) {
    case T_STRING: {
      const p = vm.strAt(-1);
      out.bulk(m.HEAPU8, p, vm.lastLen);
      break;
    }
    case T_BOOLEAN:
      if (scriptResp === 3) out.bool(m._lua_toboolean(L, -1) !== 0);
      else if (m._lua_toboolean(L, -1) !== 0) out.int(1);
      else out.nullBulk();
      break;
    case T_NUMBER: {
      // Below 2^53 the double is exact for an integer and truncates a float as Redis does (+ 0: no "-0").
      const d = m._lua_tonumberx(L, -1, 0);
      if (d > -9007199254740992 && d < 9007199254740992) out.int(Math.trunc(d) + 0);
      else if (m._lua_isinteger(L, -1) !== 0) writeBigInt(out, m._lua_tointegerx(L, -1, 0));
      // Redis casts to long long: on x86-64 a float out of range (or NaN, or an infinity) becomes INT64_MIN.
      else writeBigInt(out, d >= -TWO_63 && d < TWO_63 ? BigInt(Math.trunc(d)) : -9223372036854775808n);
      break;
    }
    case T_TABLE:
      depth++;
      writeTable(vm, out);
      depth--;
      break;
    default:
      out.nullBulk();
  }
  m._lua_settop(L, -2);
}

/** 2^63 as a double (exact): the int64 range's bound. */
const TWO_63 = 2 ** 63;

function writeBigInt(out: RespWriter, n: bigint): void {
  if (n >= -9007199254740991n && n <= 9007199254740991n) out.int(Number(n));
  else out.ascii(`:${n}\r\n`);
}

/** A script's reply is an error table already counted in errorstats (set by converting it or its raised error; script-run reads and clears it). */
export const convertFlags = { errorCounted: false };

/** The table at the top: error, status, double, big number, verbatim, map, set, or array (stays on the stack). */
function writeTable(vm: LuaVm, out: RespWriter): void {
  const m = vm.m;
  const L = vm.L;
  if (rawField(vm, 'err') === T_STRING) {
    const text = vm.utf8At(-1);
    m._lua_settop(L, -2);
    out.error(oneLine(text));
    // A call's error returned as is (redis.pcall's table) was counted when the call failed.
    convertFlags.errorCounted = rawField(vm, 'ignore_error_stats_update') === T_BOOLEAN && m._lua_toboolean(L, -1) !== 0;
    m._lua_settop(L, -2);
    return;
  }
  m._lua_settop(L, -2);
  if (rawField(vm, 'ok') === T_STRING) {
    const text = oneLine(vm.stringAt(-1));
    m._lua_settop(L, -2);
    out.ensure(text.length + 3);
    out.simple(text);
    return;
  }
  m._lua_settop(L, -2);
  if (rawField(vm, 'double') === T_NUMBER) {
    out.double(m._lua_tonumberx(L, -1, 0));
    m._lua_settop(L, -2);
    return;
  }
  m._lua_settop(L, -2);
  if (rawField(vm, 'big_number') === T_STRING) {
    const text = oneLine(vm.stringAt(-1));
    m._lua_settop(L, -2);
    if (out.proto === 3) out.ascii(`(${text}\r\n`);
    else out.bulkString(text);
    return;
  }
  m._lua_settop(L, -2);
  if (rawField(vm, 'verbatim_string') === T_TABLE) {
    const f = rawField(vm, 'format');
    const format = f === T_STRING ? vm.stringAt(-1) : null;
    m._lua_settop(L, -2);
    if (format !== null && rawField(vm, 'string') === T_STRING) {
      const text = vm.bytesAt(-1)!;
      m._lua_settop(L, -3);
      if (out.proto === 3) {
        out.ascii(`=${text.length + 4}\r\n${format.slice(0, 3).padEnd(3, ' ')}:`);
        out.raw(text, 0, text.length);
        out.ascii('\r\n');
      } else out.bulk(text, 0, text.length);
      return;
    }
    m._lua_settop(L, -2);
  }
  m._lua_settop(L, -2);
  if (rawField(vm, 'map') === T_TABLE) {
    out.mapHeader(countPairs(vm));
    m._lua_pushnil(L);
    while (m._lua_next(L, -2) !== 0) {
      m._lua_pushvalue(L, -2);
      writeValue(vm, out);
      writeValue(vm, out);
    }
    m._lua_settop(L, -2);
    return;
  }
  m._lua_settop(L, -2);
  if (rawField(vm, 'set') === T_TABLE) {
    out.setHeader(countPairs(vm));
    m._lua_pushnil(L);
    while (m._lua_next(L, -2) !== 0) {
      m._lua_settop(L, -2);
      m._lua_pushvalue(L, -1);
      writeValue(vm, out);
    }
    m._lua_settop(L, -2);
    return;
  }
  m._lua_settop(L, -2);
  let n = 0;
  while (m._lua_rawgeti(L, -1, BigInt(n + 1)) !== T_NIL) {
    m._lua_settop(L, -2);
    n++;
  }
  m._lua_settop(L, -2);
  out.arrayHeader(n);
  for (let i = 1; i <= n; i++) {
    m._lua_rawgeti(L, -1, BigInt(i));
    writeValue(vm, out);
  }
}

function countPairs(vm: LuaVm): number {
  const m = vm.m;
  let n = 0;
  m._lua_pushnil(vm.L);
  while (m._lua_next(vm.L, -2) !== 0) {
    m._lua_settop(vm.L, -2);
    n++;
  }
  return n;
}
