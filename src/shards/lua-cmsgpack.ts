/**
 * The `cmsgpack` library Redis loads into Lua (lua-cmsgpack 0.4 as Redis ships it): pack (many
 * values), unpack, unpack_one, unpack_limit, with its rules — integer-valued numbers as the
 * smallest integer type, other numbers as float32 when exact else float64, tables as arrays when
 * their keys are exactly 1..n, nesting cut at 16 levels (nil). Both directions are JS over the Lua
 * stack and the string's bytes in place (queue libraries unpack options in every call; the Lua code
 * they replace cost ~10 µs to decode a 150-byte map and ~6 µs to pack a small table).
 */
import { type LuaVm, T_BOOLEAN, T_NUMBER, T_STRING, T_TABLE, bigIndex } from './lua-vm.js';
import { copyBytes, grown } from '../wire/bytes.js';

/** decode's result codes (the first value it returns). */
const OK = 0;
const EOF = 1;
const BADFMT = 2;
const NAN_KEY = 3;
const TOO_DEEP = 4;
/** Nesting past which decoding stops (Lua's own recursion limit is near 200 levels). */
const MAX_DEPTH = 1000;

class DecodeStop {
  constructor(readonly code: number) {}
}

/**
 * Pushes the native `decode(s, pos, limit)`: decodes values from byte `pos` (1-based) of `s`, at
 * most `limit` of them (-1: all), and returns the result code, the position after the last value
 * and the values.
 */
export function pushMsgpackDecoder(vm: LuaVm): void {
  const m = vm.m;
  let p0 = 0;
  let end = 0;
  let at = 0;
  let depth = 0;
  let view = new DataView(m.HEAPU8.buffer);

  const need = (n: number): void => {
    if (at + n > end) throw new DecodeStop(EOF);
  };
  const u8 = (): number => m.HEAPU8[at++]!;
  const dv = (): DataView => {
    if (view.buffer !== m.HEAPU8.buffer) view = new DataView(m.HEAPU8.buffer);
    return view;
  };
  const pushInt = (L: number, n: number): void => m._lua_pushinteger(L, n >= 0 && n < 1024 ? bigIndex(n) : BigInt(n));
  const sized = (w: number): number => {
    need(w);
    const d = dv();
    const v = w === 1 ? d.getUint8(at) : w === 2 ? d.getUint16(at) : d.getUint32(at);
    at += w;
    return v;
  };

  /** Decodes one value at `at` and pushes it. */
  const one = (L: number): void => {
    need(1);
    const b = u8();
    if (b < 0x80) return pushInt(L, b);
    if (b >= 0xe0) return m._lua_pushinteger(L, BigInt(b - 256));
    if (b < 0x90) return map(L, b - 0x80);
    if (b < 0xa0) return array(L, b - 0x90);
    if (b < 0xc0) return str(L, b - 0xa0);
    switch (b) {
      case 0xc0:
        return m._lua_pushnil(L);
      case 0xc2:
        return m._lua_pushboolean(L, 0);
      case 0xc3:
        return m._lua_pushboolean(L, 1);
      case 0xca:
        need(4);
        at += 4;
        return m._lua_pushnumber(L, dv().getFloat32(at - 4));
      case 0xcb:
        need(8);
        at += 8;
        return m._lua_pushnumber(L, dv().getFloat64(at - 8));
      case 0xcc:
      case 0xcd:
      case 0xce:
        return pushInt(L, sized(b === 0xcc ? 1 : b === 0xcd ? 2 : 4));
      case 0xcf:
      case 0xd3:
        // Both read as signed 64-bit, as the Lua decoder this replaces did ('>i8').
        need(8);
        at += 8;
        return m._lua_pushinteger(L, dv().getBigInt64(at - 8));
      case 0xd0:
        need(1);
        at += 1;
        return pushInt(L, dv().getInt8(at - 1));
      case 0xd1:
        need(2);
        at += 2;
        return pushInt(L, dv().getInt16(at - 2));
      case 0xd2:
        need(4);
        at += 4;
        return pushInt(L, dv().getInt32(at - 4));
      case 0xd9:
      case 0xc4:
        return str(L, sized(1));
      case 0xda:
      case 0xc5:
        return str(L, sized(2));
      case 0xdb:
      case 0xc6:
        return str(L, sized(4));
      case 0xdc:
        return array(L, sized(2));
      case 0xdd:
        return array(L, sized(4));
      case 0xde:
        return map(L, sized(2));
      case 0xdf:
        return map(L, sized(4));
      default:
        throw new DecodeStop(BADFMT);
    }
  };
  const str = (L: number, n: number): void => {
    need(n);
    m._lua_pushlstring(L, at, n);
    at += n;
  };
  const nest = (L: number): void => {
    if (++depth > MAX_DEPTH || m._lua_checkstack(L, 3) === 0) throw new DecodeStop(TOO_DEEP);
  };
  const array = (L: number, n: number): void => {
    nest(L);
    // Sizes come from the input: preallocate only what the remaining bytes can hold.
    m._lua_createtable(L, Math.min(n, end - at), 0);
    for (let i = 1; i <= n; i++) {
      one(L);
      m._lua_rawseti(L, -2, bigIndex(i));
    }
    depth--;
  };
  const map = (L: number, n: number): void => {
    nest(L);
    m._lua_createtable(L, 0, Math.min(n, (end - at) >>> 1));
    for (let i = 0; i < n; i++) {
      one(L);
      one(L);
      const kt = m._lua_type(L, -2);
      if (kt === 0) m._lua_settop(L, -3);
      else if (kt === 3 && Number.isNaN(m._lua_tonumberx(L, -2, 0))) throw new DecodeStop(NAN_KEY);
      else m._lua_rawset(L, -3);
    }
    depth--;
  };

  vm.pushFunction((L) => {
    const limit = Number(m._lua_tointegerx(L, 3, 0));
    const p = vm.strAt(1);
    p0 = p;
    end = p + vm.lastLen;
    at = p + Number(m._lua_tointegerx(L, 2, 0)) - 1;
    depth = 0;
    m._lua_settop(L, 1);
    let n = 0;
    let code = OK;
    try {
      while (at < end && (limit < 0 || n < limit)) {
        if (m._lua_checkstack(L, 4) === 0) throw new DecodeStop(TOO_DEEP);
        one(L);
        n++;
      }
    } catch (e) {
      if (!(e instanceof DecodeStop)) throw e;
      code = e.code;
    }
    if (code !== OK) {
      m._lua_settop(L, 1);
      m._lua_pushinteger(L, bigIndex(code));
      return 1;
    }
    m._lua_pushinteger(L, bigIndex(code));
    m._lua_pushinteger(L, BigInt(at - p0 + 1));
    // [s, v1..vn, code, pos] -> [s, code, pos, v1..vn]
    m._lua_rotate(L, 2, 2);
    return n + 2;
  });
}

