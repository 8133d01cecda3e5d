/**
 * The `struct` library Redis loads into its Lua (Roberto Ierusalimschy's struct 0.2): struct.pack,
 * struct.unpack and struct.size, written in Lua over Lua 5.4's string.pack/unpack. Where the two
 * differ, struct's rules win: integers are truncated toward zero and wrap to their size instead of
 * raising "integer overflow", `c0` packs the whole string and unpacks the length read just before,
 * `s` is a zero-terminated string, `i`/`I` take sizes up to 32, and results are numbers as in 5.1.
 * It runs as a function body inside the prelude, whose `script_frame` names the script's line in
 * its errors.
 */
export const STRUCT_LUA = `
local spack, sunpack, rep, sub, find = string.pack, string.unpack, string.rep, string.sub, string.find
local floor, ceil, fmod, tointeger, huge = math.floor, math.ceil, math.fmod, math.tointeger, math.huge
local type_, tonumber_, tostring_, error_, select_ = type, tonumber, tostring, error, select
local concat, tunpack = table.concat, table.unpack
local MAXINTSIZE, MAXALIGN = 32, 8
local SIZES = {b = 1, B = 1, h = 2, H = 2, l = 8, L = 8, T = 8, f = 4, d = 8, x = 1}

-- Errors carry the script's position, as luaL_error's do in Redis (the prelude's own frames are skipped).
local function fail(msg)
  local info = script_frame(2)
  if info then msg = info.short_src .. ':' .. info.currentline .. ': ' .. msg end
  error_(msg, 0)
end
local function argerror(n, fname, msg) fail("bad argument #" .. n .. " to '" .. fname .. "' (" .. msg .. ")") end

-- One option of the format at position i: its letter, size (0 for s and c0), and the next position.
local function option(fmt, i, fname)
  local opt = sub(fmt, i, i)
  local digits = fmt:match('^%d+', i + 1)
  local after = i + 1 + (digits and #digits or 0)
  local n = digits and tonumber_(digits) or nil
  if n and n > 2147483647 then fail('integral size overflow') end
  if opt == 'i' or opt == 'I' then
    n = n or 4
    if n > MAXINTSIZE then fail('integral size ' .. n .. ' is larger than limit of ' .. MAXINTSIZE) end
    return opt, n, after
  elseif opt == 'c' then
    return opt, n or 1, after
  elseif opt == '!' then
    n = n or MAXALIGN
    if n & (n - 1) ~= 0 then fail('alignment ' .. n .. ' is not a power of 2') end
    return opt, n, after
  elseif opt == 's' or opt == ' ' or opt == '<' or opt == '>' then
    return opt, 0, i + 1
  elseif SIZES[opt] then
    return opt, SIZES[opt], i + 1
  end
  argerror(1, fname, "invalid format option '" .. opt .. "'")
end

local function padding(len, align, opt, size)
  if size == 0 or opt == 'c' then return 0 end
  if size > align then size = align end
  return (size - (len & (size - 1))) & (size - 1)
end

-- C's (long)n: toward zero, wrapped to 64 bits (out-of-range values are undefined in C; they wrap here).
local function cinteger(n)
  if n ~= n or n == huge or n == -huge then return 0 end
  n = n >= 0 and floor(n) or ceil(n)
  local i = tointeger(n)
  if i then return i end
  n = fmod(n, 18446744073709551616.0)
  if n >= 9223372036854775808.0 then n = n - 18446744073709551616.0 elseif n < -9223372036854775808.0 then n = n + 18446744073709551616.0 end
  return tointeger(n) or 0
end

local function putinteger(e, v, size)
  if size < 8 then return spack(e .. 'I' .. size, v & ((1 << (size * 8)) - 1)) end
  local low = spack(e .. 'i8', v)
  if size == 8 then return low end
  local zeros = rep('\\0', size - 8)
  return e == '<' and low .. zeros or zeros .. low
end

local function getinteger(e, data, pos, size, signed)
  if size > 8 then
    pos = e == '<' and pos or pos + size - 8
    size = 8
  end
  -- Numbers, as struct's lua_Number results: above 2^53 they round as doubles do.
  if size == 8 then
    local v = sunpack(e .. 'i8', data, pos) + 0.0
    if not signed and v < 0 then return v + 18446744073709551616.0 end
    return v
  end
  local v = sunpack(e .. 'I' .. size, data, pos)
  if signed and v >= (1 << (size * 8 - 1)) then v = v - (1 << (size * 8)) end
  return v + 0.0
end

local function checknumber(v, n, fname)
  local x = tonumber_(v)
  if x == nil then argerror(n, fname, 'number expected, got ' .. type_(v)) end
  return x
end

local function checkstring(v, n, fname)
  local t = type_(v)
  if t == 'number' then return tostring_(v) end
  if t ~= 'string' then argerror(n, fname, 'string expected, got ' .. t) end
  return v
end

local struct = {}

function struct.pack(fmt, ...)
  fmt = checkstring(fmt, 1, 'pack')
  local e, align, out, len, arg = '<', 1, {}, 0, 1
  local i = 1
  while i <= #fmt do
    local opt, size
    opt, size, i = option(fmt, i, 'pack')
    if opt == '<' or opt == '>' then e = opt
    elseif opt == '!' then
      align = size
    elseif opt ~= ' ' then
      local pad = padding(len, align, opt, size)
      if pad > 0 then out[#out + 1] = rep('\\0', pad) len = len + pad end
      local piece
      if opt == 'x' then piece = '\\0'
      elseif opt == 'f' or opt == 'd' then piece = spack(e .. opt, checknumber(select_(arg, ...), arg + 1, 'pack')) arg = arg + 1
      elseif opt == 'c' then
        local s = checkstring(select_(arg, ...), arg + 1, 'pack')
        if size == 0 then size = #s end
        -- struct.c names the argument after this one here.
        if #s < size then argerror(arg + 2, 'pack', 'string too short') end
        piece = sub(s, 1, size)
        arg = arg + 1
      elseif opt == 's' then piece = checkstring(select_(arg, ...), arg + 1, 'pack') .. '\\0' arg = arg + 1
      else piece = putinteger(e, cinteger(checknumber(select_(arg, ...), arg + 1, 'pack')), size) arg = arg + 1 end
      out[#out + 1] = piece
      len = len + #piece
    end
  end
  return concat(out)
end

function struct.unpack(fmt, data, init)
  fmt = checkstring(fmt, 1, 'unpack')
  data = checkstring(data, 2, 'unpack')
  local ld = #data
  local pos = init == nil and 0 or cinteger(checknumber(init, 3, 'unpack')) - 1
  if pos < 0 then argerror(3, 'unpack', 'offset must be 1 or greater') end
  local e, align, res = '<', 1, {}
  local i = 1
  while i <= #fmt do
    local opt, size
    opt, size, i = option(fmt, i, 'unpack')
    if opt == '<' or opt == '>' then e = opt
    elseif opt == '!' then
      align = size
    elseif opt ~= ' ' then
      pos = pos + padding(pos, align, opt, size)
      if opt == 'c' and size == 0 then
        local n = res[#res]
        if type_(n) ~= 'number' then fail("format 'c0' needs a previous size") end
        res[#res] = nil
        size = cinteger(n)
      end
      if opt ~= 's' and pos + size > ld then argerror(2, 'unpack', 'data string too short') end
      if opt == 'x' then
      elseif opt == 'f' or opt == 'd' then res[#res + 1] = sunpack(e .. opt, data, pos + 1)
      elseif opt == 'c' then res[#res + 1] = sub(data, pos + 1, pos + size)
      elseif opt == 's' then
        local z = find(data, '\\0', pos + 1, true)
        if z == nil then fail('unfinished string in data') end
        res[#res + 1] = sub(data, pos + 1, z - 1)
        size = z - pos
      else res[#res + 1] = getinteger(e, data, pos + 1, size, opt == 'b' or opt == 'h' or opt == 'l' or opt == 'i') end
      pos = pos + size
    end
  end
  res[#res + 1] = pos + 1
  return tunpack(res, 1, #res)
end

function struct.size(fmt)
  fmt = checkstring(fmt, 1, 'size')
  local align, len = 1, 0
  local i = 1
  while i <= #fmt do
    local opt, size
    opt, size, i = option(fmt, i, 'size')
    if opt == '!' then
      align = size
    elseif opt == 's' or (opt == 'c' and size == 0) then argerror(1, 'size', "option '" .. (opt == 's' and 's' or 'c0') .. "' has no fixed size")
    elseif opt ~= ' ' and opt ~= '<' and opt ~= '>' then
      len = len + padding(len, align, opt, size) + size
    end
  end
  return len
end

return struct
`;
