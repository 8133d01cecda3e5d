/**
 * RESP request parser (multibulk and inline), straight from the received bytes.
 *
 * A parsed command is a list of spans (start, length) into `cmd.buf`; nothing is copied
 * or decoded to a JS string. A command cut by a TCP read yields PARSE_INCOMPLETE with
 * `cmd.need`, the byte count (from the command's start) worth waiting for, so a large bulk
 * is parsed once rather than once per read. Error texts are Redis 7.0's.
 */

/** Returned when the bytes end inside a command. */
export const PARSE_INCOMPLETE = -1;
/** Returned on a protocol error; `cmd.error` holds the reply text, the connection must close. */
export const PARSE_ERROR = -2;

/** Redis's PROTO_INLINE_MAX_SIZE: longest inline command or count line without a newline. */
export const PROTO_INLINE_MAX_SIZE = 64 * 1024;
/** Largest multibulk count accepted (Redis: INT_MAX). */
const MAX_MULTIBULK = 0x7fffffff;

/** Limits that come from configuration. */
export interface ParserLimits {
  /** proto-max-bulk-len */
  maxBulkLen: number;
  /** Unauthenticated clients get Redis's tight limits (10 args, 16 KB bulks). */
  authenticated: boolean;
}

/** The parsed command, reused for every command a connection parses. */
export class ParsedCommand {
  buf: Uint8Array = EMPTY;
  argc = 0;
  argStart: Int32Array = new Int32Array(16);
  argLen: Int32Array = new Int32Array(16);
  /** With PARSE_INCOMPLETE: total bytes from the command's start to wait for (0 = unknown). */
  need = 0;
  /** With PARSE_ERROR: the error reply text (without "-" and CRLF). */
  error = '';
  /** True when the command was an inline (telnet-style) one. */
  inline = false;

  /** Makes room for `n` arguments. */
  reserve(n: number): void {
    if (n <= this.argStart.length) return;
    let size = this.argStart.length;
    while (size < n) size *= 2;
    const s = new Int32Array(size);
    s.set(this.argStart);
    const l = new Int32Array(size);
    l.set(this.argLen);
    this.argStart = s;
    this.argLen = l;
  }
}

const EMPTY = new Uint8Array(0);
const CR = 13;
const LF = 10;

/** Finds the CR of a CRLF-terminated line starting at `from`; -1 if not within `end`. */
function findCR(buf: Uint8Array, from: number, end: number): number {
  const i = buf.indexOf(CR, from);
  return i === -1 || i >= end ? -1 : i;
}

