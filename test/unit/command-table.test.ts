import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CMD, COMMAND_COUNT, COMMAND_TOTAL } from '../../src/commands/ids.generated.js';
// @ts-expect-error -- plain ESM script without type declarations
import { compareWithRedis } from '../../native-bench/command-compare.mjs';
import * as table from '../../src/commands/table.js';
import {
  COMMANDS,
  F_ADMIN,
  F_DENYOOM,
  F_FAST,
  F_MOVABLEKEYS,
  F_READONLY,
  F_WRITE,
  checkArity,
  commandCountReply,
  commandDocsReply,
  commandGetKeysReply,
  commandInfoReply,
  commandListReply,
  extractKeys,
  globMatch,
  lookupCommand,
  lookupFullName,
  lookupSubcommand,
  unknownCommandError,
  unknownSubcommandError,
} from '../../src/commands/table.js';
import { wrongArityError } from '../../src/wire/error-text.js';

/** Lays out args the way the server's parser does: one buffer plus start/length per argument. */
function argv(...args: string[]) {
  const parts = args.map((a) => Buffer.from(a, 'latin1'));
  const pad = Buffer.from('*9\r\n'); // arguments need not start at offset 0
  const buf = Buffer.concat([pad, ...parts]);
  const argStart = new Int32Array(args.length);
  const argLen = new Int32Array(args.length);
  let off = pad.length;
  parts.forEach((p, i) => {
    argStart[i] = off;
    argLen[i] = p.length;
    off += p.length;
  });
  return { buf, argStart, argLen, argc: args.length };
}

function lookup(name: string): number {
  const b = Buffer.from(`xx${name}yy`, 'latin1');
  return lookupCommand(b, 2, b.length - 4);
}

/** Resolves "client list" style names to their spec, as the dispatcher would. */
function specOf(...args: string[]) {
  const id = lookup(args[0]!);
  expect(id).toBeGreaterThanOrEqual(0);
  const spec = COMMANDS[id]!;
  if (spec.subcommands && args.length > 1) {
    const b = Buffer.from(args[1]!);
    return COMMANDS[lookupSubcommand(id, b, 0, b.length)]!;
  }
  return spec;
}

/** The key arguments extractKeys finds, as strings; null for -1. */
function keys(...args: string[]): string[] | null {
  const a = argv(...args);
  const out = new Int32Array(a.argc);
  const n = extractKeys(specOf(...args), a.buf, a.argStart, a.argLen, a.argc, out);
  if (n < 0) return null;
  return Array.from(out.subarray(0, n), (i) => args[i]!);
}

type R = string | number | null | R[];
/** Minimal RESP reader for checking reply shapes. */
function parseResp(b: Buffer): R {
  let off = 0;
  const read = (): R => {
    const nl = b.indexOf('\r\n', off);
    const t = String.fromCharCode(b[off]!);
    const line = b.toString('latin1', off + 1, nl);
    off = nl + 2;
    if (t === '$') {
      const n = Number(line);
      if (n < 0) return null;
      const s = b.toString('latin1', off, off + n);
      off += n + 2;
      return s;
    }
    if (t === '*' || t === '~' || t === '%') {
      const n = Number(line) * (t === '%' ? 2 : 1);
      return Array.from({ length: n }, read);
    }
    if (t === ':') return Number(line);
    if (t === '_') return null;
    return line;
  };
  const v = read();
  expect(off).toBe(b.length);
  return v;
}

