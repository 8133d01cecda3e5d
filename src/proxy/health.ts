/** Active health checks (HTTP GET or TCP connect) run from the main thread, feeding rise/fall into the shared table. */
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { ProxyConfig } from './config.js';
import type { BackendTable } from './backend-table.js';

type HealthConfig = ProxyConfig['healthCheck'];

/** Probes one backend once (an https:// one over TLS with `tls`'s options); resolves true when it looks healthy. */
export function probe(url: string, hc: HealthConfig, tls: ConnectionOptions | null = null): Promise<boolean> {
  const u = new URL(url);
  const port = +(u.port || (u.protocol === 'https:' ? 443 : 80));
  return new Promise((resolve) => {
    let settled = false;
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(ok);
    };
    const timer = setTimeout(() => {
      finish(false);
      cleanup();
    }, hc.timeout);
    let cleanup: () => void;
    if (hc.type === 'tcp') {
      const s = connect({ host: u.hostname, port }, () => {
        finish(true);
        s.destroy();
      });
      s.on('error', () => finish(false));
      cleanup = () => s.destroy();
    } else {
      const options = { host: u.hostname, port, path: hc.path, method: 'GET', agent: false, headers: { 'user-agent': 'sabre-health' } };
      const req = (tls === null ? request : httpsRequest)(tls === null ? options : { ...options, ...tls }, (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 400));
        res.on('error', () => finish(false));
      });
      req.on('error', () => finish(false));
      req.end();
      cleanup = () => req.destroy();
    }
  });
}

/** Probes every backend each interval; one probe per backend at a time. */
export class HealthChecker {
  private timer: NodeJS.Timeout | null = null;
  private readonly busy = new Set<number>();

  constructor(
    private readonly table: BackendTable,
    private readonly backends: () => Iterable<{ slot: number; url: string }>,
    private config: HealthConfig,
    /** tls.connect options for an https:// backend, null for http://. */
    private readonly tlsFor: (url: string) => ConnectionOptions | null = () => null,
  ) {}

  start(): void {
    this.stop();
    this.timer = setInterval(() => this.round(), this.config.interval);
    this.timer.unref();
  }

  /** Applies new settings (reload) and restarts the schedule. */
  reconfigure(config: HealthConfig): void {
    this.config = config;
    if (this.timer !== null) this.start();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private round(): void {
    const hc = this.config;
    for (const { slot, url } of this.backends()) {
      if (this.busy.has(slot)) continue;
      this.busy.add(slot);
      const gen = this.table.generation(slot);
      void probe(url, hc, this.tlsFor(url)).then((ok) => {
        this.busy.delete(slot);
        // The slot may have been freed and reused while the probe ran.
        if (this.table.generation(slot) !== gen) return;
        if (ok) this.table.recordCheckSuccess(slot, hc.rise, url);
        else this.table.recordFailure(slot, hc.fall, url, 'health check failed');
      });
    }
  }
}
