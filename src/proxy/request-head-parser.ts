/**
 * The HTTP/1.x request-head parser of the net front: a pure function of bytes, like response-head-parser.ts. It reads
 * the request line and header lines into a RequestHead as offsets into the bytes (strings are made only when the proxy
 * asks for one) and decides at once whether the request may be forwarded: every request it refuses gets the status
 * nginx would answer (RFC 9112 §2-§7), and every framing the proxy and a backend could read differently is refused.
 * findHeadEnd keeps its place across reads, so a head trickled in small pieces is scanned once.
 */

/** Header fields the parser tells apart by name (case-insensitively). */
export const R_OTHER = 0;
export const R_HOST = 1;
export const R_CONTENT_LENGTH = 2;
export const R_TRANSFER_ENCODING = 3;
export const R_CONNECTION = 4;
export const R_EXPECT = 5;
export const R_UPGRADE = 6;

/** The longest request target the proxy forwards (nginx's 8k client header buffer); longer ones get 414. */
export const MAX_REQUEST_TARGET = 8192;
/** The largest request head (request line, headers, blank line); larger ones get 431 (414 while still in the target). */
export const MAX_REQUEST_HEAD = 32 * 1024;
/** The most header lines a request may have; more get 431. */
export const MAX_REQUEST_HEADERS = 256;

/** Stride of RequestHead.fields: name start, name end (the colon), value start, value end (trimmed), kind | 8 if upper case. */
const FIELD = 5;
/** Set in a field's kind slot when its name has an upper-case letter (the proxy passes names lower-cased). */
const UPPER = 8;

/** Methods the proxy forwards (llhttp's list without CONNECT: a reverse proxy opens no tunnels); others get 501. */
const METHODS = [
  'GET',
  'POST',
  'HEAD',
  'PUT',
  'DELETE',
  'OPTIONS',
  'PATCH',
  'TRACE',
  'COPY',
  'LOCK',
  'MKCOL',
  'MOVE',
  'PROPFIND',
  'PROPPATCH',
  'SEARCH',
  'UNLOCK',
  'BIND',
  'REBIND',
  'UNBIND',
  'ACL',
  'REPORT',
  'MKACTIVITY',
  'CHECKOUT',
  'MERGE',
  'M-SEARCH',
  'NOTIFY',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'PURGE',
  'MKCALENDAR',
  'LINK',
  'UNLINK',
  'SOURCE',
  'QUERY',
];
const OPTIONS = 5;

/** tchar (RFC 9110 §5.6.2) by byte: 1 for the characters a method or header name may have. */
const TCHAR = new Uint8Array(256);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9!#$%&'*+\-.^_`|~]/.test(ch)) TCHAR[c] = 1;
}

/**
 * A parsed request head as offsets into the received bytes. One per thread, refilled by each parse; the proxy reads
 * it synchronously while it handles the request, and the bytes must stay as they are meanwhile.
 */
export class RequestHead {
  buf: Buffer = Buffer.alloc(0);
  /** Index of the method in METHODS. */
  method = 0;
  /** HTTP/1.minor. */
  minor = 1;
  /** The origin-form path buf[pathStart, pathEnd) ('/' when an absolute-form target has none: pathEnd === pathStart). */
  pathStart = 0;
  pathEnd = 0;
  /** The query without '?', buf[queryStart, queryEnd); queryStart < 0 when there is none. */
  queryStart = -1;
  queryEnd = -1;
  /** The authority of an absolute-form target, which stands for Host (RFC 9112 §3.2.2); start < 0 for origin-form. */
  authorityStart = -1;
  authorityEnd = -1;
  /** Header lines. */
  count = 0;
  fields = new Int32Array(FIELD * 32);
  /** Index of the Host header line, -1 when there is none. */
  host = -1;
  /** Content-Length, or -1 when there is none. */
  contentLength = -1;
  /** The body is chunked (Transfer-Encoding, which the parser accepts only as chunked alone). */
  chunked = false;
  /** The client keeps the connection after this request (HTTP/1.1 without close, HTTP/1.0 with keep-alive). */
  keepAlive = true;
  /** `Connection: upgrade` with `Upgrade: websocket` on a GET. */
  websocket = false;
  /** `Expect: 100-continue`. */
  expectContinue = false;

