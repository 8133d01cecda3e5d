/**
 * The shard's scripting engine in process: EVAL through its handler on a real Store, checking
 * Redis's Lua↔RESP conversions, the Lua 5.1 behaviour scripts rely on, and the shebang parser.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/shards/store.js';
import { Ctx } from '../../src/shards/context.js';
import { RespWriter } from '../../src/wire/resp-writer.js';
import { buildHandlerTable } from '../../src/shards/command-set.js';
import { initScripting, setSliceHandler } from '../../src/shards/script-run.js';
import { loadLuaModule, patchHashSeed, patchTraceExec } from '../../src/shards/lua-vm.js';
import { readFileSync } from 'node:fs';
import { scriptCommands, splitArgs } from '../../src/shards/t_script.js';
import { lookupCommand } from '../../src/commands/table.js';
import { formatG } from '../../src/shards/lua-cjson.js';

let ctx: Ctx;

/** Runs EVAL script numkeys ...args with the client speaking `proto`; returns the raw reply. */
function evalRaw(script: string, keys: string[] = [], args: string[] = [], proto: 2 | 3 = 2): string {
  const parts = ['EVAL', script, String(keys.length), ...keys, ...args].map((s) => Buffer.from(s));
  ctx.reserve(parts.length);
  ctx.buf = Buffer.concat(parts);
  let off = 0;
  parts.forEach((p, i) => {
    ctx.as[i] = off;
    ctx.al[i] = p.length;
    off += p.length;
  });
  ctx.argc = parts.length;
  ctx.out.len = 0;
  ctx.out.proto = proto;
  scriptCommands.eval!(ctx);
  return Buffer.from(ctx.out.bytes.subarray(0, ctx.out.len)).toString('latin1');
}

beforeAll(async () => {
  const store = new Store(16);
  ctx = new Ctx(store, new RespWriter(1024), { maxBulkLen: 512 * 1024 * 1024 });
  const handlers = buildHandlerTable();
  await initScripting(
    store,
    ctx.limits,
    (c, cmd) => handlers[cmd]!(c),
    (id) => handlers[id] !== undefined && id >= 0,
  );
});

describe('Lua → RESP conversions', () => {
  it('converts scalars as Redis does', () => {
    expect(evalRaw("return 'hello'")).toBe('$5\r\nhello\r\n');
    expect(evalRaw('return 100.5')).toBe(':100\r\n');
    expect(evalRaw('return -3.9')).toBe(':-3\r\n');
    expect(evalRaw('return -0.5')).toBe(':0\r\n');
    // Redis's (long long) cast on x86-64: out of range, NaN and infinities give INT64_MIN.
    expect(evalRaw('return 1e20')).toBe(':-9223372036854775808\r\n');
    expect(evalRaw('return 1/0')).toBe(':-9223372036854775808\r\n');
    expect(evalRaw('return 0/0')).toBe(':-9223372036854775808\r\n');
    expect(evalRaw('return true')).toBe(':1\r\n');
    expect(evalRaw('return false')).toBe('$-1\r\n');
    expect(evalRaw('return nil')).toBe('$-1\r\n');
    expect(evalRaw("return {ok='fine'}")).toBe('+fine\r\n');
    expect(evalRaw("return {err='My Error'}")).toBe('-My Error\r\n');
    expect(evalRaw("return redis.error_reply('CODE detail')")).toBe('-CODE detail\r\n');
  });

  it('stops arrays at the first nil and ignores hash parts', () => {
    expect(evalRaw('return {1, 2, nil, 4}')).toBe('*2\r\n:1\r\n:2\r\n');
    expect(evalRaw("return {1, x = 'y'}")).toBe('*1\r\n:1\r\n');
  });

  it('keeps booleans in the script protocol, maps and doubles in the client one', () => {
    expect(evalRaw('return false', [], [], 3)).toBe('_\r\n');
    expect(evalRaw('redis.setresp(3) return false', [], [], 3)).toBe('#f\r\n');
    expect(evalRaw('return {double = 3.5}', [], [], 3)).toBe(',3.5\r\n');
    expect(evalRaw('return {map = {a = 1}}', [], [], 3)).toBe('%1\r\n$1\r\na\r\n:1\r\n');
    expect(evalRaw('return {map = {a = 1}}')).toBe('*2\r\n$1\r\na\r\n:1\r\n');
  });

  it('reports an error for tables nested past the C stack limit', () => {
    const r = evalRaw('local a = {} local b = {a} a[1] = b return a');
    expect(r.endsWith('-ERR reached lua stack limit\r\n')).toBe(true);
  });
});

