/**
 * `--metrics-port`: GET /metrics in Prometheus's text format, with the names redis_exporter gives
 * Redis's INFO fields (so its dashboards and alerts work unchanged) plus Sabre's own per shard.
 * A scrape reads INFO once, as redis_exporter would over the network, and the shards' shared
 * statistics blocks: nothing is collected on the command path.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Acceptor } from '../io/acceptor.js';
import type { Logger } from '../log.js';
import { infoFields, parseInfo } from '../wire/info-text.js';
import * as F from '../wire/frames.js';
import { ringUsedBytes } from '../wire/ring.js';
import type { ServerConfig } from './config.js';
import { infoText } from './info.js';

type Info = Map<string, string>;

/** A metric whose value comes from one INFO field. */
interface FieldMetric {
  name: string;
  help: string;
  field: string;
  counter?: boolean;
  /** Turns the field's text into the value (default: a number). */
  map?: (v: string) => number;
}

/** INFO field → redis_exporter's metric name. */
const FIELDS: FieldMetric[] = [
  { name: 'redis_uptime_in_seconds', help: 'Seconds since the server started', field: 'uptime_in_seconds' },
  { name: 'redis_connected_clients', help: 'Client connections', field: 'connected_clients' },
  { name: 'redis_blocked_clients', help: 'Clients in a blocking command', field: 'blocked_clients' },
  { name: 'redis_max_clients', help: 'maxclients', field: 'maxclients' },
  { name: 'redis_memory_used_bytes', help: 'Bytes of data in use', field: 'used_memory' },
  { name: 'redis_memory_used_rss_bytes', help: 'Resident set size of the process', field: 'used_memory_rss' },
  { name: 'redis_memory_used_peak_bytes', help: 'Peak of used memory', field: 'used_memory_peak' },
  { name: 'redis_memory_max_bytes', help: 'maxmemory (0: none)', field: 'maxmemory' },
  { name: 'redis_memory_used_lua_bytes', help: 'Bytes of the Lua heaps scripts and functions run in', field: 'used_memory_lua' },
  { name: 'redis_memory_used_scripts_eval_bytes', help: 'Bytes of the cached EVAL scripts', field: 'used_memory_scripts_eval' },
  { name: 'redis_memory_used_functions_bytes', help: 'Bytes of the loaded function libraries', field: 'used_memory_functions' },
  { name: 'redis_commands_processed_total', help: 'Commands processed', field: 'total_commands_processed', counter: true },
  { name: 'redis_connections_received_total', help: 'Connections accepted', field: 'total_connections_received', counter: true },
  { name: 'redis_rejected_connections_total', help: 'Connections refused (maxclients)', field: 'rejected_connections', counter: true },
  { name: 'redis_net_input_bytes_total', help: 'Bytes read from clients', field: 'total_net_input_bytes', counter: true },
  { name: 'redis_net_output_bytes_total', help: 'Bytes written to clients', field: 'total_net_output_bytes', counter: true },
  { name: 'redis_keyspace_hits_total', help: 'Successful key lookups', field: 'keyspace_hits', counter: true },
  { name: 'redis_keyspace_misses_total', help: 'Failed key lookups', field: 'keyspace_misses', counter: true },
  { name: 'redis_expired_keys_total', help: 'Keys removed on expiry', field: 'expired_keys', counter: true },
  { name: 'redis_evicted_keys_total', help: 'Keys evicted by maxmemory', field: 'evicted_keys', counter: true },
  { name: 'redis_errors_total', help: 'Error replies', field: 'total_error_replies', counter: true },
  { name: 'redis_connected_slaves', help: 'Replicas connected', field: 'connected_slaves' },
  { name: 'redis_rdb_changes_since_last_save', help: 'Writes since the last snapshot', field: 'rdb_changes_since_last_save' },
  {
    name: 'redis_rdb_last_bgsave_status',
    help: '1 when the last BGSAVE succeeded',
    field: 'rdb_last_bgsave_status',
    map: (v) => (v === 'ok' ? 1 : 0),
  },
  { name: 'redis_rdb_last_save_timestamp_seconds', help: 'When the last snapshot was saved', field: 'rdb_last_save_time' },
  { name: 'redis_aof_enabled', help: '1 when the AOF is on', field: 'aof_enabled' },
  {
    name: 'redis_aof_last_bgrewrite_status',
    help: '1 when the last AOF rewrite succeeded',
    field: 'aof_last_bgrewrite_status',
    map: (v) => (v === 'ok' ? 1 : 0),
  },
];

