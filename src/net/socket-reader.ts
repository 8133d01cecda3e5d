/**
 * Reads accepted sockets through Node's `onread` path into one scratch buffer, skipping the
 * per-read 64 KiB malloc, ArrayBuffer and Readable-stream bookkeeping of 'data' events.
 *
 * net.Server offers no `onread` option for the sockets it accepts, so this sets the same three
 * internal symbols that `new net.Socket({ onread })` sets (found on a probe socket, stable from
 * Node 12 to 24) and points the handle at the scratch buffer. Where they are missing, callers
 * fall back to 'data' events.
 */
import net from 'node:net';
import { pooledCopy } from '../wire/bytes.js';

/** Receives one read: a Buffer of its own (a pooled copy), safe to keep. */
export type ReadHandler = (chunk: Buffer) => void;

/**
 * Offered each read first, as bytes [0, n) of the shared scratch (valid only during the call):
 * returns true when it took them itself (copied where they go), so no copy of their own is made.
 */
export type ScratchHandler = (scratch: Buffer, n: number) => boolean;

interface ReadSymbols {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

/** The size libuv suggests for one read. */
const SCRATCH_BYTES = 64 * 1024;

function findSymbols(): ReadSymbols | null {
  // @types/node lists onread only for net.connect(), but the Socket constructor takes it too.
  const probe = new net.Socket({ onread: { buffer: Buffer.alloc(1), callback: () => true } } as net.SocketConstructorOpts);
  const byName = new Map(Object.getOwnPropertySymbols(probe).map((s) => [s.description, s]));
  probe.destroy();
  const buffer = byName.get('kBuffer');
  const callback = byName.get('kBufferCb');
  const generator = byName.get('kBufferGen');
  return buffer && callback && generator ? { buffer, callback, generator } : null;
}

const symbols = findSymbols();
const scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);

interface UserBufferHandle {
  useUserBuffer(buf: Uint8Array): void;
}

/**
 * Makes `socket` deliver its reads to `onChunk` instead of 'data' events (to `first`, when given,
 * before that). Call it in the server's connection callback, before the first read. Returns false
 * (and changes nothing) when this Node lacks the internals it needs.
 */
export function readIntoScratch(socket: net.Socket, onChunk: ReadHandler, first: ScratchHandler | null = null): boolean {
  const handle = (socket as unknown as { _handle: Partial<UserBufferHandle> | null })._handle;
  if (symbols === null || handle === null || typeof handle.useUserBuffer !== 'function') return false;
  const s = socket as unknown as Record<symbol, unknown>;
  s[symbols.buffer] = scratch;
  s[symbols.generator] = null;
  // Reads land in the shared scratch buffer, so each is copied out before the next one.
  s[symbols.callback] = (n: number, buf: Buffer): void => {
    if (first === null || !first(buf, n)) onChunk(pooledCopy(buf, 0, n));
  };
  handle.useUserBuffer(scratch);
  return true;
}
