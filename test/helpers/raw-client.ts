/** A bare TCP client for asserting exact RESP bytes (subscribed-mode errors, push frames). */
import net from 'node:net';

/** A raw connection that accumulates everything the server sends. */
export interface RawClient {
  socket: net.Socket;
  /** Sends commands as inline lines. */
  send(...lines: string[]): void;
  /** Resolves once the received text contains `needle` (rejects after 5 s). */
  waitFor(needle: string): Promise<string>;
  received(): string;
  close(): void;
}

/** Connects to 127.0.0.1:port. */
export async function rawClient(port: number): Promise<RawClient> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  const waiters: (() => void)[] = [];
  socket.on('data', (d: Buffer) => {
    text += d.toString('latin1');
    for (const w of waiters.splice(0)) w();
  });
  socket.on('error', () => {});
  return {
    socket,
    send: (...lines) => socket.write(lines.map((l) => `${l}\r\n`).join('')),
    received: () => text,
    waitFor: (needle) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${JSON.stringify(needle)}; got ${JSON.stringify(text)}`)),
          5000,
        );
        const check = (): void => {
          if (text.includes(needle)) {
            clearTimeout(timer);
            resolve(text);
          } else waiters.push(check);
        };
        check();
      }),
    close: () => socket.destroy(),
  };
}
