import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  continueCommand,
  PARSE_ERROR,
  PARSE_INCOMPLETE,
  PROTO_INLINE_MAX_SIZE,
  ParsedCommand,
  parseCommand,
  type ParserLimits,
} from '../../src/wire/resp-parser.js';

const AUTH: ParserLimits = { maxBulkLen: 512 * 1024 * 1024, authenticated: true };
const UNAUTH: ParserLimits = { maxBulkLen: 512 * 1024 * 1024, authenticated: false };

type Result = { args: string[] } | { error: string } | 'incomplete';

/** Parses every command in `bytes` (one buffer); latin1 strings keep bytes exact. */
function parseAll(bytes: Buffer | string, limits = AUTH): Result[] {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
  const cmd = new ParsedCommand();
  const out: Result[] = [];
  let pos = 0;
  for (let guard = 0; guard < 100_000 && pos < buf.length; guard++) {
    const r = parseCommand(buf, pos, buf.length, cmd, limits);
    if (r === PARSE_INCOMPLETE) {
      out.push('incomplete');
      return out;
    }
    if (r === PARSE_ERROR) {
      out.push({ error: cmd.error });
      return out;
    }
    expect(r).toBeGreaterThan(pos);
    if (cmd.argc > 0) out.push({ args: argsOf(cmd).map((a) => Buffer.from(a).toString('latin1')) });
    pos = r;
  }
  return out;
}

function argsOf(cmd: ParsedCommand): Uint8Array[] {
  const a: Uint8Array[] = [];
  for (let i = 0; i < cmd.argc; i++) a.push(Uint8Array.from(cmd.buf.subarray(cmd.argStart[i]!, cmd.argStart[i]! + cmd.argLen[i]!)));
  return a;
}

