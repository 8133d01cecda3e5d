/** Packed entry chunks (the BGSAVE pool's transfer format) unpack to the entries that were packed. */
import { describe, expect, it } from 'vitest';
import { EntryPacker, packEntries, unpackEntries } from '../../src/persistence/entry-pack.js';
import { RdbError } from '../../src/persistence/rdb-error.js';
import { canonicalEntry, sampleEntries } from './sample-entries.js';

describe('entry packing', () => {
  it('round-trips every sample entry, expiry and database included', () => {
    const sample = sampleEntries();
    expect([...unpackEntries(packEntries(sample))].map(canonicalEntry)).toEqual(sample.map(canonicalEntry));
  });

  it('the packer counts entries and starts over after take()', () => {
    const p = new EntryPacker();
    for (const e of sampleEntries().slice(0, 3)) p.add(e);
    expect(p.count).toBe(3);
    expect(p.size).toBeGreaterThan(0);
    const first = p.take();
    expect(p.count).toBe(0);
    expect(p.size).toBe(0);
    expect([...unpackEntries(first)]).toHaveLength(3);
  });

  it('a truncated chunk is an RdbError', () => {
    const packed = packEntries(sampleEntries().slice(0, 2));
    for (let n = 1; n < packed.length; n++) {
      let error: unknown = null;
      try {
        for (const _ of unpackEntries(packed.subarray(0, n))) void _;
      } catch (e) {
        error = e;
      }
      // A cut exactly between two entries is a valid shorter chunk.
      if (error !== null) expect(error).toBeInstanceOf(RdbError);
      else expect([...unpackEntries(packed.subarray(0, n))]).toHaveLength(1);
    }
  });
});
