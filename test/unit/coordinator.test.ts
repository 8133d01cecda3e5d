/**
 * The cross-shard coordinator without threads or sockets: fake shard ports record the frames it
 * sends, and the tests answer them (by hand, or through a tiny key-value model of a shard).
 */
import { describe, expect, it } from 'vitest';
import calculateSlot from 'cluster-key-slot';
import { Coordinator, type ShardPort } from '../../src/io/coordinator.js';
import { SYSTEM_CONN_BASE } from '../../src/wire/frames.js';
import { planBlock, runBlock, type BlockedClient } from '../../src/io/block-across.js';
import { AofOrder, type AofEntry } from '../../src/io/aof-order.js';
import { CMD } from '../../src/commands/ids.generated.js';
import type { ParsedCommand } from '../../src/wire/resp-parser.js';

const SHARDS = 3;

/** One request frame as a shard would receive it. */
interface Frame {
  shard: number;
  conn: number;
  seq: number;
  cmd: number;
  db: number;
  flags: number;
  args: string[];
  /** The coordinator's holds when the frame was sent. */
  held: number[];
}

/** A key named `prefix…` that lands on `shard`. */
function keyOn(shard: number, prefix: string): string {
  for (let i = 0; ; i++) if (calculateSlot(`${prefix}${i}`) % SHARDS === shard) return `${prefix}${i}`;
}

const b = (...xs: string[]): Buffer[] => xs.map((x) => Buffer.from(x));
const bulk = (v: string): string => `$${Buffer.byteLength(v, 'latin1')}\r\n${v}\r\n`;
const text = (r: Uint8Array): string => Buffer.from(r).toString('latin1');

/** Lets pending promise chains and immediates run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

/**
 * Fake shards: ports that record frames. With `model` set, each frame is answered on the next turn
 * by a small key-value model of the shard (EXISTS, MSET, DEL, __dump, __restore, FLUSHALL);
 * otherwise frames wait in `waiting` for the test to answer.
 */
class FakeShards {
  readonly frames: Frame[] = [];
  readonly waiting: Frame[] = [];
  readonly data: Map<string, string>[] = Array.from({ length: SHARDS }, () => new Map());
  readonly ports: ShardPort[];
  /** AOF entries committed, with their replies, in order. */
  readonly logged: string[] = [];
  readonly aof = new AofOrder();
  readonly coord: Coordinator;
  released = 0;
  wakes = 0;
  readonly done: string[] = [];

  constructor(private readonly model: boolean) {
    this.ports = Array.from({ length: SHARDS }, (_, shard) => this.port(shard));
    this.coord = new Coordinator({
      ports: this.ports,
      count: SHARDS,
      databases: 16,
      aof: this.aof,
      wake: () => this.wakes++,
      released: () => this.released++,
      operationDone: (id, args, _db, reply) => this.done.push(`${id} ${args[0]} ${text(reply.bytes.subarray(0, reply.len))}`),
    });
  }

  /** Turns the AOF on with a sink that records what is committed. */
  aofOn(): void {
    this.aof.sink = {
      capture: (db: number, id: number, cmd: ParsedCommand): AofEntry => ({ db, id, argv: [cmd.buf] }),
      commit: (e, reply, s, len) =>
        this.logged.push(`${e.argv.map((x) => Buffer.from(x).toString()).join(' ')} -> ${text(reply.subarray(s, s + len))}`),
      flush: () => {},
    };
  }

  private port(shard: number): ShardPort {
    let cur: Frame | null = null;
    return {
      begin: (conn, seq, cmd, db, flags) => {
        cur = { shard, conn, seq, cmd, db, flags, args: [], held: Array.from(this.coord.held) };
        return new Uint8Array(0);
      },
      arg: (_buf, src, start, len) => {
        cur!.args.push(Buffer.from(src.subarray(start, start + len)).toString('latin1'));
      },
      end: () => {
        const f = cur!;
        cur = null;
        this.frames.push(f);
        if (this.model) setImmediate(() => this.answer(f, this.run(f)));
        else this.waiting.push(f);
      },
    };
  }

  /** Answers a frame; returns whether a call was still waiting for it. */
  answer(f: Frame, reply: string): boolean {
    const i = this.waiting.indexOf(f);
    if (i >= 0) this.waiting.splice(i, 1);
    const bytes = Buffer.from(reply, 'latin1');
    return this.coord.answer(f.seq, bytes, 0, bytes.length);
  }

