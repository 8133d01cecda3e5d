/** CRC-64/REDIS: the catalogue check value, and combining checksums of split buffers. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { crc64, crc64Combine, crc64LE, crc64ToLE } from '../../src/persistence/crc64.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('CRC-64/REDIS', () => {
  it('matches the catalogue check value (real Redis files and payloads verify it in the other suites)', () => {
    expect(crc64(ascii('123456789'))).toBe(0xe9c6d914c4b8d9can);
    expect(Buffer.from(crc64LE(ascii('123456789'))).toString('hex')).toBe('cad9b8c414d9c6e9');
    expect(crc64ToLE(0xe9c6d914c4b8d9can)).toEqual(crc64LE(ascii('123456789')));
  });

  it('combining the checksums of two parts equals the checksum of the whole', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 5000 }), (a, b) => {
        const whole = new Uint8Array(a.length + b.length);
        whole.set(a);
        whole.set(b, a.length);
        expect(crc64Combine(crc64(a), crc64(b), b.length)).toBe(crc64(whole));
      }),
      { numRuns: 200 },
    );
  });
});
