/**
 * The `cjson` library Redis loads into Lua (lua-cjson 2.1's encode/decode behaviour): numbers as
 * "%.14g", "/" escaped, empty tables as {}, excessively sparse arrays refused, `cjson.null` as a
 * NULL light userdata. Implemented in JS over the Lua stack.
 */
import { type LuaVm, T_BOOLEAN, T_NIL, T_NUMBER, T_STRING, T_TABLE, bigIndex } from './lua-vm.js';
import { grown } from '../wire/bytes.js';

/** C's "%.<p>g". */
export function formatG(d: number, p: number): string {
  if (d === Infinity) return 'inf';
  if (d === -Infinity) return '-inf';
  if (Number.isNaN(d)) return 'nan';
  if (d === 0) return Object.is(d, -0) ? '-0' : '0';
  // A safe integer of at most p digits prints exactly, as String prints it (timestamps, counters).
  if (Number.isSafeInteger(d) && Math.abs(d) < 10 ** p) return String(d);
  const e = d.toExponential(p - 1);
  const ei = e.indexOf('e');
  const exp = Number(e.slice(ei + 1));
  if (exp < -4 || exp >= p) {
    const mant = e.slice(0, ei).replace(/\.?0+$/, '');
    const ax = Math.abs(exp);
    return `${mant}e${exp < 0 ? '-' : '+'}${ax < 10 ? '0' : ''}${ax}`;
  }
  const f = d.toFixed(Math.max(0, p - 1 - exp));
  return f.indexOf('.') === -1 ? f : f.replace(/\.?0+$/, '');
}

const T_LIGHTUSERDATA = 2;

/** lua-cjson's settings (encode_max_depth, decode_max_depth, encode_invalid_numbers). */
const settings = { encodeMaxDepth: 1000, decodeMaxDepth: 1000, invalidNumbers: false };

class EncodeError extends Error {}

/** An output buffer grown past this by a big encode is let go afterwards. */
const KEEP_BYTES = 1 << 20;

/** The encoder's output: bytes written in place, pushed to Lua once (no JS string per value). */
let out: Uint8Array = new Uint8Array(256);
let pos = 0;

function ensure(n: number): void {
  out = grown(out, pos, pos + n);
}

/** Writes an ASCII string (literals, formatted numbers). */
function ascii(s: string): void {
  ensure(s.length);
  for (let i = 0; i < s.length; i++) out[pos++] = s.charCodeAt(i);
}

const HEX = '0123456789abcdef';

/** Writes the Lua string at stack index `i` as a JSON string, with lua-cjson's escapes. */
function writeString(vm: LuaVm, i: number): void {
  const p = vm.strAt(i);
  const n = vm.lastLen;
  // Encoding walks the stack with raw reads only, so nothing allocates in the Lua heap and `p` stays valid.
  const h = vm.m.HEAPU8;
  ensure(n * 6 + 2);
  out[pos++] = 34;
  for (let j = p; j < p + n; j++) {
    const c = h[j]!;
    if (c >= 32 && c !== 127 && c !== 34 && c !== 92 && c !== 47) {
      out[pos++] = c;
      continue;
    }
    out[pos++] = 92;
    if (c === 34 || c === 92 || c === 47) out[pos++] = c;
    else if (c === 10) out[pos++] = 110;
    else if (c === 13) out[pos++] = 114;
    else if (c === 9) out[pos++] = 116;
    else if (c === 8) out[pos++] = 98;
    else if (c === 12) out[pos++] = 102;
    else {
      out[pos++] = 117;
      out[pos++] = 48;
      out[pos++] = 48;
      out[pos++] = HEX.charCodeAt(c >> 4);
      out[pos++] = HEX.charCodeAt(c & 15);
    }
  }
  out[pos++] = 34;
}

function encodeValue(vm: LuaVm, depth: number): void {
  const m = vm.m;
  const L = vm.L;
  const t = m._lua_type(L, -1);
  switch (t) {
    case T_NIL:
    case T_LIGHTUSERDATA:
      ascii('null');
      return;
    case T_BOOLEAN:
      ascii(m._lua_toboolean(L, -1) !== 0 ? 'true' : 'false');
      return;
    case T_NUMBER: {
      if (m._lua_isinteger(L, -1) !== 0) {
        ascii(formatG(Number(m._lua_tointegerx(L, -1, 0)), 14));
        return;
      }
      const n = m._lua_tonumberx(L, -1, 0);
      if (!Number.isFinite(n)) {
        if (!settings.invalidNumbers) throw new EncodeError('Cannot serialise number: must not be NaN or Inf');
        ascii(Number.isNaN(n) ? 'nan' : n > 0 ? 'inf' : '-inf');
        return;
      }
      ascii(formatG(n, 14));
      return;
    }
    case T_STRING:
      writeString(vm, -1);
      return;
    case T_TABLE:
      if (depth > settings.encodeMaxDepth) throw new EncodeError(`Cannot serialise, excessive nesting (${depth})`);
      encodeTable(vm, depth);
      return;
    default:
      throw new EncodeError(`Cannot serialise ${t === 6 ? 'function' : t === 8 ? 'thread' : 'userdata'}: type not supported`);
  }
}

