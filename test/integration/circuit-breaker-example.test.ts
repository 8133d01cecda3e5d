import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startTarget } from '../helpers/target.js';
import type { TestServer } from '../helpers/server.js';
import { BreakerOpenError, createBreaker } from '../../examples/circuit-breaker/breaker.mjs';
import { buildApp, startQuoteService } from '../../examples/circuit-breaker/app.mjs';

describe('examples/circuit-breaker: one breaker shared by many processes', () => {
  let srv: TestServer;
  const conns: Redis[] = [];
  const conn = (): Redis => {
    const c = new Redis({ port: srv.port, host: '127.0.0.1' });
    conns.push(c);
    return c;
  };
  // An injected clock: the open timeout passes when the test says so, not after a sleep.
  let clock = 1_000_000;
  const now = (): number => clock;
  const fail = async (): Promise<never> => {
    throw new Error('boom');
  };
  const ok = async (): Promise<string> => 'ok';

  beforeAll(async () => {
    srv = await startTarget(['--shards', '2']);
  });
  afterAll(async () => {
    for (const c of conns) c.disconnect();
    await srv.stop();
  });

  it('opens for every process after consecutive failures, half-opens after the timeout, closes on a good trial', async () => {
    const opts = { name: 'svc1', consecutiveFailures: 3, openMs: 1000, now };
    const a = createBreaker({ redis: conn(), ...opts });
    const b = createBreaker({ redis: conn(), ...opts });
    const events: { from: string; to: string }[] = [];
    const sub = conn();
    sub.on('message', (_c: string, m: string) => events.push(JSON.parse(m)));
    await sub.subscribe('breaker:events');

    for (let i = 0; i < 3; i++) await expect(a.call(fail)).rejects.toThrow('boom');
    expect((await b.status()).state).toBe('open');
    let reached = 0;
    await expect(
      b.call(async () => {
        reached++;
        return 'x';
      }),
    ).rejects.toBeInstanceOf(BreakerOpenError);
    expect(await b.call(ok, (err: Error) => `fallback: ${err.message}`)).toBe('fallback: circuit svc1 is open');
    expect(reached).toBe(0);

    clock += 1001;
    expect(await b.call(ok)).toBe('ok');
    expect((await a.status()).state).toBe('closed');
    for (let i = 0; i < 50 && events.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    expect(events.map((e) => `${e.from}>${e.to}`)).toEqual(['closed>open', 'open>half_open', 'half_open>closed']);
  });

  it('reopens when the trial call fails, and lets only halfOpenMax trials through', async () => {
    const opts = { name: 'svc2', consecutiveFailures: 1, openMs: 1000, halfOpenMax: 1, now };
    const a = createBreaker({ redis: conn(), ...opts });
    const b = createBreaker({ redis: conn(), ...opts });
    await expect(a.call(fail)).rejects.toThrow('boom');
    clock += 1001;
    let release!: () => void;
    const slowTrial = a.call(() => new Promise<string>((r) => (release = () => r('trial done'))));
    // Wait until the trial holds the one slot, then a second caller is refused.
    for (let i = 0; i < 100 && (await b.status()).trials < 1; i++) await new Promise((r) => setTimeout(r, 5));
    await expect(b.call(ok)).rejects.toBeInstanceOf(BreakerOpenError);
    release();
    expect(await slowTrial).toBe('trial done');
    expect((await b.status()).state).toBe('closed');

    await expect(a.call(fail)).rejects.toThrow('boom');
    clock += 1001;
    await expect(b.call(fail)).rejects.toThrow('boom');
    const s = await a.status();
    expect(s.state).toBe('open');
    expect(s.reason).toBe('trial call failed: boom');
  });

  it('opens on the failure rate over the window even without a run of failures', async () => {
    const a = createBreaker({
      redis: conn(),
      name: 'svc3',
      consecutiveFailures: 100,
      failureRate: 0.5,
      minRequests: 10,
      windowSec: 10,
      now,
    });
    for (let i = 0; i < 10; i++) {
      if (i % 2 === 0) await a.call(ok);
      else await expect(a.call(fail)).rejects.toThrow();
    }
    const s = await a.status();
    expect(s.state).toBe('open');
    expect(s.reason).toBe('failure rate 50% over 10 calls');
  });

  it('serves the app: fallback 503 while open, admin open and close', async () => {
    const svc = await startQuoteService();
    const redis = conn();
    await redis.del('breaker:{quotes}');
    const { app } = buildApp({ redis, serviceUrl: svc.url, breakerOptions: { now } });
    try {
      expect((await app.inject({ url: '/quote' })).statusCode).toBe(200);
      svc.broken = true;
      for (let i = 0; i < 3; i++) expect((await app.inject({ url: '/quote' })).statusCode).toBe(503);
      const calls = svc.calls;
      const refused = await app.inject({ url: '/quote' });
      expect(refused.statusCode).toBe(503);
      expect(refused.json().reason).toBe('circuit quotes is open');
      expect(svc.calls).toBe(calls);
      svc.broken = false;
      expect((await app.inject({ method: 'POST', url: '/admin/breaker', payload: { state: 'closed' } })).json().state).toBe('closed');
      expect((await app.inject({ url: '/quote' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'POST', url: '/admin/breaker', payload: { state: 'open' } })).json().state).toBe('open');
      expect((await app.inject({ url: '/quote' })).statusCode).toBe(503);
      expect((await app.inject({ method: 'POST', url: '/admin/breaker', payload: { state: 'ajar' } })).statusCode).toBe(400);
    } finally {
      await app.close();
      await svc.close();
    }
  });
});
