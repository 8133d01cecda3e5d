/**
 * The WebSocket opening handshake toward a backend, shared by both fronts: the upstream request head, and the wait for
 * the backend's answer, which is accepted only as a 101 with `Upgrade: websocket` and the Sec-WebSocket-Accept that
 * RFC 6455 §4.1 requires for the client's key (anything else is refused, with the backend's own status or 502).
 */
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';

/** The GUID of RFC 6455 §1.3 that Sec-WebSocket-Accept hashes with the key. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The Sec-WebSocket-Accept value a server must answer `key` with (RFC 6455 §4.2.2). */
export function websocketAccept(key: string): string {
  return createHash('sha1')
    .update(key + WEBSOCKET_GUID)
    .digest('base64');
}

/** Hop-by-hop and negotiation headers the proxy writes itself on the upstream handshake (extensions are not offered). */
const SKIP = new Set([
  'connection',
  'upgrade',
  'host',
  'sec-websocket-extensions',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'via',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'content-length',
]);

/** The upstream handshake request for `target` (path and query), carrying the client's headers but hop-by-hop ones. */
export function upgradeRequestHead(
  target: string,
  host: string,
  clientIp: string,
  forEach: (cb: (key: string, value: string) => void) => void,
): string {
  let head = `GET ${target} HTTP/1.1\r\nhost: ${host}\r\nconnection: Upgrade\r\nupgrade: websocket\r\n`;
  forEach((k, v) => {
    if (!SKIP.has(k)) head += `${k}: ${v}\r\n`;
  });
  return `${head}x-forwarded-for: ${clientIp}\r\nx-forwarded-proto: http\r\nx-forwarded-host: ${host}\r\nvia: 1.1 sabre\r\n\r\n`;
}

/** The backend's answer to the handshake. */
export interface UpgradeAnswer {
  /** The status line to answer the client with when the upgrade did not happen; '' when it did. */
  refusal: string;
  /** The backend's response head, through the blank line (forwarded as is by the node:http front). */
  head: Buffer;
  /** Bytes the backend sent after its head (the first frames). */
  rest: Buffer;
  /** The subprotocol the backend chose ('' for none). */
  protocol: string;
}

const MAX_HEAD = 64 * 1024;

/** The value of header `name` (lower case) in the head's lines, '' when absent. */
function headerValue(lines: string[], name: string): string {
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    const colon = l.indexOf(':');
    if (colon === name.length && l.slice(0, colon).toLowerCase() === name) return l.slice(colon + 1).trim();
  }
  return '';
}

/**
 * Waits for the backend's response head on `upstream` (to which the handshake was written) and calls `done` once,
 * with the upstream socket paused and this function's listeners removed: a refusal when the backend answered
 * something else than a valid 101 for `key` (its status when it declined, 502 for a bad or no answer, 504 when
 * `timeoutMs` passed first).
 */
export function awaitUpgradeAnswer(upstream: Socket, key: string, timeoutMs: number, done: (a: UpgradeAnswer) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const finish = (refusal: string, head: Buffer, rest: Buffer, protocol: string): void => {
    clearTimeout(timer);
    upstream.off('data', onData);
    upstream.off('error', onEnd);
    upstream.off('close', onEnd);
    upstream.pause();
    done({ refusal, head, rest, protocol });
  };
  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
    size += chunk.length;
    const buf = chunks.length === 1 ? chunk : Buffer.concat(chunks, size);
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) {
      if (size > MAX_HEAD) finish('502 Bad Gateway', buf, buf.subarray(0, 0), '');
      return;
    }
    const head = buf.subarray(0, end + 4);
    const rest = buf.subarray(end + 4);
    const lines = buf.toString('latin1', 0, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]!);
    if (m === null) return finish('502 Bad Gateway', head, rest, '');
    const status = +m[1]!;
    if (status !== 101) {
      // The backend declined the upgrade (401, 403, 404…): the client gets its status line.
      return finish(status >= 200 && status <= 599 ? `${status} ${m[2] ?? ''}`.trimEnd() : '502 Bad Gateway', head, rest, '');
    }
    const ok =
      headerValue(lines, 'upgrade').toLowerCase() === 'websocket' && headerValue(lines, 'sec-websocket-accept') === websocketAccept(key);
    finish(ok ? '' : '502 Bad Gateway', head, rest, headerValue(lines, 'sec-websocket-protocol'));
  };
  const onEnd = (): void => finish('502 Bad Gateway', Buffer.alloc(0), Buffer.alloc(0), '');
  const timer = setTimeout(() => finish('504 Gateway Timeout', Buffer.alloc(0), Buffer.alloc(0), ''), timeoutMs);
  upstream.on('data', onData);
  upstream.on('error', onEnd);
  upstream.on('close', onEnd);
}
