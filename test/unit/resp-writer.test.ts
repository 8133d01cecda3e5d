import { describe, expect, it } from 'vitest';
import { RespWriter, formatDouble17, writeDigits } from '../../src/wire/resp-writer.js';

const out = (w: RespWriter): string => Buffer.from(w.bytes.subarray(0, w.len)).toString('latin1');

describe('formatDouble17 (%.17g)', () => {
  it.each([
    [1.1, '1.1000000000000001'],
    [0.5, '0.5'],
    [1e20, '1e+20'],
    [1e-5, '1.0000000000000001e-05'],
    [123456789, '123456789'],
    [-0, '-0'],
    [Infinity, 'inf'],
  ])('%s → %s', (d, s) => {
    expect(formatDouble17(d)).toBe(s);
  });
});

describe('writeDigits', () => {
  const text = (n: number): string => {
    const b = new Uint8Array(24);
    return Buffer.from(b.subarray(0, writeDigits(b, 0, n))).toString('latin1');
  };

  it('writes every digit-count boundary and the int32 and 2^53 edges as String() does', () => {
    const edges = [0, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 100000000, 1e15, 1701620000123, 7357679182077951];
    for (let k = 0; k <= 15; k++) edges.push(10 ** k, 10 ** k - 1);
    for (const n of edges) {
      expect(text(n)).toBe(String(n));
      expect(text(-n)).toBe(n === 0 ? '0' : String(-n));
    }
  });

  it('agrees with String() on random integers of every magnitude below 2^53', () => {
    for (let i = 0; i < 50000; i++) {
      const n = Math.floor((Math.random() * 2 - 1) * 2 ** (Math.random() * 53));
      expect(text(n)).toBe(String(n === 0 ? 0 : n));
    }
  });
});

describe('RespWriter', () => {
  it('writes RESP2 and RESP3 forms', () => {
    const w = new RespWriter(8);
    w.int(-42);
    w.bulkInt(1234567890123);
    w.bulkInt(-7);
    w.bulkString('héllo');
    w.nullBulk();
    w.nullArray();
    w.mapHeader(2);
    w.double(1.5);
    w.bool(true);
    w.verbatim('a\r\nb');
    w.error('ERR x');
    w.simple('OK');
    expect(out(w)).toBe(
      ':-42\r\n$13\r\n1234567890123\r\n$2\r\n-7\r\n$6\r\nh\xc3\xa9llo\r\n$-1\r\n*-1\r\n*4\r\n$3\r\n1.5\r\n:1\r\n$4\r\na\r\nb\r\n-ERR x\r\n+OK\r\n',
    );
    w.reset();
    w.proto = 3;
    w.nullBulk();
    w.mapHeader(2);
    w.setHeader(1);
    w.pushHeader(3);
    w.double(1.5);
    w.bool(false);
    w.verbatim('info');
    expect(out(w)).toBe('_\r\n%2\r\n~1\r\n>3\r\n,1.5\r\n#f\r\n=8\r\ntxt:info\r\n');
  });

  it('grows for large bulks', () => {
    const w = new RespWriter(16);
    const big = new Uint8Array(100_000).fill(65);
    w.bulk(big, 0, big.length);
    expect(w.len).toBe(9 + 100_000 + 2);
    expect(out(w).startsWith('$100000\r\nAAA')).toBe(true);
  });
});
