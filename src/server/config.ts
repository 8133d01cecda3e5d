/**
 * Server configuration: one table of parameters drives the redis.conf-style file parser,
 * the command-line flags, and CONFIG GET/SET, so the three can never disagree.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import { formatKeyspaceEvents, parseKeyspaceEvents } from '../wire/keyspace-events.js';
import { parseSaveConfig } from '../persistence/save-schedule.js';

/** How a parameter's value is parsed and written. */
export type Kind = 'int' | 'memory' | 'string' | 'bool' | 'enum';

/** One configuration parameter as CONFIG GET/SET and redis.conf know it. */
interface Param {
  name: string;
  kind: Kind;
  def: string;
  /** false: only at start-up (CONFIG SET answers "can't set immutable config"). */
  mutable: boolean;
  /** Redis's PROTECTED_CONFIG: CONFIG SET only where `enable-protected-configs` allows it. */
  protected?: boolean;
  /** The older name Redis 7.0 still accepts and lists (the `*-ziplist-*` names of the listpack settings). */
  alias?: string;
  min?: number;
  max?: number;
  values?: string[];
  /** Custom validation for 'string' parameters (given the current value): the stored text or an error reason. */
  check?: (raw: string, current: string) => { value: string } | { error: string };
  help: string;
}

/** Adapts a check that returns only an error reason (or null) to the Param.check form. */
function valid(reason: (v: string) => string | null): (raw: string) => { value: string } | { error: string } {
  return (raw) => {
    const e = reason(raw);
    return e === null ? { value: raw } : { error: e };
  };
}

/** latency-tracking-info-percentiles: space-separated numbers in [0, 100]. */
function checkPercentiles(raw: string): { value: string } | { error: string } {
  const parts = raw.trim() === '' ? [] : raw.trim().split(/\s+/);
  if (parts.some((p) => !/^\d+(\.\d+)?$/.test(p) || Number(p) > 100))
    return { error: 'latency-tracking-info-percentiles should be between 0.0 and 100.0' };
  return { value: parts.join(' ') };
}

/**
 * client-output-buffer-limit: `<class> <hard> <soft> <seconds>` groups merged into the
 * current value, spelled as Redis's CONFIG GET (replica stored as slave, sizes in bytes).
 */
function checkBufferLimits(raw: string, current: string): { value: string } | { error: string } {
  const words = raw.trim().split(/\s+/).filter(Boolean);
  if (words.length % 4 !== 0) return { error: 'Wrong number of arguments in buffer limit configuration.' };
  const cur = current.split(' ');
  const byClass = new Map<string, string[]>();
  for (let i = 0; i + 3 < cur.length; i += 4) byClass.set(cur[i]!, cur.slice(i + 1, i + 4));
  for (let i = 0; i < words.length; i += 4) {
    let cls = words[i]!.toLowerCase();
    if (cls === 'replica') cls = 'slave';
    if (!byClass.has(cls)) return { error: 'Invalid client class specified in buffer limit configuration.' };
    const hard = parseMemory(words[i + 1]!);
    const soft = parseMemory(words[i + 2]!);
    const secs = /^\d+$/.test(words[i + 3]!) ? Number(words[i + 3]) : null;
    if (hard === null || soft === null || secs === null)
      return { error: 'Error in hard, soft or soft_seconds setting in buffer limit configuration.' };
    byClass.set(cls, [String(hard), String(soft), String(secs)]);
  }
  return { value: [...byClass].map(([c, v]) => `${c} ${v.join(' ')}`).join(' ') };
}

/** notify-keyspace-events: Redis's letters, stored in its canonical spelling. */
function checkKeyspaceEvents(raw: string): { value: string } | { error: string } {
  const flags = parseKeyspaceEvents(raw);
  if (flags === null) return { error: "Invalid event class character. Use 'Ag$lshzxeKEtmdn'." };
  return { value: formatKeyspaceEvents(flags) };
}

const GB = 1024 * 1024 * 1024;

/** replicaof: empty (also written `no one`), or `<host> <port>` as redis.conf writes it. */
function checkReplicaOf(raw: string): { value: string } | { error: string } {
  const w = raw.trim().split(/\s+/).filter(Boolean);
  if (w.length === 0 || (w.length === 2 && w[0]!.toLowerCase() === 'no' && w[1]!.toLowerCase() === 'one')) return { value: '' };
  if (w.length !== 2 || !/^\d+$/.test(w[1]!) || Number(w[1]) > 65535) return { error: 'argument must be "<host> <port>"' };
  return { value: `${w[0]} ${Number(w[1])}` };
}

/** Values of enable-protected-configs, enable-debug-command and enable-module-command (Redis's protected actions). */
const PROTECTED_ACTION = ['no', 'yes', 'local'];

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

