import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';
import { rawClient } from '../helpers/raw-client.js';

const MB = 1024 * 1024;

/** The server process's resident set in bytes (Linux /proc). */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** omem of the client whose socket is `s` (by its port), or undefined once the server dropped it. */
async function omemOf(c: Redis, s: net.Socket): Promise<number | undefined> {
  const list = (await c.client('LIST')) as string;
  const line = list.split('\n').find((l) => l.includes(` addr=${s.localAddress}:${s.localPort} `));
  return line === undefined ? undefined : Number(/ omem=(\d+)/.exec(line)![1]);
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A raw socket that sends `bytes` and never reads; resolves once connected. */
async function nonReader(port: number, bytes: string): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  s.on('error', () => {});
  s.pause();
  s.write(bytes);
  return s;
}

/** Resolves once the server has printed `n` output-limit disconnect lines matching `re` (rejects after 10 s). */
async function limitLines(srv: TestServer, re: RegExp, n: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const lines = srv
      .output()
      .split('\n')
      .filter((l) => l.includes('for overcoming of output buffer limits') && re.test(l));
    if (lines.length >= n) return;
    await pause(25);
  }
  throw new Error(`fewer than ${n} output-limit lines matching ${re}:\n${srv.output()}`);
}

function getCommand(key: string): string {
  return `*2\r\n$3\r\nGET\r\n$${key.length}\r\n${key}\r\n`;
}