function encodeTable(vm: LuaVm, depth: number): void {
  const m = vm.m;
  const L = vm.L;
  m._lua_checkstack(L, 4);
  // An array when every key is a positive integer and it is not excessively sparse (lua-cjson's rule).
  let max = 0;
  let items = 0;
  let array = true;
  m._lua_pushnil(L);
  while (m._lua_next(L, -2) !== 0) {
    m._lua_settop(L, -2);
    items++;
    if (array && m._lua_type(L, -1) === T_NUMBER && m._lua_isinteger(L, -1) !== 0) {
      const k = Number(m._lua_tointegerx(L, -1, 0));
      if (k >= 1) {
        if (k > max) max = k;
        continue;
      }
    } else if (array && m._lua_type(L, -1) === T_NUMBER) {
      const k = m._lua_tonumberx(L, -1, 0);
      if (Number.isInteger(k) && k >= 1) {
        if (k > max) max = k;
        continue;
      }
    }
    array = false;
  }
  if (array && items > 0) {
    if (max > items * 2 && max > 10) throw new EncodeError('Cannot serialise table: excessively sparse array');
    ascii('[');
    for (let i = 1; i <= max; i++) {
      if (i > 1) ascii(',');
      m._lua_rawgeti(L, -1, bigIndex(i));
      encodeValue(vm, depth + 1);
      m._lua_settop(L, -2);
    }
    ascii(']');
    return;
  }
  ascii('{');
  let first = true;
  m._lua_pushnil(L);
  while (m._lua_next(L, -2) !== 0) {
    if (!first) ascii(',');
    first = false;
    const kt = m._lua_type(L, -2);
    if (kt === T_STRING) writeString(vm, -2);
    else if (kt === T_NUMBER) {
      const n = m._lua_isinteger(L, -2) !== 0 ? Number(m._lua_tointegerx(L, -2, 0)) : m._lua_tonumberx(L, -2, 0);
      ascii(`"${formatG(n, 14)}"`);
    } else throw new EncodeError('Cannot serialise table: table key must be a number or string');
    ascii(':');
    encodeValue(vm, depth + 1);
    m._lua_settop(L, -2);
  }
  ascii('}');
}

function pushJson(vm: LuaVm, v: unknown, depth: number): void {
  const m = vm.m;
  const L = vm.L;
  m._lua_checkstack(L, 4);
  if (v === null) m._lua_pushlightuserdata(L, 0);
  else if (typeof v === 'boolean') m._lua_pushboolean(L, v ? 1 : 0);
  else if (typeof v === 'number') m._lua_pushnumber(L, v);
  else if (typeof v === 'string') vm.pushUtf8(v);
  else if (depth > settings.decodeMaxDepth) throw new EncodeError(`Found too many nested data structures (${depth}) at character 1`);
  else if (Array.isArray(v)) {
    m._lua_createtable(L, v.length, 0);
    for (let i = 0; i < v.length; i++) {
      pushJson(vm, v[i], depth + 1);
      m._lua_rawseti(L, -2, BigInt(i + 1));
    }
  } else {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    m._lua_createtable(L, 0, keys.length);
    for (const k of keys) {
      vm.pushUtf8(k);
      pushJson(vm, o[k], depth + 1);
      m._lua_rawset(L, -3);
    }
  }
}

/** Depth limits stay within what JS recursion handles (lua-cjson allows more; scripts rarely ask). */
function clampDepth(n: number): number {
  return Math.min(1000, Math.max(1, Math.trunc(n) || 1));
}

/** Pushes a string as a Lua error and raises it. */
function raise(vm: LuaVm, msg: string): number {
  vm.pushString(msg);
  return vm.m._lua_error(vm.L);
}

/** Builds the cjson table on the stack. */
export function pushCjson(vm: LuaVm): void {
  const m = vm.m;
  m._lua_createtable(vm.L, 0, 4);
  vm.pushFunction((L) => {
    if (m._lua_gettop(L) !== 1) return raise(vm, "bad argument #1 to 'encode' (expected 1 argument)");
    pos = 0;
    try {
      encodeValue(vm, 1);
    } catch (err) {
      if (!(err instanceof EncodeError)) throw err;
      return raise(vm, err.message);
    }
    vm.pushBytes(out, 0, pos);
    if (out.length > KEEP_BYTES) out = new Uint8Array(256);
    return 1;
  });
  vm.setField(-2, 'encode');
  vm.pushFunction((L) => {
    if (m._lua_gettop(L) !== 1) return raise(vm, "bad argument #1 to 'decode' (expected 1 argument)");
    if (m._lua_type(L, 1) !== T_STRING && m._lua_type(L, 1) !== T_NUMBER) return raise(vm, "bad argument #1 to 'decode' (string expected)");
    const text = vm.utf8At(1);
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      return raise(vm, `Expected value but found invalid token at character 1`);
    }
    const top = m._lua_gettop(L);
    try {
      pushJson(vm, v, 1);
    } catch (err) {
      if (!(err instanceof EncodeError)) throw err;
      m._lua_settop(L, top);
      return raise(vm, err.message);
    }
    return 1;
  });
  vm.setField(-2, 'decode');
  m._lua_pushlightuserdata(vm.L, 0);
  vm.setField(-2, 'null');
  const setting = (name: string, apply: (L: number) => void): void => {
    vm.pushFunction((L) => {
      if (m._lua_gettop(L) >= 1) apply(L);
      return 0;
    });
    vm.setField(-2, name);
  };
  setting('encode_max_depth', (L) => {
    settings.encodeMaxDepth = clampDepth(m._lua_tonumberx(L, 1, 0));
  });
  setting('decode_max_depth', (L) => {
    settings.decodeMaxDepth = clampDepth(m._lua_tonumberx(L, 1, 0));
  });
  setting('encode_invalid_numbers', (L) => {
    settings.invalidNumbers = m._lua_toboolean(L, 1) !== 0;
  });
  // Buffer reuse is an allocation detail of the C library; encoding is the same either way.
  setting('encode_keep_buffer', () => {});
}
