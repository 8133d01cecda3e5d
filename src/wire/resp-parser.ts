/**
 * RESP request parser (multibulk and inline), straight from the received bytes.
 *
 * A parsed command is a list of spans (start, length) into `cmd.buf`; nothing is copied
 * or decoded to a JS string. A command cut by a TCP read yields PARSE_INCOMPLETE and leaves
 * its progress in `cmd` (arguments parsed so far, where the next header or bulk starts, where
 * the search for a line end stopped), so `continueCommand` parses only the bytes that came
 * since: a command costs the same however it is cut. Texts and edge cases are Redis 7.0's
 * (networking.c): a line end is searched for as strchr does, so a NUL byte before it holds
 * the line back until the 64 KB limit refuses it.
 */
import {
  E_PROTO_BULK_COUNT_TOO_BIG,
  E_PROTO_INLINE_TOO_BIG,
  E_PROTO_INVALID_BULK,
  E_PROTO_INVALID_MBULK,
  E_PROTO_MBULK_COUNT_TOO_BIG,
  E_PROTO_UNAUTH_BULK,
  E_PROTO_UNAUTH_MBULK,
  E_PROTO_UNBALANCED,
  expectedDollar,
} from './error-text.js';

/** Returned when the bytes end inside a command. */
export const PARSE_INCOMPLETE = -1;
/** Returned on a protocol error; `cmd.error` holds the reply text, the connection must close. */
export const PARSE_ERROR = -2;

/** Redis's PROTO_INLINE_MAX_SIZE: longest inline command or count line without a newline. */
export const PROTO_INLINE_MAX_SIZE = 64 * 1024;
/** Largest multibulk count accepted (Redis: INT_MAX). */
const MAX_MULTIBULK = 0x7fffffff;
/** Redis's limits before AUTH: arguments per command, bytes per bulk. */
const UNAUTH_MAX_ARGS = 10;
const UNAUTH_MAX_BULK = 16384;

/** ParsedCommand.state: no command in progress. */
const ST_NONE = 0;
/** Waiting for the end of a multibulk's "*<count>" line. */
const ST_COUNT = 1;
/** Inside a multibulk's arguments. */
const ST_ARGS = 2;
/** Waiting for the end of an inline line. */
const ST_INLINE = 3;

/** Limits that come from configuration. */
export interface ParserLimits {
  /** proto-max-bulk-len */
  maxBulkLen: number;
  /** Unauthenticated clients get Redis's tight limits (10 args, 16 KB bulks). */
  authenticated: boolean;
}

/** The parsed command, reused for every command a connection parses; also the parse state of a cut one. */
export class ParsedCommand {
  buf: Uint8Array = EMPTY;
  /** Arguments parsed: all of them once complete, those so far while cut. */
  argc = 0;
  argStart: Int32Array = new Int32Array(16);
  argLen: Int32Array = new Int32Array(16);
  /** With PARSE_INCOMPLETE: total bytes from the command's start to wait for (0 = unknown). */
  need = 0;
  /** With PARSE_ERROR: the error reply text (without "-" and CRLF). */
  error = '';
  /** True when the command was an inline (telnet-style) one. */
  inline = false;
  /** Offset of the command's first byte in `buf`. */
  start = 0;
  /** ST_*: what a cut command waits for (ST_NONE once complete). */
  state = ST_NONE;
  /** A multibulk's declared argument count. */
  private count = 0;
  /** Where the next bulk header starts (bulk < 0) or the current bulk's data starts. */
  private at = 0;
  /** Length of the bulk whose data starts at `at`; -1 while its header is still to come. */
  private bulk = -1;
  /** Where the search for the current line's end goes on. */
  private scan = 0;

  /** True while a command cut by a read waits for `continueCommand`. */
  get partial(): boolean {
    return this.state !== ST_NONE;
  }

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