  /** The method as an interned string. */
  methodName(): string {
    return METHODS[this.method]!;
  }
  /** The path (origin-form) as a string. */
  path(): string {
    return this.pathEnd === this.pathStart ? '/' : this.buf.toString('latin1', this.pathStart, this.pathEnd);
  }
  /** The query without '?', '' when there is none. */
  query(): string {
    return this.queryStart < 0 ? '' : this.buf.toString('latin1', this.queryStart, this.queryEnd);
  }
  /** The host the request is for: the absolute-form authority, else the Host header, '' when neither. */
  hostValue(): string {
    if (this.authorityStart >= 0) return this.buf.toString('latin1', this.authorityStart, this.authorityEnd);
    return this.host < 0 ? '' : this.value(this.host);
  }
  /** Header i's name, lower-cased. */
  name(i: number): string {
    const f = this.fields;
    const j = i * FIELD;
    const s = this.buf.toString('latin1', f[j]!, f[j + 1]!);
    return (f[j + 4]! & UPPER) === 0 ? s : s.toLowerCase();
  }
  /** Header i's value, without surrounding blanks. */
  value(i: number): string {
    const f = this.fields;
    const j = i * FIELD;
    return this.buf.toString('latin1', f[j + 2]!, f[j + 3]!);
  }
  /** The index of the first header named `lower` (lower-case ASCII), -1 when there is none. */
  find(lower: string): number {
    const f = this.fields;
    const buf = this.buf;
    for (let i = 0, j = 0; i < this.count; i++, j += FIELD) {
      if (f[j + 1]! - f[j]! === lower.length && nameIs(buf, f[j]!, lower)) return i;
    }
    return -1;
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

/** The R_* kind of the header name buf[s, e). */
function fieldKind(buf: Buffer, s: number, e: number): number {
  switch (e - s) {
    case 4:
      return nameIs(buf, s, 'host') ? R_HOST : R_OTHER;
    case 6:
      return nameIs(buf, s, 'expect') ? R_EXPECT : R_OTHER;
    case 7:
      return nameIs(buf, s, 'upgrade') ? R_UPGRADE : R_OTHER;
    case 10:
      return nameIs(buf, s, 'connection') ? R_CONNECTION : R_OTHER;
    case 14:
      return nameIs(buf, s, 'content-length') ? R_CONTENT_LENGTH : R_OTHER;
    case 17:
      return nameIs(buf, s, 'transfer-encoding') ? R_TRANSFER_ENCODING : R_OTHER;
    default:
      return R_OTHER;
  }
}

/** The index in METHODS of the method buf[s, e), -1 when the proxy does not know it. */
function methodIndex(buf: Buffer, s: number, e: number): number {
  // GET and POST first, without the loop.
  if (e - s === 3 && buf[s] === 71 && buf[s + 1] === 69 && buf[s + 2] === 84) return 0;
  for (let m = 1; m < METHODS.length; m++) {
    const name = METHODS[m]!;
    if (name.length !== e - s) continue;
    let i = 0;
    while (i < name.length && buf[s + i] === name.charCodeAt(i)) i++;
    if (i === name.length) return m;
  }
  return -1;
}

/** True when buf[s, e) holds the token `word` (lower-case) in a comma-separated list, ignoring case and blanks. */
export function hasToken(buf: Buffer, s: number, e: number, word: string): boolean {
  let p = s;
  while (p < e) {
    while (p < e && (buf[p] === 32 || buf[p] === 9 || buf[p] === 44)) p++;
    const ts = p;
    while (p < e && buf[p] !== 44) p++;
    let te = p;
    while (te > ts && (buf[te - 1] === 32 || buf[te - 1] === 9)) te--;
    if (te - ts === word.length && nameIs(buf, ts, word)) return true;
  }
  return false;
}

/** findHeadEnd's answer while the blank line has not arrived: scan again from `resume` once more bytes are there. */
export interface HeadScan {
  resume: number;
}

/**
 * Where the head starting at buf[start] ends (the position after its blank line: CRLF CRLF, or LF LF as RFC 9112 §2.2
 * lets a server accept), or -1 when it has not arrived by `end`; then `scan.resume` is where to look again (every byte
 * before it has been seen), so a head that comes in many reads is scanned once. `from` is the previous resume point.
 */
export function findHeadEnd(buf: Buffer, start: number, from: number, end: number, scan: HeadScan): number {
  let p = from < start ? start : from;
  for (;;) {
    const lf = buf.indexOf(10, p);
    if (lf < 0 || lf >= end) {
      scan.resume = end;
      return -1;
    }
    if (lf + 1 >= end || (buf[lf + 1] === 13 && lf + 2 >= end)) {
      scan.resume = lf;
      return -1;
    }
    const next = buf[lf + 1];
    if (next === 10) return lf + 2;
    if (next === 13 && buf[lf + 2] === 10) return lf + 3;
    p = lf + 1;
  }
}

/**
 * The status for a head past MAX_REQUEST_HEAD: 414 when the request line is what is too long (still
 * going, or longer than a target may be), 431 when the headers are. The same however the bytes arrived.
 */
export function oversizeStatus(buf: Buffer, start: number, end: number): number {
  const lf = buf.indexOf(10, start);
  return lf < 0 || lf >= end || lf - start > MAX_REQUEST_TARGET ? 414 : 431;
}

/** Where the line at p (which findHeadEnd saw end before `end`) ends: its CR, or its LF when it has none. */
function lineEnd(buf: Buffer, p: number): number {
  const lf = buf.indexOf(10, p);
  return lf > p && buf[lf - 1] === 13 ? lf - 1 : lf;
}

/**
 * Parses the complete head at buf[start] (findHeadEnd found its end; start is past any empty lines) into `head`. Returns 0 when the request may be
 * forwarded, else the status to refuse it with: 400 (bad syntax, missing or repeated Host on HTTP/1.1, ambiguous
 * framing: Content-Length with Transfer-Encoding, two different lengths, a length that is not digits, chunked not
 * last or twice), 414 (target too long), 431 (too many headers), 501 (unknown method or transfer coding, CONNECT),
 * 505 (HTTP version other than 1.0 and 1.1), 417 (an expectation other than 100-continue).
 */
export function parseRequestHead(buf: Buffer, start: number, head: RequestHead): number {
  head.buf = buf;
  let p = start;
  const le = lineEnd(buf, p);
  // Method: a token, then one space.
  const ms = p;
  while (p < le && TCHAR[buf[p]!] === 1) p++;
  if (p === ms || p >= le || buf[p] !== 32) return 400;
  const method = methodIndex(buf, ms, p);
  if (method < 0) return 501;
  head.method = method;
  // Target: visible bytes up to one space.
  const ts = ++p;
  let query = -1;
  while (p < le) {
    const c = buf[p]!;
    if (c <= 32 || c === 127) break;
    if (c === 35) return 400; // '#': a fragment is never sent
    if (c === 63 && query < 0) query = p;
    p++;
  }
  const te = p;
  if (te === ts || buf[p] !== 32) return 400;
  if (te - ts > MAX_REQUEST_TARGET) return 414;
  // Version: "HTTP/" DIGIT "." DIGIT, then the line's end.
  p++;
  if (le - p !== 8 || !(buf[p] === 72 && buf[p + 1] === 84 && buf[p + 2] === 84 && buf[p + 3] === 80 && buf[p + 4] === 47)) return 400;
  const major = buf[p + 5]! - 48;
  const minor = buf[p + 7]! - 48;
  if (major < 0 || major > 9 || buf[p + 6] !== 46 || minor < 0 || minor > 9) return 400;
  if (major !== 1 || minor > 1) return 505;
  head.minor = minor;
  head.queryStart = head.queryEnd = head.authorityStart = head.authorityEnd = -1;
  if (buf[ts] === 47) {
    head.pathStart = ts;
    head.pathEnd = query < 0 ? te : query;
  } else if (te - ts === 1 && buf[ts] === 42) {
    if (method !== OPTIONS) return 400;
    head.pathStart = ts;
    head.pathEnd = te;
  } else {
    // Absolute-form (RFC 9112 §3.2.2): http or https, a non-empty authority without userinfo.
    let s = ts;
    if (nameIs(buf, s, 'http://')) s += 7;
    else if (nameIs(buf, s, 'https://')) s += 8;
    else return 400;
    const as = s;
    while (s < te && buf[s] !== 47 && buf[s] !== 63) {
      if (buf[s] === 64) return 400;
      s++;
    }
    if (s === as) return 400;
    head.authorityStart = as;
    head.authorityEnd = s;
    head.pathStart = s;
    head.pathEnd = query < 0 ? te : query;
  }
  if (query >= 0) {
    head.queryStart = query + 1;
    head.queryEnd = te;
  }
  let f = head.fields;
  let n = 0;
  let host = -1;
  let length = -1;
  let te0 = false;
  let chunked = false;
  let close = false;
  let keepAlive = false;
  let upgradeToken = false;
  let websocket = false;
  let expect = 0;
  p = le + (buf[le] === 13 ? 2 : 1);
  for (;;) {
    const ls = p;
    const e = lineEnd(buf, p);
    p = e + (buf[e] === 13 ? 2 : 1);
    if (e === ls) break;
    if (n === MAX_REQUEST_HEADERS) return 431;
    // Name: a token right before the colon (no blank, no obs-fold line).
    let upper = 0;
    let c = ls;
    while (c < e && TCHAR[buf[c]!] === 1) {
      if (buf[c]! >= 65 && buf[c]! <= 90) upper = UPPER;
      c++;
    }
    if (c === ls || c === e || buf[c] !== 58) return 400;
    let vs = c + 1;
    while (vs < e && (buf[vs] === 32 || buf[vs] === 9)) vs++;
    let ve = e;
    while (ve > vs && (buf[ve - 1] === 32 || buf[ve - 1] === 9)) ve--;
    // Field value: visible bytes, blanks and obs-text; any other control byte (NUL, a bare CR) is refused.
    for (let i = vs; i < ve; i++) {
      const b = buf[i]!;
      if ((b < 32 && b !== 9) || b === 127) return 400;
    }
    if ((n + 1) * FIELD > f.length) {
      const bigger = new Int32Array(f.length * 2);
      bigger.set(f);
      f = head.fields = bigger;
    }
    const kind = fieldKind(buf, ls, c);
    const j = n * FIELD;
    f[j] = ls;
    f[j + 1] = c;
    f[j + 2] = vs;
    f[j + 3] = ve;
    f[j + 4] = kind | upper;
    switch (kind) {
      case R_HOST:
        if (host >= 0) return 400;
        host = n;
        break;
      case R_CONTENT_LENGTH: {
        // 1*DIGIT (RFC 9110 §8.6), repeated only with the same value.
        let v = vs === ve ? -1 : 0;
        for (let i = vs; i < ve; i++) {
          const d = buf[i]! - 48;
          if (d < 0 || d > 9 || v > 1e14) return 400;
          v = v * 10 + d;
        }
        if (v < 0 || (length >= 0 && v !== length)) return 400;
        length = v;
        break;
      }
      case R_TRANSFER_ENCODING: {
        // Codings in order, over every Transfer-Encoding line: chunked must be the last and only once (RFC 9112
        // §6.3; "chunked, identity" is 400). The proxy re-frames bodies, so it takes chunked alone: another known
        // coding (gzip…) cannot be forwarded intact (501), nor an unknown one.
        let q = vs;
        if (vs === ve) return 400;
        while (q < ve) {
          while (q < ve && (buf[q] === 32 || buf[q] === 9)) q++;
          const cs = q;
          while (q < ve && buf[q] !== 44) q++;
          let ce = q;
          while (ce > cs && (buf[ce - 1] === 32 || buf[ce - 1] === 9)) ce--;
          q++;
          if (ce === cs) return 400;
          if (chunked) return 400;
          if (ce - cs === 7 && nameIs(buf, cs, 'chunked')) chunked = true;
          else te0 = true;
        }
        break;
      }
      case R_CONNECTION:
        if (hasToken(buf, vs, ve, 'close')) close = true;
        if (hasToken(buf, vs, ve, 'keep-alive')) keepAlive = true;
        if (hasToken(buf, vs, ve, 'upgrade')) upgradeToken = true;
        break;
      case R_UPGRADE:
        if (hasToken(buf, vs, ve, 'websocket')) websocket = true;
        break;
      case R_EXPECT:
        expect = ve - vs === 12 && nameIs(buf, vs, '100-continue') ? 1 : 2;
        break;
    }
    n++;
  }
  head.count = n;
  if (chunked || te0) {
    if (length >= 0) return 400;
    if (te0) return 501;
    // HTTP/1.0 has no chunked coding (RFC 9112 §6.1): the body's end would be in doubt.
    if (minor === 0) return 400;
  }
  if (host < 0 && minor === 1) return 400;
  if (expect === 2 && minor === 1) return 417;
  head.host = host;
  head.contentLength = length;
  head.chunked = chunked;
  head.keepAlive = minor === 1 ? !close : keepAlive && !close;
  head.websocket = websocket && upgradeToken && method === 0;
  head.expectContinue = expect === 1 && minor === 1;
  return 0;
}
