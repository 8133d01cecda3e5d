/**
 * The `struct` library scripts get, as Redis loads it: byte layouts, round trips, struct's own rules
 * (wrapping integers, c0, s, alignment) and its error texts; and, where redis-server is installed,
 * the same expressions evaluated by real Redis 7.0 give the same replies.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';
import { spawnRedisServer } from '../helpers/redis-server.js';

const hasRedis = spawnSync('redis-server', ['--version']).status === 0;

/** Expressions whose results (packed bytes, unpacked values and the next position) both servers must agree on. */
const EXPRESSIONS = [
  "struct.pack('>I2', 258)",
  "struct.unpack('>I2', struct.pack('>I2', 258))",
  "struct.unpack('<h', struct.pack('<h', -2))",
  "struct.size('!4bi')",
  "struct.unpack('i2c0', struct.pack('i2c0', 5, 'hello'))",
  "struct.unpack('s', 'abc\\0def')",
  "struct.pack('B', 300)",
  "struct.pack('h', 40000)",
  "struct.pack('b', -1.9)",
  "struct.pack('>i3', -1)",
  "struct.pack('<i12', -1)",
  "struct.unpack('>i12', string.rep('\\255', 12))",
  "struct.unpack('<I10', string.rep('\\1', 10))",
  "struct.pack('!8 b d b i', 1, 2.5, 3, 4)",
  "struct.unpack('!8 b d b i', struct.pack('!8 b d b i', 1, 2.5, 3, 4))",
  "struct.unpack('f', struct.pack('f', 0.1))",
  "struct.pack('xxbx', 7)",
  "struct.unpack('xxbx', 'abcd')",
  "struct.unpack('b', 'ab', 2)",
  "struct.pack('s', 12)",
  "struct.size('c0')",
  "struct.size('s')",
  "struct.size('!3')",
  "struct.pack('c3', 'ab')",
  "struct.unpack('c0', 'abc')",
  "struct.unpack('s', 'abc')",
  "struct.pack('i33', 1)",
  "struct.unpack('b', 'a', 5)",
  "struct.unpack('b', 'a', 0)",
  'struct.pack(nil)',
  "struct.pack('b', 'x')",
  "struct.pack('q', 1)",
  "struct.pack('i')",
];

/** EVAL of `{expr}` kept in a local (a tail call would hide the script's line), as a reply or an error text. */
async function evaluate(c: Redis, expr: string): Promise<unknown> {
  try {
    return await c.eval(`local r = {${expr}} return r`, 0);
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

describe('the struct library in scripts', () => {
  let srv: TestServer;
  let c: Redis;
  /** Real Redis, where installed. */
  let real: { port: number; proc: ChildProcess } | null = null;
  let r: Redis | null = null;
  beforeAll(async () => {
    srv = await startServer();
    c = new Redis({ port: srv.port, host: '127.0.0.1' });
    if (hasRedis) {
      real = await spawnRedisServer(['--save', '', '--appendonly', 'no']);
      r = new Redis({ port: real.port, host: '127.0.0.1' });
    }
  });
  afterAll(async () => {
    c.disconnect();
    r?.disconnect();
    real?.proc.kill();
    expect(await srv.stop()).toBe(0);
  });

  it('packs and unpacks with struct layouts, wrapping integers to their size as struct does', async () => {
    const bytes = async (expr: string): Promise<number[]> => [...((await c.evalBuffer(`return ${expr}`, 0)) as Buffer)];
    expect(await bytes("struct.pack('>I2', 258)")).toEqual([1, 2]);
    expect(await bytes("struct.pack('<i3', -2)")).toEqual([0xfe, 0xff, 0xff]);
    expect(await bytes("struct.pack('B', 300)")).toEqual([44]);
    expect(await bytes("struct.pack('!4 b i', 1, 2)")).toEqual([1, 0, 0, 0, 2, 0, 0, 0]);
    expect(await bytes("struct.pack('s', 'ab')")).toEqual([97, 98, 0]);
    expect(await evaluate(c, "struct.unpack('>h', struct.pack('>h', -300))")).toEqual([-300, 3]);
    expect(await evaluate(c, "struct.unpack('i2c0', struct.pack('i2c0', 5, 'hello'))")).toEqual(['hello', 8]);
    expect(await evaluate(c, "struct.unpack('s', 'abc\\0def')")).toEqual(['abc', 5]);
    expect(await evaluate(c, "struct.size('!8 b d')")).toEqual([16]);
  });

  it("answers struct's errors at the script's line", async () => {
    expect(await evaluate(c, "struct.pack('q', 1)")).toMatch(
      /^error: ERR user_script:1: bad argument #1 to 'pack' \(invalid format option 'q'\)/,
    );
    expect(await evaluate(c, "struct.unpack('>I2', 'a')")).toMatch(
      /^error: ERR user_script:1: bad argument #2 to 'unpack' \(data string too short\)/,
    );
    expect(await evaluate(c, "struct.size('s')")).toMatch(/option 's' has no fixed size/);
  });

  it.skipIf(!hasRedis).each(EXPRESSIONS)('%s gives what real Redis 7.0 gives (needs redis-server)', async (expr) => {
    // Error texts end with the script's SHA1, the same on both: the whole reply is compared.
    expect(await evaluate(c, expr)).toEqual(await evaluate(r!, expr));
  });
});

if (!hasRedis) console.warn('struct comparison with real Redis skipped: install redis-server 7.0 (apt-get install redis-server) to run it');