const PARAMS: Param[] = [
  { name: 'port', kind: 'int', def: '6379', mutable: false, min: 0, max: 65535, help: 'TCP port to listen on' },
  { name: 'bind', kind: 'string', def: '127.0.0.1', mutable: false, help: 'addresses to listen on (space separated)' },
  {
    name: 'metrics-port',
    kind: 'int',
    def: '0',
    mutable: false,
    min: 0,
    max: 65535,
    help: "serve Prometheus metrics at http://<bind's first address>:PORT/metrics (0: off)",
  },
  {
    name: 'shards',
    kind: 'int',
    def: String(Math.max(1, availableParallelism() - 1)),
    mutable: false,
    min: 1,
    max: 256,
    help: 'shard worker threads',
  },
  {
    name: 'shard-sched-batch',
    kind: 'bool',
    def: 'yes',
    mutable: false,
    help: "run shard threads under Linux's SCHED_BATCH (set with chrt), so their wake-ups do not preempt the acceptor",
  },
  {
    name: 'acceptor-poll-us',
    kind: 'int',
    def: '200',
    mutable: true,
    min: 0,
    max: 100000,
    help: 'µs the acceptor keeps polling sockets and shards after its last work before it sleeps (0: never poll)',
  },
  { name: 'requirepass', kind: 'string', def: '', mutable: true, help: 'password for the default user' },
  {
    name: 'protected-mode',
    kind: 'bool',
    def: 'yes',
    mutable: true,
    help: 'without a password, refuse clients that are not on 127.0.0.1 or ::1',
  },
  {
    name: 'enable-protected-configs',
    kind: 'enum',
    def: 'no',
    mutable: false,
    values: PROTECTED_ACTION,
    help: 'CONFIG SET of dir and dbfilename: no, yes, or local (loopback clients only)',
  },
  {
    name: 'enable-debug-command',
    kind: 'enum',
    def: 'no',
    mutable: false,
    values: PROTECTED_ACTION,
    help: 'DEBUG: no, yes, or local (loopback clients only)',
  },
  {
    name: 'enable-module-command',
    kind: 'enum',
    def: 'no',
    mutable: false,
    values: PROTECTED_ACTION,
    help: 'MODULE LOAD/UNLOAD (Sabre has no modules): no, yes, or local',
  },
  {
    name: 'aclfile',
    kind: 'string',
    def: '',
    mutable: false,
    help: 'ACL file of users (relative paths are in dir), loaded at start-up and by ACL LOAD',
  },
  {
    name: 'acl-pubsub-default',
    kind: 'enum',
    def: 'resetchannels',
    mutable: true,
    values: ['allchannels', 'resetchannels'],
    help: 'channel permissions of new ACL users',
  },
  { name: 'acllog-max-len', kind: 'int', def: '128', mutable: true, min: 0, max: 2 ** 53, help: 'entries kept by ACL LOG' },
  { name: 'maxclients', kind: 'int', def: '10000', mutable: true, min: 1, max: 1_000_000, help: 'maximum connected clients' },
  { name: 'databases', kind: 'int', def: '16', mutable: false, min: 1, max: 256, help: 'number of databases (SELECT)' },
  {
    name: 'proto-max-bulk-len',
    kind: 'memory',
    def: String(512 * 1024 * 1024),
    mutable: true,
    min: 1024 * 1024,
    max: 2 * GB,
    help: 'largest bulk string accepted',
  },
  {
    name: 'client-query-buffer-limit',
    kind: 'memory',
    def: String(GB),
    mutable: true,
    min: 1024 * 1024,
    max: 4 * GB,
    help: 'largest unparsed input kept per client',
  },
  {
    name: 'client-output-buffer-limit',
    kind: 'string',
    def: 'normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60',
    mutable: true,
    check: checkBufferLimits,
    help: 'per-class output limits: <class> <hard> <soft> <soft seconds>, classes normal, replica, pubsub',
  },
  {
    name: 'repl-backlog-size',
    kind: 'memory',
    def: String(1024 * 1024),
    mutable: true,
    min: 1,
    max: 2 ** 53,
    help: 'bytes of the replication stream kept for partial resyncs',
  },
  {
    name: 'repl-backlog-ttl',
    kind: 'int',
    def: '3600',
    mutable: true,
    min: 0,
    max: 2 ** 31 - 1,
    help: 'seconds without replicas after which the backlog is freed (0: never)',
  },
  {
    name: 'repl-diskless-sync',
    kind: 'bool',
    def: 'yes',
    mutable: true,
    help: 'full syncs stream the RDB to replica sockets instead of a file',
  },
  {
    name: 'repl-diskless-sync-delay',
    kind: 'int',
    def: '5',
    mutable: true,
    min: 0,
    max: 2 ** 31 - 1,
    help: 'seconds a diskless sync waits for more replicas to share it',
  },
  {
    name: 'repl-diskless-sync-max-replicas',
    kind: 'int',
    def: '0',
    mutable: true,
    min: 0,
    max: 2 ** 31 - 1,
    help: 'start a delayed diskless sync at once when this many replicas wait (0: no limit)',
  },
  {
    name: 'repl-ping-replica-period',
    alias: 'repl-ping-slave-period',
    kind: 'int',
    def: '10',
    mutable: true,
    min: 1,
    max: 2 ** 31 - 1,
    help: 'seconds between PINGs to replicas',
  },
  {
    name: 'repl-timeout',
    kind: 'int',
    def: '60',
    mutable: true,
    min: 1,
    max: 2 ** 31 - 1,
    help: 'seconds of silence before a replication link is dropped (either side)',
  },
  {
    name: 'min-replicas-to-write',
    alias: 'min-slaves-to-write',
    kind: 'int',
    def: '0',
    mutable: true,
    min: 0,
    max: 2 ** 31 - 1,
    help: 'refuse writes unless this many replicas acknowledged within min-replicas-max-lag',
  },
  {
    name: 'min-replicas-max-lag',
    alias: 'min-slaves-max-lag',
    kind: 'int',
    def: '10',
    mutable: true,
    min: 0,
    max: 2 ** 31 - 1,
    help: 'seconds since its last ACK for a replica to count as good',
  },
  // The replica side of replication (src/server/repl-replica.ts).
  {
    name: 'replicaof',
    alias: 'slaveof',
    kind: 'string',
    def: '',
    mutable: false,
    check: checkReplicaOf,
    help: 'replicate the master at "HOST PORT" (REPLICAOF changes it at run time)',
  },
  { name: 'masterauth', kind: 'string', def: '', mutable: true, help: 'password sent to the master (AUTH) before replicating' },
  { name: 'masteruser', kind: 'string', def: '', mutable: true, help: 'ACL user the replica authenticates as with its master' },
  {
    name: 'replica-read-only',
    alias: 'slave-read-only',
    kind: 'bool',
    def: 'yes',
    mutable: true,
    help: 'a replica refuses writes from its clients (READONLY)',
  },
  {
    name: 'replica-serve-stale-data',
    alias: 'slave-serve-stale-data',
    kind: 'bool',
    def: 'yes',
    mutable: true,
    help: 'a replica whose master link is down keeps serving its data (no: MASTERDOWN)',
  },
  {
    name: 'replica-priority',
    alias: 'slave-priority',
    kind: 'int',
    def: '100',
    mutable: true,
    min: 0,
    max: 2 ** 31 - 1,
    help: 'Sentinel promotes replicas with a lower priority first (0: never)',
  },
  {
    name: 'replica-announce-ip',
    alias: 'slave-announce-ip',
    kind: 'string',
    def: '',
    mutable: true,
    help: 'address the replica announces to its master (REPLCONF ip-address)',
  },
  {
    name: 'replica-announce-port',
    alias: 'slave-announce-port',
    kind: 'int',
    def: '0',
    mutable: true,
    min: 0,
    max: 65535,
    help: 'port the replica announces to its master (0: the listening port)',
  },
  { name: 'replica-announced', kind: 'bool', def: 'yes', mutable: true, help: 'Sentinel lists this replica (no: hidden)' },
  {
    name: 'replica-ignore-maxmemory',
    alias: 'slave-ignore-maxmemory',
    kind: 'bool',
    def: 'yes',
    mutable: true,
    help: 'a replica never evicts: its master sends the deletions',
  },
  { name: 'timeout', kind: 'int', def: '0', mutable: true, min: 0, max: 2 ** 31, help: 'close idle clients after N seconds (0 = never)' },
  {
    name: 'loglevel',
    kind: 'enum',
    def: 'notice',
    mutable: true,
    values: ['debug', 'verbose', 'notice', 'warning'],
    help: 'log verbosity',
  },
  {
    name: 'list-max-listpack-size',
    alias: 'list-max-ziplist-size',
    kind: 'int',
    def: '-2',
    mutable: true,
    min: -5,
    max: 2 ** 31,
    help: 'entries per list node (> 0) or node size class (-1..-5 = 4..64 KB)',
  },
  {
    name: 'list-compress-depth',
    kind: 'int',
    def: '0',
    mutable: true,
    min: 0,
    max: 2 ** 31 - 1,
    help: 'list nodes kept uncompressed at each end (accepted and stored: Sabre keeps every list node uncompressed)',
  },
  {
    name: 'hash-max-listpack-entries',
    alias: 'hash-max-ziplist-entries',
    kind: 'int',
    def: '512',
    mutable: true,
    min: 0,
    max: 2 ** 31,
    help: 'hashes up to this many fields stay a listpack',
  },
  {
    name: 'hash-max-listpack-value',
    alias: 'hash-max-ziplist-value',
    kind: 'int',
    def: '64',
    mutable: true,
    min: 0,
    max: 2 ** 31,
    help: 'longest field or value a listpack hash keeps',
  },
  {
    name: 'set-max-intset-entries',
    kind: 'int',
    def: '512',
    mutable: true,
    min: 0,
    max: 2 ** 31,
    help: 'integer sets up to this size stay an intset',
  },
  {
    name: 'zset-max-listpack-entries',
    alias: 'zset-max-ziplist-entries',
    kind: 'int',
    def: '128',
    mutable: true,
    min: 0,
    max: 2 ** 31,
    help: 'sorted sets up to this many members stay a listpack',
  },
  {
    name: 'zset-max-listpack-value',
    alias: 'zset-max-ziplist-value',
    kind: 'int',
    def: '64',
    mutable: true,
    min: 0,
    max: 2 ** 31,
    help: 'longest member a listpack sorted set keeps',
  },
  {
    name: 'stream-node-max-bytes',
    kind: 'int',
    def: '4096',
    mutable: true,
    min: 0,
    max: 2 ** 31,
    help: 'a stream node takes entries until it holds this many bytes (0: no limit)',
  },
  {
    name: 'stream-node-max-entries',
    kind: 'int',
    def: '100',
    mutable: true,
    min: 0,
    max: 2 ** 31,
    help: 'a stream node takes at most this many entries (0: no limit)',
  },
  {
    name: 'busy-reply-threshold',
    alias: 'lua-time-limit',
    kind: 'int',
    def: '5000',
    mutable: true,
    min: 0,
    max: 2 ** 53,
    help: 'ms a script may run before other clients get -BUSY',
  },
  {
    name: 'hll-sparse-max-bytes',
    kind: 'memory',
    def: '3000',
    mutable: true,
    min: 0,
    max: 2 ** 53,
    help: 'HyperLogLogs up to this many bytes stay sparse',
  },
  {
    name: 'notify-keyspace-events',
    kind: 'string',
    def: '',
    mutable: true,
    check: checkKeyspaceEvents,
    help: 'keyspace notification classes (Redis letters, e.g. KEA)',
  },
  {
    name: 'slowlog-log-slower-than',
    kind: 'int',
    def: '10000',
    mutable: true,
    min: -1,
    max: 2 ** 31 - 1,
    help: 'log commands slower than N microseconds (-1: off)',
  },
  { name: 'slowlog-max-len', kind: 'int', def: '128', mutable: true, min: 0, max: 2 ** 31 - 1, help: 'slow log entries kept' },
  {
    name: 'latency-tracking',
    kind: 'bool',
    def: 'no',
    mutable: true,
    help: 'per-command latency histograms (LATENCY HISTOGRAM, INFO latencystats); off by default, unlike Redis: a clock read per command costs GET/SET throughput',
  },
  {
    name: 'latency-tracking-info-percentiles',
    kind: 'string',
    def: '50 99 99.9',
    mutable: true,
    check: checkPercentiles,
    help: 'percentiles INFO latencystats reports',
  },
  {
    name: 'dir',
    kind: 'string',
    def: '.',
    mutable: true,
    protected: true,
    check: valid((v) => (isDirectory(v) ? null : 'No such file or directory')),
    help: 'directory of the RDB and AOF files',
  },
  {
    name: 'dbfilename',
    kind: 'string',
    def: 'dump.rdb',
    mutable: true,
    protected: true,
    check: valid((v) => (v.includes('/') ? "dbfilename can't be a path, just a filename" : null)),
    help: 'RDB file name',
  },
  {
    name: 'save',
    kind: 'string',
    def: '',
    mutable: true,
    check: valid((v) => (parseSaveConfig(v) === null ? 'Invalid save parameters' : null)),
    help: 'BGSAVE schedule: "<seconds> <changes> ..." ("" = none)',
  },
  { name: 'rdbcompression', kind: 'bool', def: 'yes', mutable: true, help: 'LZF-compress long strings in RDB files' },
  { name: 'appendonly', kind: 'bool', def: 'no', mutable: true, help: 'log every write to the append-only file' },
  { name: 'appendfilename', kind: 'string', def: 'appendonly.aof', mutable: false, help: 'AOF file name (in dir)' },
  {
    name: 'appendfsync',
    kind: 'enum',
    def: 'everysec',
    mutable: true,
    values: ['always', 'everysec', 'no'],
    help: 'when the AOF is fsynced',
  },
  {
    name: 'auto-aof-rewrite-percentage',
    kind: 'int',
    def: '100',
    mutable: true,
    min: 0,
    max: 2 ** 31,
    help: 'rewrite the AOF when it grew by this % since the last rewrite (0 = never)',
  },
  {
    name: 'auto-aof-rewrite-min-size',
    kind: 'memory',
    def: String(64 * 1024 * 1024),
    mutable: true,
    min: 0,
    max: 2 ** 53,
    help: 'smallest AOF that is rewritten automatically',
  },
  { name: 'aof-load-truncated', kind: 'bool', def: 'yes', mutable: true, help: 'load a truncated AOF up to its last complete command' },
  {
    name: 'maxmemory',
    kind: 'memory',
    def: '0',
    mutable: true,
    min: 0,
    max: 2 ** 53,
    help: 'memory limit for data (0 = none), split evenly over the shards',
  },
  {
    name: 'maxmemory-policy',
    kind: 'enum',
    def: 'noeviction',
    mutable: true,
    values: [
      'volatile-lru',
      'allkeys-lru',
      'volatile-lfu',
      'allkeys-lfu',
      'volatile-random',
      'allkeys-random',
      'volatile-ttl',
      'noeviction',
    ],
    help: 'which keys go when maxmemory is reached',
  },
  { name: 'maxmemory-samples', kind: 'int', def: '5', mutable: true, min: 1, max: 64, help: 'keys sampled per eviction' },
  {
    name: 'tracking-table-max-keys',
    kind: 'int',
    def: '1000000',
    mutable: true,
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    help: 'keys the client-tracking table holds before it invalidates the oldest (0: no limit)',
  },
  {
    name: 'tls-port',
    kind: 'int',
    def: '0',
    mutable: false,
    min: 0,
    max: 65535,
    help: 'TLS port to listen on (0 = none; with port 0, TLS only)',
  },
  { name: 'tls-cert-file', kind: 'string', def: '', mutable: true, help: 'server certificate chain (PEM)' },
  { name: 'tls-key-file', kind: 'string', def: '', mutable: true, help: 'private key of the server certificate (PEM)' },
  { name: 'tls-key-file-pass', kind: 'string', def: '', mutable: true, help: 'passphrase of tls-key-file' },
  {
    name: 'tls-client-cert-file',
    kind: 'string',
    def: '',
    mutable: true,
    help: 'certificate for outgoing connections (stored: Sabre has no replication or cluster yet)',
  },
  { name: 'tls-client-key-file', kind: 'string', def: '', mutable: true, help: 'private key of tls-client-cert-file' },
  { name: 'tls-client-key-file-pass', kind: 'string', def: '', mutable: true, help: 'passphrase of tls-client-key-file' },
  { name: 'tls-dh-params-file', kind: 'string', def: '', mutable: true, help: 'DH parameters for DHE ciphers (PEM)' },
  {
    name: 'tls-ca-cert-file',
    kind: 'string',
    def: '',
    mutable: true,
    help: 'CA certificates that client certificates are checked against',
  },
  { name: 'tls-ca-cert-dir', kind: 'string', def: '', mutable: true, help: 'directory of CA certificates (every PEM file in it)' },
  {
    name: 'tls-auth-clients',
    kind: 'enum',
    def: 'yes',
    mutable: true,
    values: ['no', 'yes', 'optional'],
    help: 'client certificates: required, not asked for, or checked when given',
  },
  { name: 'tls-protocols', kind: 'string', def: '', mutable: true, help: 'enabled protocols, e.g. "TLSv1.2 TLSv1.3" ("" = those two)' },
  { name: 'tls-ciphers', kind: 'string', def: '', mutable: true, help: 'TLSv1.2 and older cipher list (OpenSSL syntax; "" = default)' },
  { name: 'tls-ciphersuites', kind: 'string', def: '', mutable: true, help: 'TLSv1.3 cipher suites ("" = default)' },
  { name: 'tls-prefer-server-ciphers', kind: 'bool', def: 'no', mutable: true, help: "prefer the server's cipher order" },
  { name: 'tls-session-caching', kind: 'bool', def: 'yes', mutable: true, help: 'TLS session resumption (tickets and session ids)' },
  {
    name: 'tls-session-cache-size',
    kind: 'int',
    def: '20480',
    mutable: true,
    min: 0,
    max: 2 ** 31 - 1,
    help: 'sessions kept for session-id resumption (0 = no limit)',
  },
  {
    name: 'tls-session-cache-timeout',
    kind: 'int',
    def: '300',
    mutable: true,
    min: 0,
    max: 2 ** 31 - 1,
    help: 'seconds a cached TLS session stays valid',
  },
  {
    name: 'tls-replication',
    kind: 'bool',
    def: 'no',
    mutable: true,
    help: 'TLS for replication links (stored: Sabre has no replication yet)',
  },
  { name: 'tls-cluster', kind: 'bool', def: 'no', mutable: true, help: 'TLS for the cluster bus (stored: Sabre has no cluster yet)' },
  { name: 'cluster-enabled', kind: 'bool', def: 'no', mutable: false, help: 'run as a Redis Cluster node' },
  {
    name: 'cluster-config-file',
    kind: 'string',
    def: 'nodes.conf',
    mutable: false,
    help: "the cluster's state file (Redis's nodes.conf format)",
  },
  {
    name: 'cluster-node-timeout',
    kind: 'int',
    def: '15000',
    mutable: true,
    min: 0,
    max: 2 ** 31 - 1,
    help: 'ms before an unreachable node is suspected (PFAIL)',
  },
  { name: 'cluster-port', kind: 'int', def: '0', mutable: false, min: 0, max: 65535, help: 'cluster bus port (0: port + 10000)' },
  { name: 'cluster-announce-ip', kind: 'string', def: '', mutable: true, help: 'address announced to the other nodes' },
  { name: 'cluster-announce-port', kind: 'int', def: '0', mutable: true, min: 0, max: 65535, help: 'client port announced (0: port)' },
  { name: 'cluster-announce-tls-port', kind: 'int', def: '0', mutable: true, min: 0, max: 65535, help: 'TLS client port announced' },
  {
    name: 'cluster-announce-bus-port',
    kind: 'int',
    def: '0',
    mutable: true,
    min: 0,
    max: 65535,
    help: 'bus port announced (0: cluster-port)',
  },
  { name: 'cluster-announce-hostname', kind: 'string', def: '', mutable: true, help: 'hostname announced to the other nodes' },
  {
    name: 'cluster-preferred-endpoint-type',
    kind: 'enum',
    def: 'ip',
    mutable: true,
    values: ['ip', 'hostname', 'unknown-endpoint'],
    help: 'what MOVED/ASK and CLUSTER SLOTS name a node by',
  },
  {
    name: 'cluster-require-full-coverage',
    kind: 'bool',
    def: 'yes',
    mutable: true,
    help: 'the cluster is down while some slot is unserved',
  },
  { name: 'cluster-allow-reads-when-down', kind: 'bool', def: 'no', mutable: true, help: 'serve reads while the cluster is down' },
  {
    name: 'cluster-allow-pubsubshard-when-down',
    kind: 'bool',
    def: 'yes',
    mutable: true,
    help: 'serve shard channels while the cluster is down',
  },
  {
    name: 'cluster-replica-validity-factor',
    kind: 'int',
    def: '10',
    mutable: true,
    min: 0,
    max: 2 ** 31 - 1,
    help: 'replica data age limit for failover',
  },
  {
    name: 'cluster-allow-replica-migration',
    kind: 'bool',
    def: 'yes',
    mutable: true,
    help: 'replicas may move to orphaned masters',
  },
  {
    name: 'cluster-migration-barrier',
    kind: 'int',
    def: '1',
    mutable: true,
    min: 0,
    max: 2 ** 31 - 1,
    help: 'replicas a master keeps before one migrates to an orphaned master',
  },
  {
    name: 'cluster-replica-no-failover',
    kind: 'bool',
    def: 'no',
    mutable: true,
    help: 'this replica never fails over',
  },
  {
    name: 'cluster-link-sendbuf-limit',
    kind: 'memory',
    def: '0',
    mutable: true,
    min: 0,
    help: 'bytes a bus link may queue before it is freed (0: no limit)',
  },
];

