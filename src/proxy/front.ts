/**
 * What the proxy needs from the front end that serves clients: the uWS.js HttpResponse/HttpRequest methods it calls
 * (uWS's own objects satisfy them; node-front.ts provides them over node:http), and how a front starts and stops.
 */
import type { AddressInfo, ListenOptions, Server } from 'node:net';

/**
 * Listens a node:net-based front's server on host:port and resolves with the bound port; with
 * reusePort (Node >= 22.12) every thread binds the same port, as uWS does natively.
 */
export function listenOn(server: Server, host: string, port: number, reusePort: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen on ${host}:${port}: ${err.message}`)));
    server.listen({ host, port, reusePort } as ListenOptions, () => resolve((server.address() as AddressInfo).port));
  });
}

/** The uWS HttpResponse methods the proxy uses (node-front.ts provides them over node:http where uWS is unavailable). */
export interface FrontResponse {
  cork(cb: () => void): unknown;
  /** Strings, or latin1 bytes (views into the upstream read buffer, valid only during the call). */
  writeStatus(status: string | Uint8Array): unknown;
  writeHeader(key: string | Uint8Array, value: string | Uint8Array): unknown;
  end(body?: string | Uint8Array, closeConnection?: boolean): unknown;
  endWithoutBody(reportedContentLength?: number): unknown;
  tryEnd(chunk: Uint8Array, totalSize: number): [boolean, boolean];
  write(chunk: Uint8Array): boolean;
  getWriteOffset(): number;
  onWritable(handler: (offset: number) => boolean): unknown;
  onAborted(handler: () => void): unknown;
  /** uWS passes an ArrayBuffer valid only during the call; node-front passes a Buffer it never reuses. */
  onData(handler: (chunk: ArrayBuffer | Uint8Array, isLast: boolean) => void): unknown;
  pause(): void;
  resume(): void;
  close(): unknown;
  /** The client address in binary, 4 bytes (IPv4) or 16 (IPv6): uWS only (each front's remoteAddress function picks). */
  getRemoteAddress?(): ArrayBuffer;
  getRemoteAddressAsText(): ArrayBuffer;
}

/** The uWS HttpRequest methods the proxy uses. */
export interface FrontRequest {
  getCaseSensitiveMethod(): string;
  getHeader(lowerCaseKey: string): string;
  getUrl(): string;
  /** The query without '?'; uWS.js returns undefined when there is none. */
  getQuery(): string | undefined;
  forEach(cb: (key: string, value: string) => void): void;
}

/** A front end serving clients on the listen address: uWS.js (uws-front.ts) or node:http (node-front.ts). */
export interface Front {
  /** Starts accepting clients on host:port; resolves with the bound port, rejects with why it cannot listen. */
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting connections; requests in flight go on. */
  stopListening(): void;
  /** Closes every client connection, idle keep-alive ones included (a worker must hold no socket when it is terminated). */
  closeConnections(): void;
}
