/**
 * The Lua side of the scripting sandbox, run once per VM: Lua 5.1 names scripts still use, the
 * `bit` library, Redis's error handler, and Redis 7.0's protections (globals and library tables
 * are read-only; reading an undeclared global is an error). The JS side passes in the native
 * pieces (redis.*, cjson) as `natives` and gets back what it keeps references to.
 */
import { STRUCT_LUA } from './lua-struct.js';

export const PRELUDE = `
local natives = ...
local dbg = debug
local rawset_, setmetatable_, getmetatable_, error_, type_, tostring_ = rawset, setmetatable, getmetatable, error, type, tostring
local next_, floor, fmt = next, math.floor, string.format

-- Lua 5.1 names.
unpack = table.unpack
local load_ = load
-- Text chunks only: Redis refuses precompiled bytecode.
load = function(chunk, name) return load_(chunk, name, 't') end
loadstring = load
table.getn = function(t) return #t end
table.maxn = function(t) local n = 0 for k in pairs(t) do if type_(k) == 'number' and k > n then n = k end end return n end
math.mod = math.fmod
math.pow = function(a, b) return a ^ b end
math.log10 = function(x) return math.log(x, 10) end
math.ldexp = function(m, e) return m * 2.0 ^ e end
math.frexp = function(x)
  if x == 0 then return 0.0, 0 end
  local e = floor(math.log(math.abs(x), 2)) + 1
  local m = x / 2.0 ^ e
  if math.abs(m) >= 1 then m = m / 2 e = e + 1 end
  return m, e
end
string.gfind = string.gmatch

-- What Redis 7.0 does not load or removes.
loadfile, dofile, print, require, package, io, os, utf8, warn = nil, nil, nil, nil, nil, nil, nil, nil, nil

-- LuaBitOp: 32-bit signed results.
local function tobit(x)
  x = floor(x + 0.5) % 4294967296
  if x >= 2147483648 then x = x - 4294967296 end
  return math.tointeger(x) or x
end
local function u32(x) return math.tointeger(floor(x + 0.5) % 4294967296) end
local bit = {}
bit.tobit = function(x) return tobit(x) end
bit.bnot = function(x) return tobit(~u32(x) & 0xffffffff) end
bit.band = function(x, ...) local r = u32(x) for _, v in ipairs({...}) do r = r & u32(v) end return tobit(r) end
bit.bor = function(x, ...) local r = u32(x) for _, v in ipairs({...}) do r = r | u32(v) end return tobit(r) end
bit.bxor = function(x, ...) local r = u32(x) for _, v in ipairs({...}) do r = r ~ u32(v) end return tobit(r) end
bit.lshift = function(x, n) return tobit((u32(x) << (u32(n) & 31)) & 0xffffffff) end
bit.rshift = function(x, n) return tobit(u32(x) >> (u32(n) & 31)) end
bit.arshift = function(x, n)
  local v, k = u32(x), u32(n) & 31
  local r = v >> k
  if v >= 2147483648 and k > 0 then r = r | ((0xffffffff << (32 - k)) & 0xffffffff) end
  return tobit(r)
end
bit.rol = function(x, n) x = u32(x) n = u32(n) & 31 return tobit(((x << n) | (x >> (32 - n))) & 0xffffffff) end
bit.ror = function(x, n) x = u32(x) n = u32(n) & 31 return tobit(((x >> n) | (x << (32 - n))) & 0xffffffff) end
bit.bswap = function(x) x = u32(x) return tobit(((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >> 8) & 0xff00) | (x >> 24)) end
bit.tohex = function(x, n)
  n = n or 8
  local up = false
  if n < 0 then
    if n == -2147483648 then n = 2147483647 else n = -n end
    up = true
  end
  if n > 8 then n = 8 end
  local s = fmt(up and '%08X' or '%08x', u32(x))
  return s:sub(9 - n)
end
_G.bit = bit

cjson = natives.cjson
cmsgpack = natives.cmsgpack
-- The first frame from level (counted as its caller counts) that is the script's: the raising C
-- function (error, redis.call) and this prelude's own functions are not where an error is.
local function script_frame(level)
  level = level + 1
  local i = dbg.getinfo(level, 'nSl')
  while i and (i.what == 'C' or i.source == '=prelude') do
    level = level + 1
    i = dbg.getinfo(level, 'nSl')
  end
  return i
end

struct = (function()
${STRUCT_LUA}
end)()
redis = natives.redis

-- Redis's error handler: runtime errors become {err=..., source=..., line=...}.
local function error_handler(err)
  local i = script_frame(2)
  if type_(err) ~= 'table' then
    -- Lua 5.1's wording for errors on named values ("attempt to call field 'x' (a nil value)").
    err = string.gsub(tostring_(err), "attempt to (%a+) a (%a+) value %((%a+) '([^']*)'%)", "attempt to %1 %3 '%4' (a %2 value)")
    err = {err = 'ERR ' .. err}
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end

-- Read-only tables (Redis 7.0's lua_enablereadonlytable), as proxies over the real tables.
local readonly = setmetatable_({}, {__mode = 'k'})
local function deny() error_('Attempt to modify a readonly table', 2) end
local frozen_mt = setmetatable_({}, {__newindex = deny, __metatable = false})
readonly[frozen_mt] = true
local function protect(t)
  local p = {}
  setmetatable_(p, {
    __index = t,
    __newindex = deny,
    __pairs = function() return next_, t, nil end,
    __len = function() return #t end,
    __metatable = frozen_mt,
  })
  readonly[p] = true
  return p
end
setmetatable = function(t, mt)
  if readonly[t] then deny() end
  return setmetatable_(t, mt)
end
rawset = function(t, k, v)
  if readonly[t] then deny() end
  return rawset_(t, k, v)
end

local G = _G
for _, name in ipairs({'string', 'table', 'math', 'bit', 'cjson', 'cmsgpack', 'struct', 'redis', 'coroutine', 'debug'}) do
  if type_(G[name]) == 'table' then G[name] = protect(G[name]) end
end

-- Reading an undeclared global is an error (from Lua code; C callers get nil).
local missing = {__index = function(_, n)
  if dbg.getinfo(2) and dbg.getinfo(2, 'S').what ~= 'C' then
    error_("Script attempted to access nonexistent global variable '" .. tostring_(n) .. "'", 2)
  end
  return nil
end}
setmetatable_(G, missing)

-- What FUNCTION LOAD's code sees: redis.register_function, redis.log and constants only.
local api = natives.redis
local load_redis = {register_function = natives.register_function, log = api.log, REDIS_VERSION = api.REDIS_VERSION,
  REDIS_VERSION_NUM = api.REDIS_VERSION_NUM, LOG_DEBUG = api.LOG_DEBUG, LOG_VERBOSE = api.LOG_VERBOSE,
  LOG_NOTICE = api.LOG_NOTICE, LOG_WARNING = api.LOG_WARNING}
setmetatable_(load_redis, missing)
local load_G = setmetatable_({redis = protect(load_redis)}, missing)

-- The globals scripts see: an empty read-only proxy whose reads go to G, or to load_G while a library loads.
local env = {}
local env_mt = {__index = G, __newindex = deny, __pairs = function() return next_, G, nil end, __metatable = frozen_mt}
setmetatable_(env, env_mt)
readonly[env] = true
G._G = env
local function set_loading(on)
  env_mt.__index = on and load_G or G
end

return error_handler, env, G, set_loading
`;
