import { describe, expect, it } from 'vitest';
import {
  formatMemory,
  REWRITE_SIGNATURE,
  replicaofOption,
  rewriteConfigText,
  type RewriteOption,
} from '../../src/server/config-rewrite.js';

const aliases = new Map([
  ['slaveof', 'replicaof'],
  ['hash-max-ziplist-entries', 'hash-max-listpack-entries'],
]);
const opt = (name: string, lines: string[], force = true): RewriteOption => ({ name, lines, force });

describe('rewriteConfigText (Redis 7.0 rewriteConfig)', () => {
  it('replaces an option in place, keeps comments and unknown lines, blanks its extra lines', () => {
    const old = '# top\nmaxmemory 10mb\n\n# mid\nsomething-unknown 1\nmaxmemory 20mb\nport 1\n';
    const out = rewriteConfigText(old, [opt('maxmemory', ['maxmemory 30mb']), opt('port', ['port 1'], false)], aliases);
    expect(out).toBe('# top\nmaxmemory 30mb\n\n# mid\nsomething-unknown 1\n\nport 1\n');
  });

  it('appends forced options under one signature, and not options at their default that the file lacks', () => {
    const first = rewriteConfigText('port 1\n', [opt('hz', ['hz 20']), opt('loglevel', ['loglevel notice'], false)], aliases);
    expect(first).toBe(`port 1\n\n${REWRITE_SIGNATURE}\nhz 20\n`);
    const second = rewriteConfigText(first, [opt('hz', ['hz 20']), opt('maxclients', ['maxclients 5'])], aliases);
    expect(second).toBe(`port 1\n\n${REWRITE_SIGNATURE}\nhz 20\nmaxclients 5\n`);
  });

  it('maps old names to the option they stand for, and removes an option with no lines (replicaof after a promotion)', () => {
    const old = 'slaveof 127.0.0.1 6379\nhash-max-ziplist-entries 100\n';
    const out = rewriteConfigText(
      old,
      [opt('replicaof', [], false), opt('hash-max-listpack-entries', ['hash-max-listpack-entries 300'])],
      aliases,
    );
    expect(out).toBe('\nhash-max-listpack-entries 300\n');
  });

  it('turns each run of blank lines into one', () => {
    expect(rewriteConfigText('a 1\n\n\n\nb 2\n', [], aliases)).toBe('a 1\n\nb 2\n');
  });

  it('writes several lines of one option over its old lines, then appends the rest', () => {
    const old = 'user a on\nport 1\n';
    const out = rewriteConfigText(old, [opt('user', ['user a on', 'user b off'])], aliases);
    expect(out).toBe(`user a on\nport 1\n\n${REWRITE_SIGNATURE}\nuser b off\n`);
  });
});

describe('formatMemory', () => {
  it('uses the largest unit that divides the size, as Redis writes it', () => {
    expect(formatMemory(0)).toBe('0');
    expect(formatMemory(1000)).toBe('1000');
    expect(formatMemory(2048)).toBe('2kb');
    expect(formatMemory(20 * 1048576)).toBe('20mb');
    expect(formatMemory(3 * 1073741824)).toBe('3gb');
  });
});

describe('replicaofOption', () => {
  it('writes replicaof on a replica and removes it on a master', () => {
    expect(replicaofOption(['role:slave', 'master_host:10.0.0.1', 'master_port:6380']).lines).toEqual(['replicaof 10.0.0.1 6380']);
    expect(replicaofOption(['role:master', 'connected_slaves:0'])).toEqual({ name: 'replicaof', lines: [], force: false });
  });
});