/** Parses a signed decimal integer from bytes [s, e) as string2ll does; returns NaN if malformed. */
export function parseIntBytes(buf: Uint8Array, s: number, e: number): number {
  if (s >= e || e - s > 20) return NaN;
  let neg = false;
  let i = s;
  if (buf[i] === 45) {
    neg = true;
    i++;
    if (i === e) return NaN;
  }
  // Like Redis's string2ll: "0" alone, otherwise no leading zeros (so "01", "-0" are refused).
  if (buf[i] === 48 && (neg || i + 1 !== e)) return NaN;
  let v = 0;
  for (; i < e; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return neg ? -v : v;
}

/**
 * Parses one command starting at `pos`. Returns the position after it, PARSE_INCOMPLETE,
 * or PARSE_ERROR. A zero-argument result (`cmd.argc === 0`) is an empty command to skip.
 */
export function parseCommand(buf: Uint8Array, pos: number, end: number, cmd: ParsedCommand, limits: ParserLimits): number {
  cmd.buf = buf;
  cmd.need = 0;
  if (buf[pos] === 42 /* '*' */) return parseMultibulk(buf, pos, end, cmd, limits);
  return parseInline(buf, pos, end, cmd);
}

function parseMultibulk(buf: Uint8Array, start: number, end: number, cmd: ParsedCommand, limits: ParserLimits): number {
  const cr = findCR(buf, start + 1, end);
  if (cr === -1) {
    if (end - start > PROTO_INLINE_MAX_SIZE) return fail(cmd, 'Protocol error: too big mbulk count string');
    return PARSE_INCOMPLETE;
  }
  if (cr + 1 >= end) return PARSE_INCOMPLETE;
  const count = parseIntBytes(buf, start + 1, cr);
  if (Number.isNaN(count) || count > MAX_MULTIBULK) return fail(cmd, 'Protocol error: invalid multibulk length');
  if (!limits.authenticated && count > 10) return fail(cmd, 'Protocol error: unauthenticated multibulk length');
  let p = cr + 2;
  if (count <= 0) {
    cmd.argc = 0;
    return p;
  }
  // Reserve lazily: a huge declared count must not allocate before its bytes arrive.
  cmd.reserve(Math.min(count, 1024));
  const maxBulk = limits.authenticated ? limits.maxBulkLen : 16384;
  for (let i = 0; i < count; i++) {
    if (p >= end) return incomplete(cmd, 0);
    if (buf[p] !== 36 /* '$' */) {
      return fail(cmd, `Protocol error: expected '$', got '${String.fromCharCode(buf[p]!)}'`);
    }
    const lcr = findCR(buf, p + 1, end);
    if (lcr === -1) {
      if (end - p > PROTO_INLINE_MAX_SIZE) return fail(cmd, 'Protocol error: too big bulk count string');
      return incomplete(cmd, 0);
    }
    if (lcr + 1 >= end) return incomplete(cmd, 0);
    const len = parseIntBytes(buf, p + 1, lcr);
    if (Number.isNaN(len) || len < 0 || len > maxBulk) {
      return fail(cmd, limits.authenticated ? 'Protocol error: invalid bulk length' : 'Protocol error: unauthenticated bulk length');
    }
    const dataStart = lcr + 2;
    const dataEnd = dataStart + len;
    if (dataEnd + 2 > end) return incomplete(cmd, dataEnd + 2 - start);
    if (i >= cmd.argStart.length) cmd.reserve(Math.min(count, i * 2));
    cmd.argStart[i] = dataStart;
    cmd.argLen[i] = len;
    p = dataEnd + 2;
  }
  cmd.argc = count;
  cmd.inline = false;
  return p;
}

function incomplete(cmd: ParsedCommand, need: number): number {
  cmd.need = need;
  return PARSE_INCOMPLETE;
}

function fail(cmd: ParsedCommand, text: string): number {
  cmd.error = `ERR ${text}`;
  return PARSE_ERROR;
}

/** Scratch for inline arguments that needed unquoting. */
let inlineScratch = new Uint8Array(256);

function parseInline(buf: Uint8Array, start: number, end: number, cmd: ParsedCommand): number {
  const lf = buf.indexOf(LF, start);
  if (lf === -1 || lf >= end) {
    if (end - start > PROTO_INLINE_MAX_SIZE) return fail(cmd, 'Protocol error: too big inline request');
    return PARSE_INCOMPLETE;
  }
  let lineEnd = lf;
  if (lineEnd > start && buf[lineEnd - 1] === CR) lineEnd--;
  if (lineEnd - start > PROTO_INLINE_MAX_SIZE) return fail(cmd, 'Protocol error: too big inline request');
  const ok = splitArgs(buf, start, lineEnd, cmd);
  if (!ok) return fail(cmd, 'Protocol error: unbalanced quotes in request');
  cmd.inline = true;
  return lf + 1;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Splits an inline line like Redis's sdssplitargs: spaces separate, "double quotes" take
 * C escapes (\n \r \t \b \a \xHH), 'single quotes' take only \', and a closing quote
 * must be followed by a space or the end. Unquoted arguments stay as spans into `buf`.
 */
function splitArgs(buf: Uint8Array, s: number, e: number, cmd: ParsedCommand): boolean {
  let argc = 0;
  let p = s;
  let scratchUsed = 0;
  let needsScratch = false;
  for (let q = s; q < e; q++) if (buf[q] === 34 || buf[q] === 39) needsScratch = true;
  if (needsScratch && inlineScratch.length < e - s) inlineScratch = new Uint8Array(e - s);
  const out = inlineScratch;
  while (true) {
    while (p < e && isSpace(buf[p]!)) p++;
    if (p >= e) break;
    cmd.reserve(argc + 1);
    if (!needsScratch) {
      const a = p;
      while (p < e && !isSpace(buf[p]!)) p++;
      cmd.argStart[argc] = a;
      cmd.argLen[argc] = p - a;
      argc++;
      continue;
    }
    const a = scratchUsed;
    let inDq = false;
    let inSq = false;
    let done = false;
    while (!done) {
      if (inDq) {
        if (p >= e) return false;
        const c = buf[p]!;
        if (c === 92 && p + 3 < e && buf[p + 1] === 120 && hexVal(buf[p + 2]!) >= 0 && hexVal(buf[p + 3]!) >= 0) {
          out[scratchUsed++] = hexVal(buf[p + 2]!) * 16 + hexVal(buf[p + 3]!);
          p += 3;
        } else if (c === 92 && p + 1 < e) {
          p++;
          const n = buf[p]!;
          out[scratchUsed++] = n === 110 ? 10 : n === 114 ? 13 : n === 116 ? 9 : n === 98 ? 8 : n === 97 ? 7 : n;
        } else if (c === 34) {
          if (p + 1 < e && !isSpace(buf[p + 1]!)) return false;
          done = true;
        } else {
          out[scratchUsed++] = c;
        }
      } else if (inSq) {
        if (p >= e) return false;
        const c = buf[p]!;
        if (c === 92 && p + 1 < e && buf[p + 1] === 39) {
          p++;
          out[scratchUsed++] = 39;
        } else if (c === 39) {
          if (p + 1 < e && !isSpace(buf[p + 1]!)) return false;
          done = true;
        } else {
          out[scratchUsed++] = c;
        }
      } else {
        if (p >= e) break;
        const c = buf[p]!;
        if (isSpace(c)) done = true;
        else if (c === 34) inDq = true;
        else if (c === 39) inSq = true;
        else out[scratchUsed++] = c;
      }
      if (p < e) p++;
    }
    cmd.argStart[argc] = a;
    cmd.argLen[argc] = scratchUsed - a;
    argc++;
  }
  cmd.argc = argc;
  if (needsScratch) cmd.buf = out;
  return true;
}
