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
 * Chooses the front. `auto` (the default) takes native uWS.js where it loads (it measured ~10 % less CPU per request
 * than the net front, native-bench/results/net-front.md) and the net front elsewhere (Node 22+ on glibc < 2.38).
 * Without SO_REUSEPORT (Node < 22.12) the node and net fronts serve with one thread.
 */
export function chooseFront(config: ProxyConfig, uws: UwsImplementation, reusePort: boolean): FrontChoice {
  const wanted = config.front;
  let front: FrontKind;
  let reason: string;
  if (wanted === 'auto') {
    if (uws.native) {
      front = 'uws';
      reason =
        'auto: native uWS.js loads here and costs ~10 % less CPU per request than the net front; ' +
        'set front "net" for pipelining and HTTP/1.0 clients';
    } else {
      front = 'net';
      reason = `auto: no native uWS.js here (${uws.notes.join(' | ')}): the net front`;
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
