import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { startServer, type TestServer } from '../helpers/server.js';
import { rawClient } from '../helpers/raw-client.js';

/** Resolves with the first `n` values an event source produces. */
function collect<T>(n: number, attach: (push: (v: T) => void) => void): Promise<T[]> {
  return new Promise((resolve) => {
    const got: T[] = [];
    attach((v) => {
      got.push(v);
      if (got.length === n) resolve(got);
    });
  });
}

describe.each([1, 3])('pub/sub with %i shard(s)', (shards) => {
  let srv: TestServer;
  let pub: Redis;
  beforeAll(async () => {
    // DEBUG SLEEP holds the shards below; DEBUG is off by default, as in Redis.
    srv = await startServer(['--shards', String(shards), '--enable-debug-command', 'yes']);
    pub = new Redis({ port: srv.port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    pub.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('delivers channel and pattern messages to ioredis subscribers', async () => {
    const sub = new Redis({ port: srv.port, host: '127.0.0.1' });
    await sub.subscribe('news', 'sport');
    await sub.psubscribe('n*');
    const msgs = collect<string>(2, (push) => sub.on('message', (ch: string, m: string) => push(`${ch}:${m}`)));
    const pmsgs = collect<string>(1, (push) => sub.on('pmessage', (p: string, ch: string, m: string) => push(`${p}|${ch}:${m}`)));
    expect(await pub.publish('news', 'hello')).toBe(2);
    expect(await pub.publish('sport', 'goal')).toBe(1);
    expect(await pub.publish('nobody', 'x')).toBe(1);
    expect(await msgs).toEqual(['news:hello', 'sport:goal']);
    expect((await pmsgs)[0]).toBe('n*|news:hello');
    expect(await pub.pubsub('CHANNELS')).toEqual(expect.arrayContaining(['news', 'sport']));
    expect(await pub.pubsub('CHANNELS', 'n*')).toEqual(['news']);
    expect(await pub.pubsub('NUMSUB', 'news', 'none')).toEqual(['news', 1, 'none', 0]);
    expect(await pub.pubsub('NUMPAT')).toBe(1);
    expect(await pub.info('stats')).toMatch(/pubsub_channels:2\r\npubsub_patterns:1\r\npubsubshard_channels:0\r\n/);
    const pubsubClients = (await pub.client('LIST', 'TYPE', 'pubsub')) as string;
    expect(pubsubClients.trim().split('\n')).toHaveLength(1);
    expect(pubsubClients).toMatch(/flags=P .* sub=2 psub=1 /);
    expect(await pub.client('LIST', 'TYPE', 'normal')).not.toMatch(/flags=P /);
    sub.disconnect();
  });

  it.each([2, 3] as const)('works with node-redis over RESP%i, shard channels included', async (RESP) => {
    const url = `redis://127.0.0.1:${srv.port}`;
    const sub = createClient({ url, RESP });
    const p = createClient({ url, RESP });
    await Promise.all([sub.connect(), p.connect()]);
    const got: string[] = [];
    await sub.subscribe('room', (m, ch) => got.push(`s ${ch} ${m}`));
    await sub.pSubscribe('ro*', (m, ch) => got.push(`p ${ch} ${m}`));
    await sub.sSubscribe('shardch', (m, ch) => got.push(`ss ${ch} ${m}`));
    expect(await p.publish('room', 'hi')).toBe(2);
    expect(await p.sendCommand(['SPUBLISH', 'shardch', 'yo'])).toBe(1);
    await sub.ping();
    expect(got.sort()).toEqual(['p room hi', 's room hi', 'ss shardch yo']);
    expect(await p.sendCommand(['PUBSUB', 'SHARDCHANNELS'])).toEqual(['shardch']);
    await sub.unsubscribe();
    await sub.pUnsubscribe();
    await sub.sUnsubscribe();
    expect(await p.sendCommand(['PUBSUB', 'NUMPAT'])).toBe(0);
    await Promise.all([sub.quit(), p.quit()]);
  });

  it('enforces RESP2 subscribed mode and sends RESP3 pushes', async () => {
    const c = await rawClient(srv.port);
    c.send('SUBSCRIBE a', 'GET k', 'PING', 'UNSUBSCRIBE', 'GET k');
    await c.waitFor(':0\r\n$-1\r\n');
    expect(c.received()).toBe(
      '*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n' +
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n" +
        '*2\r\n$4\r\npong\r\n$0\r\n\r\n' +
        '*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n$-1\r\n',
    );
    c.close();
    const c3 = await rawClient(srv.port);
    c3.send('HELLO 3', 'SUBSCRIBE b', 'GET k');
    await c3.waitFor('_\r\n');
    await pub.publish('b', 'msg');
    const text = await c3.waitFor('>3\r\n$7\r\nmessage\r\n$1\r\nb\r\n$3\r\nmsg\r\n');
    expect(text).toContain('>3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:1\r\n_\r\n');
    c3.close();
  });

  it('keeps publish order for subscribers of interleaved channels and patterns', async () => {
    const a = new Redis({ port: srv.port, host: '127.0.0.1' });
    const b = new Redis({ port: srv.port, host: '127.0.0.1' });
    await a.subscribe('ch1', 'ch2');
    await b.subscribe('ch2');
    await b.psubscribe('ch*');
    const gotA: string[] = [];
    const gotB: string[] = [];
    a.on('message', (ch: string, m: string) => gotA.push(`${ch}:${m}`));
    b.on('message', (ch: string, m: string) => gotB.push(`${ch}:${m}`));
    b.on('pmessage', (_p: string, ch: string, m: string) => gotB.push(`p ${ch}:${m}`));
    const p = pub.pipeline();
    for (let i = 0; i < 20; i++) p.publish(i % 3 === 0 ? 'ch2' : 'ch1', String(i));
    await p.exec();
    await a.ping();
    await b.ping();
    const expected = Array.from({ length: 20 }, (_, i) => `${i % 3 === 0 ? 'ch2' : 'ch1'}:${i}`);
    expect(gotA).toEqual(expected);
    expect(gotB).toEqual(expected.flatMap((e) => (e.startsWith('ch2') ? [e, `p ${e}`] : [`p ${e}`])));
    a.disconnect();
    b.disconnect();
  });

  it('writes a message after the replies still pending when it was published', async () => {
    const sleeper = new Redis({ port: srv.port, host: '127.0.0.1' });
    const slept = sleeper.call('debug', 'sleep', '0.3');
    await new Promise((res) => setTimeout(res, 50));
    const c = await rawClient(srv.port);
    c.send('GET pending', 'SUBSCRIBE late');
    for (let i = 0; i < 100 && Number((await pub.pubsub('NUMSUB', 'late'))[1]) === 0; i++) await new Promise((res) => setTimeout(res, 5));
    expect(await pub.publish('late', 'hello')).toBe(1);
    await slept;
    expect(await c.waitFor('hello\r\n')).toBe(
      '$-1\r\n*3\r\n$9\r\nsubscribe\r\n$4\r\nlate\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$4\r\nlate\r\n$5\r\nhello\r\n',
    );
    c.close();
    sleeper.disconnect();
  });

  it('disconnects a subscriber that stops reading at the output buffer limit', async () => {
    const c = await rawClient(srv.port);
    c.send('SUBSCRIBE flood');
    await c.waitFor(':1\r\n');
    c.socket.pause();
    const big = 'x'.repeat(1 << 20);
    let receivers = 1;
    for (let i = 0; i < 200 && receivers > 0; i++) receivers = await pub.publish('flood', big);
    expect(receivers).toBe(0);
    expect(await pub.pubsub('NUMSUB', 'flood')).toEqual(['flood', 0]);
    c.close();
  });

  it('applies a configured pubsub output limit (Redis syntax, merged per class)', async () => {
    await pub.config('SET', 'client-output-buffer-limit', 'pubsub 1mb 256kb 0');
    expect(await pub.config('GET', 'client-output-buffer-limit')).toEqual([
      'client-output-buffer-limit',
      'normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 262144 0',
    ]);
    await expect(pub.config('SET', 'client-output-buffer-limit', 'pubsub 1mb')).rejects.toThrow(
      'Wrong number of arguments in buffer limit configuration.',
    );
    await expect(pub.config('SET', 'client-output-buffer-limit', 'foo 1 1 1')).rejects.toThrow(
      'Invalid client class specified in buffer limit configuration.',
    );
    const c = await rawClient(srv.port);
    c.send('SUBSCRIBE small');
    await c.waitFor(':1\r\n');
    c.socket.pause();
    const msg = 'y'.repeat(64 * 1024);
    let receivers = 1;
    for (let i = 0; i < 2000 && receivers > 0; i++) receivers = await pub.publish('small', msg);
    expect(receivers).toBe(0);
    await pub.config('SET', 'client-output-buffer-limit', 'pubsub 32mb 8mb 60');
    c.close();
  });

  it('RESET leaves subscribed mode', async () => {
    const c = await rawClient(srv.port);
    c.send('PSUBSCRIBE x*', 'RESET', 'PING');
    await c.waitFor('+RESET\r\n+PONG\r\n');
    expect(await pub.pubsub('NUMPAT')).toBe(0);
    c.close();
  });
});