/** Builds the registry; `read()` is called once per scrape and its result handed to every metric. */
function buildRegistry(a: Acceptor, read: () => Info): { registry: Registry; scrape: () => Promise<string> } {
  const registry = new Registry();
  let info: Info = new Map();
  const num = (k: string): number | undefined => {
    const v = info.get(k);
    return v === undefined || Number.isNaN(Number(v)) ? undefined : Number(v);
  };
  // Counters here mirror totals the server keeps; a scrape sets them (reset + inc) rather than counting.
  const mirror = (c: Counter, value: number, labels?: Record<string, string>): void => {
    if (labels) {
      c.remove(labels);
      c.inc(labels, value);
    } else {
      c.reset();
      c.inc(value);
    }
  };

  new Gauge({
    name: 'redis_up',
    help: '1 when the server answers',
    registers: [registry],
    collect() {
      this.set(1);
    },
  });
  new Gauge({
    name: 'redis_instance_info',
    help: 'Version and role, as labels',
    labelNames: ['redis_version', 'sabre_version', 'role', 'redis_mode'],
    registers: [registry],
    collect() {
      this.reset();
      this.set(
        {
          redis_version: info.get('redis_version') ?? '',
          sabre_version: info.get('sabre_version') ?? '',
          role: info.get('role') ?? '',
          redis_mode: info.get('redis_mode') ?? '',
        },
        1,
      );
    },
  });
  for (const f of FIELDS) {
    const value = (): number | undefined => {
      const v = info.get(f.field);
      return v === undefined ? undefined : f.map ? f.map(v) : num(f.field);
    };
    if (f.counter) {
      new Counter({
        name: f.name,
        help: f.help,
        registers: [registry],
        collect() {
          const v = value();
          if (v !== undefined) mirror(this, v);
        },
      });
    } else {
      new Gauge({
        name: f.name,
        help: f.help,
        registers: [registry],
        collect() {
          const v = value();
          if (v !== undefined) this.set(v);
        },
      });
    }
  }

  const perCommand = (prefix: string, cb: (cmd: string, fields: Map<string, string>) => void): void => {
    for (const [k, v] of info) if (k.startsWith(prefix)) cb(k.slice(prefix.length), infoFields(v));
  };
  new Counter({
    name: 'redis_commands_total',
    help: 'Calls per command',
    labelNames: ['cmd'],
    registers: [registry],
    collect() {
      this.reset();
      perCommand('cmdstat_', (cmd, f) => this.inc({ cmd }, Number(f.get('calls') ?? 0)));
    },
  });
  new Counter({
    name: 'redis_commands_duration_seconds_total',
    help: 'Time spent per command',
    labelNames: ['cmd'],
    registers: [registry],
    collect() {
      this.reset();
      perCommand('cmdstat_', (cmd, f) => this.inc({ cmd }, Number(f.get('usec') ?? 0) / 1e6));
    },
  });
  new Counter({
    name: 'redis_commands_failed_calls_total',
    help: 'Calls that failed, per command',
    labelNames: ['cmd'],
    registers: [registry],
    collect() {
      this.reset();
      perCommand('cmdstat_', (cmd, f) => this.inc({ cmd }, Number(f.get('failed_calls') ?? 0)));
    },
  });
  new Counter({
    name: 'redis_errors_by_type_total',
    help: 'Error replies by error prefix',
    labelNames: ['err'],
    registers: [registry],
    collect() {
      this.reset();
      perCommand('errorstat_', (err, f) => this.inc({ err }, Number(f.get('count') ?? 0)));
    },
  });
  new Gauge({
    name: 'redis_db_keys',
    help: 'Keys per database',
    labelNames: ['db'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [k, v] of info) if (/^db\d+$/.test(k)) this.set({ db: k }, Number(infoFields(v).get('keys') ?? 0));
    },
  });
  new Gauge({
    name: 'redis_db_keys_expiring',
    help: 'Keys with a TTL per database',
    labelNames: ['db'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [k, v] of info) if (/^db\d+$/.test(k)) this.set({ db: k }, Number(infoFields(v).get('expires') ?? 0));
    },
  });
  new Gauge({
    name: 'sabre_command_latency_seconds',
    help: 'Latency percentiles per command (latency-tracking yes)',
    labelNames: ['cmd', 'quantile'],
    registers: [registry],
    collect() {
      this.reset();
      perCommand('latency_percentiles_usec_', (cmd, f) => {
        for (const [p, us] of f) this.set({ cmd, quantile: String(Number((Number(p.slice(1)) / 100).toPrecision(6))) }, Number(us) / 1e6);
      });
    },
  });

  const perShard = (g: Gauge, value: (i: number) => number): void => {
    g.reset();
    for (let i = 0; i < a.shards.length; i++) g.set({ shard: String(i) }, value(i));
  };
  new Counter({
    name: 'sabre_shard_commands_total',
    help: 'Commands each shard executed',
    labelNames: ['shard'],
    registers: [registry],
    collect() {
      this.reset();
      for (let i = 0; i < a.shards.length; i++) this.inc({ shard: String(i) }, a.shards[i]!.stats[F.ST_COMMANDS]!);
    },
  });
  new Gauge({
    name: 'sabre_shard_memory_used_bytes',
    help: 'Bytes of data each shard holds',
    labelNames: ['shard'],
    registers: [registry],
    collect() {
      perShard(this, (i) => a.shards[i]!.stats[F.ST_USED_MEMORY]!);
    },
  });
  new Gauge({
    name: 'sabre_shard_arena_bytes',
    help: 'Arena bytes each shard reserved',
    labelNames: ['shard'],
    registers: [registry],
    collect() {
      perShard(this, (i) => a.shards[i]!.stats[F.ST_ARENA_BYTES]!);
    },
  });
  new Gauge({
    name: 'sabre_shard_request_ring_bytes',
    help: 'Requests waiting in each shard’s ring',
    labelNames: ['shard'],
    registers: [registry],
    collect() {
      perShard(this, (i) => ringUsedBytes(a.shards[i]!.req.ctl));
    },
  });
  new Gauge({
    name: 'sabre_shard_reply_ring_bytes',
    help: 'Replies waiting in each shard’s reply ring',
    labelNames: ['shard'],
    registers: [registry],
    collect() {
      perShard(this, (i) => ringUsedBytes(a.shards[i]!.rep.ctl));
    },
  });
  return {
    registry,
    async scrape() {
      info = read();
      return registry.metrics();
    },
  };
}

/** Starts the metrics endpoint when `metrics-port` is set; resolves with the server (null when off). */
export async function startMetrics(a: Acceptor, cfg: ServerConfig, log: Logger): Promise<Server | null> {
  const port = cfg.num('metrics-port');
  if (port === 0) return null;
  const { registry, scrape } = buildRegistry(a, () => parseInfo(infoText(a, ['everything'])));
  const host = cfg.get('bind').split(/\s+/).filter(Boolean)[0] ?? '127.0.0.1';
  const http = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    scrape().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  log.info('metrics listening', {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${(http.address() as { port: number }).port}/metrics`,
  });
  return http;
}
