/** Reads commands as RESP arrays of bulk strings: the record format of the append-only file (written by src/wire/resp-command.ts). */
import { RdbError } from './rdb-error.js';

const CR = 13;
const LF = 10;
/** A parsed command and the offset just past it, or null when `buf` ends before the command does. */
export type ParsedCommand = { argv: Uint8Array[]; next: number } | null;

/** Reads a `<prefix><digits>\r\n` header at `p`; null when incomplete. */
function header(buf: Uint8Array, p: number, prefix: number, base: number): { n: number; next: number } | null {
  if (p >= buf.length) return null;
  if (buf[p] !== prefix) throw new RdbError('CORRUPT', `expected '${String.fromCharCode(prefix)}' in append-only file`, base + p);
  let n = 0;
  let q = p + 1;
  for (; q < buf.length && buf[q] !== CR; q++) {
    const d = buf[q]! - 48;
    if (d < 0 || d > 9 || q - p > 10) throw new RdbError('CORRUPT', 'invalid length in append-only file', base + q);
    n = n * 10 + d;
  }
  if (q + 1 >= buf.length) return null;
  if (q === p + 1 || buf[q + 1] !== LF) throw new RdbError('CORRUPT', 'invalid length in append-only file', base + q);
  return { n, next: q + 2 };
}

/** Parses the command starting at `p` of `buf`; `base` is buf's offset in the file, for error positions. */
export function parseCommand(buf: Uint8Array, p: number, base: number): ParsedCommand {
  const top = header(buf, p, 42 /* '*' */, base);
  if (!top) return null;
  if (top.n < 1) throw new RdbError('CORRUPT', 'empty command in append-only file', base + p);
  const argv: Uint8Array[] = [];
  let q = top.next;
  for (let i = 0; i < top.n; i++) {
    const h = header(buf, q, 36 /* '$' */, base);
    if (!h) return null;
    const end = h.next + h.n;
    if (end + 2 > buf.length) return null;
    if (buf[end] !== CR || buf[end + 1] !== LF) throw new RdbError('CORRUPT', 'bulk string not followed by CRLF', base + end);
    argv.push(buf.slice(h.next, end));
    q = end + 2;
  }
  return { argv, next: q };
}
