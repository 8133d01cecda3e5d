import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { once } from 'node:events';
import { readIntoScratch } from '../../src/net/socket-reader.js';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

/** A loopback server whose sockets read through readIntoScratch; resolves with its port. */
async function server(onSocket: (s: net.Socket, chunks: Buffer[], usedScratch: boolean) => void): Promise<number> {
  const srv = net.createServer((s) => {
    const chunks: Buffer[] = [];
    const used = readIntoScratch(s, (c) => chunks.push(c));
    if (!used) s.on('data', (c: Buffer) => chunks.push(c));
    onSocket(s, chunks, used);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  closers.push(() => srv.close());
  return (srv.address() as net.AddressInfo).port;
}

describe('readIntoScratch', () => {
  it('hands over every read as its own buffer: earlier chunks survive later reads', async () => {
    let done!: (v: { chunks: Buffer[]; used: boolean }) => void;
    const result = new Promise<{ chunks: Buffer[]; used: boolean }>((r) => (done = r));
    const port = await server((s, chunks, used) => s.on('end', () => done({ chunks, used })));
    const c = net.connect(port, '127.0.0.1');
    await once(c, 'connect');
    const sent: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const b = Buffer.alloc(1 + ((i * 7919) % 3000), i & 0xff);
      sent.push(b);
      c.write(b);
      // Yield now and then so the server sees many separate reads.
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    c.end();
    const { chunks, used } = await result;
    expect(used).toBe(true);
    expect(chunks.length).toBeGreaterThan(1);
    expect(Buffer.concat(chunks).equals(Buffer.concat(sent))).toBe(true);
  });

  it('stops reading while paused and delivers the rest after resume', async () => {
    let peer!: { s: net.Socket; chunks: Buffer[] };
    let accepted!: () => void;
    const ready = new Promise<void>((r) => (accepted = r));
    const port = await server((s, chunks) => {
      peer = { s, chunks };
      accepted();
    });
    const c = net.connect(port, '127.0.0.1');
    await once(c, 'connect');
    await ready;
    peer.s.pause();
    c.write('held');
    await new Promise((r) => setTimeout(r, 50));
    expect(peer.chunks.length).toBe(0);
    peer.s.resume();
    while (peer.chunks.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(Buffer.concat(peer.chunks).toString()).toBe('held');
    c.destroy();
  });
});

describe('readIntoScratch with a scratch handler', () => {
  it('offers each read first; what it takes (copied during the call) is not handed over again', async () => {
    const got: Buffer[] = [];
    let taken = 0;
    let done!: () => void;
    const ended = new Promise<void>((r) => (done = r));
    const srv = net.createServer((s) => {
      let reads = 0;
      const used = readIntoScratch(
        s,
        (c) => got.push(c),
        (scratch, n) => {
          if (reads++ % 2 === 1) return false;
          taken++;
          got.push(Buffer.from(scratch.subarray(0, n)));
          return true;
        },
      );
      if (!used) s.on('data', (c: Buffer) => got.push(c));
      s.on('end', () => done());
    });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    closers.push(() => srv.close());
    const c = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
    await once(c, 'connect');
    const sent: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      const b = Buffer.alloc(100 + i * 37, i);
      sent.push(b);
      c.write(b);
      await new Promise((r) => setTimeout(r, 1));
    }
    c.end();
    await ended;
    expect(taken).toBeGreaterThan(0);
    expect(Buffer.concat(got).equals(Buffer.concat(sent))).toBe(true);
  });
});