/** Nesting at which a table is packed as nil (lua-cmsgpack's LUACMSGPACK_MAX_NESTING). */
const MAX_NESTING = 16;
const TWO_63 = 2 ** 63;
/** An output buffer grown past this by a big pack is let go afterwards. */
const KEEP_BYTES = 1 << 20;

/**
 * Pushes the native `encode(...)`: packs its arguments one after another into one string, as
 * Redis's lua_cmsgpack.c does, reading tables raw (lua_next, lua_rawgeti) and writing the bytes in
 * place (the Lua encoder it replaces cost ~6 µs for a small options table, Redis's C ~1 µs).
 */
export function pushMsgpackEncoder(vm: LuaVm): void {
  const m = vm.m;
  let out: Uint8Array = new Uint8Array(256);
  let pos = 0;
  /** Big-endian bytes of 64-bit integers and floats. */
  const word = new DataView(new ArrayBuffer(8));

  const ensure = (n: number): void => {
    out = grown(out, pos, pos + n);
  };
  const byte = (b: number): void => {
    ensure(1);
    out[pos++] = b;
  };
  /** A type byte and an unsigned big-endian integer of `w` bytes (1, 2 or 4). */
  const sized = (type: number, v: number, w: number): void => {
    ensure(1 + w);
    out[pos++] = type;
    for (let k = w - 1; k >= 0; k--) out[pos++] = (v >>> (k * 8)) & 0xff;
  };
  const eight = (type: number, v: bigint): void => {
    ensure(9);
    out[pos++] = type;
    word.setBigInt64(0, v);
    for (let k = 0; k < 8; k++) out[pos++] = word.getUint8(k);
  };

  const integer = (i: number): void => {
    if (i >= 0) {
      if (i < 128) byte(i);
      else if (i < 256) sized(0xcc, i, 1);
      else if (i < 65536) sized(0xcd, i, 2);
      else if (i < 4294967296) sized(0xce, i, 4);
      else eight(0xcf, BigInt(i));
    } else if (i >= -32) byte(0x100 + i);
    else if (i >= -128) sized(0xd0, i & 0xff, 1);
    else if (i >= -32768) sized(0xd1, i & 0xffff, 2);
    else if (i >= -2147483648) sized(0xd2, i >>> 0, 4);
    else eight(0xd3, BigInt(i));
  };

  const number = (L: number): void => {
    const d = m._lua_tonumberx(L, -1, 0);
    if (m._lua_isinteger(L, -1) !== 0) {
      if (Number.isSafeInteger(d)) integer(d);
      else {
        const i = m._lua_tointegerx(L, -1, 0);
        eight(i >= 0n ? 0xcf : 0xd3, i);
      }
      return;
    }
    // A float with an integer value in int64's range packs as that integer (math.tointeger).
    if (Number.isInteger(d) && d >= -TWO_63 && d < TWO_63) {
      if (Number.isSafeInteger(d)) integer(d === 0 ? 0 : d);
      else eight(d >= 0 ? 0xcf : 0xd3, BigInt(d));
      return;
    }
    ensure(9);
    if (Math.fround(d) === d) {
      out[pos++] = 0xca;
      word.setFloat32(0, d);
      for (let k = 0; k < 4; k++) out[pos++] = word.getUint8(k);
    } else {
      out[pos++] = 0xcb;
      word.setFloat64(0, d);
      for (let k = 0; k < 8; k++) out[pos++] = word.getUint8(k);
    }
  };

  const string = (i: number): void => {
    const p = vm.strAt(i);
    const n = vm.lastLen;
    if (n < 32) byte(0xa0 + n);
    else if (n < 256) sized(0xd9, n, 1);
    else if (n < 65536) sized(0xda, n, 2);
    else sized(0xdb, n, 4);
    ensure(n);
    // Packing reads the stack raw and allocates nothing in the Lua heap: `p` stays valid.
    copyBytes(out, pos, m.HEAPU8, p, n);
    pos += n;
  };

  /** Packs the value on top of the stack. */
  const value = (L: number, level: number): void => {
    switch (m._lua_type(L, -1)) {
      case T_STRING:
        return string(-1);
      case T_NUMBER:
        return number(L);
      case T_BOOLEAN:
        return byte(m._lua_toboolean(L, -1) !== 0 ? 0xc3 : 0xc2);
      case T_TABLE:
        return table(L, level);
      default:
        return byte(0xc0);
    }
  };

  const table = (L: number, level: number): void => {
    if (level >= MAX_NESTING || m._lua_checkstack(L, 3) === 0) return byte(0xc0);
    // An array when its keys are exactly 1..n (lua_cmsgpack's table_is_an_array).
    let count = 0;
    let max = 0;
    let array = true;
    m._lua_pushnil(L);
    while (m._lua_next(L, -2) !== 0) {
      m._lua_settop(L, -2);
      count++;
      if (!array) continue;
      if (m._lua_type(L, -1) !== T_NUMBER) {
        array = false;
        continue;
      }
      const k = m._lua_tonumberx(L, -1, 0);
      if (k <= 0 || !Number.isInteger(k)) array = false;
      else if (k > max) max = k;
    }
    if (array && max === count) {
      if (count < 16) byte(0x90 + count);
      else if (count < 65536) sized(0xdc, count, 2);
      else sized(0xdd, count, 4);
      for (let i = 1; i <= count; i++) {
        m._lua_rawgeti(L, -1, bigIndex(i));
        value(L, level + 1);
        m._lua_settop(L, -2);
      }
      return;
    }
    if (count < 16) byte(0x80 + count);
    else if (count < 65536) sized(0xde, count, 2);
    else sized(0xdf, count, 4);
    m._lua_pushnil(L);
    while (m._lua_next(L, -2) !== 0) {
      // The key is packed from a copy: strAt would turn a number key into a string in place and break lua_next.
      m._lua_pushvalue(L, -2);
      value(L, level + 1);
      m._lua_settop(L, -2);
      value(L, level + 1);
      m._lua_settop(L, -2);
    }
  };

  vm.pushFunction((L) => {
    const n = m._lua_gettop(L);
    pos = 0;
    for (let i = 1; i <= n; i++) {
      m._lua_pushvalue(L, i);
      value(L, 0);
      m._lua_settop(L, -2);
    }
    vm.pushBytes(out, 0, pos);
    if (out.length > KEEP_BYTES) out = new Uint8Array(256);
    return 1;
  });
}

