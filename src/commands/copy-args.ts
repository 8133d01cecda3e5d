/**
 * COPY's options, parsed once for both paths that run COPY: the shard (source and destination
 * on one shard) and the coordinator (on two), so they accept and refuse the same arguments.
 */
import { isKeyword, parseSafeInt } from '../wire/bytes.js';
import { E_DB_RANGE, E_NOT_INT, E_SYNTAX } from '../wire/error-text.js';

/** What COPY's options ask for. */
export interface CopyOptions {
  /** The destination database, or -1 for the source's. */
  db: number;
  replace: boolean;
}

/**
 * Parses `[DB destination-db] [REPLACE]` from argument 3 on, as Redis 7.0's copyCommand does
 * (`as`/`al`: each argument's start and length in `buf`); returns the options, or the error text
 * Redis answers for the first bad one.
 */
export function parseCopyOptions(
  buf: Uint8Array,
  as: ArrayLike<number>,
  al: ArrayLike<number>,
  argc: number,
  databases: number,
): CopyOptions | string {
  const opts: CopyOptions = { db: -1, replace: false };
  for (let i = 3; i < argc; i++) {
    if (isKeyword(buf, as[i]!, al[i]!, 'REPLACE')) opts.replace = true;
    else if (isKeyword(buf, as[i]!, al[i]!, 'DB') && i + 1 < argc) {
      i++;
      const d = parseSafeInt(buf, as[i]!, al[i]!);
      if (d === null) return E_NOT_INT;
      if (d < 0 || d >= databases) return E_DB_RANGE;
      opts.db = d;
    } else return E_SYNTAX;
  }
  return opts;
}
