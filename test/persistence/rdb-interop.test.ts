/** Interop with a real Redis 7.0 (runs only where redis-server is installed): RDB files and DUMP payloads both ways. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { readRdbFile } from '../../src/persistence/rdb-reader.js';
import { AofRewriter, encodeCommand } from '../../src/persistence/aof.js';
import { decodeDumpPayload, encodeDumpPayload } from '../../src/persistence/dump-payload.js';
import type { RdbEntry, RdbValue } from '../../src/persistence/rdb-types.js';
import { canonical, canonicalEntry, sampleEntries, writeRdb } from './sample-entries.js';
import { hasRedis, startRedis, type RealRedis } from './redis-process.js';

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b);

/** Reads a key's value out of a real Redis with binary-safe commands. */
async function fetchValue(client: Redis, key: Uint8Array): Promise<RdbValue> {
  const k = Buffer.from(key);
  const type = await client.type(k);
  switch (type) {
    case 'string':
      return { type: 'string', bytes: u8((await client.getBuffer(k))!) };
    case 'list':
      return { type: 'list', items: (await client.lrangeBuffer(k, 0, -1)).map(u8) };
    case 'set':
      return { type: 'set', members: (await client.smembersBuffer(k)).map(u8) };
    case 'hash': {
      const raw = (await client.callBuffer('HGETALL', k)) as Buffer[] | Map<Buffer, Buffer>;
      const flat = raw instanceof Map ? [...raw].flat() : raw;
      const fields: Array<[Uint8Array, Uint8Array]> = [];
      for (let i = 0; i < flat.length; i += 2) fields.push([u8(flat[i]!), u8(flat[i + 1]!)]);
      return { type: 'hash', fields };
    }
    case 'zset': {
      // RESP3 clients get [member, score] pairs, RESP2 clients a flat array.
      const flat = ((await client.callBuffer('ZRANGE', k, '0', '-1', 'WITHSCORES')) as Array<Buffer | Buffer[]>).flat();
      const entries: Array<[Uint8Array, number]> = [];
      for (let i = 0; i < flat.length; i += 2) {
        const s = flat[i + 1]!.toString();
        entries.push([u8(flat[i]!), s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s)]);
      }
      return { type: 'zset', entries };
    }
    default:
      throw new Error(`unexpected type ${type}`);
  }
}

async function fetchEntry(client: Redis, e: RdbEntry): Promise<RdbEntry> {
  await client.select(e.db);
  const expire = Number(await client.call('PEXPIRETIME', Buffer.from(e.key)));
  return { db: e.db, key: e.key, expireAtMs: expire > 0 ? expire : 0, value: await fetchValue(client, e.key) };
}

describe.skipIf(!hasRedis)('interop with real Redis 7.0', () => {
  let dir: string;
  let redis: RealRedis;
  const sample = sampleEntries();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-rdb-'));
    writeFileSync(join(dir, 'sabre.rdb'), writeRdb(sample));
    redis = await startRedis(dir, 'sabre.rdb');
  });

  afterAll(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('redis-check-rdb accepts the file Sabre wrote', () => {
    const r = spawnSync('redis-check-rdb', [join(dir, 'sabre.rdb')], { encoding: 'utf8' });
    expect(r.stdout).toContain('RDB looks OK');
    expect(r.status).toBe(0);
  });

  it('real Redis loads every key of the file Sabre wrote, with values and expiries intact', async () => {
    const dbs = new Set(sample.map((e) => e.db));
    let total = 0;
    for (const db of dbs) {
      await redis.client.select(db);
      total += await redis.client.dbsize();
    }
    expect(total).toBe(sample.length);
    for (const e of sample) expect(canonicalEntry(await fetchEntry(redis.client, e))).toEqual(canonicalEntry(e));
  });

  it('real Redis holds the values in the encodings Sabre chose', async () => {
    await redis.client.select(0);
    const enc = async (k: string): Promise<unknown> => redis.client.object('ENCODING', k);
    expect(await enc('str:int8')).toBe('int');
    expect(await enc('list:nodes')).toBe('quicklist');
    expect(await enc('hash:small')).toBe('listpack');
    expect(await enc('hash:many')).toBe('hashtable');
    expect(await enc('set:ints')).toBe('intset');
    expect(await enc('set:strings')).toBe('hashtable');
    expect(await enc('zset:small')).toBe('listpack');
    expect(await enc('zset:many')).toBe('skiplist');
  });

  it('Sabre reads back the RDB real Redis saves from that data', async () => {
    await redis.client.call('SAVE');
    const got: RdbEntry[] = [];
    for (const r of readRdbFile(join(dir, 'sabre.rdb'))) if (r.kind === 'entry') got.push(r.entry);
    const key = (e: RdbEntry): string => `${e.db}:${Buffer.from(e.key).toString('latin1')}`;
    const byKey = new Map(got.map((e) => [key(e), canonicalEntry(e)]));
    expect(byKey.size).toBe(sample.length);
    for (const e of sample) expect(byKey.get(key(e))).toEqual(canonicalEntry(e));
  });

  it('DUMP payloads from real Redis decode to the stored values', async () => {
    for (const e of sample) {
      await redis.client.select(e.db);
      const payload = await redis.client.dumpBuffer(Buffer.from(e.key));
      expect(canonical(decodeDumpPayload(u8(payload!)))).toEqual(canonical(e.value));
    }
  });

  it('real Redis RESTOREs payloads Sabre encodes', async () => {
    await redis.client.select(2);
    for (const [i, e] of sample.entries()) {
      const key = Buffer.from(`restored:${i}`);
      await redis.client.restore(key, 0, Buffer.from(encodeDumpPayload(e.value)));
      expect(canonical(await fetchValue(redis.client, key))).toEqual(canonical(e.value));
    }
  });

  it('real Redis refuses a payload with a corrupted checksum, as Sabre does', async () => {
    const p = Buffer.from(encodeDumpPayload({ type: 'string', bytes: new Uint8Array([1, 2, 3]) }));
    p[p.length - 1]! ^= 0xff;
    await expect(redis.client.restore('bad', 0, p)).rejects.toThrow('ERR DUMP payload version or checksum are wrong');
    expect(() => decodeDumpPayload(u8(p))).toThrow('ERR DUMP payload version or checksum are wrong');
  });
});

describe.skipIf(!hasRedis)('AOF interop with real Redis 7.0', () => {
  it('real Redis 7.0 loads the single-file AOF Sabre rewrote (as an old-style AOF) with every key intact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sabre-aof-interop-'));
    const sample = sampleEntries();
    const rw = new AofRewriter(join(dir, 'appendonly.aof'));
    for (const e of sample) rw.add(e);
    const cmd = (...xs: string[]): Uint8Array => encodeCommand(xs.map((x) => new Uint8Array(Buffer.from(x))));
    rw.commit(Buffer.concat([cmd('SELECT', '4'), cmd('SET', 'tail', 'written during the rewrite')]));
    const redis = await startRedis(dir, 'none.rdb', ['--appendonly', 'yes', '--appendfilename', 'appendonly.aof']);
    try {
      for (const e of sample) expect(canonicalEntry(await fetchEntry(redis.client, e))).toEqual(canonicalEntry(e));
      await redis.client.select(4);
      expect(await redis.client.get('tail')).toBe('written during the rewrite');
    } finally {
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
