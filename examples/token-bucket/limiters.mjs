// The same limit three ways: the classic token bucket in Lua (EVALSHA), CL.THROTTLE on the
// server, and sabre/limiter in the process. Each check answers the same shape, so one
// middleware serves them all.
import { GcraLimiter } from 'sabre/limiter';

/**
 * The classic Redis token bucket: tokens and the time of the last refill in a hash, refilled by
 * the time elapsed (the server's clock, TIME), one atomic script per check.
 * KEYS[1] bucket; ARGV: capacity, tokens per ms, cost. Returns {allowed, remaining, retry_ms}.
 */
export const TOKEN_BUCKET_LUA = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or capacity
local ts = tonumber(b[2]) or now
tokens = math.min(capacity, tokens + (now - ts) * rate)
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate) + 1000)
return {allowed, math.floor(tokens), retry}
`;

/** A check result: whether admitted, whole tokens left, and ms until `cost` could pass. */
function result(allowed, remaining, retryMs) {
  return { allowed, remaining, retryMs };
}

/** Token bucket in Lua through ioredis's defineCommand (EVALSHA, falling back to EVAL once). */
/** Limits take `limit` tokens per `windowMs` with bursts up to `capacity`, the same in all three. */
export function luaLimiter(redis, { capacity, limit, windowMs }) {
  if (!redis.tokenBucket) redis.defineCommand('tokenBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET_LUA });
  return {
    name: 'lua',
    capacity,
    async check(key, cost = 1) {
      const [allowed, remaining, retry] = await redis.tokenBucket(`tb:lua:${key}`, capacity, limit / windowMs, cost);
      return result(allowed === 1, remaining, retry);
    },
  };
}

/** The same limit as CL.THROTTLE (GCRA on the server; its period is in whole seconds). */
export function cellLimiter(redis, { capacity, limit, windowMs }) {
  return {
    name: 'cl.throttle',
    capacity,
    async check(key, cost = 1) {
      const [limited, , remaining, retryS] = await redis.call(
        'CL.THROTTLE',
        `tb:cell:${key}`,
        capacity - 1,
        limit,
        Math.max(1, Math.round(windowMs / 1000)),
        cost,
      );
      return result(limited === 0, remaining, limited === 0 ? 0 : retryS * 1000);
    },
  };
}

/** The same limit in this process's shared memory (sabre/limiter GCRA): no round trip at all. */
export function localLimiter({ capacity, limit, windowMs }) {
  const gcra = new GcraLimiter({ limit, windowMs, burst: capacity });
  return {
    name: 'sabre/limiter',
    capacity,
    async check(key, cost = 1) {
      const r = gcra.check(key, cost);
      return result(r.allowed, r.remaining, r.retryAfterMs);
    },
  };
}

/** A fastify onRequest hook: one bucket per client IP, RateLimit headers, 429 with Retry-After. */
export function rateLimitHook(limiter, policy = 'default') {
  return async (req, reply) => {
    const r = await limiter.check(req.ip);
    reply.header('RateLimit-Policy', `"${policy}";q=${limiter.capacity}`);
    reply.header('RateLimit', `"${policy}";r=${r.remaining}`);
    if (!r.allowed) {
      reply.header('Retry-After', String(Math.max(1, Math.ceil(r.retryMs / 1000))));
      return reply.code(429).type('application/problem+json').send({ title: 'Too Many Requests', status: 429, retryAfterMs: r.retryMs });
    }
  };
}
