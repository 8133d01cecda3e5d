import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { startTarget } from '../helpers/target.js';
import type { TestServer } from '../helpers/server.js';
import { buildApp, hashPassword } from '../../examples/sessions/app.mjs';

const SECRET = 'test secret, at least 32 bytes long!';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('examples/sessions: JWT sessions with sliding expiry and revocation', () => {
  let srv: TestServer;
  let redis: Redis;
  let subscriber: Redis;
  let app: Awaited<ReturnType<typeof buildApp>>['app'];

  const login = async (user: string, password: string, agent = 'test') =>
    app.inject({ method: 'POST', url: '/login', headers: { 'user-agent': agent }, payload: { user, password } });
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const me = async (token: string) => (await app.inject({ url: '/me', headers: as(token) })).statusCode;

  beforeAll(async () => {
    srv = await startTarget(['--shards', '2']);
    redis = new Redis({ port: srv.port, host: '127.0.0.1' });
    subscriber = new Redis({ port: srv.port, host: '127.0.0.1' });
    const users = { ann: hashPassword('pw-ann'), bob: hashPassword('pw-bob') };
    ({ app } = await buildApp({ redis, subscriber, users, secret: SECRET, idleSec: 60 }));
  });
  afterAll(async () => {
    await app.close();
    redis.disconnect();
    subscriber.disconnect();
    await srv.stop();
  });

  it('logs in with the right password only, and validates the body', async () => {
    const ok = await login('ann', 'pw-ann');
    expect(ok.statusCode).toBe(200);
    expect(await me(ok.json().token)).toBe(200);
    expect((await login('ann', 'wrong')).statusCode).toBe(401);
    expect((await login('nobody', 'pw-ann')).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/login', payload: { user: 'ann' } })).statusCode).toBe(400);
  });

  it('refuses missing, tampered, foreign and expired tokens with 401', async () => {
    const { token } = (await login('ann', 'pw-ann')).json();
    expect((await app.inject({ url: '/me' })).statusCode).toBe(401);
    expect(await me(`${token.slice(0, -2)}xx`)).toBe(401);
    const foreign = await new SignJWT({ sid: 'x' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ann')
      .sign(new TextEncoder().encode('another secret of 32 bytes ......'));
    expect(await me(foreign)).toBe(401);
    const past = Math.floor(Date.now() / 1000) - 10;
    const expired = await new SignJWT({ sid: 'x' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ann')
      .setIssuer('sabre-sessions')
      .setExpirationTime(past)
      .sign(new TextEncoder().encode(SECRET));
    const res = await app.inject({ url: '/me', headers: as(expired) });
    expect(res.statusCode).toBe(401);
    expect(res.json().error).toBe('token expired');
  });

  it('slides the session TTL on each use', async () => {
    const { token, sid } = (await login('bob', 'pw-bob')).json();
    await redis.expire(`sess:s:${sid}`, 5);
    expect(await redis.ttl(`sess:s:${sid}`)).toBeLessThanOrEqual(5);
    expect(await me(token)).toBe(200);
    expect(await redis.ttl(`sess:s:${sid}`)).toBeGreaterThan(50);
  });

  it('lists a user’s sessions and revokes one, or all of them', async () => {
    await redis.del('sess:u:ann');
    const a = (await login('ann', 'pw-ann', 'phone')).json();
    const b = (await login('ann', 'pw-ann', 'laptop')).json();
    const c = (await login('ann', 'pw-ann', 'tablet')).json();
    const listed = (await app.inject({ url: '/sessions', headers: as(a.token) })).json();
    expect(listed.map((s: { agent: string }) => s.agent).sort()).toEqual(['laptop', 'phone', 'tablet']);
    expect((await app.inject({ method: 'DELETE', url: `/sessions/${b.sid}`, headers: as(a.token) })).statusCode).toBe(204);
    expect(await me(b.token)).toBe(401);
    expect(await me(c.token)).toBe(200);
    // Another user's session cannot be revoked through mine.
    const bob = (await login('bob', 'pw-bob')).json();
    expect((await app.inject({ method: 'DELETE', url: `/sessions/${bob.sid}`, headers: as(a.token) })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/logout-all', headers: as(c.token) })).json()).toEqual({ ended: 2 });
    expect(await me(a.token)).toBe(401);
    expect(await me(c.token)).toBe(401);
    expect(await me(bob.token)).toBe(200);
  });

  it('records sessions that expire on the server in the audit log (keyspace notifications) and counts active ones', async () => {
    const before = Number((await app.inject({ url: '/metrics' })).body.match(/sessions_active (\d+)/)![1]);
    const { token, sid } = (await login('bob', 'pw-bob')).json();
    expect(Number((await app.inject({ url: '/metrics' })).body.match(/sessions_active (\d+)/)![1])).toBe(before + 1);
    await redis.pexpire(`sess:s:${sid}`, 1);
    let seen = false;
    for (let i = 0; i < 100 && !seen; i++) {
      await sleep(20);
      const log = (await redis.lrange('sess:audit', 0, 20)).map((s) => JSON.parse(s));
      seen = log.some((e: { event: string; sid: string }) => e.event === 'expired' && e.sid === sid);
    }
    expect(seen).toBe(true);
    expect(await me(token)).toBe(401);
    expect(Number((await app.inject({ url: '/metrics' })).body.match(/sessions_active (\d+)/)![1])).toBe(before);
  });
});
