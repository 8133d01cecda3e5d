/** Redis 7.0's error reply texts that more than one module sends (clients match on them). */
export const E_SYNTAX = 'ERR syntax error';
export const E_NOT_INT = 'ERR value is not an integer or out of range';
export const E_NOT_FLOAT = 'ERR value is not a valid float';
export const E_WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';
export const E_OVERFLOW = 'ERR increment or decrement would overflow';
export const E_NO_KEY = 'ERR no such key';
export const E_TOO_BIG = 'ERR string exceeds maximum allowed size (proto-max-bulk-len)';
export const E_DB_RANGE = 'ERR DB index is out of range';
export const E_NOAUTH = 'NOAUTH Authentication required.';
export const E_INVALID_CURSOR = 'ERR invalid cursor';
export const E_TIMEOUT_NOT_FLOAT = 'ERR timeout is not a float or out of range';
export const E_TIMEOUT_NEGATIVE = 'ERR timeout is negative';

/** "ERR invalid expire time in 'set' command" for the given lower-case command name. */
export function invalidExpireTime(cmd: string): string {
  return `ERR invalid expire time in '${cmd}' command`;
}
