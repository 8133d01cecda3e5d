/** The one error type every persistence decoder throws, so callers can refuse a bad file cleanly. */
import { SabreError } from '../errors.js';

/** Why a file or payload was refused. */
export type RdbErrorCode = 'BAD_MAGIC' | 'BAD_VERSION' | 'TRUNCATED' | 'CORRUPT' | 'CHECKSUM' | 'UNSUPPORTED' | 'INVALID_ENTRY';

/** A refused RDB, DUMP payload or AOF; `offset` is the byte where decoding stopped (-1 when not tied to one). */
export class RdbError extends SabreError {
  declare readonly code: RdbErrorCode;
  readonly offset: number;
  constructor(code: RdbErrorCode, message: string, offset = -1) {
    super(code, offset >= 0 ? `${message} (at byte ${offset})` : message);
    this.offset = offset;
  }
}
