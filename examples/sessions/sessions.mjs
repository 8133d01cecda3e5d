// A JWT session store on Sabre (or Redis): signed tokens name a server-side session whose TTL
// slides on use, so tokens can be revoked one at a time or all of a user's at once.
import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';

/** Why a token was refused (the HTTP layer maps every reason to a 401). */
export class SessionError extends Error {
  /** `code`: 'invalid_token' (bad signature, malformed, past its absolute lifetime) or 'session_ended' (revoked or idle too long). */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * Creates the store. `secret` signs tokens (HS256); `idleSec` is the sliding session TTL;
 * `maxAgeSec` caps a token's life however active it is.
 */
export function createSessionStore({ redis, secret, issuer = 'sabre-sessions', idleSec = 1800, maxAgeSec = 7 * 86400, prefix = 'sess' }) {
  const key = new TextEncoder().encode(secret);
  const sessionKey = (sid) => `${prefix}:s:${sid}`;
  const userKey = (user) => `${prefix}:u:${user}`;
  // Every live session by its idle deadline: counting and pruning active sessions without SCAN.
  const activeKey = `${prefix}:active`;
  const auditKey = `${prefix}:audit`;

  /** Appends an event to the audit log (newest first, last 1000 kept). */
  async function audit(event, fields) {
    await redis
      .multi()
      .lpush(auditKey, JSON.stringify({ at: Date.now(), event, ...fields }))
      .ltrim(auditKey, 0, 999)
      .exec();
  }

  /** Opens a session for `user` and returns its signed token. */
  async function issue(user, meta = {}) {
    const sid = randomBytes(16).toString('base64url');
    const now = Date.now();
    await redis
      .multi()
      .hset(sessionKey(sid), { user, created: now, ...meta })
      .expire(sessionKey(sid), idleSec)
      .sadd(userKey(user), sid)
      .zadd(activeKey, now + idleSec * 1000, sid)
      .exec();
    await audit('login', { user, sid });
    const token = await new SignJWT({ sid })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user)
      .setIssuer(issuer)
      .setIssuedAt()
      .setExpirationTime(Math.floor(now / 1000) + maxAgeSec)
      .sign(key);
    return { token, sid };
  }

  /** Checks a token and its session, pushes the session's idle deadline out, and returns { user, sid }. */
  async function verify(token) {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, key, { issuer, algorithms: ['HS256'] }));
    } catch (err) {
      throw new SessionError('invalid_token', err.code === 'ERR_JWT_EXPIRED' ? 'token expired' : 'token invalid');
    }
    const sid = String(payload.sid);
    const now = Date.now();
    // EXPIRE answers 0 for a session that is gone, so touching never brings one back; the idle
    // deadline in the index (ZADD XX) doubles as "last seen".
    const [[, alive], [, user]] = await redis
      .multi()
      .expire(sessionKey(sid), idleSec)
      .hget(sessionKey(sid), 'user')
      .zadd(activeKey, 'XX', now + idleSec * 1000, sid)
      .exec();
    if (alive !== 1 || user !== payload.sub) throw new SessionError('session_ended', 'session revoked or expired');
    return { user, sid };
  }

  /** Ends one session; true when it existed. */
  async function revoke(sid, by = 'user') {
    const user = await redis.hget(sessionKey(sid), 'user');
    if (user === null) return false;
    await redis.multi().del(sessionKey(sid)).srem(userKey(user), sid).zrem(activeKey, sid).exec();
    await audit('revoke', { user, sid, by });
    return true;
  }

  /** Ends every session of `user`; returns how many. */
  async function revokeAll(user) {
    const sids = await redis.smembers(userKey(user));
    if (sids.length === 0) return 0;
    const m = redis.multi();
    for (const sid of sids) m.del(sessionKey(sid));
    const results = await m
      .del(userKey(user))
      .zrem(activeKey, ...sids)
      .exec();
    const ended = results.slice(0, sids.length).filter(([, n]) => n === 1).length;
    await audit('revoke_all', { user, sessions: ended });
    return ended;
  }

  /** A user's live sessions (newest first); ids of sessions that expired meanwhile are dropped. */
  async function list(user) {
    const sids = await redis.smembers(userKey(user));
    const p = redis.pipeline();
    for (const sid of sids) p.hgetall(sessionKey(sid)).zscore(activeKey, sid);
    const rows = await p.exec();
    const live = [];
    const gone = [];
    sids.forEach((sid, i) => {
      const h = rows[2 * i][1];
      const deadline = rows[2 * i + 1][1];
      if (h?.user === user) {
        const lastSeen = deadline === null ? Number(h.created) : Number(deadline) - idleSec * 1000;
        live.push({ sid, created: Number(h.created), lastSeen, agent: h.agent ?? null });
      } else gone.push(sid);
    });
    if (gone.length > 0) await redis.srem(userKey(user), ...gone);
    return live.sort((a, b) => b.created - a.created);
  }

  /** Sessions used within their idle TTL, across all users (drops the expired ones from the index first). */
  async function activeCount() {
    await redis.zremrangebyscore(activeKey, '-inf', Date.now());
    return redis.zcard(activeKey);
  }

  /**
   * Listens for sessions that expire on the server (keyspace notifications on `subscriber`, a
   * connection of its own) and records them in the audit log. Turns on `notify-keyspace-events Ex`.
   */
  async function auditExpiries(subscriber) {
    await redis.config('SET', 'notify-keyspace-events', 'Ex');
    const channel = '__keyevent@0__:expired';
    const prefixLen = sessionKey('').length;
    subscriber.on('message', (ch, expiredKey) => {
      if (ch !== channel || !expiredKey.startsWith(sessionKey(''))) return;
      const sid = expiredKey.slice(prefixLen);
      redis
        .zrem(activeKey, sid)
        .then(() => audit('expired', { sid }))
        .catch(() => {});
    });
    await subscriber.subscribe(channel);
  }

  /** The audit log, newest first. */
  async function auditLog(n = 50) {
    return (await redis.lrange(auditKey, 0, n - 1)).map((s) => JSON.parse(s));
  }

  return { issue, verify, revoke, revokeAll, list, activeCount, auditExpiries, auditLog };
}
