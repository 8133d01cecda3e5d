import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { BasicClientSideCache, createClient } from 'redis';
import calculateSlot from 'cluster-key-slot';
import { startServer, type TestServer } from '../helpers/server.js';
import { rawClient, type RawClient } from '../helpers/raw-client.js';

/** The RESP3 push invalidating `keys` (null: a flush). */
function push(keys: string[] | null): string {
  const tail = keys === null ? '_\r\n' : `*${keys.length}\r\n${keys.map((k) => `$${k.length}\r\n${k}\r\n`).join('')}`;
  return `>2\r\n$10\r\ninvalidate\r\n${tail}`;
}

/** The RESP2 __redis__:invalidate message for `keys` (null: a flush by a RESP2 tracking client). */
function message(keys: string[] | null): string {
  const tail = keys === null ? '$-1\r\n' : `*${keys.length}\r\n${keys.map((k) => `$${k.length}\r\n${k}\r\n`).join('')}`;
  return `*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n${tail}`;
}

/** Resolves once `needle` arrives at or after offset `from` of what the client received (rejects after 5 s). */
async function arrived(c: RawClient, needle: string, from = 0): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const at = c.received().indexOf(needle, from);
    if (at !== -1) return at;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${JSON.stringify(needle)}; got ${JSON.stringify(c.received().slice(from))}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves once `check` holds (rejects after 5 s). */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in 5 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Sends lines and resolves with what arrived after them, up to and including the first `until`. */
async function exchange(c: RawClient, until: string, ...lines: string[]): Promise<string> {
  const before = c.received().length;
  c.send(...lines);
  const at = await arrived(c, until, before);
  return c.received().slice(before, at + until.length);
}

