/**
 * The HTTP/1.1 response-head parser: a pure function of bytes. It reads a status line and header lines into a
 * ResponseHead as offsets into the bytes (no strings on the hot path) and reports the head's end, or that the head
 * is incomplete or malformed. What the head means for the connection (interim responses, keep-alive, body framing
 * for a HEAD request) is decided by its caller, upstream-connection.ts, with bodyFraming().
 */
import { READ_BUFFER, READ_WORDS } from './read-buffer.js';

/** How the response body is framed. */
export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;
export const BODY_UNTIL_CLOSE = 3;

/** Header fields the parser tells apart by name (case-insensitively): framing, hop-by-hop, and Date (uWS writes its own). */
export const F_OTHER = 0;
export const F_CONTENT_LENGTH = 1;
export const F_TRANSFER_ENCODING = 2;
export const F_CONNECTION = 3;
/** keep-alive, proxy-connection, te, trailer, upgrade. */
export const F_HOP = 4;
export const F_DATE = 5;
/** A line without a name and colon, or an obs-fold continuation line: dropped. */
export const F_INVALID = 6;

/** parseResponseHead's results besides the position after the head. */
export const HEAD_INCOMPLETE = -1;
export const HEAD_ERROR = -2;

/** Stride of ResponseHead.fields: name start, name end (the colon), value start, value end (trimmed), field kind. */
const FIELD = 5;

/**
 * A parsed response head as offsets into the received bytes, so the hot path creates no strings: the proxy hands
 * views of the status and header bytes straight to the client. One per thread, refilled by each parse.
 */
export class ResponseHead {
  /** The head's bytes (when they are the shared read buffer, valid only during the call that got the head). */
  buf: Buffer = Buffer.alloc(0);
  status = 0;
  /** "200 OK": the status code and reason are buf[statusStart, statusEnd). */
  statusStart = 0;
  statusEnd = 0;
  /** Header lines. */
  count = 0;
  /** Per header line i, at i * 5: name start, name end (the colon), value start, value end (trimmed), field kind (F_*). */
  fields = new Int32Array(FIELD * 64);
  /** The Content-Length value, or -1 when there is none. */
  contentLength = -1;
  /** The body is chunked: the head has Transfer-Encoding, which the parser accepts only as `chunked` alone. */
  chunked = false;
  /** The connection closes after this response (HTTP/1.0 without keep-alive, or Connection: close). */
  close = false;
  /** Why the head was rejected (after HEAD_ERROR). */
  error = '';

  kind(i: number): number {
    return this.fields[i * FIELD + 4]!;
  }
  /** The reason phrase ("OK"). */
  reason(): string {
    return this.buf.toString('latin1', Math.min(this.statusStart + 4, this.statusEnd), this.statusEnd);
  }
  /** Header i's name, lower-cased. */
  name(i: number): string {
    return this.buf.toString('latin1', this.fields[i * FIELD]!, this.fields[i * FIELD + 1]!).toLowerCase();
  }
  /** Header i's value, without surrounding blanks. */
  value(i: number): string {
    return this.buf.toString('latin1', this.fields[i * FIELD + 2]!, this.fields[i * FIELD + 3]!);
  }
  /** Flat [name, value, …] with lower-case names, every valid line (copies; for callers off the hot path). */
  headers(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.count; i++) if (this.kind(i) !== F_INVALID) out.push(this.name(i), this.value(i));
    return out;
  }
}

/** True when buf[s, s + name.length) equals the lower-case ASCII `name`, ignoring the case of letters. */
function nameIs(buf: Buffer, s: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = buf[s + i]!;
    const w = name.charCodeAt(i);
    if (c !== w && !(c >= 65 && c <= 90 && c + 32 === w)) return false;
  }
  return true;
}