describe('RESP → Lua conversions', () => {
  it('gives integers, strings, false for nil, and tables for status and errors', () => {
    // Redis pushes integer replies as Lua 5.1 numbers; they print as integers.
    expect(evalRaw("redis.call('SET', KEYS[1], '7') return 'n' .. redis.call('INCR', KEYS[1])", ['k'])).toBe('$2\r\nn8\r\n');
    expect(evalRaw("return type(redis.call('GET', 'nokey'))")).toBe('$7\r\nboolean\r\n');
    expect(evalRaw("return redis.call('SET', 'a', 'b').ok")).toBe('$2\r\nOK\r\n');
    expect(evalRaw("return redis.pcall('INCR', 'a').err")).toBe('$43\r\nERR value is not an integer or out of range\r\n');
  });

  it('passes numbers to commands as integers or %.17g', () => {
    expect(evalRaw("redis.call('SET', 'f', 0.1) return redis.call('GET', 'f')")).toBe('$19\r\n0.10000000000000001\r\n');
    expect(evalRaw("redis.call('SET', 'f', 10/2) return redis.call('GET', 'f')")).toBe('$1\r\n5\r\n');
  });
});

describe('Lua 5.1 behaviour', () => {
  it('prints integral floats without ".0"', () => {
    expect(evalRaw("return tostring(10/2) .. ' ' .. (3/2) .. ' ' .. 2^53")).toBe('$24\r\n5 1.5 9.007199254741e+15\r\n');
  });

  it('has the 5.1 names scripts use', () => {
    expect(evalRaw('return unpack({1, 2})')).toBe(':1\r\n');
    expect(evalRaw("return loadstring('return 7')()")).toBe(':7\r\n');
    expect(evalRaw('return table.getn({1, 2, 3}) + math.mod(7, 4)')).toBe(':6\r\n');
    expect(evalRaw('return bit.tohex(bit.bxor(0xff, 0x0f), 4) .. bit.lshift(1, 31)')).toBe('$15\r\n00f0-2147483648\r\n');
  });

  it('words errors on named values as 5.1 does', () => {
    expect(evalRaw('local t = {} t.x()')).toMatch(/attempt to call field 'x' \(a nil value\)/);
  });
});

describe('shebang and cjson helpers', () => {
  it('splits shebang words as sdssplitargs', () => {
    expect(splitArgs('#!lua name="foo" flags=no-writes')).toEqual(['#!lua', 'name=foo', 'flags=no-writes']);
    expect(splitArgs('#!lua name="foo')).toBeNull();
  });

  it('formats numbers as %.14g', () => {
    expect(formatG(100, 14)).toBe('100');
    expect(formatG(0.1 + 0.2, 14)).toBe('0.3');
    expect(formatG(1e15, 14)).toBe('1e+15');
    expect(lookupCommand(Buffer.from('eval'), 0, 4)).toBeGreaterThan(0);
  });
});

