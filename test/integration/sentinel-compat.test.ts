/**
 * Real redis-sentinel 7.0 monitoring a Sabre master (skipped where redis-sentinel is not installed):
 * it reads Sabre's INFO (run_id, role), the Sentinels find each other through Sabre's pub/sub on
 * __sentinel__:hello, agree on a quorum, and a master stuck in a script past
 * down-after-milliseconds (-BUSY to PING) gets Sentinel's SCRIPT KILL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { TestServer } from '../helpers/server.js';
import {
  freePort,
  hasSentinel,
  sabreWithConfig,
  sentinelClient,
  sentinelMaster,
  startSentinel,
  waitFor,
  type TestSentinel,
} from '../helpers/sentinel.js';

if (!hasSentinel) console.warn('sentinel-compat: skipped: redis-sentinel is not installed (Debian: apt-get install redis-sentinel)');

describe.skipIf(!hasSentinel)('redis-sentinel monitoring a Sabre master', () => {
  let dir: string;
  let master: TestServer;
  let c: Redis;
  const sentinels: TestSentinel[] = [];
  const clients: Redis[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-sentinel-compat-'));
    const port = await freePort();
    master = await sabreWithConfig(join(dir, 'master'), port, ['shards 2', 'busy-reply-threshold 100']);
    c = new Redis({ port, host: '127.0.0.1' });
    for (let i = 0; i < 2; i++) sentinels.push(await startSentinel(join(dir, `s${i}`), port, { quorum: 2 }));
    for (const s of sentinels) clients.push(sentinelClient(s));
  }, 60_000);
  afterAll(async () => {
    for (const s of clients) s.disconnect();
    for (const s of sentinels) await s.stop();
    c?.disconnect();
    await master?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the master from INFO and the Sentinels discover each other over __sentinel__:hello', async () => {
    const runId = /run_id:(\w+)/.exec(await c.info('server'))![1]!;
    for (const s of clients) {
      const m = await waitFor(
        'each Sentinel to see the other and the run id',
        async () => {
          const m = await sentinelMaster(s);
          return m.runid === runId && m['num-other-sentinels'] === '1' ? m : undefined;
        },
        60_000,
      );
      expect(m.flags).toBe('master');
      expect(m['role-reported']).toBe('master');
      expect(await s.call('SENTINEL', 'CKQUORUM', 'mymaster')).toMatch(/^OK 2 usable Sentinels/);
    }
    const names = ((await c.call('CLIENT', 'LIST')) as string).match(/name=sentinel-\w+-(cmd|pubsub)/g) ?? [];
    expect(names.length).toBe(4);
    expect(await c.call('PUBSUB', 'NUMSUB', '__sentinel__:hello')).toEqual(['__sentinel__:hello', 2]);
  }, 90_000);

  it('a failover without replicas is refused by Sentinel, the master stays', async () => {
    await expect(clients[0]!.call('SENTINEL', 'FAILOVER', 'mymaster')).rejects.toThrow(/NOGOODSLAVE/);
    expect(await c.call('ROLE')).toEqual(['master', 0, []]);
  });

  it('Sentinel sends SCRIPT KILL to a master answering -BUSY past down-after-milliseconds', async () => {
    const busy = new Redis({ port: master.port, host: '127.0.0.1' });
    try {
      // No SCRIPT KILL from this test: only Sentinel can end this script.
      const run = busy.eval('while true do end', 0);
      await expect(run).rejects.toThrow(/Script killed by user with SCRIPT KILL/);
    } finally {
      busy.disconnect();
    }
    expect(await c.ping()).toBe('PONG');
  }, 90_000);
});

describe.skipIf(!hasSentinel)('redis-sentinel with a password on the Sabre master', () => {
  let dir: string;
  let master: TestServer;
  let sentinel: TestSentinel;
  let s: Redis;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-sentinel-auth-'));
    const port = await freePort();
    master = await sabreWithConfig(join(dir, 'master'), port, ['shards 1', 'requirepass s3cret']);
    sentinel = await startSentinel(join(dir, 's0'), port, { quorum: 1, extra: ['sentinel auth-pass mymaster s3cret'] });
    s = sentinelClient(sentinel);
  }, 60_000);
  afterAll(async () => {
    s?.disconnect();
    await sentinel?.stop();
    await master?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('authenticates with auth-pass (AUTH before CLIENT SETNAME and SUBSCRIBE) and monitors the master', async () => {
    const c = new Redis({ port: master.port, host: '127.0.0.1', password: 's3cret' });
    try {
      const runId = /run_id:(\w+)/.exec(await c.info('server'))![1]!;
      await waitFor('Sentinel to read the master through AUTH', async () => (await sentinelMaster(s)).runid === runId, 60_000);
      expect((await sentinelMaster(s)).flags).toBe('master');
      await waitFor('Sentinel subscribed to its hello channel', async () => {
        const [, n] = (await c.call('PUBSUB', 'NUMSUB', '__sentinel__:hello')) as [string, number];
        return n === 1;
      });
    } finally {
      c.disconnect();
    }
  }, 90_000);
});
