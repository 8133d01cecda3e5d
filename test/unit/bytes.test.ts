import { describe, expect, it } from 'vitest';
import { globMatch, isKeyword, parseFloatBytes, parseI64 } from '../../src/wire/bytes.js';

const enc = (s: string): Buffer => Buffer.from(s, 'latin1');
const match = (p: string, s: string, nocase = false): boolean => {
  const pb = enc(p);
  const sb = enc(s);
  return globMatch(pb, 0, pb.length, sb, 0, sb.length, nocase);
};

/** The keys set on redis-server 7.0.15, and which of them KEYS <pattern> returned there. */
const KEYS = [
  'hello',
  'hallo',
  'hllo',
  'hxllo',
  'heeeello',
  'h*llo',
  'a[b',
  'a]b',
  'a-b',
  'ab',
  'a\\b',
  'abc',
  'a',
  '',
  '[',
  'x^y',
  'aB',
  'Ab',
  'a?c',
  'a*c',
  'b',
  '-',
  'ac',
];
const REDIS_KEYS: [string, string[]][] = [
  [
    '*',
    [
      '',
      '-',
      'Ab',
      '[',
      'a',
      'a*c',
      'a-b',
      'a?c',
      'aB',
      'a[b',
      'a\\b',
      'a]b',
      'ab',
      'abc',
      'ac',
      'b',
      'h*llo',
      'hallo',
      'heeeello',
      'hello',
      'hllo',
      'hxllo',
      'x^y',
    ],
  ],
  ['?', ['-', '[', 'a', 'b']],
  ['h?llo', ['h*llo', 'hallo', 'hello', 'hxllo']],
  ['h*llo', ['h*llo', 'hallo', 'heeeello', 'hello', 'hllo', 'hxllo']],
  ['h[ae]llo', ['hallo', 'hello']],
  ['h[^e]llo', ['h*llo', 'hallo', 'hxllo']],
  ['h[a-b]llo', ['hallo']],
  ['h[b-a]llo', ['hallo']],
  ['h\\*llo', ['h*llo']],
  ['a[', []],
  ['a[b', ['ab']],
  ['a[[]b', ['a[b']],
  ['a[]]b', []],
  ['a\\[b', ['a[b']],
  ['a[-]b', ['a-b']],
  ['a[a-]b', ['ab']],
  ['a[\\]]b', ['a]b']],
  ['[^a]*', ['-', 'Ab', '[', 'b', 'h*llo', 'hallo', 'heeeello', 'hello', 'hllo', 'hxllo', 'x^y']],
  ['a[!b]', ['ab']],
  ['a\\', []],
  ['a\\\\b', ['a\\b']],
  ['*b', ['Ab', 'a-b', 'a[b', 'a\\b', 'a]b', 'ab', 'b']],
  ['**b', ['Ab', 'a-b', 'a[b', 'a\\b', 'a]b', 'ab', 'b']],
  ['a*b*', ['a-b', 'a[b', 'a\\b', 'a]b', 'ab', 'abc']],
  ['[a-c]*', ['a', 'a*c', 'a-b', 'a?c', 'aB', 'a[b', 'a\\b', 'a]b', 'ab', 'abc', 'ac', 'b']],
  ['[]', []],
  ['[^]', ['-', '[', 'a', 'b']],
  ['a[^b-z]', ['aB']],
  ['\\a*', ['a', 'a*c', 'a-b', 'a?c', 'aB', 'a[b', 'a\\b', 'a]b', 'ab', 'abc', 'ac']],
  [
    '*?*?',
    [
      'Ab',
      'a*c',
      'a-b',
      'a?c',
      'aB',
      'a[b',
      'a\\b',
      'a]b',
      'ab',
      'abc',
      'ac',
      'h*llo',
      'hallo',
      'heeeello',
      'hello',
      'hllo',
      'hxllo',
      'x^y',
    ],
  ],
  ['a?', ['aB', 'ab', 'ac']],
  ['?b', ['Ab', 'ab']],
  ['[A-Z]b', ['Ab']],
  ['[', []],
  ['x[^^]y', []],
  ['a[c-a]', ['ab', 'ac']],
];

