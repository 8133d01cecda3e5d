import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';
import { rawClient, type RawClient } from '../helpers/raw-client.js';

/** The monitor lines (time stripped) of the client at `c`'s address, in the order received. */
function linesOf(m: RawClient, c: RawClient | net.Socket): string[] {
  const s = c instanceof net.Socket ? c : c.socket;
  const addr = `${s.localAddress}:${s.localPort}`;
  return m
    .received()
    .split('\r\n')
    .filter((l) => l.includes(` ${addr}] `))
    .map((l) => l.replace(/^\+[\d.]+ \[\d+ [^\]]+\] /, ''));
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits (up to 10 s) until `check` holds. */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await pause(25);
  }
  throw new Error('condition not reached');
}

describe('MONITOR order', () => {
  let srv: TestServer;
  let r: Redis;
  beforeAll(async () => {
    srv = await startServer(['--shards', '3']);
    r = new Redis({ port: srv.port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    r.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it("shows a client's pipelined commands once each, in its order, over several shards", async () => {
    const m = await rawClient(srv.port);
    m.send('MONITOR');
    await m.waitFor('+OK\r\n');
    const c = await rawClient(srv.port);
    const cmds = [
      'SET k1 a',
      'SET k2 b',
      'PING',
      'SET k3 c',
      'MGET k1 k2 k3',
      'INCR n',
      'ECHO hi',
      'MULTI',
      'SET t 1',
      'GET k2',
      'EXEC',
      'DEL k1 k2 k3',
      'GET t',
    ];
    c.send(...cmds);
    await c.waitFor('$1\r\n1\r\n');
    await until(() => linesOf(m, c).length >= cmds.length);
    const quoted = (s: string): string =>
      s
        .split(' ')
        .map((w) => `"${w}"`)
        .join(' ');
    expect(linesOf(m, c)).toEqual(
      [
        'SET k1 a',
        'SET k2 b',
        'PING',
        'SET k3 c',
        'MGET k1 k2 k3',
        'INCR n',
        'ECHO hi',
        'MULTI',
        'SET t 1',
        'GET k2',
        'EXEC',
        'DEL k1 k2 k3',
        'GET t',
      ].map(quoted),
    );
    m.close();
    c.close();
  });

  it('shows a blocking command when it blocks, once, and the push that serves it after it', async () => {
    const m = await rawClient(srv.port);
    m.send('MONITOR');
    await m.waitFor('+OK\r\n');
    const a = await rawClient(srv.port);
    a.send('BLPOP q 0');
    // Shown while still blocked, as Redis feeds monitors from the call that blocked.
    await until(() => linesOf(m, a).length === 1);
    expect(a.received()).toBe('');
    const b = await rawClient(srv.port);
    b.send('LPUSH q x');
    await a.waitFor('*2\r\n$1\r\nq\r\n$1\r\nx\r\n');
    await until(() => linesOf(m, b).length === 1);
    a.send('PING');
    await a.waitFor('+PONG');
    await until(() => linesOf(m, a).length === 2);
    expect(linesOf(m, a)).toEqual(['"BLPOP" "q" "0"', '"PING"']);
    const text = m.received();
    expect(text.indexOf('"BLPOP"')).toBeLessThan(text.indexOf('"LPUSH"'));
    m.close();
    a.close();
    b.close();
  });

  it('shows a command once it ran, not when it was handed to its shard', async () => {
    // Ten reads of a 500,000-element list keep its shard busy while another client's PING runs at once.
    const args = Array<string>(10_000).fill('x');
    const p = r.pipeline();
    for (let i = 0; i < 50; i++) p.rpush('L', ...args);
    await p.exec();
    const m = await rawClient(srv.port);
    m.send('MONITOR');
    await m.waitFor('+OK\r\n');
    const fast = await rawClient(srv.port);
    const slow = net.connect(srv.port, '127.0.0.1');
    await new Promise<void>((resolve) => slow.once('connect', resolve));
    let got = 0;
    slow.on('data', (d: Buffer) => (got += d.length));
    slow.write('LRANGE L 0 -1\r\n'.repeat(10));
    const addr = ` addr=${slow.localAddress}:${slow.localPort} `;
    await until(async () => ((await r.client('LIST')) as string).split('\n').some((l) => l.includes(addr) && l.includes(' cmd=lrange ')));
    fast.send('PING');
    await fast.waitFor('+PONG\r\n');
    await until(() => linesOf(m, slow).length === 10 && linesOf(m, fast).length === 1);
    const text = m.received();
    // The last read finished after the PING: its line follows the PING's.
    expect(text.lastIndexOf('"LRANGE"')).toBeGreaterThan(text.indexOf('"PING"'));
    await until(() => got === 10 * (500_000 * 7 + '*500000\r\n'.length));
    await r.del('L');
    m.close();
    slow.destroy();
    fast.close();
  });
});