describe('cjson encoding and decoding', () => {
  it("writes lua-cjson's escapes, arrays, objects and numbers", () => {
    const script = String.raw`return cjson.encode({1, 2.5, 'a"b\\c/d\n\r\t\b\f\1\127\200', true, false, cjson.null})`;
    // Bytes 128-255 pass through unescaped (0xc8 here, Lua's decimal escape \200).
    const json = `${String.raw`[1,2.5,"a\"b\\c\/d\n\r\t\b\f\u0001\u007f`}\xc8",true,false,null]`;
    expect(evalRaw(script)).toBe(`$${json.length}\r\n${json}\r\n`);
    expect(evalRaw("return cjson.encode({a={b={1,{c='d'}}}})")).toBe('$25\r\n{"a":{"b":[1,{"c":"d"}]}}\r\n');
    expect(evalRaw('return cjson.encode({[1]=1, [3]=3})')).toBe('$10\r\n[1,null,3]\r\n');
    expect(evalRaw("return cjson.encode({[1.5]='x'})")).toBe('$11\r\n{"1.5":"x"}\r\n');
    expect(evalRaw('return cjson.encode({})')).toBe('$2\r\n{}\r\n');
    expect(evalRaw('return cjson.encode(12345678901234567)')).toBe('$19\r\n1.2345678901235e+16\r\n');
    expect(evalRaw("return #cjson.encode(string.rep('/', 300000))")).toBe(':600002\r\n');
  });

  it('refuses what lua-cjson refuses, and encodes again after a refusal', () => {
    expect(evalRaw('return cjson.encode({[1]=1, [30]=3})')).toMatch(/excessively sparse array/);
    expect(evalRaw('return cjson.encode(1/0)')).toMatch(/must not be NaN or Inf/);
    expect(evalRaw('local t = {} t[1] = t return cjson.encode(t)')).toMatch(/excessive nesting \(1001\)/);
    expect(evalRaw("return cjson.encode({x='y'})")).toBe('$9\r\n{"x":"y"}\r\n');
  });

  it('decodes UTF-8 text, keeping a byte-order mark', () => {
    expect(evalRaw(String.raw`return cjson.decode('["\\u00e9", "\239\187\191z"]')[1]`)).toBe('$2\r\n\xc3\xa9\r\n');
    expect(evalRaw(String.raw`return cjson.decode('["\\u00e9", "\239\187\191z"]')[2]`)).toBe('$4\r\n\xef\xbb\xbfz\r\n');
  });
});

describe('cmsgpack encoding', () => {
  /** The bytes cmsgpack.pack(args) returns, as hex. */
  const packHex = (args: string): string => {
    const r = evalRaw(
      `local p = cmsgpack.pack(${args}) local t = {} for i = 1, #p do t[i] = string.format('%02x', p:byte(i)) end return table.concat(t)`,
    );
    return r.split('\r\n')[1]!;
  };

  it('writes integers in the smallest type, as lua_cmsgpack does', () => {
    expect(packHex('0, 127, 128, 255, 256, 65535, 65536')).toBe('007fcc80ccffcd0100cdffffce00010000');
    expect(packHex('4294967295, 4294967296')).toBe('ceffffffffcf0000000100000000');
    expect(packHex('-1, -32, -33, -128, -129, -32768, -32769')).toBe('ffe0d0dfd080d1ff7fd18000d2ffff7fff');
    expect(packHex('-2147483648, -2147483649, 9223372036854775807')).toBe('d280000000d3ffffffff7fffffffcf7fffffffffffffff');
  });

  it('writes floats as float32 when exact, integral floats as integers', () => {
    expect(packHex('1.5, 0.1, 3.0, -0.0')).toBe('ca3fc00000cb3fb999999999999a0300');
    expect(packHex('1/0, 2^63')).toBe('ca7f800000ca5f000000');
  });

  it('writes strings, booleans, nil, arrays, maps and cuts nesting at 16', () => {
    expect(packHex("'', string.rep('x', 32), true, false, nil")).toBe(`a0d920${'78'.repeat(32)}c3c2c0`);
    expect(packHex('{}, {1, 2}, {a = 1}, {[2] = 1}')).toBe('9092010281a16101810201');
    expect(packHex("{{{{{{{{{{{{{{{{{{'deep'}}}}}}}}}}}}}}}}}}")).toBe(`${'91'.repeat(16)}c0`);
    expect(packHex('function() end')).toBe('c0');
  });

  it('packs what unpack reads back, and refuses no arguments', () => {
    expect(evalRaw("local t = cmsgpack.unpack(cmsgpack.pack({n = 5, s = 'x', a = {1, 2}})) return {t.n, t.s, t.a[2]}")).toBe(
      '*3\r\n:5\r\n$1\r\nx\r\n:2\r\n',
    );
    expect(evalRaw('return cmsgpack.pack()')).toMatch(/MessagePack pack needs input/);
  });
});

