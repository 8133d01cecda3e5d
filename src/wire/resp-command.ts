/**
 * The one encoder of commands as RESP arrays of bulk strings: the AOF's records, the
 * limiter client's requests and COMMAND GETKEYS replies all use this form.
 */
import { Buffer } from 'node:buffer';
import type { ParsedCommand } from './resp-parser.js';
import { copyBytes } from './bytes.js';
import { writeDigits } from './resp-writer.js';

/** One argument: raw bytes, text (written as UTF-8) or a number (written as its decimal text). */
export type CommandArg = Uint8Array | string | number;

function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Encodes `*N\r\n` then `$len\r\n<bytes>\r\n` per argument, in one allocation. */
export function encodeCommand(argv: readonly CommandArg[]): Buffer {
  const bytes: Uint8Array[] = new Array(argv.length);
  let size = 3 + digits(argv.length);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const b = a instanceof Uint8Array ? a : Buffer.from(typeof a === 'number' ? String(a) : a, 'utf8');
    bytes[i] = b;
    size += 5 + digits(b.length) + b.length;
  }
  const out = Buffer.allocUnsafe(size);
  let p = out.write(`*${argv.length}\r\n`, 0, 'latin1');
  for (const b of bytes) {
    p += out.write(`$${b.length}\r\n`, p, 'latin1');
    out.set(b, p);
    p += b.length;
    out[p++] = 13;
    out[p++] = 10;
  }
  return out;
}

/** Bytes `encodeParsed` writes for `cmd`. */
export function parsedSize(cmd: ParsedCommand): number {
  const al = cmd.argLen;
  let size = 3 + digits(cmd.argc);
  for (let i = 0; i < cmd.argc; i++) size += 5 + digits(al[i]!) + al[i]!;
  return size;
}

/** Writes `<type>n\r\n` at `p` of `b`; returns the position after it. */
function header(b: Uint8Array, p: number, type: number, n: number): number {
  b[p++] = type;
  p = writeDigits(b, p, n);
  b[p++] = 13;
  b[p++] = 10;
  return p;
}

/** Encodes a parsed command's arguments at `p` of `out` (parsedSize bytes, which must fit) without allocating; returns the position after them. */
export function encodeParsed(out: Uint8Array, p: number, cmd: ParsedCommand): number {
  const as = cmd.argStart;
  const al = cmd.argLen;
  p = header(out, p, 42, cmd.argc);
  for (let i = 0; i < cmd.argc; i++) {
    p = header(out, p, 36, al[i]!);
    copyBytes(out, p, cmd.buf, as[i]!, al[i]!);
    p += al[i]!;
    out[p++] = 13;
    out[p++] = 10;
  }
  return p;
}
