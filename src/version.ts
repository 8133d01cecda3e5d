/** Sabre's version, reported by INFO and HELLO. */
export const SABRE_VERSION = '0.1.0';
/** The Redis version Sabre answers as (clients gate features on it). */
export const REDIS_COMPAT_VERSION = '7.0.15';
