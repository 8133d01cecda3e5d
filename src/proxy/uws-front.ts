/** Serves clients through a native uWS.js: one app per worker thread with the WebSocket route and the proxy route. */
import type { Front, FrontResponse } from './front.js';
import type { ProxyContext } from './proxy-context.js';
import { proxyRequest } from './proxy-request.js';
import type { TemplatedApp, us_listen_socket, UwsModule } from './uws.js';
import { attachWebSocketProxy } from './websocket.js';

/** Text form of a binary client address, as uWS's getRemoteAddressAsText writes it (IPv6: eight 4-digit hex groups). */
function addressText(ab: ArrayBuffer): string {
  const b = new Uint8Array(ab);
  if (b.length === 4) {
    const key = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    let text = IPV4_TEXT.get(key);
    if (text === undefined) {
      if (IPV4_TEXT.size >= 4096) IPV4_TEXT.clear();
      text = `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
      IPV4_TEXT.set(key, text);
    }
    return text;
  }
  if (b.length !== 16) return '';
  let text = '';
  for (let i = 0; i < 16; i += 2) text += (i === 0 ? '' : ':') + HEX[b[i]!] + HEX[b[i + 1]!];
  return text;
}
const IPV4_TEXT = new Map<number, string>();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The client's address as text, from uWS's binary form (IPv4 texts are cached). */
export function uwsRemoteAddress(res: FrontResponse): string {
  return addressText(res.getRemoteAddress!());
}

/** The uWS.js front: SO_REUSEPORT lets every worker thread listen on the same port. */
export class UwsFront implements Front {
  private readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | null = null;

  constructor(
    private readonly native: UwsModule,
    ctx: ProxyContext,
  ) {
    this.app = native.App();
    attachWebSocketProxy(this.app, ctx);
    this.app.any('/*', (res, req) => proxyRequest(ctx, res, req));
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.app.listen(host, port, (ls: us_listen_socket | false) => {
        if (!ls) {
          reject(new Error(`cannot listen on ${host}:${port}`));
          return;
        }
        this.listenSocket = ls;
        resolve(this.native.us_socket_local_port(ls));
      });
    });
  }

  stopListening(): void {
    if (this.listenSocket !== null) this.native.us_listen_socket_close(this.listenSocket);
  }

  closeConnections(): void {
    // App.close() (every socket of the app) is in the native builds of both packages, though the
    // typings of 20.30 do not declare it. Terminating a worker whose loop still holds a uWS socket
    // aborts the whole process (uv_loop_close with open handles).
    (this.app as TemplatedApp & { close(): void }).close();
  }
}
