import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../src/wire/resp-command.js';
import { parseCommand } from '../../src/persistence/resp-command.js';

describe('encodeCommand', () => {
  it('writes bytes, UTF-8 text and numbers as one RESP array of bulk strings', () => {
    const out = encodeCommand(['SET', 'clé', Uint8Array.of(0, 13, 10, 255), 42, -1.5]);
    expect(out.toString('latin1')).toBe('*5\r\n$3\r\nSET\r\n$4\r\ncl\u00c3\u00a9\r\n$4\r\n\u0000\r\n\u00ff\r\n$2\r\n42\r\n$4\r\n-1.5\r\n');
  });

  it('sizes headers of ten or more arguments and long values exactly, and the AOF reader reads it back', () => {
    const argv = Array.from({ length: 12 }, (_, i) => 'x'.repeat(i * 37));
    const out = encodeCommand(argv);
    const parsed = parseCommand(out, 0, 0);
    expect(parsed?.next).toBe(out.length);
    expect(parsed?.argv.map((a) => Buffer.from(a).toString())).toEqual(argv);
  });
});
