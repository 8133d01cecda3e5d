/**
 * The `cmsgpack` library Redis loads into Lua (lua-cmsgpack 0.4 as Redis ships it), written in Lua
 * over string.pack/unpack: pack (many values), unpack, unpack_one, unpack_limit, with its rules —
 * integer-valued numbers as the smallest integer type, other numbers as float32 when exact else
 * float64, tables as arrays when their keys are exactly 1..n, nesting cut at 16 levels (nil).
 */
export const CMSGPACK = `
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

local EOF, BADFMT = {}, {}
local decode

local function need(s, pos, n)
  if pos + n - 1 > #s then error(EOF) end
end

local function decode_array(s, pos, n)
  local t = {}
  for i = 1, n do t[i], pos = decode(s, pos) end
  return t, pos
end

local function decode_map(s, pos, n)
  local t = {}
  for _ = 1, n do
    local k, v
    k, pos = decode(s, pos)
    v, pos = decode(s, pos)
    if k ~= nil then t[k] = v end
  end
  return t, pos
end

local function sized(s, pos, fmt, n)
  need(s, pos, n)
  return sunpack(fmt, s, pos)
end

decode = function(s, pos)
  need(s, pos, 1)
  local b = byte(s, pos)
  pos = pos + 1
  if b < 0x80 then return b, pos
  elseif b < 0x90 then return decode_map(s, pos, b - 0x80)
  elseif b < 0xa0 then return decode_array(s, pos, b - 0x90)
  elseif b < 0xc0 then local n = b - 0xa0 need(s, pos, n) return s:sub(pos, pos + n - 1), pos + n
  elseif b == 0xc0 then return nil, pos
  elseif b == 0xc2 then return false, pos
  elseif b == 0xc3 then return true, pos
  elseif b == 0xca then return sized(s, pos, '>f', 4)
  elseif b == 0xcb then return sized(s, pos, '>d', 8)
  elseif b == 0xcc then return sized(s, pos, '>I1', 1)
  elseif b == 0xcd then return sized(s, pos, '>I2', 2)
  elseif b == 0xce then return sized(s, pos, '>I4', 4)
  elseif b == 0xcf then return sized(s, pos, '>i8', 8)
  elseif b == 0xd0 then return sized(s, pos, '>i1', 1)
  elseif b == 0xd1 then return sized(s, pos, '>i2', 2)
  elseif b == 0xd2 then return sized(s, pos, '>i4', 4)
  elseif b == 0xd3 then return sized(s, pos, '>i8', 8)
  elseif b == 0xd9 or b == 0xda or b == 0xdb or b == 0xc4 or b == 0xc5 or b == 0xc6 then
    local w = (b == 0xd9 or b == 0xc4) and 1 or (b == 0xda or b == 0xc5) and 2 or 4
    local n
    n, pos = sized(s, pos, '>I' .. w, w)
    need(s, pos, n)
    return s:sub(pos, pos + n - 1), pos + n
  elseif b == 0xdc then local n n, pos = sized(s, pos, '>I2', 2) return decode_array(s, pos, n)
  elseif b == 0xdd then local n n, pos = sized(s, pos, '>I4', 4) return decode_array(s, pos, n)
  elseif b == 0xde then local n n, pos = sized(s, pos, '>I2', 2) return decode_map(s, pos, n)
  elseif b == 0xdf then local n n, pos = sized(s, pos, '>I4', 4) return decode_map(s, pos, n)
  elseif b >= 0xe0 then return b - 256, pos
  end
  error(BADFMT)
end

local function unpack_full(s, limit, offset, all)
  if type(s) ~= 'string' then error("bad argument #1 to 'unpack' (string expected)", 3) end
  local len = #s
  if offset < 0 or limit < 0 then
    error(string.format('Invalid request to unpack with offset of %d and limit of %d.', offset, len), 3)
  elseif offset > len then
    error(string.format('Start offset %d greater than input length %d.', offset, len), 3)
  end
  local out, n, pos = {}, 0, offset + 1
  while pos <= len and (all or n < limit) do
    local ok, v, nextpos = pcall(decode, s, pos)
    if not ok then
      if v == EOF then error('Missing bytes in input.', 3) end
      if v == BADFMT then error('Bad data format in input.', 3) end
      error(v, 0)
    end
    n = n + 1
    out[n] = v
    pos = nextpos
  end
  if all then return table.unpack(out, 1, n) end
  return (pos > len) and -1 or (pos - 1), table.unpack(out, 1, n)
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
