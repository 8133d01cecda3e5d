import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startServer } from '../helpers/server.js';
import { readRdbFile, type RdbRecord } from '../../src/persistence/rdb-reader.js';
import { decodeDumpPayload } from '../../src/persistence/dump-payload.js';
import type { RdbValue } from '../../src/persistence/rdb-types.js';

const FIXTURES = new URL('../persistence/fixtures/', import.meta.url).pathname;

/** What the server answers for a key, normalized like the RdbValue (order-free where Redis is). */
async function served(r: Redis, key: string): Promise<unknown> {
  switch (await r.type(key)) {
    case 'list':
      return await r.lrange(key, 0, -1);
    case 'set':
      return (await r.smembers(key)).sort();
    case 'hash':
      return Object.entries(await r.hgetall(key)).sort();
    case 'zset': {
      const flat = await r.zrange(key, 0, -1, 'WITHSCORES');
      const out: [string, number][] = [];
      const score = (x: string): number => (x === 'inf' ? Infinity : x === '-inf' ? -Infinity : Number(x));
      for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, score(flat[i + 1]!)]);
      return out;
    }
    default:
      return await r.get(key);
  }
}

/** The same shape from a decoded value. */
function expected(v: RdbValue): unknown {
  const s = (b: Uint8Array): string => Buffer.from(b).toString();
  switch (v.type) {
    case 'list':
      return v.items.map(s);
    case 'set':
      return v.members.map(s).sort();
    case 'hash':
      return v.fields.map(([f, x]) => [s(f), s(x)]).sort();
    case 'zset':
      return v.entries.map(([m, sc]) => [s(m), sc]).sort((a, b) => (a[1] as number) - (b[1] as number) || (a[0] < b[0] ? -1 : 1));
    default:
      return s(v.bytes);
  }
}

describe.each([1, 3])('collections through persistence (%i shards)', (shards) => {
  const dir = mkdtempSync(join(tmpdir(), 'sabre-coll-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['lists.rdb', 'sets.rdb', 'hashes.rdb', 'zsets.rdb'])(
    'loads %s written by real Redis, and SAVE + restart keeps it',
    async (file) => {
      const want = new Map<string, RdbValue>();
      for (const rec of readRdbFile(join(FIXTURES, file)) as Iterable<RdbRecord>) {
        if (rec.kind === 'entry' && rec.entry.db === 0) want.set(Buffer.from(rec.entry.key).toString(), rec.entry.value);
      }
      expect(want.size).toBeGreaterThan(0);
      copyFileSync(join(FIXTURES, file), join(dir, 'dump.rdb'));
      for (const round of [1, 2]) {
        const srv = await startServer(['--shards', String(shards), '--dir', dir]);
        const r = new Redis({ port: srv.port, host: '127.0.0.1' });
        try {
          for (const [key, value] of want) expect(await served(r, key), `${file} ${key} round ${round}`).toEqual(expected(value));
          if (round === 1) expect(await r.save()).toBe('OK');
        } finally {
          r.disconnect();
          await srv.stop();
        }
      }
    },
  );

  it('RESTOREs real Redis DUMP payloads of every type, and DUMPs them back', async () => {
    const srv = await startServer(['--shards', String(shards), '--dir', dir]);
    const r = new Redis({ port: srv.port, host: '127.0.0.1' });
    try {
      for (const f of readdirSync(FIXTURES).filter((x) => x.startsWith('dump-') && x.endsWith('.bin'))) {
        const payload = readFileSync(join(FIXTURES, f));
        const key = `restored:${f}`;
        expect(await r.restore(key, 0, payload)).toBe('OK');
        const value = decodeDumpPayload(payload);
        expect(await served(r, key), f).toEqual(expected(value));
        const again = await r.dumpBuffer(key);
        expect(expected(decodeDumpPayload(again!)), f).toEqual(expected(value));
      }
    } finally {
      r.disconnect();
      await srv.stop();
    }
  });
});
