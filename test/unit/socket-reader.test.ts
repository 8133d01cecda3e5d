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
