// A chat room over Redis pub/sub, run against Sabre with ioredis.
// Rooms are channels; history is a capped list per room (LPUSH + LTRIM, newest first, kept
// HISTORY_MAX long and expiring a day after the last message); presence is an expiring key per user,
// refreshed by a heartbeat, and a crashed client's departure is announced from the
// keyspace `expired` event. The {room} hash tag keeps a room's keys on one shard.
//
// Usage: node examples/chat-room/chat.mjs <port> <room> <user>   (type lines; Ctrl-D leaves)
import { Redis } from 'ioredis';
import readline from 'node:readline';

const HISTORY_TTL_S = 24 * 3600;
const HISTORY_MAX = 1000;

const channel = (room) => `chat:{${room}}`;
const presenceKey = (room, user) => `chat:{${room}}:presence:${user}`;
const historyKey = (room) => `chat:{${room}}:history`;

/** One user in one room. */
export class ChatClient {
  /** `presenceTtl` (seconds): how long the user stays listed without a heartbeat. */
  constructor({ port, host = '127.0.0.1' }, room, user, presenceTtl = 30) {
    this.room = room;
    this.user = user;
    this.presenceTtl = presenceTtl;
    this.cmd = new Redis({ port, host });
    this.sub = new Redis({ port, host });
    this.heartbeat = null;
    this.listeners = [];
    this.sub.on('message', (_ch, raw) => {
      const msg = JSON.parse(raw);
      for (const fn of this.listeners) fn(msg);
    });
  }

  /** Calls `fn(message)` for every message of the room (own ones included). */
  onMessage(fn) {
    this.listeners.push(fn);
  }

  /** Subscribes, marks the user present, and announces the join. */
  async join() {
    await this.sub.subscribe(channel(this.room));
    await this.cmd.set(presenceKey(this.room, this.user), '1', 'EX', this.presenceTtl);
    this.heartbeat = setInterval(
      () => {
        this.cmd.expire(presenceKey(this.room, this.user), this.presenceTtl).catch(() => {});
      },
      (this.presenceTtl * 1000) / 3,
    );
    this.heartbeat.unref();
    await this.post('join', `${this.user} joined`);
  }

  /** Sends a chat line. */
  say(text) {
    return this.post('say', text);
  }

  /** Stores the message in the history and publishes it in one transaction. */
  async post(kind, text) {
    const n = await this.cmd.incr(`${channel(this.room)}:seq`);
    const msg = JSON.stringify({ n, kind, user: this.user, text, at: Date.now() });
    const h = historyKey(this.room);
    await this.cmd
      .multi()
      .lpush(h, msg)
      .ltrim(h, 0, HISTORY_MAX - 1)
      .expire(h, HISTORY_TTL_S)
      .publish(channel(this.room), msg)
      .exec();
  }

  /** The last `count` messages, oldest first. */
  async history(count) {
    const newestFirst = await this.cmd.lrange(historyKey(this.room), 0, count - 1);
    return newestFirst.reverse().map((m) => JSON.parse(m));
  }

  /** Users currently present (SCAN, so a big keyspace never blocks the server as KEYS would). */
  async members() {
    const prefix = presenceKey(this.room, '');
    const found = new Set();
    let cursor = '0';
    do {
      const [next, keys] = await this.cmd.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      for (const k of keys) found.add(k.slice(prefix.length));
      cursor = next;
    } while (cursor !== '0');
    return [...found].sort();
  }

  /** Leaves cleanly: presence removed, departure announced, connections closed. */
  async leave() {
    clearInterval(this.heartbeat);
    await this.cmd.del(presenceKey(this.room, this.user));
    await this.post('leave', `${this.user} left`);
    this.sub.disconnect();
    await this.cmd.quit();
  }

  /** Simulates a crash: stops the heartbeat and drops the connections without a goodbye. */
  crash() {
    clearInterval(this.heartbeat);
    this.sub.disconnect();
    this.cmd.disconnect();
  }
}

/**
 * Announces users whose presence expired (crashed clients) in their room; enables the
 * `Ex` keyspace events it needs. Returns a function that stops it.
 */
export async function watchPresence({ port, host = '127.0.0.1' }) {
  const admin = new Redis({ port, host });
  const sub = new Redis({ port, host });
  await admin.config('SET', 'notify-keyspace-events', 'Ex');
  sub.on('message', (_ch, key) => {
    const m = /^chat:\{(.+)\}:presence:(.+)$/.exec(key);
    if (m === null) return;
    const [, room, user] = m;
    void (async () => {
      const n = await admin.incr(`${channel(room)}:seq`);
      const msg = JSON.stringify({ n, kind: 'timeout', user, text: `${user} timed out`, at: Date.now() });
      const h = historyKey(room);
      await admin
        .multi()
        .lpush(h, msg)
        .ltrim(h, 0, HISTORY_MAX - 1)
        .expire(h, HISTORY_TTL_S)
        .publish(channel(room), msg)
        .exec();
    })();
  });
  await sub.subscribe('__keyevent@0__:expired');
  return async () => {
    sub.disconnect();
    await admin.quit();
  };
}

async function main() {
  const [port, room, user] = process.argv.slice(2);
  if (!port || !room || !user) {
    console.error('usage: node examples/chat-room/chat.mjs <port> <room> <user>');
    process.exit(2);
  }
  const stopWatch = await watchPresence({ port: Number(port) });
  const me = new ChatClient({ port: Number(port) }, room, user);
  for (const m of await me.history(20)) console.log(`[${m.user}] ${m.text}`);
  me.onMessage((m) => m.user !== user && console.log(`[${m.user}] ${m.text}`));
  await me.join();
  console.log(`in ${room} with: ${(await me.members()).join(', ')}`);
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) if (line.trim() !== '') await me.say(line);
  await me.leave();
  await stopWatch();
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
