/** Which front serves clients on this Node and why: the config's `front`, what loads here, and SO_REUSEPORT. */
import type { ProxyConfig } from './config.js';
import type { UwsImplementation } from './uws.js';

/** A front a worker thread can run. */
export type FrontKind = 'uws' | 'node' | 'net';

/** The front chosen, the reason (for the log and GET /status), and how many threads can serve with it. */
export interface FrontChoice {
  front: FrontKind;
  reason: string;
  threads: number;
}

/** node:net's listen() takes reusePort from Node 22.12 / 23.1 on. */
export function nodeHasReusePort(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/**
 * Chooses the front. `auto` (the default) takes the net front wherever it can serve every configured thread
 * (SO_REUSEPORT in node:net, or one thread): it answers every request (pipelining in order, HTTP/1.0, a status for
 * each refusal), where uWS.js's C++ parser cannot, for ~10 % more CPU per request (native-bench/results/net-front.md).
 * Only where the net front would serve fewer threads (Node < 22.12, threads > 1) does `auto` take native uWS.js.
 * Without SO_REUSEPORT the node and net fronts serve with one thread.
 */
export function chooseFront(config: ProxyConfig, uws: UwsImplementation, reusePort: boolean): FrontChoice {
  const wanted = config.front;
  let front: FrontKind;
  let reason: string;
  if (config.listen.tls !== null && wanted !== 'net') {
    // uWS.js's SSLApp and node:http are not wired for TLS: the net front parses HTTP/1.x over tls.Server sockets.
    front = 'net';
    reason = `${wanted === 'auto' ? 'auto' : `front "${wanted}" asked`}: listen.tls is served by the net front (TLS, SNI, ALPN h2)`;
  } else if (wanted === 'auto') {
    if (reusePort || config.threads <= 1 || !uws.native) {
      front = 'net';
      reason = uws.native
        ? 'auto: the net front answers every request (pipelining, HTTP/1.0, a status for each refusal) and serves every thread here'
        : `auto: no native uWS.js here (${uws.notes.join(' | ')}): the net front`;
    } else {
      front = 'uws';
      reason =
        `auto: ${config.threads} threads, and node:net has no SO_REUSEPORT on Node ${process.versions.node} (>= 22.12): native uWS.js; ` +
        'it closes pipelining connections and ignores HTTP/1.0: set threads 1 or front "net" for those clients';
    }
  } else if (wanted === 'uws' && !uws.native) {
    front = 'net';
    reason = `front "uws" asked, but no native uWS.js loads here (${uws.notes.join(' | ')}): the net front instead`;
  } else {
    front = wanted;
    reason = `front "${wanted}" set in the config`;
  }
  let threads = config.threads;
  if (front !== 'uws' && !reusePort && threads > 1) {
    threads = 1;
    reason += `; one thread, as Node ${process.versions.node} has no SO_REUSEPORT in node:net (>= 22.12)`;
  }
  return { front, reason, threads };
}