describe.skipIf(!existsSync('/proc/self/status'))('client output buffers', () => {
  let srv: TestServer;
  let c: Redis;
  beforeAll(async () => {
    srv = await startServer(['--shards', '2']);
    c = new Redis({ port: srv.port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    c.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('keeps a pipeliner that never reads to a few MB of output while serving others', async () => {
    await c.set('v10k', 'x'.repeat(10 * 1024));
    const pid = srv.proc.pid!;
    const before = rss(pid);
    // 100k GETs: 1 GB of replies if the server queued them all.
    const s = await nonReader(srv.port, getCommand('v10k').repeat(100_000));
    let maxOmem = 0;
    let maxRss = 0;
    // Reading stops once 1 MiB of output is pending: wait for that, then keep sampling.
    let samples = 0;
    for (let i = 0; i < 200 && (await omemOf(c, s)) === undefined; i++) await pause(25);
    for (let i = 0; i < 400 && samples < 20; i++) {
      const omem = await omemOf(c, s);
      expect(omem).toBeDefined();
      maxOmem = Math.max(maxOmem, omem!);
      maxRss = Math.max(maxRss, rss(pid));
      if (maxOmem > MB) samples++;
      expect(await c.ping()).toBe('PONG');
      await pause(25);
    }
    expect(maxOmem).toBeGreaterThan(MB);
    // The documented bound (README, Architecture): 1 MiB plus twice about 1 MiB of replies in flight.
    expect(maxOmem).toBeLessThan(3 * MB + 2 * 10 * 1024);
    expect(maxRss - before).toBeLessThan(64 * MB);
    expect(await c.get('v10k')).toHaveLength(10 * 1024);
    s.destroy();
  });

  it('does not disconnect a normal client that reads 300 x 1 MiB replies slowly (normal 0 0 0)', async () => {
    expect(await c.config('GET', 'client-output-buffer-limit')).toEqual([
      'client-output-buffer-limit',
      'normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60',
    ]);
    await c.set('v1m', Buffer.alloc(MB, 'y'));
    const n = 300;
    const s = await nonReader(srv.port, getCommand('v1m').repeat(n));
    let closed = false;
    s.on('close', () => (closed = true));
    // Let the server queue what it will before reading anything.
    for (let i = 0; i < 400; i++) {
      if (((await omemOf(c, s)) ?? 0) > MB) break;
      await pause(25);
    }
    const want = n * (MB + `$${MB}\r\n\r\n`.length);
    let got = 0;
    await new Promise<void>((resolve, reject) => {
      s.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= want) resolve();
      });
      s.once('close', () => reject(new Error(`closed after ${got} of ${want} bytes`)));
      s.resume();
    });
    expect(got).toBe(want);
    expect(closed).toBe(false);
    s.destroy();
  });

  it('applies CONFIG SET client-output-buffer-limit normal: a reply past the hard limit closes the client', async () => {
    await c.config('SET', 'client-output-buffer-limit', 'normal 1mb 0 0');
    expect(await c.config('GET', 'client-output-buffer-limit')).toEqual([
      'client-output-buffer-limit',
      'normal 1048576 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60',
    ]);
    try {
      await c.set('v2m', Buffer.alloc(2 * MB, 'z'));
      const r = await rawClient(srv.port);
      const closed = new Promise<void>((resolve) => r.socket.once('close', () => resolve()));
      r.send('GET v2m');
      await closed;
      // Closed before the reply was written, as in Redis.
      expect(r.received().length).toBeLessThan(2 * MB);
      await limitLines(
        srv,
        /Client id=\d+ addr=\S+ .* omem=\d+ .*cmd=get .* scheduled to be closed ASAP for overcoming of output buffer limits\.$/,
        1,
      );
      // Smaller replies pass.
      expect(await c.get('v10k')).toHaveLength(10 * 1024);
    } finally {
      await c.config('SET', 'client-output-buffer-limit', 'normal 0 0 0');
    }
  });

  it('closes a normal client that stays past the soft limit for its seconds', async () => {
    await c.config('SET', 'client-output-buffer-limit', 'normal 0 512kb 0');
    try {
      const s = await nonReader(srv.port, getCommand('v10k').repeat(10_000));
      // Past 512 KB it is closed at the next check (the next output, or the once-a-second sweep).
      await limitLines(srv, new RegExp(` addr=${s.localAddress}:${s.localPort} .*cmd=get `), 1);
      for (let i = 0; i < 200 && (await omemOf(c, s)) !== undefined; i++) await pause(25);
      expect(await omemOf(c, s)).toBeUndefined();
      s.destroy();
    } finally {
      await c.config('SET', 'client-output-buffer-limit', 'normal 0 0 0');
    }
  });

  it('closes a subscriber that does not read at the pubsub hard limit, with Redis log line', async () => {
    await c.config('SET', 'client-output-buffer-limit', 'pubsub 2mb 0 0');
    try {
      const sub = await rawClient(srv.port);
      sub.send('SUBSCRIBE slow');
      await sub.waitFor(':1\r\n');
      sub.socket.pause();
      const msg = 'm'.repeat(64 * 1024);
      let receivers = 1;
      for (let i = 0; i < 2000 && receivers > 0; i++) receivers = await c.publish('slow', msg);
      expect(receivers).toBe(0);
      await limitLines(srv, /Client id=\d+ .*flags=P /, 1);
      sub.close();
    } finally {
      await c.config('SET', 'client-output-buffer-limit', 'pubsub 32mb 8mb 60');
    }
  });

  it('parses the limit as Redis does: units, replica as slave, errors', async () => {
    await c.config('SET', 'client-output-buffer-limit', 'replica 1gb 100m 30 normal 1k 2kb 5');
    expect(await c.config('GET', 'client-output-buffer-limit')).toEqual([
      'client-output-buffer-limit',
      'normal 1000 2048 5 slave 1073741824 100000000 30 pubsub 33554432 8388608 60',
    ]);
    await c.config('SET', 'client-output-buffer-limit', 'normal 0 0 0 slave 256mb 64mb 60');
    await expect(c.config('SET', 'client-output-buffer-limit', 'normal 1x 0 0')).rejects.toThrow(
      'Error in hard, soft or soft_seconds setting in buffer limit configuration.',
    );
    await expect(c.config('SET', 'client-output-buffer-limit-bytes', '1mb')).rejects.toThrow(/Unknown option or number of arguments/);
  });
});