function resp(args: Uint8Array[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), Buffer.from(a), Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/**
 * Feeds `pieces` the way the acceptor does: parse what is complete, keep a cut command's bytes
 * with room to grow (moving them to a bigger buffer, and rebasing the parse state, when a piece
 * does not fit), and go on with the cut command where it stopped. Returns the commands (args
 * copied out) in order, the error if one ended the input, and the bytes left unparsed.
 */
function feed(pieces: Uint8Array[], limits = AUTH): { cmds: Uint8Array[][]; error: string | null; rest: number } {
  const cmd = new ParsedCommand();
  let held = new Uint8Array(8);
  let pos = 0;
  let end = 0;
  let cut = false;
  const cmds: Uint8Array[][] = [];
  for (const piece of pieces) {
    if (end + piece.length > held.length) {
      const grown = new Uint8Array(Math.max(8, 2 * (end - pos + piece.length)));
      grown.set(held.subarray(pos, end));
      if (cut) cmd.rebase(-pos);
      end -= pos;
      pos = 0;
      held = grown;
    }
    held.set(piece, end);
    end += piece.length;
    const view = held.subarray(0, end);
    while (pos < end) {
      const r = cut ? continueCommand(view, end, cmd, limits) : parseCommand(view, pos, end, cmd, limits);
      cut = r === PARSE_INCOMPLETE;
      if (cut) break;
      if (r === PARSE_ERROR) return { cmds, error: cmd.error, rest: end - pos };
      expect(r).toBeGreaterThan(pos);
      if (cmd.argc > 0) cmds.push(argsOf(cmd));
      pos = r;
    }
  }
  return { cmds, error: null, rest: end - pos };
}

/** What a feed must reproduce however its input is cut (after an error, the bytes left depend on what had arrived). */
function outcome(r: ReturnType<typeof feed>): ReturnType<typeof feed> {
  return r.error === null ? r : { ...r, rest: -1 };
}

/** `bytes` cut at the given offsets (any numbers: taken modulo the length, sorted, deduplicated). */
function cutAt(bytes: Uint8Array, raw: number[]): Uint8Array[] {
  const cuts = [...new Set(raw.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    pieces.push(bytes.subarray(prev, c));
    prev = c;
  }
  return pieces;
}

describe('parseCommand: multibulk', () => {
  it('parses commands back to back, with binary and empty arguments', () => {
    const bin = Buffer.from([0, 13, 10, 255, 42, 36]).toString('latin1');
    expect(parseAll(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\n${bin}\r\n*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n`)).toEqual([
      { args: ['SET', 'k', bin] },
      { args: ['PING'] },
      { args: ['ECHO', ''] },
    ]);
  });

  it('skips *0 and negative counts as empty commands, like Redis', () => {
    expect(parseAll('*0\r\n*-1\r\n*-5\r\n*1\r\n$4\r\nPING\r\n')).toEqual([{ args: ['PING'] }]);
  });

  it('does not check the CRLF after bulk data (Redis skips two bytes)', () => {
    expect(parseAll('*1\r\n$4\r\nPINGXX*1\r\n$4\r\nPING\r\n')).toEqual([{ args: ['PING'] }, { args: ['PING'] }]);
  });

  it('handles many arguments (beyond the initial reservation)', () => {
    const args = Array.from({ length: 3000 }, (_, i) => Buffer.from(`a${i}`));
    const [r] = parseAll(resp(args));
    expect(r).toEqual({ args: args.map((a) => a.toString()) });
  });

  it('returns PARSE_INCOMPLETE at every cut of a command', () => {
    const full = Buffer.from('*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n');
    const cmd = new ParsedCommand();
    for (let cut = 1; cut < full.length; cut++) {
      expect(parseCommand(full, 0, cut, cmd, AUTH)).toBe(PARSE_INCOMPLETE);
    }
    expect(parseCommand(full, 0, full.length, cmd, AUTH)).toBe(full.length);
  });

  it('reports in `need` the whole size of a big bulk once its header arrived', () => {
    const head = Buffer.from('*2\r\n$3\r\nSET\r\n$100000\r\n');
    const buf = Buffer.concat([head, Buffer.alloc(500, 120)]);
    const cmd = new ParsedCommand();
    expect(parseCommand(buf, 0, buf.length, cmd, AUTH)).toBe(PARSE_INCOMPLETE);
    expect(cmd.need).toBe(head.length + 100000 + 2);
    // from an offset too: need counts from the command's start
    const two = Buffer.concat([Buffer.from('*1\r\n$4\r\nPING\r\n'), buf]);
    const p = parseCommand(two, 0, two.length, cmd, AUTH);
    expect(p).toBe(14);
    expect(parseCommand(two, p, two.length, cmd, AUTH)).toBe(PARSE_INCOMPLETE);
    expect(cmd.need).toBe(head.length + 100000 + 2);
  });

  it.each([
    ['*abc\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*1 \r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*+1\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*01\r\n$4\r\nPING\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*-0\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*3000000000\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*1\r\nx\r\n', "ERR Protocol error: expected '$', got 'x'"],
    ['*2\r\n$4\r\nECHO\r\n:1\r\n', "ERR Protocol error: expected '$', got ':'"],
    ['*1\r\n$-1\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\n$abc\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\n$+4\r\nPING\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\n$04\r\nPING\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\n$ 4\r\nPING\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\n$600000000\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\n$99999999999999999999999\r\n', 'ERR Protocol error: invalid bulk length'],
  ])('%j → %s', (input, error) => {
    expect(parseAll(input)).toEqual([{ error }]);
  });

  it('honours proto-max-bulk-len', () => {
    const limits = { maxBulkLen: 1024 * 1024, authenticated: true };
    expect(parseAll('*1\r\n$1048576\r\n', limits)).toEqual(['incomplete']);
    expect(parseAll('*1\r\n$1048577\r\n', limits)).toEqual([{ error: 'ERR Protocol error: invalid bulk length' }]);
  });

  it('refuses a count line or bulk header longer than 64 KB without CR', () => {
    expect(parseAll(`*${'1'.repeat(PROTO_INLINE_MAX_SIZE + 10)}`)).toEqual([{ error: 'ERR Protocol error: too big mbulk count string' }]);
    expect(parseAll(`*1\r\n$${'1'.repeat(PROTO_INLINE_MAX_SIZE + 10)}`)).toEqual([
      { error: 'ERR Protocol error: too big bulk count string' },
    ]);
  });

  it('applies the unauthenticated limits: 10 arguments, 16 KB bulks', () => {
    const ten = resp(Array.from({ length: 10 }, () => Buffer.from('x')));
    expect(parseAll(ten, UNAUTH)).toHaveLength(1);
    expect(parseAll(resp(Array.from({ length: 11 }, () => Buffer.from('x'))), UNAUTH)).toEqual([
      { error: 'ERR Protocol error: unauthenticated multibulk length' },
    ]);
    expect(parseAll(resp([Buffer.from('AUTH'), Buffer.alloc(16384, 97)]), UNAUTH)).toHaveLength(1);
    expect(parseAll('*2\r\n$4\r\nAUTH\r\n$16385\r\n', UNAUTH)).toEqual([{ error: 'ERR Protocol error: unauthenticated bulk length' }]);
    // authenticated: no such limits
    expect(parseAll(resp(Array.from({ length: 11 }, () => Buffer.from('x'))), AUTH)).toHaveLength(1);
  });
});

describe('parseCommand: inline', () => {
  it.each([
    ['PING\r\n', [['PING']]],
    ['PING\n', [['PING']]],
    ['set  a   b\r\n', [['set', 'a', 'b']]],
    ['ECHO \t a\t\r\n', [['ECHO', 'a']]],
    ['\r\n\r\n   \r\nPING\n', [['PING']]],
    ['echo "a b" \'c d\'\r\n', [['echo', 'a b', 'c d']]],
    ['echo "\\x41\\x4g\\n\\q"\r\n', [['echo', 'Ax4g\nq']]],
    ['echo "\\r\\t\\b\\a\\\\\\""\r\n', [['echo', '\r\t\b\x07\\"']]],
    ['echo "\\xff\\x00"\r\n', [['echo', '\xff\x00']]],
    ["echo 'it\\'s' 'a\\nb'\r\n", [['echo', "it's", 'a\\nb']]],
    ['echo a"b c"d\r\n', null],
    ['echo a"b"\r\n', [['echo', 'ab']]],
    ['echo ""\r\n', [['echo', '']]],
    ['echo "" \'\'\r\n', [['echo', '', '']]],
    ['a\r\nb c\r\n', [['a'], ['b', 'c']]],
  ])('%j', (input, want) => {
    const got = parseAll(input);
    if (want === null) expect(got).toEqual([{ error: 'ERR Protocol error: unbalanced quotes in request' }]);
    else expect(got).toEqual(want.map((args) => ({ args })));
  });

  it.each(['set a "b\r\n', 'echo "a"b\r\n', "echo 'a'b\r\n", "echo 'abc\r\n", 'echo "abc\\"\r\n'])('%j → unbalanced quotes', (input) => {
    expect(parseAll(input)).toEqual([{ error: 'ERR Protocol error: unbalanced quotes in request' }]);
  });

  it('waits for the newline, then refuses a line over 64 KB', () => {
    expect(parseAll('PING')).toEqual(['incomplete']);
    expect(parseAll('x'.repeat(PROTO_INLINE_MAX_SIZE))).toEqual(['incomplete']);
    expect(parseAll('x'.repeat(PROTO_INLINE_MAX_SIZE + 1))).toEqual([{ error: 'ERR Protocol error: too big inline request' }]);
    expect(parseAll(`ECHO ${'x'.repeat(PROTO_INLINE_MAX_SIZE + 1)}\r\n`)).toEqual([
      { error: 'ERR Protocol error: too big inline request' },
    ]);
  });

  it('marks inline commands', () => {
    const cmd = new ParsedCommand();
    parseCommand(Buffer.from('PING\r\n'), 0, 6, cmd, AUTH);
    expect(cmd.inline).toBe(true);
    parseCommand(Buffer.from('*1\r\n$4\r\nPING\r\n'), 0, 14, cmd, AUTH);
    expect(cmd.inline).toBe(false);
  });
});

describe('parseCommand: properties', () => {
  const arg = fc.uint8Array({ minLength: 0, maxLength: 40 });
  const command = fc.array(arg, { minLength: 1, maxLength: 8 });

  it('random binary commands split at random points come out whole and in order', () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 20 }), fc.array(fc.nat(), { maxLength: 12 }), (cmds, cutsRaw) => {
        const bytes = Buffer.concat(cmds.map(resp));
        const { cmds: got, error, rest } = feed(cutAt(bytes, cutsRaw));
        expect(error).toBeNull();
        expect(rest).toBe(0);
        expect(got).toEqual(cmds.map((c) => c.map((a) => Uint8Array.from(a))));
      }),
      { numRuns: 300 },
    );
  });

  it('inline commands with quoted, escaped arguments round-trip, fed a byte at a time', () => {
    const quote = (a: Uint8Array): string =>
      `"${Array.from(a, (b) => (b >= 0x30 && b <= 0x7a && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('')}"`;
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 5 }), (cmds) => {
        const text = cmds.map((c) => `${c.map(quote).join(' ')}\r\n`).join('');
        const bytes = Buffer.from(text, 'latin1');
        const pieces = Array.from(bytes, (b) => Uint8Array.of(b));
        const { cmds: got, error } = feed(pieces);
        expect(error).toBeNull();
        expect(got).toEqual(cmds.map((c) => c.map((a) => Uint8Array.from(a))));
      }),
      { numRuns: 100 },
    );
  });

  it('random garbage never throws; results are a forward position, PARSE_INCOMPLETE or PARSE_ERROR', () => {
    const alphabet = fc.constantFrom(...'*$\r\n0123456789-+ "\'\\xabPING'.split('').map((c) => c.charCodeAt(0)), 0, 255);
    const garbage = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.array(alphabet, { maxLength: 200 }).map((a) => Uint8Array.from(a)),
    );
    fc.assert(
      fc.property(garbage, fc.boolean(), (bytes, authenticated) => {
        const cmd = new ParsedCommand();
        const limits = { maxBulkLen: 512 * 1024 * 1024, authenticated };
        let pos = 0;
        for (let guard = 0; guard <= bytes.length && pos < bytes.length; guard++) {
          const r = parseCommand(bytes, pos, bytes.length, cmd, limits);
          if (r === PARSE_INCOMPLETE || r === PARSE_ERROR) {
            if (r === PARSE_ERROR) expect(cmd.error).toMatch(/^ERR Protocol error: /);
            return;
          }
          expect(r).toBeGreaterThan(pos);
          expect(r).toBeLessThanOrEqual(bytes.length);
          pos = r;
        }
        expect(pos).toBe(bytes.length);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('continueCommand: a cut command goes on where it stopped', () => {
  it('parses only the new bytes: the bytes already parsed are not read again', () => {
    const full = Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n');
    const buf = Buffer.from(full);
    const cmd = new ParsedCommand();
    const head = full.indexOf('hel') + 3;
    expect(parseCommand(buf, 0, head, cmd, AUTH)).toBe(PARSE_INCOMPLETE);
    // A parse that started over would now fail on the count and header lines.
    buf.write('########', 0, 'latin1');
    expect(continueCommand(buf, full.length, cmd, AUTH)).toBe(full.length);
    expect(argsOf(cmd).map((a) => Buffer.from(a).toString('latin1'))).toEqual(['SET', 'k', 'hello']);
  });

  it('goes on inside a count line, a bulk header and a bulk, at any offset', () => {
    const full = Buffer.concat([Buffer.from('*1\r\n$4\r\nPING\r\n'), resp([Buffer.from('ECHO'), Buffer.alloc(70_000, 97)])]);
    for (const step of [1, 3, 1000, 65_536]) {
      const { cmds, error, rest } = feed(
        cutAt(
          full,
          Array.from({ length: Math.ceil(full.length / step) }, (_, i) => i * step),
        ),
      );
      expect(error).toBeNull();
      expect(rest).toBe(0);
      expect(cmds.map((c) => c.length)).toEqual([1, 2]);
      expect(cmds[1]![1]!.length).toBe(70_000);
    }
  });

  it('keeps the spans of a command of 100k arguments cut every few bytes', () => {
    const args = Array.from({ length: 100_000 }, (_, i) => Buffer.from(`v${i}`));
    const bytes = resp([Buffer.from('RPUSH'), Buffer.from('k'), ...args]);
    const { cmds, error } = feed(
      cutAt(
        bytes,
        Array.from({ length: bytes.length / 7 }, (_, i) => i * 7),
      ),
    );
    expect(error).toBeNull();
    expect(cmds).toHaveLength(1);
    expect(cmds[0]!.length).toBe(100_002);
    expect(Buffer.from(cmds[0]![99_999]!).toString()).toBe('v99997');
  });

  const arg = fc.uint8Array({ minLength: 0, maxLength: 30 });
  const multibulk = fc.array(arg, { minLength: 1, maxLength: 6 }).map((a) => resp(a));
  const inlineWord = fc.stringMatching(/^[A-Za-z0-9:]{1,8}$/);
  const inline = fc
    .array(
      fc.oneof(
        inlineWord,
        inlineWord.map((w) => `"${w} \\x41\\n"`),
        inlineWord.map((w) => `'${w}\\''`),
      ),
      { minLength: 1, maxLength: 5 },
    )
    .chain((ws) => fc.constantFrom('\r\n', '\n').map((eol) => Buffer.from(`${ws.join(' ')}${eol}`, 'latin1')));
  const empties = fc.constantFrom('\r\n', '*0\r\n', '*-3\r\n', '  \r\n').map((t) => Buffer.from(t, 'latin1'));
  const malformed = fc
    .constantFrom(
      '*abc\r\n',
      '*1\r\nx\r\n',
      '*1\r\n\r\n',
      '*1\r\n$-1\r\n',
      '*2\r\n$4\r\nECHO\r\n$99\r\n',
      'SET a "b\r\n',
      "ECHO 'a'b\r\n",
      '*1\r\n$4\r\nPI',
      '*1\u0000\r\n',
      'ECHO a\u0000\r\n',
      '*12\r\n',
      '*1\r\n$20000\r\n',
    )
    .map((t) => Buffer.from(t, 'latin1'));
  const stream = fc
    .tuple(fc.array(fc.oneof(multibulk, inline, empties), { minLength: 1, maxLength: 12 }), fc.option(malformed))
    .map(([cmds, bad]) => Buffer.concat(bad === null ? cmds : [...cmds, bad]));

  it('random commands (multibulk, inline, empty, malformed) parse the same in one piece and cut anywhere', () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 40 }), fc.boolean(), (bytes, cuts, authenticated) => {
        const limits = authenticated ? AUTH : UNAUTH;
        expect(outcome(feed(cutAt(bytes, cuts), limits))).toEqual(outcome(feed([bytes], limits)));
      }),
      { numRuns: 500 },
    );
  });

  it('random bytes fed one at a time parse as in one piece', () => {
    const alphabet = fc.constantFrom(...'*$\r\n0123456789-+ "\'\\xabPING'.split('').map((c) => c.charCodeAt(0)), 0, 255);
    const garbage = fc.array(alphabet, { maxLength: 200 }).map((a) => Uint8Array.from(a));
    fc.assert(
      fc.property(garbage, fc.boolean(), (bytes, authenticated) => {
        const limits = authenticated ? AUTH : UNAUTH;
        expect(
          outcome(
            feed(
              Array.from(bytes, (b) => Uint8Array.of(b)),
              limits,
            ),
          ),
        ).toEqual(outcome(feed([bytes], limits)));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('parseCommand: Redis 7.0 edge cases of malformed frames', () => {
  it("shows a CR or LF in place of '$' as a space, as addReplyErrorFormat does", () => {
    expect(parseAll('*1\r\n\r\n')).toEqual([{ error: "ERR Protocol error: expected '$', got ' '" }]);
    expect(parseAll('*1\r\n\n\r\n')).toEqual([{ error: "ERR Protocol error: expected '$', got ' '" }]);
    expect(parseAll('*1\r\n\xe9\r\n')).toEqual([{ error: "ERR Protocol error: expected '$', got '\xe9'" }]);
  });

  it("waits for a bulk header's line end before checking its '$'", () => {
    expect(parseAll('*1\r\nx')).toEqual(['incomplete']);
    expect(parseAll(`*2\r\n$4\r\nPING\r\n${'x'.repeat(PROTO_INLINE_MAX_SIZE)}`)).toEqual(['incomplete']);
    expect(parseAll(`*2\r\n$4\r\nPING\r\n${'x'.repeat(PROTO_INLINE_MAX_SIZE + 1)}`)).toEqual([
      { error: 'ERR Protocol error: too big bulk count string' },
    ]);
  });

  it('checks proto-max-bulk-len before the unauthenticated limit, and a negative length first of all', () => {
    expect(parseAll('*1\r\n$-1\r\n', UNAUTH)).toEqual([{ error: 'ERR Protocol error: invalid bulk length' }]);
    expect(parseAll('*1\r\n$600000000\r\n', { maxBulkLen: 1024 * 1024, authenticated: false })).toEqual([
      { error: 'ERR Protocol error: invalid bulk length' },
    ]);
    expect(parseAll('*3000000000\r\n', UNAUTH)).toEqual([{ error: 'ERR Protocol error: invalid multibulk length' }]);
  });

  it.each([
    ['*1\u0000\r\n$4\r\nPING\r\n', 'ERR Protocol error: too big mbulk count string'],
    ['*1\r\n$4\u0000\r\nPING\r\n', 'ERR Protocol error: too big bulk count string'],
    ['*1\r\n\u0000\r\n', 'ERR Protocol error: too big bulk count string'],
    ['ECHO a\u0000b\r\nPING\r\n', 'ERR Protocol error: too big inline request'],
    ['\u0000\r\n', 'ERR Protocol error: too big inline request'],
  ])('%j: a NUL before the line end holds the line (strchr stops there) until the 64 KB limit', (input, error) => {
    expect(parseAll(input)).toEqual(['incomplete']);
    expect(parseAll(input + 'x'.repeat(PROTO_INLINE_MAX_SIZE))).toEqual([{ error }]);
    const pieces = [Buffer.from(input, 'latin1'), ...Array.from({ length: 16 }, () => Buffer.alloc(4096, 120))];
    expect(feed(pieces)).toEqual({ cmds: [], error, rest: input.length + 16 * 4096 });
  });

  it('a NUL after the line end is just data', () => {
    expect(parseAll('ECHO a\r\n\u0000')).toEqual([{ args: ['ECHO', 'a'] }, 'incomplete']);
    expect(parseAll('*2\r\n$4\r\nECHO\r\n$1\r\n\u0000\r\n')).toEqual([{ args: ['ECHO', '\u0000'] }]);
  });
});