describe('command ids and data', () => {
  it('numbers every command and subcommand in table order', () => {
    // Redis's commands and subcommands, then Sabre's own two (CL.THROTTLE, CL.LEASE).
    expect(COMMANDS.length).toBe(COMMAND_TOTAL + 2);
    expect(COMMANDS[CMD.GET]!.name).toBe('get');
    expect(COMMANDS[CMD.CLIENT_LIST]!.name).toBe('client|list');
    expect(COMMANDS[CMD.RESTORE_ASKING]!.name).toBe('restore-asking');
    expect(COMMANDS[CMD.CONFIG_GET]!.container).toBe(COMMANDS[CMD.CONFIG]);
    for (const [i, c] of COMMANDS.entries()) expect(c.id).toBe(i);
  });

  it('counts top-level commands as COMMAND COUNT does', () => {
    const data = JSON.parse(readFileSync(new URL('../../data/redis-commands.json', import.meta.url), 'utf8'));
    const top = data.commands.filter((c: { container: string | null }) => c.container === null).length;
    expect(COMMAND_COUNT).toBe(top);
    expect(COMMAND_COUNT).toBe(240);
    expect(commandCountReply().toString()).toBe(`:${top + 2}\r\n`);
  });

  it('derives flags, categories and legacy key ranges like Redis', () => {
    const get = COMMANDS[CMD.GET]!;
    expect(get.flags).toBe(F_READONLY | F_FAST);
    expect(get.aclCategories).toEqual(['@read', '@string', '@fast']);
    expect([get.firstKey, get.lastKey, get.step]).toEqual([1, 1, 1]);
    const mset = COMMANDS[CMD.MSET]!;
    expect(mset.flags & (F_WRITE | F_DENYOOM)).toBe(F_WRITE | F_DENYOOM);
    expect([mset.firstKey, mset.lastKey, mset.step]).toEqual([1, -1, 2]);
    expect(COMMANDS[CMD.EVAL]!.flags & F_MOVABLEKEYS).toBe(F_MOVABLEKEYS);
    expect(COMMANDS[CMD.ZUNIONSTORE]!.firstKey).toBe(1);
    expect(COMMANDS[CMD.FLUSHALL]!.aclCategories).toEqual(['@keyspace', '@write', '@slow', '@dangerous']);
    expect(COMMANDS[CMD.CLIENT_KILL]!.flags & F_ADMIN).toBe(F_ADMIN);
  });
});

describe('lookupCommand / lookupSubcommand', () => {
  it('finds names in any letter case without a string', () => {
    for (const n of ['get', 'GET', 'gEt']) expect(lookup(n)).toBe(CMD.GET);
    expect(lookup('GEORADIUSBYMEMBER_RO')).toBe(CMD.GEORADIUSBYMEMBER_RO);
    expect(lookup('Restore-Asking')).toBe(CMD.RESTORE_ASKING);
    for (const c of COMMANDS) if (!c.container) expect(lookup(c.name.toUpperCase())).toBe(c.id);
  });

  it('rejects unknown names and near misses', () => {
    for (const n of ['', 'ge', 'gett', 'g\u00c5t', 'get ', 'client|list', 'list', 'georadius\u007fro', 'x'.repeat(300)]) {
      expect(lookup(n)).toBe(-1);
    }
  });

  it('finds subcommands only under their own container', () => {
    const sub = (p: number, n: string) => lookupSubcommand(p, Buffer.from(n), 0, n.length);
    expect(sub(CMD.CLIENT, 'LIST')).toBe(CMD.CLIENT_LIST);
    expect(sub(CMD.CLIENT, 'list')).toBe(CMD.CLIENT_LIST);
    expect(sub(CMD.CONFIG, 'get')).toBe(CMD.CONFIG_GET);
    expect(sub(CMD.OBJECT, 'Encoding')).toBe(CMD.OBJECT_ENCODING);
    expect(sub(CMD.ACL, 'list')).toBe(CMD.ACL_LIST);
    expect(sub(CMD.CLIENT, 'nosuch')).toBe(-1);
    expect(sub(CMD.GET, 'list')).toBe(-1);
    for (const c of COMMANDS) if (c.container) expect(sub(c.container.id, c.name.split('|')[1]!.toUpperCase())).toBe(c.id);
  });

  it('resolves full names with a pipe', () => {
    expect(lookupFullName(Buffer.from('CLIENT|List'))).toBe(CMD.CLIENT_LIST);
    expect(lookupFullName(Buffer.from('get|x'))).toBe(-1);
    expect(lookupFullName(Buffer.from('client|list|x'))).toBe(-1);
  });
});

describe('arity and error texts', () => {
  it('checks exact and minimum arity', () => {
    expect(checkArity(COMMANDS[CMD.GET]!, 2)).toBe(true);
    expect(checkArity(COMMANDS[CMD.GET]!, 3)).toBe(false);
    expect(checkArity(COMMANDS[CMD.MSET]!, 2)).toBe(false);
    expect(checkArity(COMMANDS[CMD.MSET]!, 5)).toBe(true);
    expect(checkArity(COMMANDS[CMD.CLIENT_KILL]!, 2)).toBe(false);
  });

  it('builds Redis 7.0 error texts', () => {
    expect(wrongArityError('get')).toBe("ERR wrong number of arguments for 'get' command");
    expect(wrongArityError(COMMANDS[CMD.CLIENT_LIST]!.name)).toBe("ERR wrong number of arguments for 'client|list' command");
    const u = argv('foo', 'a', 'b');
    expect(unknownCommandError(u.buf, u.argStart, u.argLen, u.argc)).toBe("ERR unknown command 'foo', with args beginning with: 'a' 'b' ");
    const long = argv('f'.repeat(200), 'a'.repeat(100), 'b'.repeat(100), 'c');
    expect(unknownCommandError(long.buf, long.argStart, long.argLen, long.argc)).toBe(
      `ERR unknown command '${'f'.repeat(128)}', with args beginning with: '${'a'.repeat(100)}' '${'b'.repeat(25)}' `,
    );
    const nl = argv('a\r\nb\u0000c');
    expect(unknownCommandError(nl.buf, nl.argStart, nl.argLen, nl.argc)).toBe("ERR unknown command 'a  b', with args beginning with: ");
    const s = argv('client', 'foo');
    expect(unknownSubcommandError(s.buf, s.argStart, s.argLen)).toBe("ERR unknown subcommand 'foo'. Try CLIENT HELP.");
  });
});