  /** The waiting frame sent to `shard` whose first argument is `name`. */
  take(shard: number, name: string): Frame {
    const f = this.waiting.find((x) => x.shard === shard && x.args[0] === name);
    if (f === undefined) throw new Error(`no ${name} waiting on shard ${shard}: ${JSON.stringify(this.waiting)}`);
    return f;
  }

  /** What the key-value model of a shard answers. */
  private run(f: Frame): string {
    const m = this.data[f.shard]!;
    const k = (key: string): string => `${f.db}:${key}`;
    const [name, ...a] = f.args;
    switch (name!.toLowerCase()) {
      case 'exists':
        return `:${a.filter((x) => m.has(k(x))).length}\r\n`;
      case 'mset':
        for (let i = 0; i < a.length; i += 2) m.set(k(a[i]!), a[i + 1]!);
        return '+OK\r\n';
      case 'del':
        return `:${a.filter((x) => m.delete(k(x))).length}\r\n`;
      case 'flushall':
        m.clear();
        return '+OK\r\n';
      case '__dump': {
        const v = m.get(k(a[0]!));
        if (v === undefined) return '$-1\r\n';
        if (a[1] === '1') m.delete(k(a[0]!));
        return bulk(v);
      }
      case '__restore':
        if (m.has(k(a[0]!)) && a[2] !== '1') return ':0\r\n';
        m.set(k(a[0]!), a[1]!);
        return ':1\r\n';
      default:
        return '-ERR unknown command in the model\r\n';
    }
  }
}

describe('coordinator system calls', () => {
  it('sends a frame through the shard port and resolves with the reply to its seq', async () => {
    const f = new FakeShards(false);
    const got = f.coord.call(1, 5, CMD.GET, b('get', 'k'), 7);
    expect(f.frames).toEqual([
      { shard: 1, conn: 0, seq: expect.any(Number), cmd: CMD.GET, db: 5, flags: 7, args: ['get', 'k'], held: [0, 0, 0] },
    ]);
    expect(f.wakes).toBe(1);
    const other = f.coord.call(2, 0, CMD.GET, b('get', 'j'));
    const [first, second] = f.frames;
    expect(second!.seq).not.toBe(first!.seq);
    // Answers come in any order; each resolves its own call.
    expect(f.answer(second!, bulk('J'))).toBe(true);
    expect(f.answer(first!, bulk('K'))).toBe(true);
    expect(text(await got)).toBe(bulk('K'));
    expect(text(await other)).toBe(bulk('J'));
    // A second answer to the same seq finds no call.
    expect(f.answer(first!, bulk('K'))).toBe(false);
  });

  it('callAll asks every shard and resolves with the replies by shard', async () => {
    const f = new FakeShards(false);
    const all = f.coord.callAll(3, CMD.DBSIZE, b('dbsize'));
    expect(f.frames.map((x) => [x.shard, x.db])).toEqual([
      [0, 3],
      [1, 3],
      [2, 3],
    ]);
    for (const x of [...f.waiting].reverse()) f.answer(x, `:${x.shard * 10}\r\n`);
    expect((await all).map(text)).toEqual([':0\r\n', ':10\r\n', ':20\r\n']);
  });

  it('logs a call made with an AOF entry when its reply comes, and leaves it out while the AOF is off', async () => {
    const f = new FakeShards(false);
    f.aofOn();
    const entry = f.coord.logEntry(0, CMD.LPOP, b('lpop', 'q'));
    expect(entry).not.toBeNull();
    const popped = f.coord.call(0, 0, CMD.LPOP, b('lpop', 'q'), 0, 0, entry);
    expect(f.logged).toEqual([]);
    f.answer(f.take(0, 'lpop'), bulk('x'));
    await popped;
    expect(f.logged).toEqual([`lpop q -> ${bulk('x')}`]);
    f.aof.sink = null;
    expect(f.coord.logEntry(0, CMD.LPOP, b('lpop', 'q'))).toBeNull();
  });
});

