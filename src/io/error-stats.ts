/**
 * Error replies as INFO reports them (total_error_replies, errorstats): every reply that starts
 * with `-` is counted once, when it is delivered to its client (transactions' inner replies too),
 * under its code, the first word, as Redis's afterErrorReply takes it.
 */

/** Redis's cap on distinct error codes in errorstats; later codes count only in the total. */
const MAX_CODES = 128;

/** Error reply counters of one server. */
export class ErrorStats {
  total = 0;
  readonly byCode = new Map<string, number>();

  /** Counts the error reply `buf[start..start+len)` (starting with `-`). */
  count(buf: Uint8Array, start: number, len: number): void {
    this.total++;
    // The code ends at the first space within 32 bytes; without one Redis files it under ERR.
    const limit = start + Math.min(len, 32);
    let e = start + 1;
    while (e < limit && buf[e] !== 32) e++;
    const code = e < limit ? Buffer.from(buf.buffer, buf.byteOffset + start + 1, e - start - 1).toString('latin1') : 'ERR';
    const n = this.byCode.get(code);
    if (n !== undefined) this.byCode.set(code, n + 1);
    else if (this.byCode.size < MAX_CODES) this.byCode.set(code, 1);
  }

  /** CONFIG RESETSTAT. */
  reset(): void {
    this.total = 0;
    this.byCode.clear();
  }
}