describe('extractKeys', () => {
  it('follows index/range specs', () => {
    expect(keys('GET', 'k')).toEqual(['k']);
    expect(keys('mset', 'a', '1', 'b', '2')).toEqual(['a', 'b']);
    expect(keys('del', 'a', 'b', 'c')).toEqual(['a', 'b', 'c']);
    expect(keys('object', 'encoding', 'k')).toEqual(['k']);
    expect(keys('ping')).toEqual([]);
  });

  it('follows keynum specs, reading the count from the bytes', () => {
    expect(keys('zunionstore', 'd', '2', 'a', 'b', 'WEIGHTS', '1', '2')).toEqual(['d', 'a', 'b']);
    expect(keys('lmpop', '2', 'a', 'b', 'LEFT')).toEqual(['a', 'b']);
    expect(keys('blmpop', '0', '2', 'a', 'b', 'LEFT', 'COUNT', '3')).toEqual(['a', 'b']);
    expect(keys('eval', 'return 1', '2', 'a', 'b', 'x')).toEqual(['a', 'b']);
    expect(keys('eval', 'return 1', '0', 'x')).toEqual([]);
    expect(keys('zunionstore', 'd', 'x', 'a')).toBeNull();
    expect(keys('zunionstore', 'd', '3', 'a')).toBeNull();
    expect(keys('eval', 's', '-1')).toBeNull();
    expect(keys('eval', 's', '01', 'a')).toBeNull();
    expect(keys('lmpop', '99999999999999999999', 'a', 'LEFT')).toBeNull();
  });

  it('follows keyword specs', () => {
    expect(keys('xread', 'COUNT', '2', 'streams', 'a', 'b', '0', '0')).toEqual(['a', 'b']);
    expect(keys('xreadgroup', 'GROUP', 'g', 'c', 'STREAMS', 'a', '>')).toEqual(['a']);
    expect(keys('georadius', 'k', '0', '0', '1', 'km', 'STORE', 'd')).toEqual(['k', 'd']);
    expect(keys('georadius', 'k', '0', '0', '1', 'km', 'STOREDIST', 'd')).toEqual(['k', 'd']);
    expect(keys('georadius', 'k', '0', '0', '1', 'km', 'STORE')).toEqual(['k']);
  });

  it('handles SORT and MIGRATE like their getkeys functions', () => {
    expect(keys('sort', 'k', 'BY', 'store', 'LIMIT', '0', '1', 'GET', 'y', 'STORE', 'd')).toEqual(['k', 'd']);
    expect(keys('sort', 'k', 'STORE', 'd1', 'STORE', 'd2')).toEqual(['k', 'd2']);
    expect(keys('sort', 'k')).toEqual(['k']);
    expect(keys('migrate', 'h', '1', 'k', '0', '10')).toEqual(['k']);
    expect(keys('migrate', 'h', '1', '', '0', '10', 'COPY', 'AUTH', 'keys', 'KEYS', 'a', 'b')).toEqual(['a', 'b']);
  });
});

