/** AOF: appender policies, replay, truncated tails like aof-load-truncated, rewrite from entries with a concurrent tail. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AofAppender,
  AofRewriter,
  readAof,
  readAofFile,
  shouldRewriteAof,
  encodeCommand,
  type AofRecord,
  type AofSummary,
} from '../../src/persistence/aof.js';
import { RdbError } from '../../src/persistence/rdb-error.js';
import type { RdbEntry } from '../../src/persistence/rdb-types.js';
import { canonicalEntry, sampleEntries, writeRdb } from './sample-entries.js';

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));
const s = (x: Uint8Array): string => Buffer.from(x).toString('latin1');
const argv = (...xs: string[]): Uint8Array[] => xs.map(b);

function replay(gen: Generator<AofRecord, AofSummary>): { records: AofRecord[]; summary: AofSummary } {
  const records: AofRecord[] = [];
  let r = gen.next();
  for (; !r.done; r = gen.next()) records.push(r.value);
  return { records, summary: r.value };
}

const commandsOf = (records: AofRecord[]): string[] =>
  records.flatMap((r) => (r.kind === 'command' ? [`${r.db}:${r.argv.map(s).join(' ')}`] : []));

/** Applies the commands an AOF rewrite emits to a map of entries, to check they recreate the data. */
function applyCommands(records: AofRecord[]): RdbEntry[] {
  const db = new Map<string, RdbEntry>();
  for (const r of records) {
    if (r.kind === 'entry') {
      db.set(`${r.entry.db}:${s(r.entry.key)}`, r.entry);
      continue;
    }
    const [name, key, ...args] = r.argv;
    const id = `${r.db}:${s(key!)}`;
    const get = (make: () => RdbEntry['value']): RdbEntry => {
      if (!db.has(id)) db.set(id, { db: r.db, key: key!, expireAtMs: 0, value: make() });
      return db.get(id)!;
    };
    const cmd = s(name!).toUpperCase();
    if (cmd === 'SET') db.set(id, { db: r.db, key: key!, expireAtMs: 0, value: { type: 'string', bytes: args[0]! } });
    else if (cmd === 'RPUSH') (get(() => ({ type: 'list', items: [] })).value as { items: Uint8Array[] }).items.push(...args);
    else if (cmd === 'SADD') (get(() => ({ type: 'set', members: [] })).value as { members: Uint8Array[] }).members.push(...args);
    else if (cmd === 'HSET') {
      const v = get(() => ({ type: 'hash', fields: [] })).value as { fields: Array<[Uint8Array, Uint8Array]> };
      for (let i = 0; i < args.length; i += 2) v.fields.push([args[i]!, args[i + 1]!]);
    } else if (cmd === 'ZADD') {
      const v = get(() => ({ type: 'zset', entries: [] })).value as { entries: Array<[Uint8Array, number]> };
      for (let i = 0; i < args.length; i += 2) {
        const t = s(args[i]!);
        v.entries.push([args[i + 1]!, t === 'inf' ? Infinity : t === '-inf' ? -Infinity : Number(t)]);
      }
    } else if (cmd === 'PEXPIREAT') db.get(id)!.expireAtMs = Number(s(args[0]!));
    else throw new Error(`unexpected ${cmd}`);
  }
  return [...db.values()];
}