export const CMSGPACK = `
local decode_native, encode_native = ...
local function finish(len, all, code, pos, ...)
  if code == 1 then error('Missing bytes in input.', 3) end
  if code == 2 then error('Bad data format in input.', 3) end
  if code == 3 then error('table index is NaN', 0) end
  if code == 4 then error('stack overflow', 0) end
  if all then return ... end
  return (pos > len) and -1 or (pos - 1), ...
end

local function unpack_full(s, limit, offset, all)
  if type(s) ~= 'string' then error("bad argument #1 to 'unpack' (string expected)", 3) end
  local len = #s
  if offset < 0 or limit < 0 then
    error(string.format('Invalid request to unpack with offset of %d and limit of %d.', offset, len), 3)
  elseif offset > len then
    error(string.format('Start offset %d greater than input length %d.', offset, len), 3)
  end
  return finish(len, all, decode_native(s, offset + 1, all and -1 or limit))
end

local cmsgpack = {}
cmsgpack.pack = function(...)
  if select('#', ...) == 0 then error("MessagePack pack needs input.", 2) end
  return encode_native(...)
end
cmsgpack.unpack = function(s) return unpack_full(s, 0, 0, true) end
cmsgpack.unpack_one = function(s, offset) return unpack_full(s, 1, offset or 0, false) end
cmsgpack.unpack_limit = function(s, limit, offset) return unpack_full(s, limit or 0, offset or 0, false) end
return cmsgpack
`;
