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
  buffer: null;
  /** Set while a write is pending in libuv, for its completion. */
  socket: Socket | null;
}

interface StreamHandle {
  writeLatin1String(req: WriteReq, data: string): number;
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
  this.socket = null;
  if (status < 0 && socket !== null && !socket.destroyed) socket.destroy(writeError(status));
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

/** Writes `data` (latin1) to `socket`; write errors surface as the socket's 'error' event either way. */
export function writeLatin1(socket: Socket, data: string): void {
  const handle = (socket as unknown as { _handle: Partial<StreamHandle> | null })._handle;
  if (
    binding === null ||
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
  }
  req.handle = handle as StreamHandle;
  const err = handle.writeLatin1String(req, data);
  if (err !== 0) socket.destroy(writeError(err));
  // An async write keeps its request until libuv completes it (onComplete).
  else if (binding.streamBaseState[binding.kLastWriteWasAsync] !== 0) req.socket = socket;
  else spare = req;
}
