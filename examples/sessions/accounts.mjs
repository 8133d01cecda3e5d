// User accounts for the examples: scrypt password hashes in one hash on the server.
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

/** Accounts stored in the hash `key` (field: user name, value: salt:hash). */
export function createAccounts({ redis, key }) {
  return {
    /** Creates an account; false when the name is taken (HSETNX keeps names unique). */
    async register(user, password) {
      const salt = randomBytes(16).toString('hex');
      const hash = scryptSync(password, salt, 32).toString('hex');
      return (await redis.hsetnx(key, user, `${salt}:${hash}`)) === 1;
    },
    /** Whether `password` is the user's (constant-time comparison). */
    async check(user, password) {
      const stored = await redis.hget(key, user);
      if (stored === null) return false;
      const [salt, hash] = stored.split(':');
      return timingSafeEqual(scryptSync(password, salt, 32), Buffer.from(hash, 'hex'));
    },
  };
}
