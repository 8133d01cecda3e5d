/**
 * Command-by-command comparison with Redis 7.0.15: each scenario in compat-scenarios.mjs was
 * run on a real redis-server (test/tools/compat-gen.mjs) and its replies recorded in
 * compat-expected.json. Here every scenario runs on Sabre with 1 and 3 shards and each
 * reply, error text included, must be the same.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';
import scenarios from './compat-scenarios.mjs';

type Cmd = string[] | { c: string[]; sort?: boolean };
const SCENARIOS = scenarios as Record<string, Cmd[]>;
const EXPECTED = JSON.parse(readFileSync(new URL('./compat-expected.json', import.meta.url), 'utf8')) as Record<string, unknown[]>;

describe.each([1, 3])('Redis 7.0 replies with %i shard(s)', (shards) => {
  let srv: TestServer;
  let r: Redis;
  beforeAll(async () => {
    srv = await startServer(['--shards', String(shards)]);
    r = new Redis({ port: srv.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
    await r.connect();
  });
  afterAll(async () => {
    r.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  for (const [name, cmds] of Object.entries(SCENARIOS)) {
    it(name, async () => {
      await r.call('FLUSHALL');
      await r.call('SELECT', '0');
      const lines: string[] = [];
      const want: string[] = [];
      for (const [i, c] of cmds.entries()) {
        const args = Array.isArray(c) ? c : c.c;
        let v: unknown;
        try {
          v = await r.call(args[0]!, ...args.slice(1));
          if (!Array.isArray(c) && c.sort && Array.isArray(v)) v = [...(v as string[])].sort();
        } catch (e) {
          v = { err: (e as Error).message };
        }
        lines.push(`${JSON.stringify(args)} -> ${JSON.stringify(v)}`);
        want.push(`${JSON.stringify(args)} -> ${JSON.stringify(EXPECTED[name]![i])}`);
      }
      // One assertion per scenario, so a failure shows every differing command in the diff.
      expect(lines).toEqual(want);
    });
  }
});