/** The F_* kind of the header name buf[s, e). */
function fieldKind(buf: Buffer, s: number, e: number): number {
  switch (e - s) {
    case 2:
      return nameIs(buf, s, 'te') ? F_HOP : F_OTHER;
    case 4:
      return nameIs(buf, s, 'date') ? F_DATE : F_OTHER;
    case 7:
      return nameIs(buf, s, 'trailer') || nameIs(buf, s, 'upgrade') ? F_HOP : F_OTHER;
    case 10:
      if (nameIs(buf, s, 'connection')) return F_CONNECTION;
      return nameIs(buf, s, 'keep-alive') ? F_HOP : F_OTHER;
    case 14:
      return nameIs(buf, s, 'content-length') ? F_CONTENT_LENGTH : F_OTHER;
    case 16:
      return nameIs(buf, s, 'proxy-connection') ? F_HOP : F_OTHER;
    case 17:
      return nameIs(buf, s, 'transfer-encoding') ? F_TRANSFER_ENCODING : F_OTHER;
    default:
      return F_OTHER;
  }
}

/** lineEnd's results besides the position of a line's CR. */
const LINE_INCOMPLETE = -1;
const LINE_BARE_LF = -2;

/**
 * Where the line starting at p ends: the CR of the next CRLF before `limit`, LINE_INCOMPLETE (not all here yet), or
 * LINE_BARE_LF for an LF without a CR before it: such a line is rejected rather than read on to the next CRLF, which
 * would forward the LF inside a status text or header value that clients then split into lines of their own.
 */
function lineEnd(buf: Buffer, p: number, limit: number): number {
  // Four bytes per step while none is LF: x has a zero byte exactly where the word had a 10.
  if (buf === READ_BUFFER) {
    while (p + 4 <= limit) {
      const x = READ_WORDS.getUint32(p, true) ^ 0x0a0a0a0a;
      if (((x - 0x01010101) & ~x & 0x80808080) !== 0) break;
      p += 4;
    }
  }
  while (p < limit && buf[p] !== 10) p++;
  if (p >= limit) return LINE_INCOMPLETE;
  return buf[p - 1] === 13 ? p - 1 : LINE_BARE_LF;
}

/** True when buf[s, e) contains the lower-case ASCII `word`, ignoring the case of letters. */
function containsWord(buf: Buffer, s: number, e: number, word: string): boolean {
  for (let i = s; i + word.length <= e; i++) if (nameIs(buf, i, word)) return true;
  return false;
}

/** parseResponseHead's answer for a line that lineEnd did not end with a CR. */
function badLine(head: ResponseHead, le: number): number {
  if (le === LINE_INCOMPLETE) return HEAD_INCOMPLETE;
  head.error = 'bare LF in response head';
  return HEAD_ERROR;
}

/**
 * Parses the response head starting at buf[start] (status line, header lines, blank line) into `head` without
 * making strings, in one pass that also finds where it ends. Returns the position after the blank line (the head's
 * length is that minus `start`), HEAD_INCOMPLETE when the head goes past `limit` (bytes beyond it are not read), or
 * HEAD_ERROR with head.error saying why.
 */