describe('coordinator holds and the queue', () => {
  it('runs queued work one piece at a time, holding only its shards, and releases in order', async () => {
    const f = new FakeShards(false);
    const order: string[] = [];
    const first = f.coord.holding([1], async () => {
      order.push('first starts');
      const r = await f.coord.call(1, 0, CMD.GET, b('get', 'a'));
      order.push('first ends');
      return text(r);
    });
    const second = f.coord.holding([0, 2], async () => {
      order.push('second starts');
      const r = await f.coord.call(2, 0, CMD.GET, b('get', 'b'));
      order.push('second ends');
      return text(r);
    });
    await settle();
    // The second piece waits for the first: only the first one's frame went out.
    expect(order).toEqual(['first starts']);
    expect(Array.from(f.coord.held)).toEqual([0, 1, 0]);
    expect(f.coord.anyHeld()).toBe(true);
    expect(f.frames.map((x) => x.args[1])).toEqual(['a']);
    expect(f.released).toBe(0);
    f.answer(f.take(1, 'get'), bulk('A'));
    await settle();
    expect(await first).toBe(bulk('A'));
    expect(f.released).toBe(1);
    expect(order).toEqual(['first starts', 'first ends', 'second starts']);
    expect(Array.from(f.coord.held)).toEqual([1, 0, 1]);
    expect(f.frames[1]!.held).toEqual([1, 0, 1]);
    f.answer(f.take(2, 'get'), bulk('B'));
    expect(await second).toBe(bulk('B'));
    expect(f.released).toBe(2);
    expect(f.coord.anyHeld()).toBe(false);
  });

  it('releases the holds when the work fails, and later work still runs', async () => {
    const f = new FakeShards(false);
    const failed = f.coord.holding([0], async () => {
      throw new Error('boom');
    });
    await expect(failed).rejects.toThrow('boom');
    expect(f.released).toBe(1);
    expect(f.coord.anyHeld()).toBe(false);
    expect(await f.coord.queued(async () => 'next')).toBe('next');
  });

  it('exclusive holds every shard; withoutHolds lifts them only for its callback', async () => {
    const f = new FakeShards(false);
    const seen: number[][] = [];
    await f.coord.exclusive(async () => {
      seen.push(Array.from(f.coord.held));
      f.coord.withoutHolds(() => seen.push(Array.from(f.coord.held)));
      seen.push(Array.from(f.coord.held));
    });
    expect(seen).toEqual([
      [1, 1, 1],
      [0, 0, 0],
      [1, 1, 1],
    ]);
    expect(f.coord.anyHeld()).toBe(false);
  });
});