describe.each([1, 3])('client tracking with %i shard(s)', (shards) => {
  let srv: TestServer;
  let other: Redis;
  /** Keys that live on different shards (all on one with a single shard). */
  const spread: string[] = [];
  beforeAll(async () => {
    srv = await startServer(['--shards', String(shards)]);
    other = new Redis({ port: srv.port, host: '127.0.0.1' });
    const seen = new Set<number>();
    for (let i = 0; spread.length < 3; i++) {
      const k = `spread:${i}`;
      const s = calculateSlot(k) % 3;
      if (!seen.has(s)) {
        seen.add(s);
        spread.push(k);
      }
    }
  });
  afterAll(async () => {
    other.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  /** A RESP3 client with tracking on (plus `options`). */
  async function tracker(options = ''): Promise<RawClient> {
    const c = await rawClient(srv.port);
    await exchange(c, '+OK\r\n', 'HELLO 3', `CLIENT TRACKING on ${options}`.trim());
    return c;
  }

  it('pushes an invalidation when another client changes a key the client read', async () => {
    const c = await tracker();
    await other.set('d:k', 'v1');
    expect(await exchange(c, '$2\r\nv1\r\n', 'GET d:k')).toBe('$2\r\nv1\r\n');
    await other.set('d:k', 'v2');
    await arrived(c, push(['d:k']));
    // Invalidated keys leave the table: a second write sends nothing until the key is read again.
    await other.set('d:k', 'v3');
    expect(await exchange(c, '+PONG\r\n', 'PING')).toBe('+PONG\r\n');
    expect(c.received().split(push(['d:k'])).length).toBe(2);
    c.close();
  });

  it("sends the client's own invalidation right after the reply of the command that caused it", async () => {
    const c = await tracker();
    const got = await exchange(c, '+PONG\r\n', 'SET own 1', 'GET own', 'SET own 2', 'PING');
    expect(got).toBe(`+OK\r\n$1\r\n1\r\n+OK\r\n${push(['own'])}+PONG\r\n`);
    const txn = await exchange(c, push(['own']), 'GET own', 'MULTI', 'INCR own', 'EXEC');
    expect(txn).toBe(`$1\r\n2\r\n+OK\r\n+QUEUED\r\n*1\r\n:3\r\n${push(['own'])}`);
    // A read inside a transaction is tracked for the client too.
    await exchange(c, '*1\r\n_\r\n', 'MULTI', 'GET in:txn', 'EXEC');
    await other.set('in:txn', 1);
    await arrived(c, push(['in:txn']));
    c.close();
  });

  it('invalidates keys read together across shards, on expiry, and on flush', async () => {
    const c = await tracker();
    await exchange(c, '*3\r\n_\r\n_\r\n_\r\n', `MGET ${spread.join(' ')}`);
    await other.mset(spread[0]!, 1, spread[1]!, 2, spread[2]!, 3);
    for (const k of spread) await arrived(c, push([k]));
    // A RENAME across shards runs as two internal halves: both keys are invalidated.
    await exchange(c, ':2\r\n', `MGET ${spread[0]} ${spread[1]}`, `EXISTS ${spread[0]} ${spread[1]}`);
    await other.rename(spread[0]!, spread[1]!);
    await arrived(c, push([spread[0]!]));
    await arrived(c, push([spread[1]!]));
    // Keys a command only reads (COPY's source) are not invalidated, nor are those of a command that failed.
    const from = c.received().length;
    await exchange(c, ':1\r\n', `MGET ${spread[1]} ${spread[2]}`, `EXISTS ${spread[1]}`);
    await other.copy(spread[1]!, 'copy:dst');
    await other.lpush(spread[2]!, 'x').catch(() => {});
    await other.set(spread[1]!, 'changed');
    await arrived(c, push([spread[1]!]), from);
    expect(c.received().slice(from)).not.toContain(push([spread[2]!]));
    expect(c.received().slice(from).split('invalidate').length).toBe(2);
    // The read must come before the TTL runs out; a busy machine gets a longer TTL on a fresh key.
    let expiring = '';
    for (let ttl = 100; expiring === ''; ttl *= 4) {
      await other.set(`exp:${ttl}`, 'v', 'PX', ttl);
      const before = c.received().length;
      c.send(`GET exp:${ttl}`);
      await arrived(c, '\r\n', before);
      if (c.received().startsWith('$', before)) {
        await arrived(c, 'v\r\n', before);
        expiring = `exp:${ttl}`;
      }
    }
    await arrived(c, push([expiring]));
    await other.flushall();
    await arrived(c, push(null));
    c.close();
  });

  it('keeps quiet about its own writes with NOLOOP', async () => {
    const c = await tracker('NOLOOP');
    await exchange(c, '*2\r\n_\r\n_\r\n', 'MGET nl:a nl:b');
    await exchange(c, '+OK\r\n', 'SET nl:a 1');
    await other.set('nl:b', '1');
    await arrived(c, push(['nl:b']));
    expect(c.received()).not.toContain(push(['nl:a']));
    c.close();
  });

  it('tracks only what CLIENT CACHING allows in OPTIN and OPTOUT modes', async () => {
    const c = await tracker('OPTIN');
    await exchange(c, '+OK\r\n_\r\n', 'GET oi:skipped', 'CLIENT CACHING yes', 'GET oi:cached');
    await other.mset('oi:skipped', 1, 'oi:cached', 1);
    await arrived(c, push(['oi:cached']));
    expect(c.received()).not.toContain(push(['oi:skipped']));
    expect(await exchange(c, '-ERR', 'CLIENT CACHING no')).toBe('-ERR');
    c.close();
    const o = await tracker('OPTOUT');
    await exchange(o, '+OK\r\n_\r\n_\r\n', 'CLIENT CACHING no', 'GET oo:skipped', 'GET oo:cached');
    await other.mset('oo:skipped', 1, 'oo:cached', 1);
    await arrived(o, push(['oo:cached']));
    expect(o.received()).not.toContain(push(['oo:skipped']));
    o.close();
  });

  it('broadcasts changes under BCAST prefixes, one message per prefix', async () => {
    const c = await tracker('BCAST PREFIX bc:a: PREFIX bc:b:');
    await other.mset('bc:a:2', 1, 'bc:a:1', 1, 'bc:b:1', 1, 'bc:c:1', 1);
    if (shards === 1) {
      await arrived(c, push(['bc:a:1', 'bc:a:2']));
      await arrived(c, push(['bc:b:1']));
    } else {
      for (const k of ['bc:a:1', 'bc:a:2', 'bc:b:1']) await arrived(c, `$${k.length}\r\n${k}\r\n`);
    }
    expect(c.received()).not.toContain('bc:c:1');
    expect(await exchange(c, '\r\n', 'CLIENT TRACKING on BCAST PREFIX bc:')).toBe(
      "-ERR Prefix 'bc:' overlaps with an existing prefix 'bc:a:'. Prefixes for a single client must not overlap.\r\n",
    );
    expect(await exchange(c, '+OK\r\n', 'CLIENT TRACKING on BCAST PREFIX bc:z:')).toBe('+OK\r\n');
    await other.set('bc:z:1', 1);
    await arrived(c, push(['bc:z:1']));
    const info = await exchange(c, '*3\r\n$5\r\nbc:a:\r\n$5\r\nbc:b:\r\n$5\r\nbc:z:\r\n', 'CLIENT TRACKINGINFO');
    expect(info).toBe(
      '%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\nbcast\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*3\r\n$5\r\nbc:a:\r\n$5\r\nbc:b:\r\n$5\r\nbc:z:\r\n',
    );
    c.close();
  });

  it('redirects to a RESP2 subscriber of __redis__:invalidate, and reports a redirect that went away', async () => {
    const sub = await rawClient(srv.port);
    const idLine = await exchange(sub, '\r\n', 'CLIENT ID');
    const id = idLine.slice(1, -2);
    await exchange(sub, ':1\r\n', 'SUBSCRIBE __redis__:invalidate');
    const c = await rawClient(srv.port);
    await exchange(c, '_\r\n', 'HELLO 3', `CLIENT TRACKING on REDIRECT ${id}`, 'GET rd:k');
    expect(await exchange(c, `:${id}\r\n`, 'CLIENT GETREDIR')).toBe(`:${id}\r\n`);
    await other.set('rd:k', 1);
    await arrived(sub, message(['rd:k']));
    await other.flushdb();
    await arrived(sub, '*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n_\r\n');
    await exchange(c, '_\r\n', 'GET rd:k');
    sub.close();
    await new Promise((r) => setTimeout(r, 50));
    await other.set('rd:k', 2);
    await arrived(c, `>2\r\n$21\r\ntracking-redir-broken\r\n:${id}\r\n`);
    expect(await exchange(c, 'prefixes\r\n*0\r\n', 'CLIENT TRACKINGINFO')).toContain('$15\r\nbroken_redirect\r\n');
    expect(await exchange(c, '\r\n', 'CLIENT TRACKING on REDIRECT 999999')).toBe(
      '-ERR The client ID you want redirect to does not exist\r\n',
    );
    c.close();
  });

  it('reports tracking in INFO and invalidates the oldest keys past tracking-table-max-keys', async () => {
    const sub = await rawClient(srv.port);
    const id = (await exchange(sub, '\r\n', 'CLIENT ID')).slice(1, -2);
    await exchange(sub, ':1\r\n', 'SUBSCRIBE __redis__:invalidate');
    const c = await rawClient(srv.port);
    await exchange(c, '+OK\r\n', 'FLUSHALL', `CLIENT TRACKING on REDIRECT ${id}`);
    await exchange(c, '$-1\r\n', 'MGET lim:1 lim:2 lim:3 lim:4 lim:5');
    const stats = await other.info('stats');
    expect(stats).toMatch(/tracking_total_keys:5\r\n/);
    expect(stats).toMatch(/tracking_total_items:5\r\n/);
    // Clients of the earlier tests may still be closing: wait until only this one tracks.
    await until(async () => /tracking_clients:1\r\n/.test(await other.info('clients')));
    await other.config('SET', 'tracking-table-max-keys', '2');
    try {
      await arrived(sub, 'lim:');
      const deadline = Date.now() + 5000;
      while ((sub.received().match(/\$5\r\nlim:\d/g) ?? []).length < 3 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect((sub.received().match(/\$5\r\nlim:\d/g) ?? []).length).toBe(3);
      expect(await other.info('stats')).toMatch(/tracking_total_keys:2\r\n/);
    } finally {
      await other.config('SET', 'tracking-table-max-keys', '1000000');
    }
    sub.close();
    c.close();
  });

  it("serves node-redis's client-side cache", async () => {
    const cache = new BasicClientSideCache({ ttl: 0, maxEntries: 0 });
    const client = createClient({ socket: { port: srv.port, host: '127.0.0.1' }, RESP: 3, clientSideCache: cache });
    await client.connect();
    await other.set('csc:k', 'one');
    expect(await client.get('csc:k')).toBe('one');
    expect(await client.get('csc:k')).toBe('one');
    expect(cache.stats().hitCount).toBe(1);
    await other.set('csc:k', 'two');
    const deadline = Date.now() + 5000;
    while (cache.size() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(cache.size()).toBe(0);
    expect(await client.get('csc:k')).toBe('two');
    await client.quit();
  });
});
