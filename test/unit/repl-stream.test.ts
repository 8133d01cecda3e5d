import { describe, expect, it } from 'vitest';
import { ReplStream } from '../../src/server/repl-stream.js';
import { ReplicationState } from '../../src/server/repl-state.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function setup(): { repl: { state: ReplicationState; upstream: unknown }; out: Buffer[]; stream: ReplStream } {
  const repl = { state: new ReplicationState(), upstream: null as unknown };
  repl.state.ensureBacklog(1 << 16);
  const out: Buffer[] = [];
  return { repl, out, stream: new ReplStream(repl, (c) => out.push(c) > 0) };
}

describe('replication stream encoding', () => {
  it('encodes commands as RESP arrays, selecting the database when it changes', () => {
    const { repl, out, stream } = setup();
    stream.command(0, [b('SET'), b('k'), b('v')]);
    stream.command(0, [b('INCR'), b('n')]);
    stream.command(12, [b('DEL'), b('k')]);
    expect(out).toEqual([]);
    stream.flush();
    const text = Buffer.concat(out).toString('latin1');
    expect(text).toBe(
      '*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n' +
        '*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n',
    );
    expect(repl.state.offset).toBe(text.length);
    expect(Buffer.concat(repl.state.backlog!.since(1)).toString('latin1')).toBe(text);
  });

  it('keeps binary arguments and long lengths intact', () => {
    const { out, stream } = setup();
    const big = Buffer.alloc(100_000, 0xff);
    const bin = Buffer.from([0, 13, 10, 255]);
    stream.command(-1, [b('SET'), bin, big]);
    stream.flush();
    const all = Buffer.concat(out);
    const head = b('*3\r\n$3\r\nSET\r\n$4\r\n');
    expect(all.subarray(0, head.length)).toEqual(head);
    expect(all.subarray(head.length, head.length + 4)).toEqual(bin);
    const rest = all.subarray(head.length + 6);
    expect(rest.subarray(0, 10).toString('latin1')).toBe('$100000\r\n\xff');
    expect(rest.length).toBe(9 + 100_000 + 2);
  });

  it('adds no SELECT for database-less commands and counts only writes in dataOffset', () => {
    const { repl, out, stream } = setup();
    stream.command(3, [b('SET'), b('a'), b('1')]);
    const afterWrite = stream.offset;
    expect(stream.dataOffset).toBe(afterWrite);
    stream.command(-1, [b('PING')]);
    expect(stream.dataOffset).toBe(afterWrite);
    expect(stream.offset).toBe(afterWrite + 14);
    stream.flush();
    expect(repl.state.offset).toBe(afterWrite + 14);
    // Same database: no SELECT again; after forceSelect (a full sync began) it comes back.
    stream.command(3, [b('SET'), b('a'), b('2')]);
    stream.forceSelect();
    stream.command(3, [b('SET'), b('a'), b('3')]);
    stream.flush();
    expect(out[1]!.toString('latin1').match(/SELECT/g)).toHaveLength(1);
  });

  it('takes encoded commands that follow each other in one buffer as one run, in order with the others', () => {
    const { repl, out, stream } = setup();
    const set = (k: string): string => `*3\r\n$3\r\nSET\r\n$1\r\n${k}\r\n$1\r\nv\r\n`;
    const pipeline = b(set('a') + set('b') + set('c') + set('d'));
    const one = set('a').length;
    stream.raw(0, pipeline, 0, one);
    stream.raw(0, pipeline, one, one);
    // Offsets count the run before it is copied: WAIT may ask for them at any time.
    const select = '*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n'.length;
    expect(stream.dataOffset).toBe(select + 2 * one);
    expect(stream.offset).toBe(select + 2 * one);
    // A PING ends the run; the next command starts another; another database another still.
    stream.command(-1, [b('PING')]);
    stream.raw(0, pipeline, 2 * one, one);
    stream.raw(1, pipeline, 3 * one, one);
    stream.settle();
    // Once settled, the source buffer may be reused.
    pipeline.fill(0);
    stream.flush();
    const text = Buffer.concat(out).toString('latin1');
    expect(text).toBe(
      `*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n${set('a')}${set('b')}*1\r\n$4\r\nPING\r\n${set('c')}` +
        `*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n${set('d')}`,
    );
    expect(repl.state.offset).toBe(text.length);
  });

  it('reuses its buffer while the consumer keeps no view of it, and leaves a kept view intact', () => {
    const repl = { state: new ReplicationState(), upstream: null as unknown };
    repl.state.ensureBacklog(1 << 16);
    const copies: string[] = [];
    let kept: Buffer | null = null;
    const stream = new ReplStream(repl, (c) => {
      copies.push(c.toString('latin1'));
      // The second turn's view is kept, as a socket that took only part of it at once does.
      if (copies.length !== 2) return false;
      kept = c;
      return true;
    });
    const sets = ['a', 'b', 'c', 'd'].map((k) => `*3\r\n$3\r\nSET\r\n$1\r\n${k}\r\n$1\r\n1\r\n`);
    for (const [i, k] of ['a', 'b', 'c', 'd'].entries()) {
      stream.command(-1, [b('SET'), b(k), b('1')]);
      stream.flush();
      expect(copies[i]).toBe(sets[i]);
    }
    expect(kept!.toString('latin1')).toBe(sets[1]);
    expect(Buffer.concat(repl.state.backlog!.since(1)).toString('latin1')).toBe(sets.join(''));
  });

  it('stays silent while the server replicates a master', () => {
    const { repl, out, stream } = setup();
    repl.upstream = {};
    stream.command(0, [b('SET'), b('a'), b('1')]);
    stream.flush();
    expect(out).toEqual([]);
    expect(repl.state.offset).toBe(0);
  });
});