describe('cmsgpack decoding', () => {
  it('round-trips every type pack writes, nested tables included', () => {
    const all = "cmsgpack.pack(1, 'a', -5, 300, -300, 70000, -70000, 5000000000, -5000000000, 0.5, 0.1, true, false)";
    expect(evalRaw(`return cjson.encode({cmsgpack.unpack(${all})})`)).toBe(
      '$74\r\n[1,"a",-5,300,-300,70000,-70000,5000000000,-5000000000,0.5,0.1,true,false]\r\n',
    );
    // Map order is the table's iteration order (seeded per VM): read the fields back instead.
    expect(evalRaw("local t = cmsgpack.unpack(cmsgpack.pack({x={y={z='w'}}, [1]=2})) return {t.x.y.z, t[1]}")).toBe(
      '*2\r\n$1\r\nw\r\n:2\r\n',
    );
    expect(evalRaw("return #cmsgpack.unpack(cmsgpack.pack(string.rep('x', 70000)))")).toBe(':70000\r\n');
    expect(evalRaw("return cmsgpack.unpack('\\211\\128\\0\\0\\0\\0\\0\\0\\0')")).toBe(':-9223372036854775808\r\n');
    expect(evalRaw("return tostring(cmsgpack.unpack('\\202\\63\\192\\0\\0'))")).toBe('$3\r\n1.5\r\n');
  });

  it('returns the next offset from unpack_one and unpack_limit, -1 at the end', () => {
    expect(evalRaw("return {cmsgpack.unpack_one(cmsgpack.pack('abc', 'def'), 0)}")).toBe('*2\r\n:4\r\n$3\r\nabc\r\n');
    expect(evalRaw("return {cmsgpack.unpack_one(cmsgpack.pack('abc', 'def'), 4)}")).toBe('*2\r\n:-1\r\n$3\r\ndef\r\n');
    expect(evalRaw("return {cmsgpack.unpack_limit(cmsgpack.pack('abc', 'def', 'g'), 2, 0)}")).toBe(
      '*3\r\n:8\r\n$3\r\nabc\r\n$3\r\ndef\r\n',
    );
  });

  it('reports truncated and malformed input', () => {
    expect(evalRaw('return cmsgpack.unpack(string.sub(cmsgpack.pack({1,2,3}), 1, 2))')).toMatch(/^-ERR Missing bytes in input\./);
    expect(evalRaw("return cmsgpack.unpack('\\193')")).toMatch(/^-ERR Bad data format in input\./);
    expect(evalRaw("return {pcall(cmsgpack.unpack, '\\145')}")).toMatch(/Missing bytes in input\./);
  });
});

describe('table order', () => {
  it("hashes short strings as Lua 5.1 does, so a table's keys come in Redis's order", () => {
    const wasm = readFileSync(new URL('../../node_modules/wasmoon/dist/glue.wasm', import.meta.url));
    expect(patchHashSeed(new Uint8Array(wasm))).not.toBeNull();
    // Redis 7.0.15 returns this order for this script.
    const script =
      'local t = {x=1, y=2, z=3, alpha=4, beta=5} local s = {} for k in pairs(t) do s[#s+1] = k end return table.concat(s, ",")';
    expect(evalRaw(script)).toBe('$16\r\ny,x,z,alpha,beta\r\n');
  });
});

describe('the count hook', () => {
  it("finds luaG_traceexec once in wasmoon's module and patches only that", async () => {
    const m = await loadLuaModule();
    // False means a wasmoon upgrade moved the function: scripts still run, at the per-instruction hook's cost.
    expect(m.hookCountsTraps).toBe(true);
    const wasm = readFileSync(new URL('../../node_modules/wasmoon/dist/glue.wasm', import.meta.url));
    const patched = patchTraceExec(new Uint8Array(wasm));
    expect(patched).not.toBeNull();
    const changed = [...patched!.keys()].filter((i) => patched![i] !== wasm[i]);
    expect(changed).toHaveLength(1);
    expect(patchTraceExec(new Uint8Array(wasm.subarray(0, 4096)))).toBeNull();
  });

  it('still counts loops, tail calls and gotos, so long scripts reach the hook', () => {
    let slices = 0;
    setSliceHandler(
      () => {
        slices++;
        return false;
      },
      () => {},
    );
    for (const loop of [
      'local n = 0 for i = 1, 3e6 do n = n + 1 end return n',
      'local n = 0 while n < 3e6 do n = n + 1 end return n',
      'local n = 0 repeat n = n + 1 until n >= 3e6 return n',
      'local n = 0 ::top:: n = n + 1 if n < 3e6 then goto top end return n',
      'local function f(n) if n >= 3e6 then return n end return f(n + 1) end return f(0)',
    ]) {
      const before = slices;
      expect(evalRaw(loop)).toBe(':3000000\r\n');
      // One count per iteration at least (its backward jump or call): 3M iterations pass the hook 300 times.
      expect(slices - before).toBeGreaterThanOrEqual(300);
    }
  });
});
