/**
 * The framing of the RDB a master sends a replica after +FULLRESYNC, as Redis 7.0's
 * readSyncBulkPayload reads it: newlines the master sends to keep the link alive while it prepares
 * the snapshot, then either `$<len>\r\n` and exactly len bytes (disk-backed sync), or
 * `$EOF:<40 bytes>\r\n`, the payload, and the same 40 bytes again (diskless sync, size unknown).
 * Bytes may arrive cut anywhere; whatever follows the payload is the start of the command stream.
 */

/** The EOF mark's length (Redis's CONFIG_RUN_ID_SIZE). */
const MARK_LEN = 40;
/** The longest header line accepted before the payload. */
const MAX_HEADER = 1024;

/** The master answered something other than a bulk header (an error line): the sync failed. */
export class RdbHeaderError extends Error {}

/** Receives one RDB transfer, handing payload bytes to `write` in order. */
export class RdbReceiver {
  /** Payload size from `$<len>`; 0 for the EOF-marker form (as Redis reports it); -1 until the header came. */
  size = -1;
  /** Payload bytes received so far. */
  read = 0;
  /** The payload is complete. */
  done = false;
  private header = '';
  private mark: Buffer | null = null;
  /** EOF form: the last bytes received, held back because they may be the start of the mark. */
  private tail: Buffer = Buffer.alloc(0);

  constructor(private readonly write: (chunk: Buffer) => void) {}

  /**
   * Takes the next bytes from the master. Returns -1 while the payload goes on, else the index in
   * `data` of the first byte after it (data.length when nothing follows). Throws RdbHeaderError
   * for a reply that is not a bulk header.
   */
  push(data: Buffer): number {
    let pos = 0;
    if (this.size === -1) {
      pos = this.readHeader(data);
      if (pos === -1) return -1;
    }
    if (this.mark === null) return this.pushSized(data, pos);
    return this.pushMarked(data, pos);
  }

  /** Reads the header line; returns where the payload starts in `data`, or -1 when the line is not complete yet. */
  private readHeader(data: Buffer): number {
    for (let i = 0; i < data.length; i++) {
      const c = data[i]!;
      if (c !== 10) {
        this.header += String.fromCharCode(c);
        if (this.header.length > MAX_HEADER) throw new RdbHeaderError('master sent an overlong reply instead of the RDB');
        continue;
      }
      const line = this.header.endsWith('\r') ? this.header.slice(0, -1) : this.header;
      this.header = '';
      // A bare newline: the master is still preparing the snapshot.
      if (line === '') continue;
      if (line[0] !== '$') throw new RdbHeaderError(`master replied ${line} instead of the RDB`);
      if (line.startsWith('$EOF:')) {
        if (line.length < 5 + MARK_LEN) throw new RdbHeaderError(`bad EOF mark in ${line}`);
        this.mark = Buffer.from(line.slice(5, 5 + MARK_LEN), 'latin1');
        this.size = 0;
      } else {
        const n = Number(line.slice(1));
        if (!Number.isSafeInteger(n) || n < 0) throw new RdbHeaderError(`bad bulk length in ${line}`);
        this.size = n;
      }
      return i + 1;
    }
    return -1;
  }

  private pushSized(data: Buffer, pos: number): number {
    const take = Math.min(data.length - pos, this.size - this.read);
    if (take > 0) this.write(data.subarray(pos, pos + take));
    this.read += take;
    if (this.read < this.size) return -1;
    this.done = true;
    return pos + take;
  }

  /** EOF form: the payload ends where the mark is; the last MARK_LEN bytes seen are held back until more come. */
  private pushMarked(data: Buffer, pos: number): number {
    const mark = this.mark!;
    const body = data.subarray(pos);
    // The mark may straddle the held tail and the new bytes.
    if (this.tail.length > 0) {
      const joined = Buffer.concat([this.tail, body.subarray(0, MARK_LEN)]);
      const at = joined.indexOf(mark);
      if (at !== -1) {
        this.emit(joined.subarray(0, at));
        this.done = true;
        return pos + at + MARK_LEN - this.tail.length;
      }
    }
    const at = body.indexOf(mark);
    if (at !== -1) {
      this.emit(this.tail);
      this.emit(body.subarray(0, at));
      this.tail = Buffer.alloc(0);
      this.done = true;
      return pos + at + MARK_LEN;
    }
    // No mark yet: everything but the last MARK_LEN bytes is payload for sure.
    const all = this.tail.length + body.length;
    if (all <= MARK_LEN) {
      this.tail = Buffer.concat([this.tail, body]);
      return -1;
    }
    const keepFromBody = Math.min(MARK_LEN, body.length);
    const fromTail = this.tail.length - (MARK_LEN - keepFromBody);
    if (fromTail > 0) this.emit(this.tail.subarray(0, fromTail));
    this.emit(body.subarray(0, body.length - keepFromBody));
    this.tail = Buffer.concat([fromTail > 0 ? this.tail.subarray(fromTail) : this.tail, body.subarray(body.length - keepFromBody)]);
    return -1;
  }

  private emit(b: Buffer): void {
    if (b.length === 0) return;
    this.read += b.length;
    this.write(b);
  }
}
