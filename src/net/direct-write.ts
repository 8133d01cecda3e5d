/**
 * Writes a latin1 string straight to a connected socket's libuv handle, as net.Socket's own
 * write does underneath, without the Writable machinery around it: that costs a nextTick, a
 * tick-info object and several calls per write, which a proxy pays on every request.
 *
 * It needs the WriteWrap class and the write-state array from the `stream_wrap` binding
 * (process.binding, the same in Node 20 to 24). Where they are missing, or the socket has
 * Writable-buffered data that must go first, it falls back to socket.write().
 */
import type { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';

interface WriteReq {
  handle: StreamHandle;
  oncomplete: (this: WriteReq, status: number) => void;
  async: boolean;
  bytes: number;
  /** The bytes of a pending buffer write, kept alive until libuv is done with them. */
  buffer: Uint8Array | null;
  /** Set while a write is pending in libuv, for its completion. */
  socket: Socket | null;
  /** What a pending buffer write calls once libuv is done with its bytes. */
  done: (() => void) | null;
}

interface StreamHandle {
  writeLatin1String(req: WriteReq, data: string): number;
  writeBuffer(req: WriteReq, data: Uint8Array): number;
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

function streamWrap(): StreamWrapBinding | null {
  try {
    const b = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding('stream_wrap');
    if (typeof b.WriteWrap === 'function' && b.streamBaseState instanceof Int32Array && typeof b.kLastWriteWasAsync === 'number') {
      return b as StreamWrapBinding;
    }
  } catch {
    // Not available in this Node: socket.write() it is.
  }
  return null;
}

const binding = streamWrap();

/** False where this Node lacks the internals, and every write goes through socket.write(). */
export const directWrites = binding !== null;

/** A write libuv finished later (the socket was full): a failure ends the socket, as in net.Socket. */
function onComplete(this: WriteReq, status: number): void {
  const socket = this.socket;
  const done = this.done;
  this.socket = null;
  this.buffer = null;
  this.done = null;
  if (status < 0 && socket !== null && !socket.destroyed) socket.destroy(writeError(status));
  done?.();
}

function writeError(status: number): NodeJS.ErrnoException {
  const code = getSystemErrorName(status);
  return Object.assign(new Error(`write ${code}`), { code, errno: status, syscall: 'write' });
}

/**
 * A write request object no write holds: one that finished synchronously never reached libuv,
 * so the next write can take it instead of constructing another.
 */
let spare: WriteReq | null = null;

/**
 * A TLS socket's handle (TLSWrap) takes one write at a time and aborts the process on a second one while the first
 * is pending (its completion always comes later), so TLS sockets are written through their stream, which queues.
 */
function encrypted(socket: Socket): boolean {
  return (socket as Socket & { encrypted?: boolean }).encrypted === true;
}

/** Writes `data` (latin1) to `socket`; write errors surface as the socket's 'error' event either way. */
export function writeLatin1(socket: Socket, data: string): void {
  const handle = (socket as unknown as { _handle: Partial<StreamHandle> | null })._handle;
  if (
    binding === null ||
    encrypted(socket) ||
    handle === null ||
    typeof handle.writeLatin1String !== 'function' ||
    socket.connecting ||
    socket.writableLength !== 0
  ) {
    socket.write(data, 'latin1');
    return;
  }
  let req = spare;
  spare = null;
  if (req === null) {
    req = new binding.WriteWrap();
    req.oncomplete = onComplete;
    req.async = false;
    req.bytes = 0;
    req.buffer = null;
    req.socket = null;
    req.done = null;
  }
  req.handle = handle as StreamHandle;
  const err = handle.writeLatin1String(req, data);
  if (err !== 0) socket.destroy(writeError(err));
  // An async write keeps its request until libuv completes it (onComplete).
  else if (binding.streamBaseState[binding.kLastWriteWasAsync] !== 0) req.socket = socket;
  else spare = req;
}

/** writeBytes' results besides a failure to write directly. */
export const WRITE_DONE = 0;
export const WRITE_PENDING = 1;
export const WRITE_FALLBACK = -1;

/**
 * Writes `data` straight to `socket`'s handle: WRITE_DONE when the kernel took all of it (the bytes may be reused at
 * once), WRITE_PENDING when libuv holds them until it calls `done` (the socket's own writableLength does not count
 * them), or WRITE_FALLBACK when it cannot write directly (no internals, or the socket has Writable-buffered data that
 * must go first): then the caller uses socket.write(). Write errors surface as the socket's 'error' event.
 * `tlsSerialized`: the caller writes a TLS socket only while none of its writes is pending (net-front.ts does).
 */
export function writeBytes(socket: Socket, data: Uint8Array, done: () => void, tlsSerialized = false): number {
  const handle = (socket as unknown as { _handle: Partial<StreamHandle> | null })._handle;
  if (
    binding === null ||
    handle === null ||
    typeof handle.writeBuffer !== 'function' ||
    socket.connecting ||
    socket.writableLength !== 0 ||
    (encrypted(socket) && !tlsSerialized)
  )
    return WRITE_FALLBACK;
  let req = spare;
  spare = null;
  if (req === null) {
    req = new binding.WriteWrap();
    req.oncomplete = onComplete;
    req.async = false;
    req.bytes = 0;
    req.buffer = null;
    req.socket = null;
    req.done = null;
  }
  req.handle = handle as StreamHandle;
  const err = handle.writeBuffer(req, data);
  if (err !== 0) {
    spare = req;
    socket.destroy(writeError(err));
    return WRITE_DONE;
  }
  if (binding.streamBaseState[binding.kLastWriteWasAsync] === 0) {
    spare = req;
    return WRITE_DONE;
  }
  req.socket = socket;
  req.buffer = data;
  req.done = done;
  return WRITE_PENDING;
}
