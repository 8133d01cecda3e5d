import { describe, expect, it } from 'vitest';
import { ErrorStats } from '../../src/io/error-stats.js';

const reply = (text: string): Buffer => Buffer.from(`-${text}\r\n`);

describe('error reply counting (INFO errorstats)', () => {
  it('files each reply under its first word, as Redis does', () => {
    const e = new ErrorStats();
    for (const t of ['ERR syntax error', 'WRONGTYPE Operation against a key', 'ERR unknown command', 'NOSCRIPT No matching script']) {
      const b = reply(t);
      e.count(b, 0, b.length);
    }
    expect(e.total).toBe(4);
    expect([...e.byCode]).toEqual([
      ['ERR', 2],
      ['WRONGTYPE', 1],
      ['NOSCRIPT', 1],
    ]);
  });

  it('counts an error without a space in its first 32 bytes under ERR', () => {
    const e = new ErrorStats();
    const b = Buffer.concat([Buffer.from('xx'), reply(`${'A'.repeat(40)} tail`)]);
    e.count(b, 2, b.length - 2);
    expect([...e.byCode]).toEqual([['ERR', 1]]);
  });

  it('keeps at most 128 codes; later ones count only in the total', () => {
    const e = new ErrorStats();
    for (let i = 0; i < 130; i++) {
      const b = reply(`CODE${i} text`);
      e.count(b, 0, b.length);
    }
    expect(e.total).toBe(130);
    expect(e.byCode.size).toBe(128);
    e.reset();
    expect(e.total).toBe(0);
    expect(e.byCode.size).toBe(0);
  });
});
