/**
 * A blocking command's timeout, parsed once for both paths that block: the shard (keys on one
 * shard) and the coordinator (keys on several), so they accept and refuse the same arguments.
 */
import { parseFloatBytes } from '../wire/bytes.js';
import { E_TIMEOUT_NEGATIVE, E_TIMEOUT_NOT_FLOAT } from '../wire/error-text.js';

/** Seconds (fractions allowed, as Redis's strtold reads them) to ms, 0 meaning forever; or the error text Redis answers. */
export function parseBlockingTimeout(b: Uint8Array, s: number, n: number): number | string {
  const v = parseFloatBytes(b, s, n);
  if (v === null || !Number.isFinite(v)) return E_TIMEOUT_NOT_FLOAT;
  if (v < 0) return E_TIMEOUT_NEGATIVE;
  return Math.floor(v * 1000);
}