  /** Takes over the state of `other`'s cut command (its spans included). */
  copyFrom(other: ParsedCommand): void {
    this.reserve(other.argc);
    this.argStart.set(other.argStart.subarray(0, other.argc));
    this.argLen.set(other.argLen.subarray(0, other.argc));
    this.buf = other.buf;
    this.argc = other.argc;
    this.need = other.need;
    this.inline = other.inline;
    this.start = other.start;
    this.state = other.state;
    this.count = other.count;
    this.at = other.at;
    this.bulk = other.bulk;
    this.scan = other.scan;
  }

  /** Shifts every offset by `delta`: the cut command's bytes moved within or to another buffer. */
  rebase(delta: number): void {
    this.start += delta;
    this.at += delta;
    this.scan += delta;
    for (let i = 0; i < this.argc; i++) this.argStart[i] = this.argStart[i]! + delta;
  }

  /** Forgets a cut command (the connection dropped its input). */
  clear(): void {
    this.state = ST_NONE;
    this.argc = 0;
  }

  /** Parses from the command start at `start` (fresh state). */
  begin(buf: Uint8Array, start: number, end: number, limits: ParserLimits): number {
    this.buf = buf;
    this.need = 0;
    this.start = start;
    this.argc = 0;
    if (buf[start] === 42 /* '*' */) {
      this.state = ST_COUNT;
      this.scan = start + 1;
      return this.countLine(buf, end, limits);
    }
    this.state = ST_INLINE;
    this.scan = start;
    return this.inlineLine(buf, end);
  }

  /** Goes on with a cut command, `buf` holding its bytes (at the same offsets) and more up to `end`. */
  resume(buf: Uint8Array, end: number, limits: ParserLimits): number {
    this.buf = buf;
    this.need = 0;
    switch (this.state) {
      case ST_COUNT:
        return this.countLine(buf, end, limits);
      case ST_ARGS:
        return this.args(buf, end, limits);
      default:
        return this.inlineLine(buf, end);
    }
  }

  /** The "*<count>\r\n" line. */
  private countLine(buf: Uint8Array, end: number, limits: ParserLimits): number {
    const start = this.start;
    const fast = plainNumberLine(buf, start + 1, end);
    if (fast > 0 && fast <= MAX_MULTIBULK && (limits.authenticated || fast <= UNAUTH_MAX_ARGS)) {
      return this.startArgs(fast, lineCR + 2, buf, end, limits);
    }
    const cr = findCR(buf, this.scan, end);
    if (cr === -1) {
      if (end - start > PROTO_INLINE_MAX_SIZE) return this.fail(E_PROTO_MBULK_COUNT_TOO_BIG);
      this.scan = end;
      return PARSE_INCOMPLETE;
    }
    // Like Redis, the byte after CR must have arrived (it is skipped unchecked).
    if (cr + 1 >= end) {
      this.scan = cr;
      return PARSE_INCOMPLETE;
    }
    const count = parseIntBytes(buf, start + 1, cr);
    if (Number.isNaN(count) || count > MAX_MULTIBULK) {
      if (hasNul(buf, start, cr)) return this.heldLine(start + 1, start, end, E_PROTO_MBULK_COUNT_TOO_BIG);
      return this.fail(E_PROTO_INVALID_MBULK);
    }
    if (!limits.authenticated && count > UNAUTH_MAX_ARGS) return this.fail(E_PROTO_UNAUTH_MBULK);
    if (count <= 0) {
      this.state = ST_NONE;
      return cr + 2;
    }
    return this.startArgs(count, cr + 2, buf, end, limits);
  }

  /** Begins the `count` arguments of a multibulk whose first bulk header starts at `at`. */
  private startArgs(count: number, at: number, buf: Uint8Array, end: number, limits: ParserLimits): number {
    // Reserve lazily: a huge declared count must not allocate before its bytes arrive.
    this.reserve(Math.min(count, 1024));
    this.state = ST_ARGS;
    this.count = count;
    this.at = at;
    this.scan = at;
    this.bulk = -1;
    return this.args(buf, end, limits);
  }

