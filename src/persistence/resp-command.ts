/** Reads commands as RESP arrays of bulk strings: the record format of the append-only file (written by src/wire/resp-command.ts). */
import { RdbError } from './rdb-error.js';

const CR = 13;
const LF = 10;
/** A parsed command and the offset just past it, or null when `buf` ends before the command does. */
export type ParsedCommand = { argv: Uint8Array[]; next: number } | null;

/**
 * Reads the `<prefix><digits>\r\n` header at `p`: the number, with the offset after the header in
 * `headerEnd`; -1 when `buf` ends first. Not allocating an object per header keeps replay linear and light.
 */
function header(buf: Uint8Array, p: number, prefix: number, base: number): number {
  if (p >= buf.length) return -1;
  if (buf[p] !== prefix) throw new RdbError('CORRUPT', `expected '${String.fromCharCode(prefix)}' in append-only file`, base + p);
  let n = 0;
  let q = p + 1;
  for (; q < buf.length && buf[q] !== CR; q++) {
    const d = buf[q]! - 48;
    if (d < 0 || d > 9 || q - p > 10) throw new RdbError('CORRUPT', 'invalid length in append-only file', base + q);
    n = n * 10 + d;
  }
  if (q + 1 >= buf.length) return -1;
  if (q === p + 1 || buf[q + 1] !== LF) throw new RdbError('CORRUPT', 'invalid length in append-only file', base + q);
  headerEnd = q + 2;
  return n;
}

/** Offset just past the header header() read last. */
let headerEnd = 0;

/**
 * Parses the command starting at `p` of `buf`; `base` is buf's offset in the file, for error positions.
 * The arguments are views of `buf`, not copies.
 */
export function parseCommand(buf: Uint8Array, p: number, base: number): ParsedCommand {
  const argc = header(buf, p, 42 /* '*' */, base);
  if (argc === -1) return null;
  if (argc < 1) throw new RdbError('CORRUPT', 'empty command in append-only file', base + p);
  const argv: Uint8Array[] = [];
  let q = headerEnd;
  for (let i = 0; i < argc; i++) {
    const len = header(buf, q, 36 /* '$' */, base);
    if (len === -1) return null;
    const start = headerEnd;
    const end = start + len;
    if (end + 2 > buf.length) return null;
    if (buf[end] !== CR || buf[end + 1] !== LF) throw new RdbError('CORRUPT', 'bulk string not followed by CRLF', base + end);
    argv.push(buf.subarray(start, end));
    q = end + 2;
  }
  return { argv, next: q };
}
