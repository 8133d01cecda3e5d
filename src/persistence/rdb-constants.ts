/** RDB opcodes and object type bytes, as numbered in Redis's rdb.h. */

/** The RDB version Redis 7.0 writes and the one Sabre writes. */
export const RDB_VERSION = 10;
/** Newest version the reader accepts: 7.2's format only adds types, which the reader knows. */
export const RDB_MAX_READ_VERSION = 11;

export const RdbType = {
  STRING: 0,
  LIST: 1,
  SET: 2,
  ZSET: 3,
  HASH: 4,
  ZSET_2: 5,
  MODULE_PRE_GA: 6,
  MODULE_2: 7,
  HASH_ZIPMAP: 9,
  LIST_ZIPLIST: 10,
  SET_INTSET: 11,
  ZSET_ZIPLIST: 12,
  HASH_ZIPLIST: 13,
  LIST_QUICKLIST: 14,
  STREAM_LISTPACKS: 15,
  HASH_LISTPACK: 16,
  ZSET_LISTPACK: 17,
  LIST_QUICKLIST_2: 18,
  STREAM_LISTPACKS_2: 19,
  SET_LISTPACK: 20,
  STREAM_LISTPACKS_3: 21,
} as const;

export const RdbOpcode = {
  FUNCTION2: 245,
  FUNCTION_PRE_GA: 246,
  MODULE_AUX: 247,
  IDLE: 248,
  FREQ: 249,
  AUX: 250,
  RESIZEDB: 251,
  EXPIRETIME_MS: 252,
  EXPIRETIME: 253,
  SELECTDB: 254,
  EOF: 255,
} as const;

/** Quicklist node containers in LIST_QUICKLIST_2. */
export const QUICKLIST_NODE_PLAIN = 1;
export const QUICKLIST_NODE_PACKED = 2;

/** Redis 7.0's default encoding thresholds, which decide the compact encodings the writer picks. */
export const LIMITS = {
  hashListpackEntries: 512,
  hashListpackValue: 64,
  zsetListpackEntries: 128,
  zsetListpackValue: 64,
  setIntsetEntries: 512,
  /** list-max-listpack-size -2: each quicklist node's listpack stays within 8 KiB. */
  listNodeBytes: 8192,
} as const;