  /** The "$<len>\r\n<data>\r\n" arguments of a multibulk, from where the last read stopped. */
  private args(buf: Uint8Array, end: number, limits: ParserLimits): number {
    const count = this.count;
    let i = this.argc;
    let p = this.at;
    let bulk = this.bulk;
    let from = this.scan;
    while (i < count) {
      if (bulk < 0) {
        const fast = buf[p] === 36 /* '$' */ ? plainNumberLine(buf, p + 1, end) : -1;
        if (fast >= 0 && fast <= limits.maxBulkLen && (limits.authenticated || fast <= UNAUTH_MAX_BULK)) {
          p = lineCR + 2;
          bulk = fast;
        }
      }
      if (bulk < 0) {
        // Redis looks for the line end first, and only then at the '$'.
        const lcr = findCR(buf, from, end);
        if (lcr === -1 || lcr + 1 >= end) {
          if (lcr === -1 && end - p > PROTO_INLINE_MAX_SIZE) return this.fail(E_PROTO_BULK_COUNT_TOO_BIG);
          return this.cut(i, p, -1, lcr === -1 ? end : lcr);
        }
        if (buf[p] !== 36 /* '$' */) {
          if (hasNul(buf, p, lcr)) return this.heldArg(i, p, end);
          return this.fail(expectedDollar(buf[p]!));
        }
        const len = parseIntBytes(buf, p + 1, lcr);
        if (Number.isNaN(len) || len < 0 || len > limits.maxBulkLen) {
          if (hasNul(buf, p, lcr)) return this.heldArg(i, p, end);
          return this.fail(E_PROTO_INVALID_BULK);
        }
        if (!limits.authenticated && len > UNAUTH_MAX_BULK) return this.fail(E_PROTO_UNAUTH_BULK);
        p = lcr + 2;
        bulk = len;
      }
      if (p + bulk + 2 > end) {
        this.need = p + bulk + 2 - this.start;
        return this.cut(i, p, bulk, p);
      }
      if (i >= this.argStart.length) this.reserve(Math.min(count, i * 2));
      this.argStart[i] = p;
      this.argLen[i] = bulk;
      i++;
      // Like Redis, the two bytes after the data are skipped unchecked.
      p += bulk + 2;
      bulk = -1;
      from = p;
    }
    this.argc = count;
    this.state = ST_NONE;
    this.inline = false;
    return p;
  }

  /** Records where a multibulk was cut. */
  private cut(argc: number, at: number, bulk: number, scan: number): number {
    this.argc = argc;
    this.at = at;
    this.bulk = bulk;
    this.scan = scan;
    return PARSE_INCOMPLETE;
  }

  /** A bulk header holding a NUL: Redis's strchr never sees its end, so it waits for the 64 KB limit. */
  private heldArg(argc: number, p: number, end: number): number {
    if (end - p > PROTO_INLINE_MAX_SIZE) return this.fail(E_PROTO_BULK_COUNT_TOO_BIG);
    return this.cut(argc, p, -1, p);
  }

  /** A count or inline line holding a NUL: waits (searching again from `scan`) until its 64 KB limit. */
  private heldLine(scan: number, start: number, end: number, tooBig: string): number {
    if (end - start > PROTO_INLINE_MAX_SIZE) return this.fail(tooBig);
    this.scan = scan;
    return PARSE_INCOMPLETE;
  }

  /** An inline command: one line, split like sdssplitargs. */
  private inlineLine(buf: Uint8Array, end: number): number {
    const start = this.start;
    let lf = buf.indexOf(LF, this.scan);
    if (lf >= end) lf = -1;
    if (lf === -1) {
      if (end - start > PROTO_INLINE_MAX_SIZE) return this.fail(E_PROTO_INLINE_TOO_BIG);
      this.scan = end;
      return PARSE_INCOMPLETE;
    }
    let lineEnd = lf;
    if (lineEnd > start && buf[lineEnd - 1] === CR) lineEnd--;
    if (lineEnd - start > PROTO_INLINE_MAX_SIZE) return this.fail(E_PROTO_INLINE_TOO_BIG);
    let quoted = false;
    for (let q = start; q < lf; q++) {
      const c = buf[q]!;
      if (c === 34 || c === 39) quoted = true;
      else if (c === 0) return this.heldLine(start, start, end, E_PROTO_INLINE_TOO_BIG);
    }
    if (!splitArgs(buf, start, lineEnd, this, quoted)) return this.fail(E_PROTO_UNBALANCED);
    this.state = ST_NONE;
    this.inline = true;
    return lf + 1;
  }

