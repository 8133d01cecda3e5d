import { describe, expect, it } from 'vitest';
import { reprBytes } from '../../src/server/monitor.js';

describe('MONITOR argument quoting (sdscatrepr)', () => {
  it('escapes quotes, backslashes and control bytes, hex-encodes the rest', () => {
    const b = Buffer.from([0x61, 0x22, 0x5c, 0x0a, 0x0d, 0x09, 0x07, 0x08, 0x00, 0x7f, 0xe9, 0x20, 0x7e]);
    expect(reprBytes(b, 0, b.length)).toBe('"a\\"\\\\\\n\\r\\t\\a\\b\\x00\\x7f\\xe9 ~"');
    expect(reprBytes(b, 0, 1)).toBe('"a"');
    expect(reprBytes(b, 0, 0)).toBe('""');
  });
});
