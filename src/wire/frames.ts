/**
 * Frame layouts on the rings between the acceptor and the shards.
 *
 * Request: u32 connId, u32 seq, u16 command id, u8 db, u8 flags, u32 argc, then per
 *          argument u32 length + bytes.
 * Reply:   u32 connId, u32 seq, u32 kind, then the RESP reply bytes.
 * A frame too large for its ring travels as an ArrayBuffer over the thread's MessagePort;
 * the ring then carries only its header, with FLAG_BIG / KIND_BIG set, to keep the order.
 */
export const REQ_CONN = 0;
export const REQ_SEQ = 4;
export const REQ_CMD = 8;
export const REQ_DB = 10;
export const REQ_FLAGS = 11;
export const REQ_ARGC = 12;
export const REQ_ARGS = 16;

/** The client speaks RESP3. */
export const FLAG_RESP3 = 1;
/** The frame's payload came over the MessagePort. */
export const FLAG_BIG = 2;
/** Run inside EXEC: a blocking command must not block (Redis answers its timeout reply at once). */
export const FLAG_NOBLOCK = 4;
/** A read of a client with CLIENT TRACKING on: the shard remembers its keys for the frame's connection. */
export const FLAG_TRACK = 8;
/** The AOF is on: a script sends the writes it made (KIND_EFFECTS) before its reply. */
export const FLAG_EFFECTS = 16;
/** A script whose keys span shards: every other shard serves its mailbox while it runs (script-across.ts). */
export const FLAG_ACROSS = 32;
/** A restricted client's script: the last argument is its user's ACL rules, which every redis.call is checked against. */
export const FLAG_ACL = 64;
/** Bytes of each shard's mailbox for scripts across shards (requests and replies up to this, less 64). */
export const MAILBOX_BYTES = 8 << 20;

export const REP_CONN = 0;
export const REP_SEQ = 4;
export const REP_KIND = 8;
export const REP_BODY = 12;

export const KIND_INLINE = 0;
export const KIND_BIG = 1;
/** Header only: the command blocked (sent while CT_MONITOR is set, so MONITOR shows it when it ran, as Redis does). */
export const KIND_BLOCKED = 2;
/** A script's writes, for the AOF (RESP arrays [db, argv...]), just before the script's reply. */
export const KIND_EFFECTS = 3;
/** The same, too large for the ring: the body comes through the port, as KIND_BIG's. */
export const KIND_EFFECTS_BIG = 4;
/** A script became busy: [name, argv...] of what it runs, for FUNCTION STATS while the shard cannot answer. */
export const KIND_SCRIPT_INFO = 5;
/** An inline reply of a write that changed nothing: the acceptor takes back the change it counted for it (rdb_changes_since_last_save). */
export const KIND_UNCHANGED = 6;
/**
 * Replies to consecutive commands of one connection, seq onwards, in one frame: kind is KIND_RUN | count << 8 |
 * unchanged << 18, the body the replies' bytes one after another, then their lengths (count u32 LE). None of
 * them is an error reply; each would otherwise have been a KIND_INLINE frame of its own, or KIND_UNCHANGED for
 * `unchanged` of them.
 */
export const KIND_RUN = 7;
/** Connection ids from here up name the server's own waits in shards (cross-shard blocking): never in a run. */
export const SYSTEM_CONN_BASE = 0x80000000;
/** Most replies one KIND_RUN frame carries, and most bytes (lengths included). */
export const RUN_MAX_REPLIES = 256;
export const RUN_MAX_BYTES = 8192;

/** The kind word of a KIND_RUN frame of `count` replies, `unchanged` of them to writes that changed nothing. */
export function runKind(count: number, unchanged: number): number {
  return KIND_RUN | (count << 8) | (unchanged << 18);
}

/** A KIND_RUN kind word's reply count. */
export function runCount(kind: number): number {
  return (kind >>> 8) & 0x3ff;
}

/** A KIND_RUN kind word's count of replies to writes that changed nothing. */
export function runUnchanged(kind: number): number {
  return kind >>> 18;
}

/**
 * Client-tracking report frames (reply frames with connId 0, seq 0; src/shards/tracking.ts):
 * first body byte TRACK_TAG, then the report kind and the phase of the change.
 */
export const TRACK_TAG = 2;
export const TRACK_KEY = 1;
export const TRACK_FLUSH = 2;
/** The change came with no command running, before the running command, or while it ran. */
export const PHASE_NONE = 0;
export const PHASE_BEFORE = 1;
export const PHASE_DURING = 2;

/**
 * A key the shard deleted on its own (expired or evicted), reported while CT_PROPAGATE is set so the
 * AOF and the replicas get a DEL in the shard's order (reply frame with connId 0, seq 0):
 * body [DEL_TAG][db u8][key].
 */
export const DEL_TAG = 3;

/**
 * An error a script's redis.call or redis.pcall got, counted in INFO errorstats when it happens, as
 * Redis counts it (reply frame with connId 0, seq 0): body [ERRSTAT_TAG][the error line, "-CODE text"].
 * ERRSTAT_UNDO_TAG takes one back: sent before a script's reply that is such an error, counted again when delivered.
 */
export const ERRSTAT_TAG = 4;
export const ERRSTAT_UNDO_TAG = 5;