const BY_NAME = new Map(PARAMS.map((p) => [p.name, p]));
for (const p of PARAMS) if (p.alias !== undefined) BY_NAME.set(p.alias, p);
/** Every name CONFIG GET lists: each parameter's, then its alias (Redis 7.0 lists both). */
const ALL_NAMES = PARAMS.flatMap((p) => (p.alias === undefined ? [p.name] : [p.name, p.alias]));

/** Parses "100mb"-style sizes as Redis does (k/kb/m/mb/g/gb, case-insensitive). */
export function parseMemory(v: string): number | null {
  const m = /^(\d+)(k|kb|m|mb|g|gb|b)?$/i.exec(v.trim());
  if (!m) return null;
  const unit = (m[2] ?? '').toLowerCase();
  const mul =
    unit === 'k'
      ? 1000
      : unit === 'kb'
        ? 1024
        : unit === 'm'
          ? 1e6
          : unit === 'mb'
            ? 1024 ** 2
            : unit === 'g'
              ? 1e9
              : unit === 'gb'
                ? GB
                : 1;
  return Number(m[1]) * mul;
}

/** Validates and normalizes a value; returns the stored text or an error reason. */
function normalize(p: Param, raw: string, current = p.def): { value: string } | { error: string } {
  switch (p.kind) {
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) return { error: "argument couldn't be parsed into an integer" };
      const n = Number(raw);
      if ((p.min !== undefined && n < p.min) || (p.max !== undefined && n > p.max)) {
        return { error: `argument must be between ${p.min} and ${p.max} inclusive` };
      }
      return { value: String(n) };
    }
    case 'memory': {
      const n = parseMemory(raw);
      if (n === null) return { error: 'argument must be a memory value' };
      if ((p.min !== undefined && n < p.min) || (p.max !== undefined && n > p.max)) {
        return { error: `argument must be between ${p.min} and ${p.max} inclusive` };
      }
      return { value: String(n) };
    }
    case 'bool': {
      const v = raw.toLowerCase();
      if (v !== 'yes' && v !== 'no') return { error: "argument must be 'yes' or 'no'" };
      return { value: v };
    }
    case 'enum': {
      const v = raw.toLowerCase();
      if (!p.values!.includes(v)) return { error: `argument(s) must be one of the following: ${p.values!.join(', ')}` };
      return { value: v };
    }
    default:
      return p.check !== undefined ? p.check(raw, current) : { value: raw };
  }
}

