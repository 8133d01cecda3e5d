import { describe, expect, it } from 'vitest';
import { NO_REPLID, ReplBacklog, ReplicationState } from '../../src/server/repl-state.js';

const text = (parts: Buffer[]): string => Buffer.concat(parts).toString('latin1');

describe('ReplBacklog', () => {
  it('keeps the newest bytes once it wraps, with their stream offsets', () => {
    const b = new ReplBacklog(16384, 1);
    const chunk = Buffer.alloc(10000, 'a');
    b.append(chunk);
    b.append(Buffer.alloc(10000, 'b'));
    expect(b.histlen).toBe(16384);
    expect(b.firstOffset).toBe(20001 - 16384);
    expect(b.covers(b.firstOffset)).toBe(true);
    expect(b.covers(b.firstOffset - 1)).toBe(false);
    expect(b.covers(20001)).toBe(true);
    const tail = text(b.since(10001));
    expect(tail).toBe('b'.repeat(10000));
    expect(text(b.since(10000))).toBe(`a${'b'.repeat(10000)}`);
    expect(b.since(20001)).toEqual([]);
  });

  it('keeps only the last size bytes of one append larger than the ring', () => {
    const b = new ReplBacklog(16384, 101);
    const big = Buffer.alloc(20000);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    b.append(big);
    expect(b.firstOffset).toBe(101 + 20000 - 16384);
    expect(Buffer.concat(b.since(b.firstOffset)).equals(big.subarray(20000 - 16384))).toBe(true);
  });

  it('resizes keeping the newest bytes', () => {
    const b = new ReplBacklog(32768, 1);
    b.append(Buffer.alloc(30000, 'x'));
    b.append(Buffer.from('END'));
    b.resize(16384);
    expect(b.histlen).toBe(16384);
    expect(b.firstOffset).toBe(30004 - 16384);
    expect(text(b.since(30001))).toBe('END');
  });
});

describe('ReplicationState', () => {
  it('continues its own history from the backlog and refuses others', () => {
    const r = new ReplicationState();
    expect(r.canContinue(r.replid, 1)).toBe(false);
    r.ensureBacklog(1 << 20);
    r.feed(Buffer.from('*1\r\n$4\r\nPING\r\n'));
    expect(r.offset).toBe(14);
    expect(r.canContinue(r.replid, 1)).toBe(true);
    expect(r.canContinue(r.replid, 15)).toBe(true);
    expect(r.canContinue(r.replid, 16)).toBe(false);
    expect(r.canContinue(NO_REPLID, 1)).toBe(false);
  });

  it('after a promotion continues the old history up to the promotion point only', () => {
    const r = new ReplicationState();
    r.ensureBacklog(1 << 20);
    r.feed(Buffer.alloc(100));
    const old = r.replid;
    r.shiftReplId();
    r.feed(Buffer.alloc(50));
    expect(r.replid2).toBe(old);
    expect(r.secondOffset).toBe(101);
    expect(r.canContinue(old, 101)).toBe(true);
    expect(r.canContinue(old, 120)).toBe(false);
    expect(r.canContinue(r.replid, 120)).toBe(true);
  });

  it('adopts a master history after a full sync', () => {
    const r = new ReplicationState();
    r.ensureBacklog(1 << 20);
    r.adopt('f'.repeat(40), 5000);
    expect(r.infoLines(1 << 20)).toContain('master_repl_offset:5000');
    expect(r.infoLines(1 << 20)).toContain('repl_backlog_first_byte_offset:5001');
    expect(r.canContinue('f'.repeat(40), 5001)).toBe(true);
  });
});
