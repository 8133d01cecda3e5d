import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';
// @ts-expect-error -- the example is plain JavaScript without type declarations.
import { ChatClient, watchPresence } from '../../examples/chat-room/chat.mjs';

interface Msg {
  n: number;
  kind: string;
  user: string;
  text: string;
}

/** Polls until `check` passes (bounded). */
async function eventually(check: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe.each([1, 3])('chat room example with %i shard(s)', (shards) => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer(['--shards', String(shards)]);
  });
  afterAll(async () => {
    expect(await srv.stop()).toBe(0);
  });

  it('exchanges messages, keeps history and presence, and announces a crashed user', async () => {
    const stop = await watchPresence({ port: srv.port });
    const alice = new ChatClient({ port: srv.port }, 'lobby', 'alice');
    const bob = new ChatClient({ port: srv.port }, 'lobby', 'bob', 1);
    const seen: Msg[] = [];
    alice.onMessage((m: Msg) => seen.push(m));
    await alice.join();
    await bob.join();
    await bob.say('hi alice');
    await alice.say('hi bob');
    await eventually(() => seen.length >= 4);
    expect(seen.map((m) => `${m.user}:${m.kind}:${m.text}`)).toEqual([
      'alice:join:alice joined',
      'bob:join:bob joined',
      'bob:say:hi alice',
      'alice:say:hi bob',
    ]);
    expect(await alice.members()).toEqual(['alice', 'bob']);
    expect((await alice.history(2)).map((m: Msg) => m.text)).toEqual(['hi alice', 'hi bob']);
    bob.crash();
    await eventually(() => seen.some((m) => m.kind === 'timeout'));
    expect(seen.at(-1)).toMatchObject({ kind: 'timeout', user: 'bob' });
    expect(await alice.members()).toEqual(['alice']);
    await alice.leave();
    await stop();
  });
});
