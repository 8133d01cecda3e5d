import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { directWrites, writeLatin1 } from '../../src/net/direct-write.js';

let server: Server | null = null;
afterEach(() => {
  server?.close();
  server = null;
});

/** A server whose first connection's socket is returned; `pauseReads` leaves it unread until resumed. */
async function pair(pauseReads = false): Promise<{ client: Socket; peer: Socket; received: () => string }> {
  let text = '';
  const accepted = new Promise<Socket>((resolve) => {
    server = createServer((s) => {
      if (pauseReads) s.pause();
      s.setEncoding('latin1');
      s.on('data', (d: string) => (text += d));
      resolve(s);
    });
  });
  server!.listen(0, '127.0.0.1');
  await once(server!, 'listening');
  const client = connect((server!.address() as AddressInfo).port, '127.0.0.1');
  return { client, peer: await accepted, received: () => text };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('writeLatin1', () => {
  it('finds the stream_wrap internals on this Node (the suite would otherwise test only the fallback)', () => {
    expect(directWrites).toBe(true);
  });

  it('writes before connect (through socket.write) and after, in order', async () => {
    const { client, received } = await pair();
    writeLatin1(client, 'one ');
    await once(client, 'connect');
    writeLatin1(client, 'two ');
    client.write('three ');
    writeLatin1(client, 'caf\u00e9');
    await until(() => received().length >= 18);
    expect(received()).toBe('one two three caf\u00e9');
    client.destroy();
  });

  it('keeps order when a write has to wait in libuv for a slow reader', async () => {
    const { client, peer, received } = await pair(true);
    await once(client, 'connect');
    const big = 'x'.repeat(4 * 1024 * 1024);
    writeLatin1(client, big);
    writeLatin1(client, 'tail');
    peer.resume();
    await until(() => received().length >= big.length + 4);
    expect(received().length).toBe(big.length + 4);
    expect(received().endsWith('xtail')).toBe(true);
    client.destroy();
  });

  it('ends the socket with an error event when the peer has reset it', async () => {
    const { client, peer } = await pair();
    await once(client, 'connect');
    const failed = once(client, 'error');
    peer.resetAndDestroy();
    await once(client, 'end').catch(() => undefined);
    for (let i = 0; i < 100 && !client.destroyed; i++) {
      writeLatin1(client, 'after reset');
      await new Promise((r) => setTimeout(r, 5));
    }
    const [err] = (await failed) as [NodeJS.ErrnoException];
    expect(['EPIPE', 'ECONNRESET']).toContain(err.code);
    expect(client.destroyed).toBe(true);
  });
});
