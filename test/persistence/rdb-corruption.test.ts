/** Truncated or corrupted RDB files and payloads fail with RdbError (code and offset), never another exception. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readRdb, readRdbFile } from '../../src/persistence/rdb-reader.js';
import { RdbError } from '../../src/persistence/rdb-error.js';
import { decodeDumpPayload, encodeDumpPayload } from '../../src/persistence/dump-payload.js';
import { decodeListpack, encodeListpack } from '../../src/persistence/listpack.js';
import { sampleEntries, writeRdb } from './sample-entries.js';

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))));
const redisFile = fixture('lists.rdb');
// The small entries only: every encoding once, few enough bytes to corrupt each one in turn.
const sabreFile = writeRdb(sampleEntries().filter((e) => !/nodes|many|huge|compressible/.test(Buffer.from(e.key).toString())));

/** The error reading `bytes` whole raises, or null when it reads cleanly. */
function failure(read: () => Iterable<unknown>): unknown {
  try {
    for (const _ of read()) void _;
    return null;
  } catch (e) {
    return e;
  }
}

describe('corrupted and truncated RDB files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sabre-corrupt-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cases = [
    ['Redis-written strings', fixture('strings.rdb')],
    ['Redis-written several dbs', fixture('multidb.rdb')],
    ['Sabre-written', sabreFile],
  ] as const;
  for (const [name, file] of cases) {
    it(`${name}: every truncation is an RdbError`, () => {
      for (let n = 0; n < file.length; n++) {
        const e = failure(() => readRdb(file.subarray(0, n)));
        expect(e, `truncated to ${n} bytes`).toBeInstanceOf(RdbError);
        expect(['BAD_MAGIC', 'TRUNCATED', 'CORRUPT']).toContain((e as RdbError).code);
      }
    });

    it(`${name}: every single-byte corruption is an RdbError`, () => {
      for (let i = 0; i < file.length; i++) {
        for (const mask of [0x01, 0xff]) {
          const bad = Uint8Array.from(file);
          bad[i]! ^= mask;
          expect(
            failure(() => readRdb(bad)),
            `byte ${i} ^ ${mask}`,
          ).toBeInstanceOf(RdbError);
        }
      }
    });
  }

  it('a truncated file on disk reports TRUNCATED with the offset where data ran out', () => {
    const path = join(dir, 'cut.rdb');
    writeFileSync(path, sabreFile.subarray(0, 200));
    const e = failure(() => readRdbFile(path)) as RdbError;
    expect(e).toBeInstanceOf(RdbError);
    expect(e.code).toBe('TRUNCATED');
    expect(e.offset).toBeLessThanOrEqual(200);
    expect(e.message).toMatch(/at byte \d+/);
  });

  it('a file with a flipped value byte on disk reports CHECKSUM', () => {
    const path = join(dir, 'flip.rdb');
    const bad = Uint8Array.from(redisFile);
    bad[bad.length - 30]! ^= 0x20;
    writeFileSync(path, bad);
    expect((failure(() => readRdbFile(path)) as RdbError).code).toMatch(/CHECKSUM|CORRUPT/);
  });

  it('a corrupt length in a file fails as TRUNCATED instead of allocating it', () => {
    const path = join(dir, 'len.rdb');
    // A string key whose 64-bit length claims ~2^40 bytes.
    writeFileSync(path, Buffer.concat([Buffer.from('REDIS0010'), Buffer.from([0x00, 0x81, 0, 0, 1, 0, 0, 0, 0, 0])]));
    expect((failure(() => readRdbFile(path)) as RdbError).code).toBe('TRUNCATED');
  });

  it('wrong magic and unsupported versions are named', () => {
    expect((failure(() => readRdb(new TextEncoder().encode('REDIX0010\xff'))) as RdbError).code).toBe('BAD_MAGIC');
    expect((failure(() => readRdb(new TextEncoder().encode('REDIS0012\xff'))) as RdbError).code).toBe('BAD_VERSION');
  });

  it('module values are refused as UNSUPPORTED; a stream cut short is TRUNCATED', () => {
    const module = Uint8Array.from([...new TextEncoder().encode('REDIS0010'), 7, 1, 107, 0]);
    expect((failure(() => readRdb(module)) as RdbError).code).toBe('UNSUPPORTED');
    const stream = Uint8Array.from([...new TextEncoder().encode('REDIS0010'), 15, 1, 107, 0]);
    expect((failure(() => readRdb(stream)) as RdbError).code).toBe('TRUNCATED');
  });
});

describe('corrupted DUMP payloads and listpacks', () => {
  it('repeated set members, hash fields and zset members are CORRUPT, as in Redis', () => {
    const b = (x: string): Uint8Array => new TextEncoder().encode(x);
    for (const value of [
      { type: 'set' as const, members: [b('a'), b('a')] },
      { type: 'set' as const, members: [b('1'), b('1')] },
      {
        type: 'hash' as const,
        fields: [
          [b('f'), b('1')],
          [b('f'), b('2')],
        ] as Array<[Uint8Array, Uint8Array]>,
      },
      {
        type: 'zset' as const,
        entries: [
          [b('m'), 1],
          [b('m'), 2],
        ] as Array<[Uint8Array, number]>,
      },
    ]) {
      expect(() => decodeDumpPayload(encodeDumpPayload(value))).toThrow('Bad data format');
      const file = writeRdb([{ db: 0, key: b('k'), expireAtMs: 0, value }]);
      expect(failure(() => readRdb(file))).toMatchObject({ code: 'CORRUPT', message: expect.stringMatching(/duplicate/) });
    }
  });

  it('every single-byte corruption of a payload is an RdbError', () => {
    const p = encodeDumpPayload({ type: 'list', items: [new Uint8Array([1, 2]), new Uint8Array([3])] });
    for (let i = 0; i < p.length; i++) {
      const bad = Uint8Array.from(p);
      bad[i]! ^= 0x41;
      expect(() => decodeDumpPayload(bad)).toThrow(RdbError);
    }
  });

  it('every truncation of a listpack is an RdbError', () => {
    const lp = encodeListpack(['a', '12', '-5000', 'x'.repeat(70), '1099511627776'].map((s) => new TextEncoder().encode(s)));
    for (let n = 0; n < lp.length; n++) {
      const cut = Uint8Array.from(lp.subarray(0, n));
      if (cut.length >= 4) new DataView(cut.buffer).setUint32(0, n, true);
      expect(() => decodeListpack(cut, 0), `cut at ${n}`).toThrow(RdbError);
    }
  });
});
