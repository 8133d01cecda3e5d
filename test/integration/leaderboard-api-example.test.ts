import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startTarget } from '../helpers/target.js';
import type { TestServer } from '../helpers/server.js';
import { buildApp } from '../../examples/leaderboard-api/app.mjs';
import { isoWeek } from '../../examples/leaderboard-api/boards.mjs';

describe('examples/leaderboard-api', () => {
  let srv: TestServer;
  let redis: Redis;
  let subscriber: Redis;
  // 2026-12-02 12:00 UTC, a Wednesday; tests move it.
  let clock = Date.UTC(2026, 11, 2, 12);
  let app: Awaited<ReturnType<typeof buildApp>>['app'];
  const add = (user: string, points: number) => app.inject({ method: 'POST', url: '/scores', payload: { user, points } });

  beforeAll(async () => {
    srv = await startTarget(['--shards', '2']);
    redis = new Redis({ port: srv.port, host: '127.0.0.1' });
    subscriber = new Redis({ port: srv.port, host: '127.0.0.1' });
    ({ app } = await buildApp({ redis, subscriber, game: 't', now: () => clock }));
  });
  afterAll(async () => {
    await app.close();
    redis.disconnect();
    subscriber.disconnect();
    await srv.stop();
  });

  it('names ISO weeks as the standard does', () => {
    expect(isoWeek(Date.UTC(2026, 11, 2))).toBe('2026-W49');
    expect(isoWeek(Date.UTC(2021, 0, 3))).toBe('2020-W53');
    expect(isoWeek(Date.UTC(2024, 11, 30))).toBe('2025-W01');
  });

  it('adds points to every board at once and gives the periodic boards an expiry', async () => {
    expect((await add('ann', 10)).json()).toEqual({ daily: 10, weekly: 10, alltime: 10 });
    expect((await add('ann', 5)).json()).toEqual({ daily: 15, weekly: 15, alltime: 15 });
    const daily = 'lb:t:daily:2026-12-02';
    const weekly = 'lb:t:weekly:2026-W49';
    // Daily boards go 7 days after their day ends, weekly ones 7 days after their week (Mon 2026-12-07) ends.
    expect(await redis.pexpiretime(daily)).toBe(Date.UTC(2026, 11, 3) + 7 * 86_400_000);
    expect(await redis.pexpiretime(weekly)).toBe(Date.UTC(2026, 11, 7) + 7 * 86_400_000);
    expect(await redis.pexpiretime('lb:t:alltime')).toBe(-1);
    clock += 86_400_000;
    expect((await add('ann', 1)).json()).toEqual({ daily: 1, weekly: 16, alltime: 16 });
    const me = (await app.inject({ url: '/users/ann' })).json();
    expect(me.standings.daily).toEqual({ rank: 1, score: 1 });
    expect(me.history.map((h: { points: number }) => h.points)).toEqual([1, 5, 10]);
    expect((await app.inject({ url: '/users/nobody' })).statusCode).toBe(404);
  });

  it('pages through a board with ties and concurrent changes without repeating or skipping anyone', async () => {
    await app.inject({ method: 'DELETE', url: '/boards/alltime' });
    const users = Array.from({ length: 37 }, (_, i) => `u${String(i).padStart(2, '0')}`);
    await Promise.all(users.map((u, i) => add(u, 10 * (i % 5)))); // five groups of tied scores
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = (await app.inject({ url: `/boards/alltime?limit=4${cursor ? `&cursor=${cursor}` : ''}` })).json();
      seen.push(...res.items.map((e: { user: string }) => e.user));
      // A user below the cursor position moves up past it: it must not show up twice.
      if (pages === 2) await add('u00', 1000);
      cursor = res.next;
      pages++;
    } while (cursor !== null);
    expect(seen.length).toBe(new Set(seen).size);
    // Everyone who did not move is served exactly once; u00 moved above the cursor and may be missed.
    expect(seen.filter((u) => u !== 'u00').sort()).toEqual(users.filter((u) => u !== 'u00'));
    const full = await redis.zrange('lb:t:alltime', 0, -1, 'REV');
    expect(seen).toEqual(full.filter((u) => seen.includes(u)));
    expect((await app.inject({ url: '/boards/alltime?cursor=nope' })).statusCode).toBe(400);
  });

  it('validates input and documents the API', async () => {
    expect((await add('bad name!', 1)).statusCode).toBe(400);
    expect((await app.inject({ method: 'POST', url: '/scores', payload: { user: 'x', points: 1.5 } })).statusCode).toBe(400);
    expect((await app.inject({ url: '/boards/monthly/top' })).statusCode).toBe(400);
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/scores', '/boards/{period}/top', '/boards/{period}', '/users/{user}', '/events']),
    );
  });

  it('streams score updates to server-sent-event clients', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const ctl = new AbortController();
    const res = await fetch(`${address}/events`, { signal: ctl.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    await add('zed', 42);
    while (!text.includes('event: score')) text += new TextDecoder().decode((await reader.read()).value);
    while (!text.endsWith('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
    const data = JSON.parse(/data: (.*)\n/.exec(text)![1]!);
    expect(data).toMatchObject({ user: 'zed', points: 42, scores: { alltime: 42 } });
    ctl.abort();
  });
});