describe('coordinator operations across shards', () => {
  it('RENAME moves the value with both shards held; RENAMENX refuses an existing destination', async () => {
    const f = new FakeShards(true);
    const [src, dst, other] = [keyOn(0, 'src'), keyOn(2, 'dst'), keyOn(1, 'other')];
    f.data[0]!.set(`0:${src}`, 'payload');
    f.data[1]!.set(`0:${other}`, 'taken');
    const reply = await f.coord.operation(CMD.RENAME, b('rename', src, dst), null, 0, 2, null);
    expect(text(reply)).toBe('+OK\r\n');
    expect(f.data[0]!.has(`0:${src}`)).toBe(false);
    expect(f.data[2]!.get(`0:${dst}`)).toBe('payload');
    // The source is taken (dump with del=1), then the destination replaced, all while both shards were held.
    expect(f.frames.map((x) => [x.shard, ...x.args.filter((a) => a !== 'payload')])).toEqual([
      [0, '__dump', src, '1'],
      [2, '__restore', dst, '1'],
    ]);
    for (const x of f.frames) expect(x.held).toEqual([1, 0, 1]);
    expect(f.released).toBe(1);
    expect(f.coord.anyHeld()).toBe(false);
    expect(f.done).toEqual([`${CMD.RENAME} rename +OK\r\n`]);

    expect(text(await f.coord.operation(CMD.RENAMENX, b('renamenx', dst, other), null, 0, 2, null))).toBe(':0\r\n');
    expect(f.data[2]!.get(`0:${dst}`)).toBe('payload');
    expect(text(await f.coord.operation(CMD.RENAME, b('rename', src, dst), null, 0, 2, null))).toBe('-ERR no such key\r\n');
  });

  it('COPY to another database keeps the source; without REPLACE an existing destination wins', async () => {
    const f = new FakeShards(true);
    const [src, dst] = [keyOn(1, 'src'), keyOn(2, 'dst')];
    f.data[1]!.set(`0:${src}`, 'v1');
    expect(text(await f.coord.operation(CMD.COPY, b('copy', src, dst, 'DB', '4'), null, 0, 2, null))).toBe(':1\r\n');
    expect(f.data[1]!.get(`0:${src}`)).toBe('v1');
    expect(f.data[2]!.get(`4:${dst}`)).toBe('v1');
    f.data[1]!.set(`0:${src}`, 'v2');
    expect(text(await f.coord.operation(CMD.COPY, b('copy', src, dst, 'db', '4'), null, 0, 2, null))).toBe(':0\r\n');
    expect(f.data[2]!.get(`4:${dst}`)).toBe('v1');
    expect(text(await f.coord.operation(CMD.COPY, b('copy', src, dst, 'REPLACE', 'DB', '4'), null, 0, 2, null))).toBe(':1\r\n');
    expect(f.data[2]!.get(`4:${dst}`)).toBe('v2');
    // Options are checked as the shard checks them (commands/copy-args.ts), before any shard is asked.
    const sent = f.frames.length;
    expect(text(await f.coord.operation(CMD.COPY, b('copy', src, dst, 'DB', '0x1'), null, 0, 2, null))).toBe(
      '-ERR value is not an integer or out of range\r\n',
    );
    expect(text(await f.coord.operation(CMD.COPY, b('copy', src, dst, 'DB', ''), null, 0, 2, null))).toBe(
      '-ERR value is not an integer or out of range\r\n',
    );
    expect(text(await f.coord.operation(CMD.COPY, b('copy', src, dst, 'DB', '16'), null, 0, 2, null))).toBe(
      '-ERR DB index is out of range\r\n',
    );
    expect(text(await f.coord.operation(CMD.COPY, b('copy', src, dst, 'DB'), null, 0, 2, null))).toBe('-ERR syntax error\r\n');
    expect(f.frames.length).toBe(sent);
  });

  it('MSETNX sets every key or none, holding the shards it writes', async () => {
    const f = new FakeShards(true);
    const [k0, k1, k2] = [keyOn(0, 'm'), keyOn(1, 'm'), keyOn(2, 'm')];
    expect(text(await f.coord.operation(CMD.MSETNX, b('msetnx', k0, 'a', k1, 'b'), null, 0, 2, null))).toBe(':1\r\n');
    for (const x of f.frames) expect(x.held).toEqual([1, 1, 0]);
    expect(f.data[0]!.get(`0:${k0}`)).toBe('a');
    expect(f.data[1]!.get(`0:${k1}`)).toBe('b');
    // k1 exists now: nothing is written, not even on k2's shard.
    expect(text(await f.coord.operation(CMD.MSETNX, b('msetnx', k2, 'c', k1, 'x'), null, 0, 2, null))).toBe(':0\r\n');
    expect(f.data[2]!.size).toBe(0);
    expect(f.data[1]!.get(`0:${k1}`)).toBe('b');
    expect(text(await f.coord.operation(CMD.MSETNX, b('msetnx', k2, 'c', k1), null, 0, 2, null))).toBe(
      "-ERR wrong number of arguments for 'msetnx' command\r\n",
    );
  });

  it('logs a client operation to the AOF before its holds are released', async () => {
    const f = new FakeShards(true);
    f.aofOn();
    const [src, dst] = [keyOn(0, 'src'), keyOn(1, 'dst')];
    f.data[0]!.set(`0:${src}`, 'v');
    const entry: AofEntry = { db: 0, id: CMD.RENAME, argv: b('rename', src, dst) };
    const events: string[] = [];
    const sink = f.aof.sink!;
    f.aof.sink = {
      ...sink,
      commit: (e, r, s, len) => {
        events.push(`logged, released ${f.released}`);
        sink.commit(e, r, s, len);
      },
    };
    await f.coord.operation(CMD.RENAME, b('rename', src, dst), null, 0, 2, entry);
    expect(events).toEqual(['logged, released 0']);
    expect(f.logged).toEqual([`rename ${src} ${dst} -> +OK\r\n`]);
  });

  it('a step inside a held EXEC drops only the holds it added', async () => {
    const f = new FakeShards(true);
    const [src, dst] = [keyOn(0, 'src'), keyOn(2, 'dst')];
    f.data[0]!.set(`0:${src}`, 'v');
    const seen: number[][] = [];
    await f.coord.holding([1], async () => {
      const r = await f.coord.step(CMD.RENAME, b('rename', src, dst), 0, 3);
      seen.push(Array.from(f.coord.held));
      expect(text(r)).toBe('+OK\r\n');
    });
    expect(f.frames.map((x) => x.held)).toEqual([
      [1, 1, 1],
      [1, 1, 1],
    ]);
    expect(seen).toEqual([[0, 1, 0]]);
    expect(f.released).toBe(1);
  });

  it('FLUSHALL through the coordinator holds and flushes every shard', async () => {
    const f = new FakeShards(true);
    f.data[0]!.set('0:a', '1');
    f.data[2]!.set('0:b', '2');
    expect(text(await f.coord.operation(CMD.FLUSHALL, b('flushall'), null, 0, 2, null))).toBe('+OK\r\n');
    expect(f.frames.map((x) => [x.shard, x.held])).toEqual([
      [0, [1, 1, 1]],
      [1, [1, 1, 1]],
      [2, [1, 1, 1]],
    ]);
    expect(f.data.every((m) => m.size === 0)).toBe(true);
  });
});