export function parseResponseHead(buf: Buffer, start: number, limit: number, head: ResponseHead): number {
  const statusEnd = lineEnd(buf, start, limit);
  if (statusEnd < 0) return badLine(head, statusEnd);
  let p: number;
  // "HTTP/1.x SP 3DIGIT [SP reason]": the status text forwarded to the client is the code and what follows it.
  if (
    statusEnd - start < 12 ||
    !nameIs(buf, start, 'http/1.') ||
    buf[start + 8] !== 32 ||
    (statusEnd - start > 12 && buf[start + 12] !== 32)
  ) {
    head.error = 'bad status line';
    return HEAD_ERROR;
  }
  const d0 = buf[start + 9]! - 48;
  const d1 = buf[start + 10]! - 48;
  const d2 = buf[start + 11]! - 48;
  const code = d0 * 100 + d1 * 10 + d2;
  if (!(d0 >= 1 && d0 <= 5 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9)) {
    head.error = 'bad status code';
    return HEAD_ERROR;
  }
  head.buf = buf;
  head.status = code;
  head.statusStart = start + 9;
  head.statusEnd = statusEnd;
  let f = head.fields;
  let n = 0;
  let length = -1;
  let te = false;
  let close = buf[start + 7] === 48; // HTTP/1.0 defaults to close
  let closeToken = false;
  p = statusEnd + 2;
  for (;;) {
    const ls = p;
    const le = lineEnd(buf, p, limit);
    if (le < 0) return badLine(head, le);
    p = le + 2;
    if (le === ls) break;
    let colon = ls;
    while (colon < le && buf[colon] !== 58) colon++;
    if (colon === le) colon = -1;
    if ((n + 1) * FIELD > f.length) {
      const bigger = new Int32Array(f.length * 2);
      bigger.set(f);
      f = head.fields = bigger;
    }
    const j = n * FIELD;
    n++;
    // RFC 9112 forbids whitespace before the colon and obs-fold continuation lines (dropped here).
    const first = buf[ls];
    if (colon <= ls || first === 32 || first === 9 || buf[colon - 1] === 32 || buf[colon - 1] === 9) {
      f[j] = f[j + 1] = f[j + 2] = f[j + 3] = ls;
      f[j + 4] = F_INVALID;
      continue;
    }
    let vs = colon + 1;
    while (vs < le && (buf[vs] === 32 || buf[vs] === 9)) vs++;
    let ve = le;
    while (ve > vs && (buf[ve - 1] === 32 || buf[ve - 1] === 9)) ve--;
    const kind = fieldKind(buf, ls, colon);
    f[j] = ls;
    f[j + 1] = colon;
    f[j + 2] = vs;
    f[j + 3] = ve;
    f[j + 4] = kind;
    if (kind === F_CONTENT_LENGTH) {
      // 1*DIGIT (RFC 9110 §8.6); past 2^53 the sum stops being a safe integer, so long values are caught too.
      let v = vs === ve ? -1 : 0;
      for (let i = vs; i < ve; i++) {
        const c = buf[i]! - 48;
        if (c < 0 || c > 9) {
          v = -1;
          break;
        }
        v = v * 10 + c;
      }
      if (!Number.isSafeInteger(v) || v < 0 || (length >= 0 && v !== length)) {
        head.error = 'bad content-length';
        return HEAD_ERROR;
      }
      length = v;
    } else if (kind === F_TRANSFER_ENCODING) {
      // Only chunked alone: the proxy re-frames the body for the client, so it could not forward another coding
      // (gzip, "gzip, chunked") intact, and "chunked" twice or an empty value leaves the body's end in doubt.
      if (te || ve - vs !== 7 || !nameIs(buf, vs, 'chunked')) {
        head.error = 'unsupported transfer-encoding';
        return HEAD_ERROR;
      }
      te = true;
    } else if (kind === F_CONNECTION) {
      // A close in any Connection header wins over keep-alive in a later one.
      if (containsWord(buf, vs, ve, 'close')) close = closeToken = true;
      else if (!closeToken && containsWord(buf, vs, ve, 'keep-alive')) close = false;
    }
  }
  if (te && length >= 0) {
    // RFC 9112 §6.3: a sign of response splitting, to be handled as an error (nginx and llhttp reject it too).
    head.error = 'both transfer-encoding and content-length';
    return HEAD_ERROR;
  }
  head.count = n;
  head.contentLength = length;
  head.chunked = te;
  head.close = close;
  return p;
}

/** How the body of a final (non-1xx) response with this head is framed, as a BODY_* value (RFC 9112 §6.3). */
export function bodyFraming(head: ResponseHead, isHeadRequest: boolean): number {
  const code = head.status;
  if (isHeadRequest || code === 204 || code === 304 || code === 101) return BODY_NONE;
  if (head.chunked) return BODY_CHUNKED;
  if (head.contentLength >= 0) return head.contentLength === 0 ? BODY_NONE : BODY_LENGTH;
  return BODY_UNTIL_CLOSE;
}
