import { describe, expect, it } from 'vitest';
import { Store } from '../../src/shards/store.js';
import { Ctx, type Handler } from '../../src/shards/context.js';
import { RespWriter } from '../../src/wire/resp-writer.js';
import { loadArgs } from '../helpers/ctx-args.js';
import { blockingCommands, expireWaiters, hasReady, serveReady, serving, type Waiter } from '../../src/shards/blocking.js';
import { listCommands } from '../../src/shards/t_list.js';
import { zsetCommands } from '../../src/shards/t_zset.js';

/** A shard without rings: runs handlers on a Ctx and collects replies per (conn, seq). */
function shard() {
  const store = new Store(1, 1 << 20);
  const out = new RespWriter();
  const ctx = new Ctx(store, out, { maxBulkLen: 1 << 20 });
  const replies: string[] = [];
  const handlers: Record<string, Handler> = { ...listCommands, ...zsetCommands, ...blockingCommands };
  const load = (args: string[]): void => loadArgs(ctx, args);
  const serve = (w: Waiter): boolean => {
    ctx.reserve(w.argc);
    ctx.as.set(w.as);
    ctx.al.set(w.al);
    ctx.buf = w.args;
    ctx.argc = w.argc;
    ctx.name = w.name;
    ctx.conn = w.conn;
    out.len = 0;
    handlers[w.name]!(ctx);
    if (serving.missed) return false;
    replies.push(`${w.conn}:${Buffer.from(out.bytes.subarray(0, out.len)).toString()}`);
    return true;
  };
  const run = (conn: number, ...args: string[]): string | null => {
    load(args);
    ctx.name = args[0]!;
    ctx.conn = conn;
    ctx.deferred = false;
    out.len = 0;
    handlers[args[0]!]!(ctx);
    const r = ctx.deferred ? null : Buffer.from(out.bytes.subarray(0, out.len)).toString();
    if (hasReady()) {
      serveReady((db, key) => {
        const a = store.lookup(db, key, 0, key.length);
        return a === 0 ? -1 : store.arena.u8[a]!;
      }, serve);
    }
    return r;
  };
  return { run, replies };
}

describe('blocking registry', () => {
  it('serves waiters first-blocked-first-served, skipping ones that pop another type', () => {
    const s = shard();
    expect(s.run(1, 'blpop', 'k', '0')).toBeNull();
    expect(s.run(2, 'bzpopmin', 'k', '0')).toBeNull();
    expect(s.run(3, 'brpop', 'k', '0')).toBeNull();
    expect(s.run(9, 'rpush', 'k', 'a', 'b', 'c')).toBe(':3\r\n');
    expect(s.replies).toEqual(['1:*2\r\n$1\r\nk\r\n$1\r\na\r\n', '3:*2\r\n$1\r\nk\r\n$1\r\nc\r\n']);
    expect(s.run(9, 'lpop', 'k')).toBe('$1\r\nb\r\n');
    expect(s.run(9, 'zadd', 'k', '1', 'm')).toBe(':1\r\n');
    expect(s.replies[2]).toBe('2:*3\r\n$1\r\nk\r\n$1\r\nm\r\n$1\r\n1\r\n');
  });

  it("__bwatch reports readiness without popping, and __unblock drops a connection's waiters", () => {
    const s = shard();
    expect(s.run(5, '__bwatch', 'list', 'x', 'y')).toBeNull();
    expect(s.run(6, 'blpop', 'y', '0')).toBeNull();
    expect(s.run(7, '__unblock', '6')).toBe(':1\r\n');
    expect(s.run(9, 'lpush', 'y', 'v')).toBe(':1\r\n');
    expect(s.replies).toEqual(['5::1\r\n']);
    expect(s.run(9, 'llen', 'y')).toBe(':1\r\n');
    expect(s.run(5, '__bwatch', 'list', 'y')).toBe(':1\r\n');
    expect(s.run(5, '__bwatch', 'zset', 'y')).toBeNull();
    expect(s.run(5, '__unblock', '5')).toBe(':1\r\n');
  });

  it('times waiters out in deadline order', () => {
    const s = shard();
    expect(s.run(1, 'blpop', 'q', '0.05')).toBeNull();
    expect(s.run(2, 'blpop', 'q', '0.01')).toBeNull();
    const order: number[] = [];
    expect(expireWaiters(Date.now() + 1000, (w) => order.push(w.conn))).toBe(2);
    expect(order).toEqual([2, 1]);
  });
});
