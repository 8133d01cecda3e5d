/** The server's command line read as redis-server reads its own (src/server/config.ts parseServerArgs). */
import { describe, expect, it } from 'vitest';
import { parseServerArgs } from '../../src/server/config.js';

describe('sabre server command line', () => {
  it('takes a negative number as the value of the option before it', () => {
    const { config } = parseServerArgs(['--slowlog-log-slower-than', '-1', '--port', '7001']);
    expect(config.num('slowlog-log-slower-than')).toBe(-1);
    expect(config.num('port')).toBe(7001);
  });

  it('joins every word up to the next option into one value, as redis-server does', () => {
    const { config } = parseServerArgs(['--save', '900', '1', '300', '10', '--appendonly', 'no']);
    expect(config.get('save')).toBe('900 1 300 10');
    expect(config.get('appendonly')).toBe('no');
  });

  it('reads a bare --save as --save "" (snapshots off), at the end or before another option', () => {
    expect(parseServerArgs(['--save']).config.get('save')).toBe('');
    expect(parseServerArgs(['--save', '--port', '7002']).config.get('save')).toBe('');
  });

  it('keeps --name=value and refuses an option it does not know', () => {
    expect(parseServerArgs(['--maxmemory=10mb']).config.num('maxmemory')).toBe(10 * 1024 * 1024);
    expect(() => parseServerArgs(['--no-such-option', '1'])).toThrow(/no-such-option/);
    expect(() => parseServerArgs(['--port'])).toThrow(/port/);
  });
});
