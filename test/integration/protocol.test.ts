/** The wire protocol over raw sockets: pipelining, inline commands, protocol errors, fuzzing. */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RespConn, encode, type Reply } from '../helpers/resp.js';
import { AGAINST_REDIS, startTarget } from '../helpers/target.js';
import type { TestServer } from '../helpers/server.js';

/** Resident memory of a process in bytes (Linux /proc). */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** Opens a connection, writes `bytes`, half-closes, and resolves once the socket is closed (or after 300 ms). */
function sendAndClose(port: number, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' }, () => {
      s.write(bytes);
      s.end();
    });
    const t = setTimeout(() => {
      s.destroy();
      resolve();
    }, 300);
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

describe.each([1, 3])('protocol with %i shard(s)', (shards) => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTarget(['--shards', String(shards)]);
  });
  afterAll(async () => {
    await srv.stop();
  });

  it('1000 pipelined mixed commands over many shards answer in order', async () => {
    const c = await RespConn.open(srv.port);
    try {
      const cmds: string[][] = [];
      const want: Reply[] = [];
      const model = new Map<string, number>();
      for (let i = 0; i < 1000; i++) {
        const key = `pipe:${i % 37}`;
        switch (i % 5) {
          case 0:
            cmds.push(['SET', key, String(i)]);
            model.set(key, i);
            want.push('OK');
            break;
          case 1:
            cmds.push(['GET', key]);
            want.push(model.has(key) ? String(model.get(key)) : null);
            break;
          case 2:
            cmds.push(['INCR', key]);
            model.set(key, (model.get(key) ?? 0) + 1);
            want.push(model.get(key)!);
            break;
          case 3:
            cmds.push(['PING', `p${i}`]);
            want.push(`p${i}`);
            break;
          default: {
            const other = `pipe:${(i * 7) % 37}`;
            cmds.push(['MGET', key, other]);
            want.push([key, other].map((k) => (model.has(k) ? String(model.get(k)) : null)));
          }
        }
      }
      await c.call('DEL', ...Array.from({ length: 37 }, (_, i) => `pipe:${i}`));
      const got = await c.raw(Buffer.concat(cmds.map((a) => encode(a))), cmds.length);
      expect(got).toEqual(want);
    } finally {
      c.close();
    }
  });

  it('the same pipeline written a few bytes at a time gives the same replies', async () => {
    const c = await RespConn.open(srv.port);
    try {
      const bytes = Buffer.concat(Array.from({ length: 100 }, (_, i) => encode(['ECHO', `v${i}-${'x'.repeat(i)}`])));
      const replies = c.raw(Buffer.alloc(0), 100);
      for (let p = 0; p < bytes.length; p += 7) c.sock.write(bytes.subarray(p, p + 7));
      expect(await replies).toEqual(Array.from({ length: 100 }, (_, i) => `v${i}-${'x'.repeat(i)}`));
    } finally {
      c.close();
    }
  });

  it('inline commands work, with quotes, mixed with multibulk', async () => {
    const c = await RespConn.open(srv.port);
    try {
      const got = await c.raw(
        'SET inl "hello world"\r\nGET inl\r\n*2\r\n$3\r\nGET\r\n$3\r\ninl\r\n\r\nECHO \'a\\\'b\' "\\x41\\n"\nPING\n',
        5,
      );
      expect(got).toEqual(['OK', 'hello world', 'hello world', { err: "ERR wrong number of arguments for 'echo' command" }, 'PONG']);
    } finally {
      c.close();
    }
  });

  it('pipelined inline commands with quoted arguments keep their own arguments across shards', async () => {
    const c = await RespConn.open(srv.port);
    try {
      let text = '';
      for (let i = 0; i < 50; i++) text += `SET "iq:${i}" "val ${i}"\r\n`;
      for (let i = 0; i < 50; i++) text += `GET 'iq:${i}'\r\n`;
      text += 'MGET "iq:1" \'iq:2\' iq:3\r\n';
      const got = await c.raw(text, 101);
      expect(got.slice(0, 50)).toEqual(Array(50).fill('OK'));
      expect(got.slice(50, 100)).toEqual(Array.from({ length: 50 }, (_, i) => `val ${i}`));
      expect(got[100]).toEqual(['val 1', 'val 2', 'val 3']);
    } finally {
      c.close();
    }
  });

  it('a value of 8 MB sent in small pieces arrives whole', async () => {
    const c = await RespConn.open(srv.port);
    try {
      const v = Buffer.alloc(8 * 1024 * 1024);
      for (let i = 0; i < v.length; i += 4096) v[i] = i & 0xff;
      const bytes = encode(['SET', 'bigpiece', v]);
      const reply = c.raw(Buffer.alloc(0), 1);
      for (let p = 0; p < bytes.length; p += 65536) c.sock.write(bytes.subarray(p, p + 65536));
      expect(await reply).toEqual(['OK']);
      expect(await c.call('STRLEN', 'bigpiece')).toBe(v.length);
    } finally {
      c.close();
    }
  });

  it.each([2, 3])('a multibulk of 100k arguments written in 1-byte to 8 KB pieces gets its reply (RESP%i)', async (proto) => {
    const c = await RespConn.open(srv.port);
    try {
      if (proto === 3) await c.call('HELLO', '3');
      await c.call('DEL', 'trickled');
      const args = Array.from({ length: 100_000 }, (_, i) => `e${i}`);
      const bytes = encode(['RPUSH', 'trickled', ...args]);
      // A seeded walk: many tiny pieces (cuts inside every kind of line) and many big ones.
      let seed = 0x2545f491;
      const rand = (): number => {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        return (seed >>> 0) / 2 ** 32;
      };
      const reply = c.raw(Buffer.alloc(0), 1);
      for (let p = 0; p < bytes.length; ) {
        const n = rand() < 0.5 ? 1 + Math.floor(rand() * 16) : 1 + Math.floor(rand() * 8192);
        c.sock.write(bytes.subarray(p, p + n));
        p += n;
        await new Promise((r) => setImmediate(r));
      }
      expect(await reply).toEqual([100_000]);
      expect(await c.call('LLEN', 'trickled')).toBe(100_000);
      expect(await c.call('LRANGE', 'trickled', '0', '1')).toEqual(['e0', 'e1']);
      expect(await c.call('LINDEX', 'trickled', '54321')).toBe('e54321');
      expect(await c.call('LINDEX', 'trickled', '-1')).toBe('e99999');
      await c.call('DEL', 'trickled');
    } finally {
      c.close();
    }
  });

  it('inline commands with quotes written a byte at a time are parsed as in one piece', async () => {
    const c = await RespConn.open(srv.port);
    try {
      const text = 'SET "inl trickle" \'a b\'\r\nAPPEND "inl trickle" "\\x41\\n"\nGET "inl trickle"\r\n';
      const replies = c.raw(Buffer.alloc(0), 3);
      for (const b of Buffer.from(text, 'latin1')) {
        c.sock.write(Uint8Array.of(b));
        await new Promise((r) => setImmediate(r));
      }
      expect(await replies).toEqual(['OK', 5, 'a bA\n']);
    } finally {
      c.close();
    }
  });

  it.each([
    ['*abc\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*1\r\nx\r\n', "ERR Protocol error: expected '$', got 'x'"],
    ['*1\r\n$abc\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\n$600000000\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*01\r\n$4\r\nPING\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['SET a "b\r\n', 'ERR Protocol error: unbalanced quotes in request'],
    ["ECHO 'a'b\r\n", 'ERR Protocol error: unbalanced quotes in request'],
    ['*3000000000\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*1\r\n\r\n', "ERR Protocol error: expected '$', got ' '"],
    ['*1\r\n\n\r\n', "ERR Protocol error: expected '$', got ' '"],
    ['*1\r\n$-1\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\n$536870913\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*2\r\n$4\r\nECHO\r\n:1\r\n', "ERR Protocol error: expected '$', got ':'"],
  ])('protocol error %j: Redis error text, earlier commands answered, then the connection closes', async (bad, text) => {
    const c = await RespConn.open(srv.port);
    const got = await c.raw(`PING\r\n*1\r\n$4\r\nPING\r\n${bad}PING\r\n`, 3);
    expect(got.slice(0, 3)).toEqual(['PONG', 'PONG', { err: text }]);
    expect(await c.waitClose()).toBe(true);
  });

  it.each(['*1\r\n$-5\r\n', 'QUIT\r\n'])(
    'after %j the server closes its socket, not just its side: later writes are refused',
    async (bytes) => {
      const sock = connect({ port: srv.port, host: '127.0.0.1', allowHalfOpen: true });
      const failed = new Promise<boolean>((resolve) => sock.once('error', () => resolve(true)));
      await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
      sock.on('data', () => {});
      sock.write(bytes);
      await new Promise<void>((resolve) => sock.once('end', () => resolve()));
      // A half-closed server socket would take these forever; a closed one answers with a reset.
      let refused = false;
      void failed.then(() => (refused = true));
      for (let i = 0; i < 200 && !refused; i++) {
        sock.write('PING\r\n');
        await new Promise((r) => setTimeout(r, 10));
      }
      sock.destroy();
      expect(refused).toBe(true);
    },
  );

  it("a non-ASCII byte in place of '$' is sent back as that byte", async () => {
    const c = await RespConn.open(srv.port);
    const got: Buffer[] = [];
    c.sock.on('data', (d: Buffer) => got.push(d));
    c.sock.write(Buffer.from('*1\r\n\xe9\r\n', 'latin1'));
    expect(await c.waitClose()).toBe(true);
    expect(Buffer.concat(got).toString('latin1')).toBe("-ERR Protocol error: expected '$', got '\xe9'\r\n");
  });

  it.each([
    ['*1\0\r\n', 'ERR Protocol error: too big mbulk count string'],
    ['*1\r\n$4\0\r\nPING\r\n', 'ERR Protocol error: too big bulk count string'],
    ['*1\r\n\0\r\n', 'ERR Protocol error: too big bulk count string'],
    ['ECHO "\0"\r\n', 'ERR Protocol error: too big inline request'],
    ['\0\r\n', 'ERR Protocol error: too big inline request'],
  ])('a NUL before the end of line %j holds the input (as strchr does) until 64 KB, then closes', async (bad, text) => {
    const c = await RespConn.open(srv.port);
    // The PING after the held line never runs: the next reply is the error.
    const got = await c.raw(`PING\r\n${bad}PING\r\n${'x'.repeat(70 * 1024)}`, 2);
    expect(got).toEqual(['PONG', { err: text }]);
    expect(await c.waitClose()).toBe(true);
  });

  it('replies to shard commands queued before a protocol error are all sent, in order, before the error', async () => {
    const c = await RespConn.open(srv.port);
    const cmds = Buffer.concat([
      encode(['SET', 'pe:a', '1']),
      encode(['SET', 'pe:b', '2']),
      encode(['MGET', 'pe:a', 'pe:b', 'pe:c']),
      encode(['INCR', 'pe:a']),
      Buffer.from('*1\r\n$-3\r\n'),
      encode(['SET', 'pe:after', 'x']),
    ]);
    const got = await c.raw(cmds, 5);
    expect(got).toEqual(['OK', 'OK', ['1', '2', null], 2, { err: 'ERR Protocol error: invalid bulk length' }]);
    expect(await c.waitClose()).toBe(true);
    const d = await RespConn.open(srv.port);
    expect(await d.call('EXISTS', 'pe:after')).toBe(0);
    d.close();
  });

  it('an inline line over 64 KB without newline is refused', async () => {
    const c = await RespConn.open(srv.port);
    const [r] = await c.raw('x'.repeat(70 * 1024), 1);
    expect(r).toEqual({ err: 'ERR Protocol error: too big inline request' });
    expect(await c.waitClose()).toBe(true);
  });

  it('a client whose unparsed input passes client-query-buffer-limit is disconnected', async () => {
    const ctl = await RespConn.open(srv.port);
    expect(await ctl.call('CONFIG', 'SET', 'client-query-buffer-limit', '1mb')).toBe('OK');
    try {
      const c = await RespConn.open(srv.port);
      c.sock.write('*3\r\n$3\r\nSET\r\n$2\r\nqb\r\n$3000000\r\n');
      for (let i = 0; i < 30 && !c.closed; i++) {
        c.sock.write(Buffer.alloc(100_000, 120));
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(await c.waitClose(3000)).toBe(true);
      expect(await ctl.call('EXISTS', 'qb')).toBe(0);
    } finally {
      expect(await ctl.call('CONFIG', 'SET', 'client-query-buffer-limit', '1gb')).toBe('OK');
      ctl.close();
    }
  });

  it('random malformed input never crashes the server, and memory stays bounded', async () => {
    const before = AGAINST_REDIS ? 0 : rss(srv.proc.pid!);
    const alphabet = fc.constantFrom(...'*$\r\n0123456789-+: "\'\\xPINGSET'.split('').map((ch) => ch.charCodeAt(0)), 0, 255);
    const token = fc.oneof(
      fc.constantFrom(
        '*1\r\n',
        '*2\r\n',
        '*3\r\n',
        '$4\r\nPING\r\n',
        '$3\r\nGET\r\n',
        '$-1\r\n',
        '*-1\r\n',
        '$5000000\r\n',
        '*99999999\r\n',
        '"',
        "'",
        '\r\n',
        '\n',
      ),
      fc.string({ maxLength: 10 }),
    );
    const messy = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.array(alphabet, { maxLength: 300 }).map((a) => Uint8Array.from(a)),
      fc.array(token, { maxLength: 30 }).map((t) => Buffer.from(t.join(''), 'latin1')),
    );
    const samples = fc.sample(messy, { numRuns: 240, seed: 42 });
    for (let i = 0; i < samples.length; i += 12) {
      await Promise.all(samples.slice(i, i + 12).map((b) => sendAndClose(srv.port, b)));
    }
    // half-declared huge bulks, abandoned: must not keep (or pre-allocate) their size
    await Promise.all(Array.from({ length: 8 }, () => sendAndClose(srv.port, Buffer.from('*2\r\n$3\r\nGET\r\n$500000000\r\nabc'))));
    const c = await RespConn.open(srv.port);
    try {
      expect(await c.call('PING')).toBe('PONG');
      expect(await c.call('SET', 'after-fuzz', 'ok')).toBe('OK');
      expect(await c.call('GET', 'after-fuzz')).toBe('ok');
    } finally {
      c.close();
    }
    if (!AGAINST_REDIS) {
      expect(srv.proc.exitCode).toBeNull();
      expect(rss(srv.proc.pid!) - before).toBeLessThan(256 * 1024 * 1024);
    }
  }, 60_000);
});