/** A `user` directive of the config file or command line: the user's name and rules, and where it came from. */
export interface UserDirective {
  args: string[];
  origin: string;
}

/** One parameter as CONFIG REWRITE sees it. */
export interface ConfigEntry {
  name: string;
  alias: string | undefined;
  kind: Kind;
  value: string;
  /** The value is not the default. */
  changed: boolean;
}

/** Live configuration values, by parameter name. */
export class ServerConfig {
  private readonly values = new Map<string, string>();
  /** Listeners run after a successful CONFIG SET of their parameter, in the order they registered. */
  private readonly listeners = new Map<string, ((v: string) => void)[]>();
  /** Run-time bounds beyond the table's (maxclients under the descriptor limit): an error reason or null. */
  private readonly guards = new Map<string, (v: string) => string | null>();
  /** Apply steps that may refuse a CONFIG SET after its values are stored (Redis's apply functions). */
  private readonly appliers = new Map<string, () => string | null>();
  /** ACL users declared with `user` lines (loaded at start-up, like Redis's UsersToLoad). */
  readonly users: UserDirective[] = [];
  /** The config file the server started with, as an absolute path (CONFIG REWRITE writes it back); null: none. */
  file: string | null = null;

  constructor() {
    for (const p of PARAMS) this.values.set(p.name, p.def);
  }