describe('globMatch (Redis stringmatchlen)', () => {
  it.each(REDIS_KEYS)('pattern %j matches what Redis KEYS matched', (pattern, want) => {
    expect(KEYS.filter((k) => match(pattern, k)).sort()).toEqual(want);
  });

  it('matches at offsets inside larger buffers', () => {
    const p = enc('xxh*oyy');
    const s = enc('--hello--');
    expect(globMatch(p, 2, 3, s, 2, 5)).toBe(true);
    expect(globMatch(p, 2, 4, s, 2, 5)).toBe(false);
  });

  it('nocase folds ASCII letters only', () => {
    expect(match('HELLO', 'hello', true)).toBe(true);
    expect(match('h[A-C]llo', 'hbllo', true)).toBe(true);
    expect(match('h[^A-C]llo', 'hbllo', true)).toBe(false);
    expect(match('HELLO', 'hello')).toBe(false);
  });

  it('stays bounded on pathological star patterns', () => {
    const s = 'a'.repeat(60);
    expect(match('a*a*a*a*a*a*a*a*a*a*b', s)).toBe(false);
    expect(match('*a*a*a*a*a*a*a*a*a*a', s)).toBe(true);
  });
});

describe('isKeyword', () => {
  it('compares case-insensitively, including keywords with digits and dashes', () => {
    const is = (s: string, k: string): boolean => isKeyword(enc(s), 0, s.length, k);
    expect(is('get', 'GET')).toBe(true);
    expect(is('lib-name', 'LIB-NAME')).toBe(true);
    expect(is('LIB-NAME', 'LIB-NAME')).toBe(true);
    expect(is('lib\rname', 'LIB-NAME')).toBe(false);
    expect(is('hello2', 'HELLO2')).toBe(true);
    expect(is('GETX', 'GET')).toBe(false);
    expect(is('gEt', 'GET')).toBe(true);
    expect(is('gft', 'GET')).toBe(false);
  });
});

describe('parseI64 (string2ll)', () => {
  const p = (s: string): number | bigint | null => parseI64(enc(s), 0, s.length);
  it.each([
    ['0', 0],
    ['-1', -1],
    ['123', 123],
    ['9007199254740991', 9007199254740991],
    ['9223372036854775807', 9223372036854775807n],
    ['-9223372036854775808', -9223372036854775808n],
  ])('%s → %s', (s, v) => expect(p(s)).toBe(v));
  it.each(['', '-', '+1', '01', '-0', ' 1', '1 ', '1.0', '9223372036854775808', '-9223372036854775809', '1e3', 'abc'])('%j → null', (s) => {
    expect(p(s)).toBeNull();
  });
});

describe('parseFloatBytes (string2ld)', () => {
  const parse = (s: string): number | null => parseFloatBytes(Buffer.from(s, 'latin1'), 0, s.length);

  it('reads plain decimals as Number() does, sign, zero and 2^53 included', () => {
    for (const s of [
      '0',
      '-0',
      '+5',
      '5.',
      '.5',
      '007.25',
      '1701234567890',
      '0.1',
      '123456789012345',
      '99999999999999.9',
      '0.000000000000001',
      // 16 digits at and around 2^53 (BullMQ sends ms*4096 bounds).
      '7357679182077951',
      '9007199254740991',
      '9007199254740992',
      '9007199254740993',
      '9999999999999999',
      '-9007199254740993',
      '900719925474099.3',
      '1234567890123456.',
    ]) {
      expect(Object.is(parse(s), Number(s))).toBe(true);
    }
  });

  it('agrees with Number() on random digit strings of up to 18 characters', () => {
    for (let k = 0; k < 20000; k++) {
      let s = Math.random() < 0.3 ? '-' : '';
      const n = 1 + Math.floor(Math.random() * 17);
      const dot = Math.floor(Math.random() * (n + 1));
      for (let i = 0; i < n; i++) s += (i === dot ? '.' : '') + String(Math.floor(Math.random() * 10));
      expect(parse(s)).toBe(Number(s));
    }
  });

  it('reads infinities in any case and refuses near misses', () => {
    for (const s of ['inf', '+inf', 'INF', '+Inf', 'infinity', '+INFINITY']) expect(parse(s)).toBe(Infinity);
    for (const s of ['-inf', '-INF', '-infinity']) expect(parse(s)).toBe(-Infinity);
    for (const s of ['in', 'infx', '+in', '*inf', '--inf', 'inff']) expect(parse(s)).toBeNull();
  });

  it('leaves exponents and hex to the general path, and refuses the rest', () => {
    expect(parse('1e3')).toBe(1000);
    expect(parse('0x10')).toBe(16);
    for (const s of ['', '.', '-', '1.2.3', ' 1', '1 ', 'nan', '1e', '--1']) expect(parse(s)).toBeNull();
  });
});
