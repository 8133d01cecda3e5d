/** Arbitrary bytes behind a valid header or checksum (what a crafted RESTORE payload can carry) fail only as RdbError. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readRdb } from '../../src/persistence/rdb-reader.js';
import { decodeDumpPayload, encodeDumpPayload } from '../../src/persistence/dump-payload.js';
import { RdbError } from '../../src/persistence/rdb-error.js';
import { crc64LE } from '../../src/persistence/crc64.js';
import { sampleEntries } from './sample-entries.js';

/** Wraps a body as a DUMP payload with a correct version and checksum, so decoding gets past the checks. */
function payload(body: Uint8Array): Uint8Array {
  const head = Uint8Array.from([...body, 10, 0]);
  return Uint8Array.from([...head, ...crc64LE(head)]);
}

/** 'ok' or 'rdb-error'; any other exception escapes and fails the property. */
function outcome(run: () => void): 'ok' | 'rdb-error' {
  try {
    run();
    return 'ok';
  } catch (e) {
    if (e instanceof RdbError) return 'rdb-error';
    throw e;
  }
}

const bodies = sampleEntries()
  .filter((e) => Buffer.from(e.key).length < 20)
  .map((e) => encodeDumpPayload(e.value))
  .map((p) => p.subarray(0, p.length - 10));

describe('decoder robustness', () => {
  it('random bodies with a valid checksum decode or fail with RdbError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 21 }), fc.uint8Array({ maxLength: 200 }), (type, rest) => {
        expect(['ok', 'rdb-error']).toContain(outcome(() => decodeDumpPayload(payload(Uint8Array.from([type, ...rest])))));
      }),
      { numRuns: 1500 },
    );
  });

  it('mutated real payloads with a valid checksum decode or fail with RdbError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...bodies),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (body, edits) => {
          const b = Uint8Array.from(body);
          for (const [at, v] of edits) b[at % b.length] = v;
          expect(['ok', 'rdb-error']).toContain(outcome(() => decodeDumpPayload(payload(b))));
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('random bytes after the RDB magic fail with RdbError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (rest) => {
        const file = Uint8Array.from([...new TextEncoder().encode('REDIS0010'), ...rest]);
        expect(
          outcome(() => {
            for (const _ of readRdb(file)) void _;
          }),
        ).toBe('rdb-error');
      }),
      { numRuns: 1000 },
    );
  });
});