  /** Current value as text (by name or alias, any case). */
  get(name: string): string {
    const v = this.values.get(name);
    if (v !== undefined) return v;
    const p = BY_NAME.get(name.toLowerCase());
    return (p === undefined ? undefined : this.values.get(p.name))!;
  }

  /** Current value of a numeric parameter. */
  num(name: string): number {
    return Number(this.values.get(name));
  }

  /** Sets a value at start-up (file or flag); throws ConfigError on bad input. */
  load(name: string, raw: string, origin: string): void {
    const p = BY_NAME.get(name.toLowerCase());
    if (!p) throw new ConfigError(`${origin}: unknown option '${name}'`);
    const r = normalize(p, raw, this.values.get(p.name));
    if ('error' in r) throw new ConfigError(`${origin}: bad value for '${p.name}': ${r.error}`);
    this.values.set(p.name, r.value);
  }

  /**
   * CONFIG SET of several parameters, all or nothing as in Redis 7.0: every value is checked
   * before any is applied. `allowProtected`: the client may set protected configs (dir,
   * dbfilename). Returns null, or `[parameter, reason]` for the error reply.
   */
  setAll(pairs: [string, string][], allowProtected: boolean): [string, string] | null {
    const seen = new Set<string>();
    const checked: [Param, string][] = [];
    for (const [name, raw] of pairs) {
      // Errors name the parameter as given (an alias stays an alias); the alias and its name are two parameters to Redis.
      const given = name.toLowerCase();
      const p = BY_NAME.get(given)!;
      if (seen.has(given)) return [given, 'duplicate parameter'];
      seen.add(given);
      if (!p.mutable) return [given, "can't set immutable config"];
      if (p.protected === true && !allowProtected) return [given, "can't set protected config"];
      const r = normalize(p, raw, this.values.get(p.name));
      if ('error' in r) return [given, r.error];
      const refused = this.guards.get(p.name)?.(r.value) ?? null;
      if (refused !== null) return [given, refused];
      checked.push([p, r.value]);
    }
    const previous = checked.map(([p]) => this.values.get(p.name)!);
    for (const [p, v] of checked) this.values.set(p.name, v);
    // Each apply step runs once, seeing every new value; one that fails puts all of them back.
    const ran = new Set<() => string | null>();
    for (const [p] of checked) {
      const apply = this.appliers.get(p.name);
      if (apply === undefined || ran.has(apply)) continue;
      ran.add(apply);
      const reason = apply();
      if (reason !== null) {
        for (let i = 0; i < checked.length; i++) this.values.set(checked[i]![0].name, previous[i]!);
        return [p.name, reason];
      }
    }
    for (const [p, v] of checked) for (const fn of this.listeners.get(p.name) ?? []) fn(v);
    return null;
  }

