/**
 * The request head the proxy sends upstream. One pass over the client's headers sorts them: hop-by-hop and
 * proxy-written ones (Host, framing, X-Forwarded-*, Via) are kept aside, the rest is forwarded as is; the head is
 * then the request line, Host, the forwarded headers, X-Forwarded-For/-Proto/-Host, Via and the body's framing.
 */
import type { FrontRequest } from './front.js';

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus those the proxy frames itself. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'via',
]);

// What one pass over the request headers collects. req.forEach calls back synchronously, so one module-level
// callback and these fields serve every request without a closure or a getHeader() call per header.
let rqForward = '';
let rqHost = '';
let rqHosts = 0;
let rqLength = '';
/** Set when Content-Length is not 1*DIGIT or repeated with another value: the body's end would be ambiguous. */
let rqLengthBad = false;
let rqTransferEncoding = '';
let rqConnection = '';
let rqXff = '';
let rqVia = '';
let rqCookie = '';
let rqSeen = 0;
const SEEN_HOST = 1;
const SEEN_LENGTH = 2;
const SEEN_TE = 4;
const SEEN_CONNECTION = 8;
const SEEN_COOKIE = 16;

/** Sorts one request header: hop-by-hop and proxy-written ones are kept aside, the rest is forwarded as is. */
function collectHeader(k: string, v: string): void {
  switch (k) {
    case 'host':
      if ((rqSeen & SEEN_HOST) === 0) rqHost = v;
      rqSeen |= SEEN_HOST;
      rqHosts++;
      return;
    case 'content-length':
      if ((rqSeen & SEEN_LENGTH) === 0) {
        rqLength = v;
        rqLengthBad = !DIGITS.test(v);
      } else if (v !== rqLength) rqLengthBad = true;
      rqSeen |= SEEN_LENGTH;
      return;
    case 'transfer-encoding':
      rqTransferEncoding = (rqSeen & SEEN_TE) === 0 ? v : `${rqTransferEncoding}, ${v}`;
      rqSeen |= SEEN_TE;
      return;
    case 'connection':
      if ((rqSeen & SEEN_CONNECTION) === 0) rqConnection = v;
      rqSeen |= SEEN_CONNECTION;
      return;
    case 'x-forwarded-for':
      rqXff = rqXff === '' ? v : `${rqXff}, ${v}`;
      return;
    case 'via':
      rqVia = rqVia === '' ? v : `${rqVia}, ${v}`;
      return;
    case 'keep-alive':
    case 'proxy-connection':
    case 'te':
    case 'trailer':
    case 'upgrade':
    case 'x-forwarded-proto':
    case 'x-forwarded-host':
      return;
    case 'cookie':
      if ((rqSeen & SEEN_COOKIE) === 0) rqCookie = v;
      rqSeen |= SEEN_COOKIE;
      break;
  }
  rqForward += `${k}: ${v}\r\n`;
}

/** X-Forwarded-Proto: what this thread's clients speak (a TLS listener sets https). */
let forwardedProto = 'http';

/** Sets the scheme the upstream X-Forwarded-Proto header names (the thread's front: 'http' or 'https'). */
export function setForwardedProto(proto: 'http' | 'https'): void {
  forwardedProto = proto;
}

const DIGITS = /^[0-9]{1,15}$/;
const CHUNKED_ONLY = /^[ \t]*chunked[ \t]*$/i;

/** The longest request target (path and query) the proxy forwards; longer ones get 414, as nginx's 8k buffers do. */
export const MAX_TARGET = 8192;

/** Reads the request's headers in one pass; the functions below answer from it until the next request's pass. */
export function scanRequestHeaders(req: FrontRequest): void {
  rqForward = rqHost = rqLength = rqTransferEncoding = rqConnection = rqXff = rqVia = rqCookie = '';
  rqLengthBad = false;
  rqHosts = 0;
  rqSeen = 0;
  req.forEach(collectHeader);
}

/**
 * Why the scanned request cannot be forwarded, as the status line to answer it with before closing the connection,
 * or '' when it can: two Host headers or an ambiguous body length (RFC 9112 §3.2, §6.3), a transfer coding other than
 * chunked alone (§6.1: the proxy could not forward it intact), a target longer than MAX_TARGET.
 */
export function requestProblem(targetLength: number): string {
  if (rqHosts > 1 || rqLengthBad) return '400 Bad Request';
  if ((rqSeen & SEEN_TE) !== 0) {
    if (!CHUNKED_ONLY.test(rqTransferEncoding)) return '501 Not Implemented';
    if ((rqSeen & SEEN_LENGTH) !== 0) return '400 Bad Request';
  }
  return targetLength > MAX_TARGET ? '414 URI Too Long' : '';
}

/** The scanned request's first Host value ('' when it has none). */
export function requestHost(): string {
  return rqHost;
}

/** The request's Content-Length, or -1 when it declares none. */
export function declaredLength(): number {
  return rqLength === '' ? -1 : +rqLength;
}

/** True when the request body comes chunked (it has a Transfer-Encoding, which requestProblem allows only as chunked). */
export function chunkedBody(): boolean {
  return (rqSeen & SEEN_TE) !== 0;
}

/** The head to send upstream for `target` (path and query): `declared` and `chunked` frame the body as the client's head did. */
export function upstreamRequestHead(
  req: FrontRequest,
  method: string,
  target: string,
  clientIp: string,
  declared: number,
  chunked: boolean,
): string {
  const connTokens = rqConnection;
  let forward = rqForward;
  if (connTokens !== '' && !/^\s*(keep-alive|close)\s*$/i.test(connTokens)) {
    // Headers named in Connection are hop-by-hop too (rare: the common values need no second pass).
    const extraHop = new Set(
      connTokens
        .toLowerCase()
        .split(',')
        .map((t) => t.trim()),
    );
    forward = '';
    req.forEach((k, v) => {
      if (!HOP_BY_HOP.has(k) && !extraHop.has(k)) forward += `${k}: ${v}\r\n`;
    });
  }
  const host = rqHost;
  const xff = rqXff;
  const via = rqVia;
  let head =
    method +
    ' ' +
    target +
    ' HTTP/1.1\r\nhost: ' +
    host +
    '\r\n' +
    forward +
    'x-forwarded-for: ' +
    (xff ? `${xff}, ${clientIp}` : clientIp) +
    '\r\nx-forwarded-proto: ' +
    forwardedProto +
    '\r\nx-forwarded-host: ' +
    host +
    (via ? `\r\nvia: ${via}, 1.1 sabre\r\n` : '\r\nvia: 1.1 sabre\r\n');
  if (chunked) head += 'transfer-encoding: chunked\r\n\r\n';
  else if (declared >= 0) head += `content-length: ${declared}\r\n\r\n`;
  else head += '\r\n';
  return head;
}

/** The value of cookie `name` in the request's first Cookie header, or null when it has none. */
export function requestCookie(name: string): string | null {
  const cookie = rqCookie;
  const at = cookie.indexOf(`${name}=`);
  if (at < 0 || (at !== 0 && cookie[at - 1] !== ' ' && cookie[at - 1] !== ';')) return null;
  const start = at + name.length + 1;
  const end = cookie.indexOf(';', start);
  return cookie.slice(start, end < 0 ? undefined : end);
}
