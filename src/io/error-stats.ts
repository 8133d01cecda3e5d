/**
 * Error replies as INFO reports them (total_error_replies, errorstats): every reply that starts
 * with `-` is counted once, when it is delivered to its client (transactions' inner replies too),
 * under its code, the first word, as Redis's afterErrorReply takes it.
 */

/** Redis's cap on distinct error codes in errorstats; later codes count only in the total. */
const MAX_CODES = 128;

/** The code of an error line (starting with `-`): its first word within 32 bytes; without a space Redis files it under ERR. */
function errorCode(buf: Uint8Array, start: number, len: number): string {
  const limit = start + Math.min(len, 32);
  let e = start + 1;
  while (e < limit && buf[e] !== 32) e++;
  return e < limit ? Buffer.from(buf.buffer, buf.byteOffset + start + 1, e - start - 1).toString('latin1') : 'ERR';
}

/** Error reply counters of one server. */
export class ErrorStats {
  total = 0;
  readonly byCode = new Map<string, number>();

  /** Counts the error reply `buf[start..start+len)` (starting with `-`). */
  count(buf: Uint8Array, start: number, len: number): void {
    this.total++;
    const code = errorCode(buf, start, len);
    const n = this.byCode.get(code);
    if (n !== undefined) this.byCode.set(code, n + 1);
    else if (this.byCode.size < MAX_CODES) this.byCode.set(code, 1);
  }

  /** Takes back one count of the error `buf[start..start+len)` (a script's error counted when its call failed, about to be delivered). */
  uncount(buf: Uint8Array, start: number, len: number): void {
    if (this.total > 0) this.total--;
    const code = errorCode(buf, start, len);
    const n = this.byCode.get(code);
    if (n === undefined) return;
    if (n > 1) this.byCode.set(code, n - 1);
    else this.byCode.delete(code);
  }

  /** CONFIG RESETSTAT. */
  reset(): void {
    this.total = 0;
    this.byCode.clear();
  }
}