/**
 * A script's PUBLISH (reply frame with connId 0, seq 0): body [PUBLISH_TAG][channel length u32 LE][channel][message].
 * The acceptor publishes it at once and answers the number of receivers in the shard's publish word pair
 * (PUB_STATE, PUB_RECEIVERS), which the shard waits on: the script sees the count as Redis's PUBLISH gives it.
 */
export const PUBLISH_TAG = 6;
export const PUB_STATE = 0;
export const PUB_RECEIVERS = 1;
/** PUB_STATE values: no publish pending, the shard waits, the acceptor answered. */
export const PUB_IDLE = 0;
export const PUB_WAITING = 1;
export const PUB_ANSWERED = 2;

/** Shared words of the shard → acceptor doorbell. */
export const DOORBELL_WORD = 0;
/**
 * 1 while the acceptor has an end-of-tick pass scheduled, which reads every reply ring: a shard
 * that publishes replies then need not ring (its notify, a task posted to the acceptor's event loop,
 * is the dearest part of a batch).
 */
export const ACCEPTOR_AWAKE = 1;

/** Per-shard statistics block (Float64Array indexes), written by the shard after each batch. */
export const ST_USED_MEMORY = 0;
export const ST_ARENA_BYTES = 1;
export const ST_HITS = 2;
export const ST_MISSES = 3;
export const ST_EXPIRED = 4;
export const ST_EVICTED = 5;
export const ST_COMMANDS = 6;
/** Clients blocked in the shard (BLPOP…; cross-shard waits are counted by the acceptor). */
export const ST_BLOCKED = 7;
/** Control words the acceptor writes into the same block for its shard: maxmemory share, policy index (evict.ts POLICIES), samples. */
export const CT_MAXMEMORY = 8;
export const CT_POLICY = 9;
export const CT_SAMPLES = 10;
/** Non-zero while some client runs MONITOR. */
export const CT_MONITOR = 11;
/** When the script the shard runs began (ms since the epoch), published once it has run a while; 0 when none runs. */
export const ST_SCRIPT_START = 12;
/** The running script's state: SCRIPT_WROTE, SCRIPT_FUNCTION bits. */
export const ST_SCRIPT_STATE = 13;
export const SCRIPT_WROTE = 1;
export const SCRIPT_FUNCTION = 2;
/** Set by the acceptor to stop the running script: KILL_ASKED (SCRIPT/FUNCTION KILL), KILL_FORCED (shutdown). */
export const CT_SCRIPT_KILL = 14;
export const KILL_ASKED = 1;
export const KILL_FORCED = 2;
/** Scripts in the shard's EVAL cache. */
export const ST_CACHED_SCRIPTS = 15;
export const ST_KEYS = 16;
export const ST_EXPIRES = 48;
/**
 * Keys in the shard's tracking table and key/client pairs in it (INFO tracking_total_keys/items):
 * past ST_EXPIRES + 256, where no per-database slot reaches (`databases` goes up to 256).
 */
export const ST_TRACKING_KEYS = ST_EXPIRES + 256;
export const ST_TRACKING_ITEMS = ST_TRACKING_KEYS + 1;
/** Function libraries and functions loaded: libraries * FUNCTIONS_SPAN + functions. */
export const ST_FUNCTION_COUNTS = ST_TRACKING_ITEMS + 1;
export const FUNCTIONS_SPAN = 1 << 20;
/** Set by the acceptor while writes are propagated (AOF or replicas): the shard reports keys it expires or evicts (DEL_TAG frames). */
export const CT_PROPAGATE = ST_FUNCTION_COUNTS + 1;
/**
 * Set by the acceptor while the server is a replica (0 on a master): REPLICA_ON, plus REPLICA_READ_ONLY
 * (scripts may not write) and REPLICA_NO_EVICT (replica-ignore-maxmemory) as they apply.
 */
export const CT_REPLICA = CT_PROPAGATE + 1;
export const REPLICA_ON = 1;
export const REPLICA_READ_ONLY = 2;
export const REPLICA_NO_EVICT = 4;
/** Set by the acceptor while min-replicas-to-write is not met: scripts that may write are refused (NOREPLICAS). */
export const CT_NOREPLICAS = CT_REPLICA + 1;
/** Bytes of the shard's Lua heap (scripts and functions share its VM), of its cached scripts' bodies, of its libraries' code. */
export const ST_LUA_BYTES = CT_NOREPLICAS + 1;
export const ST_SCRIPT_BYTES = ST_LUA_BYTES + 1;
export const ST_FUNCTION_BYTES = ST_SCRIPT_BYTES + 1;
export const STATS_SLOTS = ST_FUNCTION_BYTES + 1;
/**
 * Per-command counters a shard keeps for INFO commandstats (Float64Array of CS_SLOTS per
 * command id, at id * CS_SLOTS): microseconds spent, runs that replied an error, runs refused
 * before the handler (OOM under maxmemory), and the calls scripts made (which the acceptor
 * never saw): those run, and those refused (ACL, read-only script, OOM...).
 */
export const CS_USEC = 0;
export const CS_FAILED = 1;
export const CS_REJECTED = 2;
export const CS_SCRIPT_CALLS = 3;
export const CS_SCRIPT_REJECTED = 4;
export const CS_SLOTS = 5;
