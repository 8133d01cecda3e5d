/**
 * TLS termination: a tls.Server per worker thread (all on one port where Node has reusePort), certificates chosen by
 * SNI from a map the reload swaps, and an ALPN switch: `h2` connections go to node:http2 (h2-front.ts), the rest to
 * the net front's HTTP/1.x parser over the TLS socket. Open connections keep the context they were made with.
 */
import type { Socket } from 'node:net';
import { type Server as TlsServer, type TLSSocket, createServer } from 'node:tls';
import { logger } from '../log.js';
import type { ProxyConfig } from './config.js';
import { type Front, listenOn } from './front.js';
import { H2Front } from './h2-front.js';
import { NetFront } from './net-front.js';
import type { ProxyContext } from './proxy-context.js';
import { contextFor, type ListenTls, loadServerContexts, type ServerContexts } from './tls-config.js';

const log = logger('proxy');

/** A TLS handshake must be done within this (nginx's client_header_timeout is 60 s, HTTP/1.x heads here get 30 s). */
const HANDSHAKE_TIMEOUT_MS = 30_000;

/** The TLS front: handshakes, SNI and ALPN here; HTTP/1.x in the net front, HTTP/2 in the h2 front. */
export class TlsFront implements Front {
  private readonly server: TlsServer;
  private readonly http1: NetFront;
  private readonly h2: H2Front | null;
  private contexts: ServerContexts;
  /** Connections before or during their handshake (the fronts track them once handed over). */
  private readonly handshaking = new Set<Socket>();

  constructor(
    ctx: ProxyContext,
    private readonly reusePort: boolean,
    tls: ListenTls,
  ) {
    this.contexts = loadServerContexts(tls);
    this.http1 = new NetFront(ctx, reusePort);
    this.h2 = tls.alpn.includes('h2') ? new H2Front(ctx) : null;
    this.server = createServer(
      {
        ...this.contexts.defaults,
        ALPNProtocols: tls.alpn,
        SNICallback: (name, cb) => cb(null, contextFor(this.contexts, name)),
        handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
        allowHalfOpen: true,
        noDelay: true,
      },
      (socket: TLSSocket) => {
        this.handshaking.delete(socket);
        if (socket.alpnProtocol === 'h2' && this.h2 !== null) this.h2.adopt(socket);
        else this.http1.adopt(socket);
      },
    );
    this.server.on('connection', (raw: Socket) => {
      this.handshaking.add(raw);
      raw.once('close', () => this.handshaking.delete(raw));
    });
    // Plain HTTP sent to the TLS port, a failed or timed-out handshake: that connection closes, nothing else.
    this.server.on('tlsClientError', (_err: Error, socket: TLSSocket) => socket.destroy());
  }

  /** Certificates re-read from their files (reload, SIGHUP): new handshakes use them, open connections go on. */
  reconfigure(config: ProxyConfig): void {
    const tls = config.listen.tls;
    if (tls === null) return;
    try {
      const next = loadServerContexts(tls);
      this.server.setSecureContext(next.defaults);
      this.contexts = next;
    } catch (err) {
      log.error('tls: keeping the previous certificates', { error: err });
    }
  }

  listen(host: string, port: number): Promise<number> {
    return listenOn(this.server, host, port, this.reusePort);
  }

  stopListening(): void {
    if (this.server.listening) this.server.close();
    for (const s of this.handshaking) s.destroy();
    this.http1.stopListening();
    this.h2?.stopListening();
  }

  closeConnections(): void {
    for (const s of this.handshaking) s.destroy();
    this.http1.closeConnections();
    this.h2?.closeConnections();
  }
}