  /** Sets a value the server worked out itself (maxclients fitted to the descriptor limit); no checks. */
  override(name: string, value: string): void {
    this.values.set(name, value);
  }

  /** Adds a run-time check to CONFIG SET of a parameter: it returns the error reason, or null to accept. */
  guard(name: string, fn: (v: string) => string | null): void {
    this.guards.set(name, fn);
  }

  /** Adds a `user <name> <rules...>` directive (text as read, turned into latin1 bytes as ACL rules are kept). */
  addUser(args: string[], origin: string): void {
    if (args.length === 0) throw new ConfigError(`${origin}: 'user' needs a user name`);
    this.users.push({ args: args.map((a) => Buffer.from(a, 'utf8').toString('latin1')), origin });
  }

  /** True if the parameter exists. */
  has(name: string): boolean {
    return BY_NAME.has(name.toLowerCase());
  }

  /** Registers a callback for live changes of a parameter (several may listen to one). */
  onChange(name: string, fn: (v: string) => void): void {
    const list = this.listeners.get(name);
    if (list === undefined) this.listeners.set(name, [fn]);
    else list.push(fn);
  }

  /**
   * Registers an apply step for CONFIG SET of a parameter: it runs after the new values are
   * stored and returns null, or the reason to refuse them (the previous values are restored).
   * Parameters sharing one function are applied once per CONFIG SET.
   */
  onApply(name: string, fn: () => string | null): void {
    this.appliers.set(name, fn);
  }

