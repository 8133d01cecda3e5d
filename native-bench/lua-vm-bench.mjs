// Lua VM choice for EVAL: wasmoon (Lua 5.4 in wasm) vs fengari (Lua 5.3 in JS), each through its
// low-level C API as a shard would use it. Measures (1) one EVALSHA-like run of a cached script
// doing 2 redis.call (a JS callback touching a Map, binary-safe strings both ways) and (2) a
// CPU-bound Lua loop. Alternating rounds, medians. Run: node native-bench/lua-vm-bench.mjs
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);

const SCRIPT = "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])";
const LOOP = 'local s = 0 for i = 1, 1000000 do s = s + i % 7 end return s';
const ROUNDS = 5;
const N = 100_000;

function fengariVm() {
  const { lua, lauxlib, lualib, to_luastring } = require('fengari');
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  const db = new Map();
  const dec = new TextDecoder('latin1');
  const OK = to_luastring('OK');
  lua.lua_newtable(L);
  lua.lua_pushjsfunction(L, (L) => {
    const n = lua.lua_gettop(L);
    const cmd = lua.lua_tolstring(L, 1);
    const key = dec.decode(lua.lua_tolstring(L, 2));
    if (cmd[0] === 115) {
      db.set(key, lua.lua_tolstring(L, 3).slice());
      lua.lua_pushstring(L, OK);
    } else lua.lua_pushstring(L, db.get(key) ?? null);
    return n > 0 ? 1 : 0;
  });
  lua.lua_setfield(L, -2, to_luastring('call'));
  lua.lua_setglobal(L, to_luastring('redis'));
  const compile = (src) => {
    if (lauxlib.luaL_loadstring(L, to_luastring(src)) !== 0) throw new Error('compile');
    return lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
  };
  const fn = compile(SCRIPT);
  const loop = compile(LOOP);
  const key = to_luastring('key:1');
  const val = to_luastring('value');
  const KEYS = to_luastring('KEYS');
  const ARGV = to_luastring('ARGV');
  const src1 = to_luastring('return 1');
  return {
    name: 'fengari',
    evalsha() {
      lua.lua_createtable(L, 1, 0);
      lua.lua_pushstring(L, key);
      lua.lua_rawseti(L, -2, 1);
      lua.lua_setglobal(L, KEYS);
      lua.lua_createtable(L, 1, 0);
      lua.lua_pushstring(L, val);
      lua.lua_rawseti(L, -2, 1);
      lua.lua_setglobal(L, ARGV);
      lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, fn);
      if (lua.lua_pcall(L, 0, 1, 0) !== 0) throw new Error(String(lua.lua_tojsstring(L, -1)));
      const r = lua.lua_tolstring(L, -1);
      lua.lua_pop(L, 1);
      return r.length;
    },
    loop() {
      lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, loop);
      lua.lua_pcall(L, 0, 1, 0);
      const r = lua.lua_tonumber(L, -1);
      lua.lua_pop(L, 1);
      return r;
    },
    compileReturn1() {
      lauxlib.luaL_loadstring(L, src1);
      lua.lua_pop(L, 1);
    },
  };
}