describe('AOF', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-aof-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const policy of ['always', 'everysec', 'no'] as const) {
    it(`appendfsync ${policy}: flushed commands replay in order with their databases`, () => {
      const path = join(dir, 'appendonly.aof');
      const aof = new AofAppender(path, policy);
      aof.append(0, argv('SET', 'a', '1'));
      aof.append(0, argv('INCR', 'a'));
      aof.flush();
      aof.append(3, argv('RPUSH', 'l', 'x', 'bin\r\n\0'));
      aof.append(0, argv('DEL', 'a'));
      aof.close();
      const { records, summary } = replay(readAofFile(path));
      expect(commandsOf(records)).toEqual(['0:SET a 1', '0:INCR a', '3:RPUSH l x bin\r\n\0', '0:DEL a']);
      expect(summary).toEqual({ validBytes: readFileSync(path).length, droppedBytes: 0, commands: 4 });
    });
  }

  it('flush() writes with every policy, so a crash after it loses nothing the OS already has', () => {
    const path = join(dir, 'appendonly.aof');
    const aof = new AofAppender(path, 'no');
    aof.append(0, argv('SET', 'k', 'v'));
    aof.flush();
    expect(commandsOf(replay(readAofFile(path)).records)).toEqual(['0:SET k v']);
    expect(aof.size).toBe(readFileSync(path).length);
    aof.close();
  });

  it('a tail cut anywhere inside the last command is dropped and reported, like aof-load-truncated yes', () => {
    const whole = Buffer.concat([
      encodeCommand(argv('SET', 'a', '1')),
      encodeCommand(argv('SET', 'b', '2')),
      encodeCommand(argv('SET', 'c', 'three')),
    ]);
    const lastStart = whole.length - encodeCommand(argv('SET', 'c', 'three')).length;
    for (let cut = lastStart + 1; cut < whole.length; cut++) {
      const { records, summary } = replay(readAof(whole.subarray(0, cut)));
      expect(commandsOf(records)).toEqual(['0:SET a 1', '0:SET b 2']);
      expect(summary).toEqual({ validBytes: lastStart, droppedBytes: cut - lastStart, commands: 2 });
      expect(() => replay(readAof(whole.subarray(0, cut), { loadTruncated: false }))).toThrow(RdbError);
    }
  });

  it('an unfinished MULTI block at the tail is dropped whole', () => {
    const head = Buffer.concat([encodeCommand(argv('SET', 'a', '1'))]);
    const file = Buffer.concat([head, encodeCommand(argv('MULTI')), encodeCommand(argv('INCR', 'a')), encodeCommand(argv('INCR', 'a'))]);
    const { records, summary } = replay(readAof(file));
    expect(commandsOf(records)).toEqual(['0:SET a 1']);
    expect(summary.validBytes).toBe(head.length);
    const done = Buffer.concat([file, encodeCommand(argv('EXEC'))]);
    expect(commandsOf(replay(readAof(done)).records)).toEqual(['0:SET a 1', '0:INCR a', '0:INCR a']);
  });

  it('garbage before the tail is CORRUPT with its offset', () => {
    const good = encodeCommand(argv('SET', 'a', '1'));
    const file = Buffer.concat([good, Buffer.from('+OK\r\n'), encodeCommand(argv('SET', 'b', '2'))]);
    const e = (() => {
      try {
        replay(readAof(file));
      } catch (err) {
        return err as RdbError;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(RdbError);
    expect(e!.code).toBe('CORRUPT');
    expect(e!.offset).toBe(good.length);
  });

  it('reads an RDB preamble followed by commands', () => {
    const path = join(dir, 'appendonly.aof');
    const sample = sampleEntries().slice(0, 5);
    writeFileSync(path, writeRdb(sample));
    appendFileSync(path, encodeCommand(argv('SET', 'after', 'preamble')));
    const { records } = replay(readAofFile(path));
    expect(records.filter((r) => r.kind === 'entry')).toHaveLength(5);
    expect(commandsOf(records)).toEqual(['0:SET after preamble']);
  });

  it('rewrite from entries recreates every entry, and writes made during the rewrite survive the swap', () => {
    const path = join(dir, 'appendonly.aof');
    const aof = new AofAppender(path, 'always');
    aof.append(0, argv('SET', 'old', 'state'));
    aof.flush();
    const sample = sampleEntries();
    aof.startRewrite();
    const rw = new AofRewriter(path);
    for (const e of sample) rw.add(e);
    aof.append(5, argv('SET', 'during', 'rewrite'));
    aof.flush();
    aof.completeRewrite(rw);
    aof.append(5, argv('SET', 'after', 'swap'));
    aof.close();
    const { records } = replay(readAofFile(path));
    const rebuilt = applyCommands(records);
    const expected = [
      ...sample,
      { db: 5, key: b('during'), expireAtMs: 0, value: { type: 'string' as const, bytes: b('rewrite') } },
      { db: 5, key: b('after'), expireAtMs: 0, value: { type: 'string' as const, bytes: b('swap') } },
    ];
    expect(rebuilt.map(canonicalEntry)).toEqual(expected.map(canonicalEntry));
  });

  it('an aborted rewrite leaves the AOF and no temp file', () => {
    const path = join(dir, 'appendonly.aof');
    const aof = new AofAppender(path, 'no');
    aof.append(0, argv('SET', 'k', 'v'));
    aof.startRewrite();
    const rw = new AofRewriter(path);
    rw.add(sampleEntries()[0]!);
    aof.abortRewrite(rw);
    aof.close();
    expect(commandsOf(replay(readAofFile(path)).records)).toEqual(['0:SET k v']);
    expect(() => readFileSync(rw.tempPath)).toThrow(/ENOENT/);
  });

  it('auto-rewrite triggers on growth percentage past the minimum size', () => {
    expect(shouldRewriteAof(200, 100, 100, 0)).toBe(true);
    expect(shouldRewriteAof(150, 100, 100, 0)).toBe(false);
    expect(shouldRewriteAof(200, 100, 100, 1000)).toBe(false);
    expect(shouldRewriteAof(200, 100, 0, 0)).toBe(false);
  });
});