  private fail(text: string): number {
    this.error = text;
    this.state = ST_NONE;
    this.argc = 0;
    return PARSE_ERROR;
  }
}

const EMPTY = new Uint8Array(0);
const CR = 13;
const LF = 10;

/** Where plainNumberLine found its line's CR. */
let lineCR = 0;

/**
 * The common case of a count or bulk-length line, read in one pass without searching for the
 * line end first: digits from `s` (no sign, no leading zero, at most 15) then a CR whose
 * following byte has arrived. Returns the number (its CR in `lineCR`), or -1 for anything else,
 * which the general path then parses with Redis's exact rules and errors. For such a line both
 * agree: the first CR after `s` is the one after the digits.
 */
function plainNumberLine(buf: Uint8Array, s: number, end: number): number {
  if (s + 2 >= end) return -1;
  let c = buf[s]!;
  if (c === 48) {
    if (buf[s + 1] !== CR) return -1;
    lineCR = s + 1;
    return 0;
  }
  if (c < 49 || c > 57) return -1;
  let v = c - 48;
  let i = s + 1;
  const stop = Math.min(end - 1, s + 15);
  while (i < stop) {
    c = buf[i]!;
    if (c === CR) {
      lineCR = i;
      return v;
    }
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
    i++;
  }
  return -1;
}

/** Finds the CR of a CRLF-terminated line starting at `from`; -1 if not within `end`. */
function findCR(buf: Uint8Array, from: number, end: number): number {
  if (from >= end) return -1;
  const i = buf.indexOf(CR, from);
  return i === -1 || i >= end ? -1 : i;
}

/** True when [s, e) holds a NUL byte (only asked once a line failed to parse). */
function hasNul(buf: Uint8Array, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if (buf[i] === 0) return true;
  return false;
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
 * Parses one command starting at `pos`. Returns the position after it, PARSE_INCOMPLETE
 * (then `continueCommand` goes on once more bytes follow), or PARSE_ERROR. A zero-argument
 * result (`cmd.argc === 0`) is an empty command to skip.
 */
export function parseCommand(buf: Uint8Array, pos: number, end: number, cmd: ParsedCommand, limits: ParserLimits): number {
  return cmd.begin(buf, pos, end, limits);
}

/**
 * Goes on with the command that `parseCommand` (or a previous call) left cut: `buf` holds
 * the bytes seen so far at the same offsets (see `ParsedCommand.rebase` when they move) and
 * more up to `end`; only the new bytes are parsed. Returns as `parseCommand` does.
 */
export function continueCommand(buf: Uint8Array, end: number, cmd: ParsedCommand, limits: ParserLimits): number {
  return cmd.resume(buf, end, limits);
}

/** Scratch for inline arguments that needed unquoting. */
let inlineScratch = new Uint8Array(256);

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
 * must be followed by a space or the end. Unquoted arguments stay as spans into `buf`;
 * with quotes (`quoted`) every argument is copied into a scratch buffer.
 */
function splitArgs(buf: Uint8Array, s: number, e: number, cmd: ParsedCommand, quoted: boolean): boolean {
  let argc = 0;
  let p = s;
  let scratchUsed = 0;
  if (quoted && inlineScratch.length < e - s) inlineScratch = new Uint8Array(e - s);
  const out = inlineScratch;
  while (true) {
    while (p < e && isSpace(buf[p]!)) p++;
    if (p >= e) break;
    cmd.reserve(argc + 1);
    if (!quoted) {
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
  if (quoted) cmd.buf = out;
  return true;
}