async function wasmoonVm() {
  const { LuaFactory } = await import('wasmoon');
  const w = await new LuaFactory().getLuaModule();
  const m = w.module;
  const L = m._luaL_newstate();
  m._luaL_openlibs(L);
  const db = new Map();
  const dec = new TextDecoder('latin1');
  const lenPtr = m._malloc(8);
  const scratch = m._malloc(1024);
  const cstr = (s) => {
    const b = Buffer.from(`${s}\0`);
    const p = m._malloc(b.length);
    m.HEAPU8.set(b, p);
    return p;
  };
  const bytesAt = (L, i) => {
    const p = m._lua_tolstring(L, i, lenPtr);
    const n = m.HEAPU32[lenPtr >> 2];
    return m.HEAPU8.subarray(p, p + n);
  };
  const pushBytes = (L, b) => {
    m.HEAPU8.set(b, scratch);
    m._lua_pushlstring(L, scratch, b.length);
  };
  const OK = Buffer.from('OK');
  const call = m.addFunction((L) => {
    const cmd = bytesAt(L, 1);
    const key = dec.decode(bytesAt(L, 2));
    if (cmd[0] === 115) {
      db.set(key, bytesAt(L, 3).slice());
      pushBytes(L, OK);
    } else {
      const v = db.get(key);
      if (v === undefined) m._lua_pushnil(L);
      else pushBytes(L, v);
    }
    return 1;
  }, 'ii');
  const REGISTRY = -1001000;
  m._lua_createtable(L, 0, 1);
  m._lua_pushcclosure(L, call, 0);
  m._lua_setfield(L, -2, cstr('call'));
  m._lua_setglobal(L, cstr('redis'));
  const compile = (src) => {
    const b = Buffer.from(src);
    const p = m._malloc(b.length);
    m.HEAPU8.set(b, p);
    if (m._luaL_loadbufferx(L, p, b.length, cstr('=s'), 0) !== 0) throw new Error('compile');
    return m._luaL_ref(L, REGISTRY);
  };
  const fn = compile(SCRIPT);
  const loop = compile(LOOP);
  const KEYS = cstr('KEYS');
  const ARGV = cstr('ARGV');
  const key = Buffer.from('key:1');
  const val = Buffer.from('value');
  const ret1 = compile('return 1');
  void ret1;
  const src1 = Buffer.from('return 1');
  const p1 = m._malloc(16);
  m.HEAPU8.set(src1, p1);
  const name = cstr('=s');
  return {
    name: 'wasmoon',
    evalsha() {
      m._lua_createtable(L, 1, 0);
      pushBytes(L, key);
      m._lua_rawseti(L, -2, 1n);
      m._lua_setglobal(L, KEYS);
      m._lua_createtable(L, 1, 0);
      pushBytes(L, val);
      m._lua_rawseti(L, -2, 1n);
      m._lua_setglobal(L, ARGV);
      m._lua_rawgeti(L, REGISTRY, BigInt(fn));
      if (m._lua_pcallk(L, 0, 1, 0, 0, 0) !== 0) throw new Error('run');
      const r = bytesAt(L, -1);
      m._lua_settop(L, -2);
      return r.length;
    },
    loop() {
      m._lua_rawgeti(L, REGISTRY, BigInt(loop));
      m._lua_pcallk(L, 0, 1, 0, 0, 0);
      const r = m._lua_tonumberx(L, -1, 0);
      m._lua_settop(L, -2);
      return r;
    },
    compileReturn1() {
      m._luaL_loadbufferx(L, p1, src1.length, name, 0);
      m._lua_settop(L, -2);
    },
  };
}

const median = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
const vms = [fengariVm(), await wasmoonVm()];
const res = Object.fromEntries(vms.map((v) => [v.name, { evalsha: [], loop: [], compile: [] }]));
for (const v of vms) for (let i = 0; i < 20000; i++) v.evalsha();
for (let r = 0; r < ROUNDS; r++) {
  for (const v of vms) {
    let t = performance.now();
    for (let i = 0; i < N; i++) v.evalsha();
    res[v.name].evalsha.push(((performance.now() - t) * 1000) / N);
    t = performance.now();
    for (let i = 0; i < N; i++) v.compileReturn1();
    res[v.name].compile.push(((performance.now() - t) * 1000) / N);
    t = performance.now();
    v.loop();
    res[v.name].loop.push(performance.now() - t);
  }
}
console.log('| VM | EVALSHA-like, 2 redis.call (µs/run) | compile `return 1` (µs) | 1M-iteration loop (ms) |');
console.log('|---|---|---|---|');
for (const v of vms) {
  const x = res[v.name];
  console.log(`| ${v.name} | ${median(x.evalsha).toFixed(2)} | ${median(x.compile).toFixed(2)} | ${median(x.loop).toFixed(1)} |`);
}