  /** Every parameter in table order with its current value and whether that differs from the default (CONFIG REWRITE). */
  entries(): ConfigEntry[] {
    return PARAMS.map((p) => {
      const value = this.values.get(p.name)!;
      const def = normalize(p, p.def);
      return { name: p.name, alias: p.alias, kind: p.kind, value, changed: 'value' in def ? def.value !== value : true };
    });
  }

  /** Every parameter name and alias, in table order (CONFIG GET *). */
  names(): string[] {
    return ALL_NAMES;
  }
}

/** Splits a redis.conf line into arguments (double quotes allowed around values). */
function splitConfLine(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}

/** Reads a redis.conf-style file into the config. */
export function loadConfigFile(cfg: ServerConfig, path: string): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file '${path}': ${(err as Error).message}`);
  }
  cfg.file = resolve(path);
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) return;
    const [name, ...rest] = splitConfLine(t);
    if (name!.toLowerCase() === 'user') cfg.addUser(rest, `${path}:${i + 1}`);
    else cfg.load(name!, rest.join(' '), `${path}:${i + 1}`);
  });
}

export const SERVER_USAGE = `usage: sabre server [--config FILE] [--port N] [--bind ADDR] [--shards N] [--requirepass PASS] [--<option> VALUE]...

Every option of the config file may be given as a flag (redis-server style):
  --user "NAME RULES..."                 an ACL user, as a 'user' line of the config file (repeatable)