describe('COMMAND replies', () => {
  it('gives COMMAND INFO entries in the shape ioredis reads', () => {
    const info = parseResp(commandInfoReply([Buffer.from('get')], 2)) as R[];
    expect(info).toHaveLength(1);
    const [name, arity, flags, first, last, step, acl, tips, keySpecs, subs] = info[0] as R[];
    expect([name, arity, flags, first, last, step, acl, tips, subs]).toEqual([
      'get',
      2,
      ['readonly', 'fast'],
      1,
      1,
      1,
      ['@read', '@string', '@fast'],
      [],
      [],
    ]);
    expect(keySpecs).toEqual([
      [
        'flags',
        ['RO', 'access'],
        'begin_search',
        ['type', 'index', 'spec', ['index', 1]],
        'find_keys',
        ['type', 'range', 'spec', ['lastkey', 0, 'keystep', 1, 'limit', 0]],
      ],
    ]);
    expect(commandInfoReply([Buffer.from('get')], 3).toString('latin1')).toMatch(/^\*1\r\n\*10\r\n\$3\r\nget\r\n:2\r\n~2\r\n\+readonly/);
  });

  it('answers null for unknown names and nests subcommands', () => {
    expect(commandInfoReply([Buffer.from('nosuch')], 2).toString()).toBe('*1\r\n$-1\r\n');
    expect(commandInfoReply([Buffer.from('nosuch')], 3).toString()).toBe('*1\r\n_\r\n');
    const all = parseResp(commandInfoReply(null, 2)) as R[][];
    expect(all).toHaveLength(COMMAND_COUNT + 2);
    const client = all.find((e) => e[0] === 'client')!;
    expect((client[9] as R[][]).map((s) => s[0])).toContain('client|list');
  });

  it('renders COMMAND DOCS as a map, leaving unknown names out', () => {
    const d3 = commandDocsReply([Buffer.from('GET'), Buffer.from('nosuch')], 3).toString('latin1');
    expect(d3.startsWith('%1\r\n$3\r\nget\r\n%5\r\n$7\r\nsummary\r\n')).toBe(true);
    const d2 = parseResp(commandDocsReply([Buffer.from('get')], 2));
    expect(d2).toEqual([
      'get',
      [
        'summary',
        'Get the value of a key',
        'since',
        '1.0.0',
        'group',
        'string',
        'complexity',
        'O(1)',
        'arguments',
        [['name', 'key', 'type', 'key', 'key_spec_index', 0]],
      ],
    ]);
    const all = parseResp(commandDocsReply(null, 3)) as R[];
    expect(all).toHaveLength((COMMAND_COUNT + 2) * 2);
  });

  it('lists commands with filters', () => {
    const all = parseResp(commandListReply(null, 2)) as string[];
    expect(all).toHaveLength(COMMAND_TOTAL + 2);
    expect(all).toContain('client|list');
    expect(parseResp(commandListReply({ pattern: 'CLIENT|L*' }, 2))).toEqual(['client|list']);
    expect(parseResp(commandListReply({ module: 'x' }, 2))).toEqual([]);
    const read = parseResp(commandListReply({ aclcat: 'READ' }, 2)) as string[];
    expect(read).toContain('get');
    expect(read).not.toContain('set');
    expect(globMatch('g[a-f]?', 'GET')).toBe(true);
    expect(globMatch('g[^a-f]?', 'get')).toBe(false);
    expect(globMatch('a\\*', 'a*')).toBe(true);
  });

  it('answers COMMAND GETKEYS with keys or Redis errors', () => {
    const gk = (...a: string[]) =>
      commandGetKeysReply(
        a.map((x) => Buffer.from(x)),
        2,
      ).toString();
    expect(gk('mset', 'a', '1', 'b', '2')).toBe('*2\r\n$1\r\na\r\n$1\r\nb\r\n');
    expect(gk('nosuch', 'x')).toBe('-ERR Invalid command specified\r\n');
    expect(gk('ping', 'x')).toBe('-ERR The command has no key arguments\r\n');
    expect(gk('get', 'a', 'b')).toBe('-ERR Invalid number of arguments specified for command\r\n');
    expect(gk('zunionstore', 'd', 'x', 'a')).toBe('-ERR Invalid arguments specified for command\r\n');
    expect(gk('eval', 's', '0')).toBe('*0\r\n');
    expect(gk('eval', 's', '+1', 'a')).toBe('*1\r\n$1\r\na\r\n');
    expect(gk('memory', 'usage', 'k')).toBe('*1\r\n$1\r\nk\r\n');
  });
});

const hasRedis = spawnSync('redis-server', ['--version']).status === 0;

describe.skipIf(!hasRedis)('against a real redis-server', () => {
  it('matches COMMAND INFO/DOCS/LIST/GETKEYS and error texts of Redis 7.0', async () => {
    const mismatches: string[] = [];
    const { cases, failures } = await compareWithRedis({ ...table, wrongArityError }, undefined, (m: string) => mismatches.push(m));
    expect(mismatches).toEqual([]);
    expect(failures).toBe(0);
    expect(cases).toBeGreaterThan(1500);
  }, 60_000);
});