describe('blocking pops across shards', () => {
  /** A client whose closing the test controls. */
  function client(): BlockedClient & { close(): void } {
    const c = {
      closed: false,
      onClosed: null as (() => void) | null,
      unblockReply: null as Uint8Array | null,
      close(): void {
        c.closed = true;
        c.onClosed?.();
      },
    };
    return c;
  }

  it('refuses a bad timeout or BLMOVE side before blocking', () => {
    const f = new FakeShards(false);
    const [a, z] = [keyOn(0, 'a'), keyOn(1, 'z')];
    expect(planBlock(f.coord, CMD.BLPOP, b('blpop', a, z, 'soon'), [1, 2])).toBe('ERR timeout is not a float or out of range');
    expect(planBlock(f.coord, CMD.BLPOP, b('blpop', a, z, '-1'), [1, 2])).toBe('ERR timeout is negative');
    expect(planBlock(f.coord, CMD.BLMOVE, b('blmove', a, z, 'UP', 'LEFT', '0'), [1, 2])).toBe('ERR syntax error');
    expect(f.frames).toEqual([]);
  });

  it('tries each shard without blocking, watches, and is served by a retry once a key gets data', async () => {
    const f = new FakeShards(false);
    const [a, z] = [keyOn(0, 'a'), keyOn(1, 'z')];
    const plan = planBlock(f.coord, CMD.BLPOP, b('blpop', a, z, '0'), [1, 2]);
    if (typeof plan === 'string') throw new Error(plan);
    const reply = runBlock(f.coord, plan, 0, 2, client());
    await settle();
    f.answer(f.take(0, 'blpop'), '*-1\r\n');
    await settle();
    f.answer(f.take(1, 'blpop'), '*-1\r\n');
    await settle();
    const w0 = f.take(0, '__bwatch');
    const w1 = f.take(1, '__bwatch');
    expect(w0.conn).toBeGreaterThanOrEqual(SYSTEM_CONN_BASE);
    expect(w1.conn).toBe(w0.conn);
    expect(w0.args).toEqual(['__bwatch', 'list', a]);
    // Data arrives on z's shard: its watch answers, every watch is cancelled, and the pops are tried again.
    f.answer(w1, ':1\r\n');
    await settle();
    f.answer(f.take(0, '__unblock'), ':1\r\n');
    f.answer(f.take(1, '__unblock'), ':0\r\n');
    await settle();
    expect(f.answer(w0, ':1\r\n')).toBe(false);
    f.answer(f.take(0, 'blpop'), '*-1\r\n');
    await settle();
    f.answer(f.take(1, 'blpop'), `*2\r\n${bulk(z)}${bulk('v')}`);
    expect(text(await reply)).toBe(`*2\r\n${bulk(z)}${bulk('v')}`);
    expect(f.waiting).toEqual([]);
  });

  it('a client that closes while blocked cancels its watches, and their calls are forgotten', async () => {
    const f = new FakeShards(false);
    const [a, z] = [keyOn(0, 'a'), keyOn(2, 'z')];
    const plan = planBlock(f.coord, CMD.BRPOP, b('brpop', a, z, '0'), [1, 2]);
    if (typeof plan === 'string') throw new Error(plan);
    const c = client();
    const reply = runBlock(f.coord, plan, 0, 3, c);
    await settle();
    f.answer(f.take(0, 'brpop'), '_\r\n');
    await settle();
    f.answer(f.take(2, 'brpop'), '_\r\n');
    await settle();
    const watches = [f.take(0, '__bwatch'), f.take(2, '__bwatch')];
    c.close();
    await settle();
    const unblocks = [f.take(0, '__unblock'), f.take(2, '__unblock')];
    expect(unblocks.map((x) => x.args)).toEqual([
      ['__unblock', String(watches[0]!.conn)],
      ['__unblock', String(watches[0]!.conn)],
    ]);
    for (const x of unblocks) f.answer(x, ':1\r\n');
    expect(text(await reply)).toBe('_\r\n');
    // The dropped waiters never answer; if a late answer came, no call would take it.
    for (const w of watches) expect(f.answer(w, ':1\r\n')).toBe(false);
    expect(f.waiting).toEqual([]);
  });
});