${PARAMS.map((p) => `  --${p.name.padEnd(34)} ${p.help} (default: ${p.def === '' ? '""' : p.def})`).join('\n')}
`;

/**
 * redis-server's reading of its command line: every word after `--name` up to the next `--` word is
 * part of the value, joined by spaces (`--save 900 1`, `--slowlog-log-slower-than -1`), and a bare
 * `--save` means `--save ""`. Such options become `--name=value` for parseArgs, which would take `-1`
 * for a flag and refuse a second word.
 */
function redisStyleArgs(argv: string[], valued: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : '';
    if (!valued.has(name)) {
      out.push(a);
      continue;
    }
    const words: string[] = [];
    while (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) words.push(argv[++i]!);
    if (words.length > 0 || name === 'save') out.push(`--${name}=${words.join(' ')}`);
    else out.push(a);
  }
  return out;
}

/** Builds the configuration from argv: the file first (if any), then flags override it. */
export function parseServerArgs(argv: string[]): { config: ServerConfig; help: boolean } {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {
    config: { type: 'string' },
    help: { type: 'boolean' },
    user: { type: 'string', multiple: true },
  };
  for (const name of ALL_NAMES) options[name] = { type: 'string' };
  const valued = new Set(Object.keys(options).filter((name) => options[name]!.type === 'string'));
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: redisStyleArgs(argv, valued), options, allowPositionals: false, strict: true });
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}\n\n${SERVER_USAGE}`);
  }
  const cfg = new ServerConfig();
  const v = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (typeof v.config === 'string') loadConfigFile(cfg, v.config);
  for (const line of (v.user as string[] | undefined) ?? []) cfg.addUser(splitConfLine(line), '--user');
  for (const name of ALL_NAMES) {
    const f = v[name];
    if (typeof f === 'string') cfg.load(name, f, `--${name}`);
  }
  return { config: cfg, help: v.help === true };
}

/** A value of a server option given in code: numbers are written out, booleans become yes/no. */
export type ServerOptionValue = string | number | boolean;

/** Builds the configuration from a `{ name: value }` object (redis.conf names), with the same checks as the file and flags. */
export function serverConfigFromOptions(options: Readonly<Record<string, ServerOptionValue | undefined>>): ServerConfig {
  const cfg = new ServerConfig();
  for (const [name, v] of Object.entries(options)) {
    if (v === undefined) continue;
    if (name === 'user' && typeof v === 'string') {
      // One user per line: `user: 'alice on >pw ~* +@all\nbob on nopass +get'`.
      for (const line of v.split('\n')) if (line.trim() !== '') cfg.addUser(splitConfLine(line.trim()), 'server options');
      continue;
    }
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw new ConfigError(`server options: bad value for '${name}': expected a string, number or boolean`);
    }
    cfg.load(name, typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v), 'server options');
  }
  return cfg;
}
