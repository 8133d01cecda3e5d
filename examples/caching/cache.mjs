// A two-tier cache: a local LRU in each process in front of Sabre (or Redis), kept coherent
// across processes by invalidation messages on pub/sub. See README.md in this folder.
import { createHash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { Counter, Registry } from 'prom-client';

/** Arguments as a stable string: object keys sorted, so {a,b} and {b,a} name the same entry. */
export function stableStringify(value) {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(value[k])}`).join(',')}}`;
}

/** A TTL spread by ±`jitter` (a fraction), so entries written together do not all expire together. */
export function jitteredTtl(ttlMs, jitter, random = Math.random) {
  return Math.max(1, Math.round(ttlMs * (1 + jitter * (2 * random() - 1))));
}

/**
 * Whether to recompute a value before it expires ("XFetch", Vattani et al., VLDB 2015): the closer
 * the expiry and the longer the value took to compute, the likelier; beta > 1 favours earlier.
 */
export function shouldRefreshEarly(now, expiresAt, computeMs, beta, random = Math.random) {
  return now - computeMs * beta * Math.log(random()) >= expiresAt;
}

/** A glob as Redis's MATCH reads it (`*`, `?`, `[...]`, `\` escapes) turned into a RegExp. */
export function globToRegExp(glob) {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end === -1) re += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        re += body.startsWith('^') ? `[^${body.slice(1)}]` : `[${body}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) re += `\\${glob[++i]}`;
    else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Creates a cache over `redis` (an ioredis client). `subscriber` is a second ioredis connection
 * used only to hear other processes' invalidations; without it the local tier is off.
 */
export async function createCache({
  redis,
  subscriber = null,
  namespace = 'cache',
  ttlMs = 60_000,
  jitter = 0.1,
  local = { max: 10_000, ttlMs: 5_000 },
  lockMs = 5_000,
  lockPollMs = 20,
} = {}) {
  const origin = randomBytes(6).toString('hex');
  const channel = `${namespace}:invalidate`;
  const tier = subscriber ? new LRUCache({ max: local.max, ttl: local.ttlMs }) : null;
  const inFlight = new Map();
  const registry = new Registry();
  const hits = new Counter({
    name: 'cache_hits_total',
    help: 'Reads served from a cache tier',
    labelNames: ['tier'],
    registers: [registry],
  });
  const misses = new Counter({ name: 'cache_misses_total', help: 'Reads that had to compute the value', registers: [registry] });
  const loads = new Counter({ name: 'cache_loads_total', help: 'Values computed and stored', registers: [registry] });
  const invalidations = new Counter({
    name: 'cache_invalidations_total',
    help: 'Entries invalidated, by how they were named',
    labelNames: ['by'],
    registers: [registry],
  });
  const lockWaits = new Counter({
    name: 'cache_lock_waits_total',
    help: 'Reads that waited for another computation',
    registers: [registry],
  });
  const earlyRefreshes = new Counter({
    name: 'cache_early_refreshes_total',
    help: 'Values recomputed before expiry',
    registers: [registry],
  });

  if (subscriber) {
    subscriber.on('message', (ch, message) => {
      if (ch !== channel) return;
      const { from, keys } = JSON.parse(message);
      if (from === origin) return;
      for (const k of keys) tier.delete(k);
    });
    await subscriber.subscribe(channel);
  }

  const tagKey = (tag) => `${namespace}:tag:${tag}`;

  /** The full key of entry `name` for `args`. */
  function keyFor(name, args, keyFn) {
    const id = keyFn ? keyFn(...args) : createHash('sha1').update(stableStringify(args)).digest('hex').slice(0, 16);
    return `${namespace}:${name}:${id}`;
  }

  /** Drops `keys` here and tells the other processes to drop them from their local tier. */
  async function announce(keys) {
    if (keys.length === 0) return;
    if (tier) for (const k of keys) tier.delete(k);
    await redis.publish(channel, JSON.stringify({ from: origin, keys }));
  }

  /** Stores an envelope (value, compute time, expiry) in both tiers and files the key under its tags. */
  async function store(key, value, computeMs, ttl, tags) {
    const ms = jitteredTtl(ttl, jitter);
    const envelope = { v: value, c: computeMs, e: Date.now() + ms };
    const p = redis.multi().set(key, JSON.stringify(envelope), 'PX', ms);
    for (const t of tags) p.sadd(tagKey(t), key).pexpire(tagKey(t), ttl * 2);
    await p.exec();
    // Other processes may hold an older value of this key locally.
    await announce([key]);
    tier?.set(key, envelope, { ttl: Math.min(local.ttlMs, ms) });
    return envelope;
  }

  /** Releases a lock only if this caller still holds it (WATCH makes the check and the DEL one step). */
  async function unlock(lockKey, token) {
    await redis.watch(lockKey);
    if ((await redis.get(lockKey)) === token) await redis.multi().del(lockKey).exec();
    else await redis.unwatch();
  }

  /** Computes the value under a `SET NX PX` lock so one caller among all processes does the work. */
  async function load(key, fn, args, ttl, tags) {
    const lockKey = `${key}:lock`;
    const token = randomBytes(8).toString('hex');
    const deadline = Date.now() + lockMs;
    while (Date.now() < deadline) {
      if ((await redis.set(lockKey, token, 'PX', lockMs, 'NX')) === 'OK') {
        try {
          const raw = await redis.get(key);
          if (raw !== null) return JSON.parse(raw).v;
          const t0 = performance.now();
          const value = await fn(...args);
          loads.inc();
          await store(key, value, performance.now() - t0, ttl, tags);
          return value;
        } finally {
          await unlock(lockKey, token);
        }
      }
      lockWaits.inc();
      await sleep(lockPollMs);
      const raw = await redis.get(key);
      if (raw !== null) return JSON.parse(raw).v;
    }
    // The holder died or is too slow: compute without the lock rather than fail the read.
    const t0 = performance.now();
    const value = await fn(...args);
    loads.inc();
    await store(key, value, performance.now() - t0, ttl, tags);
    return value;
  }

  /** Recomputes in the background; the caller keeps the value it has. */
  function refreshEarly(key, fn, args, ttl, tags) {
    if (inFlight.has(key)) return;
    earlyRefreshes.inc();
    const p = load(key, fn, args, ttl, tags).finally(() => inFlight.delete(key));
    p.catch(() => {});
    inFlight.set(key, p);
  }

  /**
   * Wraps `fn` in the cache. Options: `name` (key prefix, default fn.name), `ttlMs`, `key(...args)`
   * (readable id instead of a hash of the arguments), `tags(...args)` (for invalidateTag),
   * `sliding` (each hit pushes the expiry out again), `beta` (early refresh; 0 turns it off).
   */
  function cached(fn, { name = fn.name, ttlMs: ttl = ttlMs, key: keyFn, tags: tagsFn, sliding = false, beta = 1 } = {}) {
    if (!name) throw new Error('cached(fn): give a name for an anonymous function');
    return async (...args) => {
      const key = keyFor(name, args, keyFn);
      const tags = tagsFn ? tagsFn(...args) : [];
      const near = tier?.get(key);
      if (near !== undefined) {
        hits.inc({ tier: 'local' });
        if (sliding) await redis.pexpire(key, ttl);
        return near.v;
      }
      const raw = sliding ? await redis.getex(key, 'PX', ttl) : await redis.get(key);
      if (raw !== null) {
        hits.inc({ tier: 'remote' });
        const envelope = JSON.parse(raw);
        if (sliding) envelope.e = Date.now() + ttl;
        tier?.set(key, envelope, { ttl: Math.max(1, Math.min(local.ttlMs, envelope.e - Date.now())) });
        if (beta > 0 && !sliding && shouldRefreshEarly(Date.now(), envelope.e, envelope.c, beta)) refreshEarly(key, fn, args, ttl, tags);
        return envelope.v;
      }
      misses.inc();
      // Callers in this process share one computation; other processes queue on the lock.
      let p = inFlight.get(key);
      if (!p) {
        p = load(key, fn, args, ttl, tags).finally(() => inFlight.delete(key));
        inFlight.set(key, p);
      }
      return p;
    };
  }

  /** Removes the entries of `name` for each argument list in `argLists`. */
  async function invalidate(name, argLists, keyFn) {
    const keys = argLists.map((a) => keyFor(name, a, keyFn));
    if (keys.length > 0) await redis.unlink(...keys);
    invalidations.inc({ by: 'key' }, keys.length);
    await announce(keys);
    return keys.length;
  }

  /** Removes every entry filed under `tag`. */
  async function invalidateTag(tag) {
    const keys = await redis.smembers(tagKey(tag));
    await redis.unlink(tagKey(tag), ...keys);
    invalidations.inc({ by: 'tag' }, keys.length);
    await announce(keys);
    return keys.length;
  }

  /** Removes every entry whose key after the namespace matches `glob` (SCAN MATCH, so it never blocks the server). */
  async function invalidatePattern(glob) {
    const match = `${namespace}:${glob}`;
    const locks = globToRegExp(`${match}:lock`);
    let cursor = '0';
    let removed = 0;
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 500);
      cursor = next;
      const keys = found.filter((k) => !locks.test(k));
      if (keys.length > 0) {
        await redis.unlink(...keys);
        await announce(keys);
        removed += keys.length;
      }
    } while (cursor !== '0');
    invalidations.inc({ by: 'pattern' }, removed);
    return removed;
  }

  /** Fills the cache for `argLists` ahead of the first reads, in one pipeline. */
  async function warm(fn, argLists, { name = fn.name, ttlMs: ttl = ttlMs, key: keyFn, tags: tagsFn } = {}) {
    const p = redis.pipeline();
    for (const args of argLists) {
      const t0 = performance.now();
      const value = await fn(...args);
      loads.inc();
      const ms = jitteredTtl(ttl, jitter);
      const key = keyFor(name, args, keyFn);
      p.set(key, JSON.stringify({ v: value, c: performance.now() - t0, e: Date.now() + ms }), 'PX', ms);
      for (const t of tagsFn ? tagsFn(...args) : []) p.sadd(tagKey(t), key).pexpire(tagKey(t), ttl * 2);
    }
    await p.exec();
    return argLists.length;
  }

  /** Reads many entries of `name` in one round trip (MGET); undefined where missing. */
  async function getMany(name, argLists, keyFn) {
    if (argLists.length === 0) return [];
    const raws = await redis.mget(...argLists.map((a) => keyFor(name, a, keyFn)));
    return raws.map((raw) => {
      if (raw === null) {
        misses.inc();
        return undefined;
      }
      hits.inc({ tier: 'remote' });
      return JSON.parse(raw).v;
    });
  }

  /**
   * Write-through: runs `write` (the database update) and stores what it returns as the entry of
   * `name` for `args`, so the next read anywhere finds the new value; null or undefined stores nothing.
   */
  async function writeThrough(write, { name, args, key: keyFn, ttlMs: ttl = ttlMs, tags = [] }) {
    const value = await write();
    if (value !== null && value !== undefined) await store(keyFor(name, args, keyFn), value, 0, ttl, tags);
    return value;
  }

  return {
    cached,
    keyFor,
    invalidate,
    invalidateTag,
    invalidatePattern,
    warm,
    getMany,
    writeThrough,
    /** Counters as a plain object (for tests and logs). */
    async stats() {
      const out = {};
      for (const m of (await registry.getMetricsAsJSON()).values()) {
        for (const v of m.values) out[m.name + (v.labels.tier ? `{${v.labels.tier}}` : v.labels.by ? `{${v.labels.by}}` : '')] = v.value;
      }
      return out;
    },
    /** The counters in Prometheus's text format. */
    metrics: () => registry.metrics(),
    metricsContentType: registry.contentType,
    /** Stops listening for invalidations. */
    async close() {
      if (subscriber) await subscriber.unsubscribe(channel);
    },
  };
}
