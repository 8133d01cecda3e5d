/** The read buffer all upstream sockets of a thread share, and reused views of it (no typed array per response field). */

/** The read buffer all upstream sockets of this thread share (reads are handled synchronously). */
export const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** READ_BUFFER as 32-bit words, for the response parser's four-bytes-at-a-time line scan. */
export const READ_WORDS = new DataView(READ_BUFFER.buffer, READ_BUFFER.byteOffset, READ_BUFFER.byteLength);

/** Views of READ_BUFFER by [start, end), kept: responses from one backend put their fields at the same offsets. */
const VIEWS = new Map<number, Buffer>();
const MAX_VIEWS = 4096;

/**
 * buf[start, end) as a Buffer. Views of the shared read buffer are reused rather than made per call (a typed
 * array each, several per response), so like the buffer they are only valid during the call that gets them.
 */
export function view(buf: Buffer, start: number, end: number): Buffer {
  // The key must stay a small integer: 15 bits each.
  if (buf !== READ_BUFFER || end > 0x7fff) return buf.subarray(start, end);
  const key = (start << 15) | end;
  let v = VIEWS.get(key);
  if (v === undefined) {
    if (VIEWS.size >= MAX_VIEWS) VIEWS.clear();
    v = READ_BUFFER.subarray(start, end);
    VIEWS.set(key, v);
  }
  return v;
}
