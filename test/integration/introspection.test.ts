import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';
import { rawClient } from '../helpers/raw-client.js';

describe.each([1, 3])('introspection with %i shard(s)', (shards) => {
  let srv: TestServer;
  let r: Redis;
  beforeAll(async () => {
    // DEBUG is off by default, as in Redis; Redis's own test servers turn it on too.
    srv = await startServer(['--shards', String(shards), '--enable-debug-command', 'yes']);
    r = new Redis({ port: srv.port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    r.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('MONITOR shows commands with Redis quoting, skipping admin commands', async () => {
    const m = await rawClient(srv.port);
    m.send('MONITOR');
    await m.waitFor('+OK\r\n');
    const c = await rawClient(srv.port);
    c.socket.write(
      Buffer.concat([
        Buffer.from('*3\r\n$3\r\nSET\r\n$5\r\na"b\\c\r\n$6\r\n'),
        Buffer.from([1, 0x7f, 10, 0xe9, 32, 9]),
        Buffer.from('\r\n'),
      ]),
    );
    c.send('CONFIG GET maxclients', 'GET k', 'MULTI', 'SELECT 1', 'PING', 'EXEC');
    await c.waitFor('*2\r\n');
    const text = await m.waitFor('"EXEC"');
    const addr = `${c.socket.localAddress}:${c.socket.localPort}`;
    const lines = text.split('\r\n').filter((l) => l.includes(addr));
    expect(lines[0]).toMatch(/^\+\d{10}\.\d{6} \[0 [^\]]+\] /);
    expect(lines.map((l) => l.replace(/^\+[\d.]+ /, ''))).toEqual([
      `[0 ${addr}] "SET" "a\\"b\\\\c" "\\x01\\x7f\\n\\xe9 \\t"`,
      `[0 ${addr}] "GET" "k"`,
      `[0 ${addr}] "MULTI"`,
      `[1 ${addr}] "SELECT" "1"`,
      `[1 ${addr}] "PING"`,
      `[1 ${addr}] "EXEC"`,
    ]);
    m.close();
    c.close();
  });

  it('CLIENT LIST reports per-connection modes and the last command', async () => {
    const sub = await rawClient(srv.port);
    sub.send('SUBSCRIBE a b', 'PSUBSCRIBE p*');
    await sub.waitFor('psubscribe');
    const tx = await rawClient(srv.port);
    tx.send('MULTI', 'SET x 1', 'GET x');
    await tx.waitFor('+QUEUED\r\n+QUEUED\r\n');
    const list = (await r.client('LIST')) as string;
    const line = (port: number | undefined): string => list.split('\n').find((l) => l.includes(`:${port} `))!;
    expect(line(sub.socket.localPort)).toMatch(/flags=P db=0 sub=2 psub=1 ssub=0 multi=-1 .* cmd=psubscribe /);
    expect(line(tx.socket.localPort)).toMatch(/flags=x db=0 sub=0 psub=0 ssub=0 multi=2 .*multi-mem=\d+ .* cmd=get /);
    expect(line(tx.socket.localPort)).toMatch(/ age=\d+ idle=\d+ /);
    sub.close();
    tx.close();
  });

  it("CLIENT LIST and INFO count the read being run as qbuf, as Redis's query buffer holds it", async () => {
    // One command alone: its 26 bytes (Redis's own suite expects qbuf=26 here).
    const c = await rawClient(srv.port);
    c.socket.write('*2\r\n$6\r\nCLIENT\r\n$4\r\nINFO\r\n');
    expect(await c.waitFor('\n\r\n')).toMatch(/ qbuf=26 .* cmd=client\|info /);
    // A read of three commands: the whole read, the ones run already included, until all have run.
    const d = await rawClient(srv.port);
    d.socket.write('*1\r\n$4\r\nPING\r\n*2\r\n$6\r\nCLIENT\r\n$4\r\nINFO\r\n*1\r\n$4\r\nPING\r\n');
    expect(await d.waitFor('\n\r\n+PONG\r\n')).toMatch(/^\+PONG\r\n\$\d+\r\nid=.* qbuf=54 /);
    // A connection idle between reads holds nothing.
    const list = (await r.client('LIST')) as string;
    expect(list.split('\n').find((l) => l.includes(`:${c.socket.localPort} `))).toMatch(/ qbuf=0 /);
    c.close();
    d.close();
  });

  it('CLIENT PAUSE WRITE holds writes until it ends, reads pass', async () => {
    const w = new Redis({ port: srv.port, host: '127.0.0.1' });
    expect(await r.call('client', 'pause', '300', 'WRITE')).toBe('OK');
    const order: string[] = [];
    const write = w.set('paused', '1').then(() => order.push('write'));
    expect(await r.get('paused')).toBeNull();
    order.push('read');
    await write;
    expect(order).toEqual(['read', 'write']);
    expect(await r.get('paused')).toBe('1');
    w.disconnect();
  });

  it('CLIENT UNPAUSE releases paused clients and arguments are validated', async () => {
    const w = new Redis({ port: srv.port, host: '127.0.0.1' });
    await r.call('client', 'pause', '60000', 'WRITE');
    const write = w.set('p2', '1');
    await r.call('client', 'unpause');
    expect(await write).toBe('OK');
    await expect(r.call('client', 'pause', '10', 'FOO')).rejects.toThrow('ERR CLIENT PAUSE mode must be WRITE or ALL');
    await expect(r.call('client', 'pause', '-1')).rejects.toThrow('ERR timeout is negative');
    expect(await r.call('client', 'no-evict', 'on')).toBe('OK');
    expect(await r.client('INFO')).toMatch(/flags=e /);
    w.disconnect();
  });

  it('SLOWLOG records commands over the threshold with their client', async () => {
    await r.config('SET', 'slowlog-log-slower-than', '0');
    await r.slowlog('RESET');
    await r.set('slowkey', 'v');
    await r.get('slowkey');
    await r.call('keys', 'slow*');
    await r.config('SET', 'slowlog-log-slower-than', '10000');
    const entries = (await r.slowlog('GET', '-1')) as [number, number, number, string[], string, string][];
    const keys = entries.find((e) => e[3][0] === 'keys')!;
    expect(keys[3]).toEqual(['keys', 'slow*']);
    expect(keys[4]).toMatch(/^127\.0\.0\.1:\d+$/);
    // A threshold of 0 logs every command, O(1) ones included, as in Redis.
    expect(entries.filter((e) => e[3][0] === 'set' || e[3][0] === 'get').map((e) => e[3])).toEqual([
      ['get', 'slowkey'],
      ['set', 'slowkey', 'v'],
    ]);
    expect(await r.slowlog('LEN')).toBe(entries.length);
    await r.slowlog('RESET');
    expect(await r.slowlog('LEN')).toBe(0);
  });

  it('SLOWLOG only logs commands over the threshold (the Redis suite test with DEBUG SLEEP)', async () => {
    await r.config('SET', 'slowlog-log-slower-than', '100000');
    await r.slowlog('RESET');
    await r.ping();
    await r.call('debug', 'sleep', '0.2');
    expect(await r.slowlog('LEN')).toBe(1);
    const [entry] = (await r.slowlog('GET')) as [number, number, number, string[], string, string][];
    expect(entry![3]).toEqual(['debug', 'sleep', '0.2']);
    expect(entry![2]).toBeGreaterThanOrEqual(100000);
    await r.config('SET', 'slowlog-log-slower-than', '10000');
  });

  it('LATENCY HISTOGRAM and INFO latencystats report tracked commands', async () => {
    await r.config('SET', 'latency-tracking', 'yes');
    for (let i = 0; i < 20; i++) await r.get('lat');
    await r.config('SET', 'latency-tracking', 'no');
    const h = (await r.call('latency', 'histogram', 'get', 'nosuch')) as [string, [string, number, string, number[]]];
    expect(h[0]).toBe('get');
    expect(h[1].slice(0, 3)).toEqual(['calls', 20, 'histogram_usec']);
    const cdf = h[1][3];
    expect(cdf[cdf.length - 1]).toBe(20);
    expect(await r.info('latencystats')).toMatch(/latency_percentiles_usec_get:p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}/);
  });

  it('OBJECT, MEMORY USAGE and DEBUG OBJECT describe a key', async () => {
    await r.set('obj', 'hello');
    expect(await r.object('REFCOUNT', 'obj')).toBe(1);
    expect(await r.object('IDLETIME', 'obj')).toBeGreaterThanOrEqual(0);
    expect(await r.object('ENCODING', 'obj')).toBe('embstr');
    await expect(r.object('FREQ', 'obj')).rejects.toThrow('An LFU maxmemory policy is not selected');
    expect(await r.object('IDLETIME', 'none')).toBeNull();
    expect(await r.memory('USAGE', 'obj')).toBeGreaterThan(5);
    expect(await r.call('debug', 'object', 'obj')).toMatch(
      /^Value at:0x[0-9a-f]+ refcount:1 encoding:embstr serializedlength:5 lru:\d+ lru_seconds_idle:\d+$/,
    );
    await expect(r.call('debug', 'object', 'none')).rejects.toThrow('ERR no such key');
  });
});
