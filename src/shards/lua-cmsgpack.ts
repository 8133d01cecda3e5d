/**
 * The `cmsgpack` library Redis loads into Lua (lua-cmsgpack 0.4 as Redis ships it): pack (many
 * values), unpack, unpack_one, unpack_limit, with its rules — integer-valued numbers as the
 * smallest integer type, other numbers as float32 when exact else float64, tables as arrays when
 * their keys are exactly 1..n, nesting cut at 16 levels (nil). Packing is Lua over string.pack;
 * decoding is JS reading the string's bytes in place (queue libraries unpack options in every
 * call, and the Lua decoder cost ~10 µs for a 150-byte map).
 */
import { type LuaVm, bigIndex } from './lua-vm.js';

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

export const CMSGPACK = `
local decode_native = ...
local spack, sunpack, char, byte, floor, mtype = string.pack, string.unpack, string.char, string.byte, math.floor, math.type
local MAX_NESTING = 16
local encode

local function is_array(t)
  local count, max = 0, 0
  for k in pairs(t) do
    if type(k) ~= 'number' or k <= 0 or floor(k) ~= k then return false end
    count = count + 1
    if k > max then max = k end
  end
  return max == count
end

local function encode_number(n)
  local i = math.tointeger(n)
  if i ~= nil and (mtype(n) == 'integer' or (n >= -9.2233720368547758e18 and n < 9.2233720368547758e18)) then
    if i >= 0 then
      if i < 128 then return char(i)
      elseif i < 256 then return char(0xcc, i)
      elseif i < 65536 then return spack('>BI2', 0xcd, i)
      elseif i < 4294967296 then return spack('>BI4', 0xce, i)
      else return spack('>Bi8', 0xcf, i) end
    else
      if i >= -32 then return char(0x100 + i)
      elseif i >= -128 then return spack('>Bi1', 0xd0, i)
      elseif i >= -32768 then return spack('>Bi2', 0xd1, i)
      elseif i >= -2147483648 then return spack('>Bi4', 0xd2, i)
      else return spack('>Bi8', 0xd3, i) end
    end
  end
  if sunpack('f', spack('f', n)) == n then return spack('>Bf', 0xca, n) end
  return spack('>Bd', 0xcb, n)
end

local function encode_string(s)
  local n = #s
  if n < 32 then return char(0xa0 + n) .. s
  elseif n < 256 then return char(0xd9, n) .. s
  elseif n < 65536 then return spack('>BI2', 0xda, n) .. s
  else return spack('>BI4', 0xdb, n) .. s end
end

local function encode_table(t, level)
  if level >= MAX_NESTING then return char(0xc0) end
  local parts = {}
  if is_array(t) then
    local n = #t
    if n < 16 then parts[1] = char(0x90 + n)
    elseif n < 65536 then parts[1] = spack('>BI2', 0xdc, n)
    else parts[1] = spack('>BI4', 0xdd, n) end
    for i = 1, n do parts[#parts + 1] = encode(t[i], level + 1) end
  else
    local n = 0
    for _ in pairs(t) do n = n + 1 end
    if n < 16 then parts[1] = char(0x80 + n)
    elseif n < 65536 then parts[1] = spack('>BI2', 0xde, n)
    else parts[1] = spack('>BI4', 0xdf, n) end
    for k, v in pairs(t) do
      parts[#parts + 1] = encode(k, level + 1)
      parts[#parts + 1] = encode(v, level + 1)
    end
  end
  return table.concat(parts)
end

encode = function(v, level)
  local t = type(v)
  if t == 'string' then return encode_string(v)
  elseif t == 'number' then return encode_number(v)
  elseif t == 'boolean' then return char(v and 0xc3 or 0xc2)
  elseif t == 'table' then return encode_table(v, level)
  else return char(0xc0) end
end

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
  local n = select('#', ...)
  if n == 0 then error("MessagePack pack needs input.", 2) end
  local parts = {}
  for i = 1, n do parts[i] = encode((select(i, ...)), 0) end
  return table.concat(parts)
end
cmsgpack.unpack = function(s) return unpack_full(s, 0, 0, true) end
cmsgpack.unpack_one = function(s, offset) return unpack_full(s, 1, offset or 0, false) end
cmsgpack.unpack_limit = function(s, limit, offset) return unpack_full(s, limit or 0, offset or 0, false) end
return cmsgpack
`;
