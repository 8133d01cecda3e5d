/** INFO sections and CLIENT LIST lines, built from acceptor counters and the shards' stats blocks. */
import os from 'node:os';
import { COMMANDS } from '../commands/table.js';
import type { Acceptor } from '../io/acceptor.js';
import { type Connection, TRACK_BCAST, TRACK_BROKEN_REDIRECT } from '../io/connection.js';
import * as F from '../wire/frames.js';
import { memoryPeak } from './memory-limit.js';
import { REDIS_COMPAT_VERSION, SABRE_VERSION } from '../version.js';

const DEFAULT_SECTIONS = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'errorstats', 'cluster', 'keyspace'];
const ALL_SECTIONS = [...DEFAULT_SECTIONS.slice(0, -3), 'commandstats', 'errorstats', 'latencystats', 'cluster', 'keyspace'];
/** Shard counters CONFIG RESETSTAT zeroes: the shards keep counting, INFO shows what came since. */
const RESET_SLOTS = [F.ST_HITS, F.ST_MISSES, F.ST_EXPIRED, F.ST_EVICTED];

/** Per acceptor: the shards' counters at the last CONFIG RESETSTAT. */
interface StatsBase {
  slots: Float64Array;
  cmd: Float64Array;
}
const bases = new WeakMap<Acceptor, StatsBase>();
/** Per acceptor: sections other modules provide (latencystats), and lines they add to built-in ones (stats). */
const extraSections = new WeakMap<Acceptor, Map<string, () => string[]>>();
const extraLines = new WeakMap<Acceptor, Map<string, (() => string[])[]>>();

function registry<T>(m: WeakMap<Acceptor, Map<string, T>>, a: Acceptor): Map<string, T> {
  let r = m.get(a);
  if (r === undefined) m.set(a, (r = new Map()));
  return r;
}

/** Adds an INFO section built by another module. */
export function registerInfoSection(a: Acceptor, name: string, build: () => string[]): void {
  registry(extraSections, a).set(name, build);
}

/** Adds lines another module owns to the end of a built-in INFO section. */
export function registerInfoLines(a: Acceptor, section: string, build: () => string[]): void {
  const r = registry(extraLines, a);
  r.set(section, [...(r.get(section) ?? []), build]);
}

/** Sums one stats slot over all shards. */
function sum(a: Acceptor, slot: number): number {
  let s = 0;
  for (const link of a.shards) s += link.stats[slot]!;
  return s;
}

/** A counter summed over the shards, since the last CONFIG RESETSTAT. */
function counter(a: Acceptor, slot: number): number {
  return sum(a, slot) - (bases.get(a)?.slots[slot] ?? 0);
}

/** One slot of a command's shard counters (frames.ts CS_*), summed over shards, since the last reset. */
function cmdCounter(a: Acceptor, id: number, slot: number): number {
  const i = id * F.CS_SLOTS + slot;
  let s = 0;
  for (const link of a.shards) s += link.cmdStats[i]!;
  return s - (bases.get(a)?.cmd[i] ?? 0);
}

/** Commands the shards refused before running them (OOM): the acceptor counted them as processed, Redis does not. */
function shardRefusals(a: Acceptor): number {
  let n = 0;
  for (let id = 0; id < COMMANDS.length; id++) n += cmdCounter(a, id, F.CS_REJECTED);
  return n;
}

/** CONFIG RESETSTAT: zeroes the counters INFO stats, commandstats and errorstats report. */
export function resetStats(a: Acceptor): void {
  const st = a.stats;
  st.calls.fill(0);
  st.rejected.fill(0);
  st.usec.fill(0);
  st.failed.fill(0);
  st.errors.reset();
  st.commandsProcessed = 0;
  st.connectionsReceived = 0;
  st.rejectedConnections = 0;
  st.netInputBytes = 0;
  st.netOutputBytes = 0;
  const slots = new Float64Array(F.STATS_SLOTS);
  for (const slot of RESET_SLOTS) slots[slot] = sum(a, slot);
  const cmd = new Float64Array(a.shards[0]?.cmdStats.length ?? 0);
  for (const link of a.shards) for (let i = 0; i < cmd.length; i++) cmd[i]! += link.cmdStats[i]!;
  bases.set(a, { slots, cmd });
}

function human(bytes: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v}B` : `${v.toFixed(2)}${units[u]}`;
}

function section(a: Acceptor, name: string): string[] | null {
  const cfg = a.config;
  const now = Date.now();
  switch (name) {
    case 'server': {
      const up = Math.floor((now - a.stats.startedAt) / 1000);
      return [
        `redis_version:${REDIS_COMPAT_VERSION}`,
        `sabre_version:${SABRE_VERSION}`,
        `redis_mode:${cfg.get('cluster-enabled') === 'yes' ? 'cluster' : 'standalone'}`,
        `os:${os.type()} ${os.release()} ${os.arch()}`,
        `arch_bits:64`,
        `multiplexing_api:libuv`,
        `node_version:${process.versions.node}`,
        `process_id:${process.pid}`,
        `tcp_port:${a.port}`,
        `server_time_usec:${now * 1000}`,
        `run_id:${a.stats.runId}`,
        'hz:10',
        'configured_hz:10',
        `uptime_in_seconds:${up}`,
        `uptime_in_days:${Math.floor(up / 86400)}`,
        `shards:${a.shards.length}`,
        `executable:${process.argv[1] ?? ''}`,
      ];
    }
    case 'clients':
      return [
        `connected_clients:${a.conns.size}`,
        `maxclients:${cfg.get('maxclients')}`,
        `blocked_clients:${sum(a, F.ST_BLOCKED) + a.coordinator.blockedAcross}`,
        `tracking_clients:${a.trackingClients}`,
      ];
    case 'memory': {
      const used = sum(a, F.ST_USED_MEMORY);
      const peak = memoryPeak(a);
      const rss = process.memoryUsage.rss();
      const lua = sum(a, F.ST_LUA_BYTES);
      const scriptBytes = sum(a, F.ST_SCRIPT_BYTES);
      const fnBytes = sum(a, F.ST_FUNCTION_BYTES);
      const fnCounts = a.shards[0]?.stats[F.ST_FUNCTION_COUNTS] ?? 0;
      return [
        `used_memory:${used}`,
        `used_memory_human:${human(used)}`,
        `used_memory_peak:${peak}`,
        `used_memory_peak_human:${human(peak)}`,
        `used_memory_rss:${rss}`,
        `used_memory_rss_human:${human(rss)}`,
        `used_memory_arena_reserved:${sum(a, F.ST_ARENA_BYTES)}`,
        'mem_allocator:sabre-arena',
        `total_system_memory:${os.totalmem()}`,
        `total_system_memory_human:${human(os.totalmem())}`,
        // Every shard runs scripts and functions in one Lua VM of its own, counted as the eval VM (there is no
        // second VM for functions); each shard holds every script and library, so bytes add up and counts do not.
        `used_memory_lua:${lua}`,
        `used_memory_vm_eval:${lua}`,
        `used_memory_lua_human:${human(lua)}`,
        `used_memory_scripts_eval:${scriptBytes}`,
        `number_of_cached_scripts:${a.shards[0]?.stats[F.ST_CACHED_SCRIPTS] ?? 0}`,
        `number_of_functions:${fnCounts % F.FUNCTIONS_SPAN}`,
        `number_of_libraries:${Math.floor(fnCounts / F.FUNCTIONS_SPAN)}`,
        'used_memory_vm_functions:0',
        `used_memory_vm_total:${lua}`,
        `used_memory_vm_total_human:${human(lua)}`,
        `used_memory_functions:${fnBytes}`,
        `used_memory_scripts:${scriptBytes + fnBytes}`,
        `used_memory_scripts_human:${human(scriptBytes + fnBytes)}`,
        `mem_fragmentation_ratio:${used > 0 ? (rss / used).toFixed(2) : '0.00'}`,
        `maxmemory:${cfg.get('maxmemory')}`,
        `maxmemory_human:${human(cfg.num('maxmemory'))}`,
        `maxmemory_policy:${cfg.get('maxmemory-policy')}`,
        // Eviction measures what used_memory counts (the shards' data) and nothing besides it; values are freed at once.
        'mem_not_counted_for_evict:0',
        'lazyfree_pending_objects:0',
      ];
    }
    case 'stats':
      return [
        `total_connections_received:${a.stats.connectionsReceived}`,
        `total_commands_processed:${a.stats.commandsProcessed - shardRefusals(a)}`,
        `instantaneous_ops_per_sec:${a.stats.opsPerSec()}`,
        `total_net_input_bytes:${a.stats.netInputBytes}`,
        `total_net_output_bytes:${a.stats.netOutputBytes}`,
        `rejected_connections:${a.stats.rejectedConnections}`,
        `expired_keys:${counter(a, F.ST_EXPIRED)}`,
        `evicted_keys:${counter(a, F.ST_EVICTED)}`,
        `keyspace_hits:${counter(a, F.ST_HITS)}`,
        `keyspace_misses:${counter(a, F.ST_MISSES)}`,
        `total_error_replies:${a.stats.errors.total}`,
      ];
    case 'cpu': {
      const u = process.cpuUsage();
      return [`used_cpu_sys:${(u.system / 1e6).toFixed(6)}`, `used_cpu_user:${(u.user / 1e6).toFixed(6)}`];
    }
    case 'commandstats': {
      const st = a.stats;
      const lines: string[] = [];
      for (let id = 0; id < COMMANDS.length; id++) {
        // A shard's OOM refusal was counted as a call when the acceptor sent it.
        const refused = cmdCounter(a, id, F.CS_REJECTED);
        const calls = st.calls[id]! - refused + cmdCounter(a, id, F.CS_SCRIPT_CALLS);
        const rejected = st.rejected[id]! + refused + cmdCounter(a, id, F.CS_SCRIPT_REJECTED);
        const failed = st.failed[id]! + cmdCounter(a, id, F.CS_FAILED);
        if (calls === 0 && rejected === 0 && failed === 0) continue;
        const usec = Math.round(st.usec[id]! + cmdCounter(a, id, F.CS_USEC));
        const perCall = calls === 0 ? 0 : usec / calls;
        lines.push(
          `cmdstat_${COMMANDS[id]!.name}:calls=${calls},usec=${usec},usec_per_call=${perCall.toFixed(2)},rejected_calls=${rejected},failed_calls=${failed}`,
        );
      }
      return lines;
    }
    case 'errorstats': {
      const lines: string[] = [];
      for (const [code, n] of [...a.stats.errors.byCode].sort((x, y) => (x[0] < y[0] ? -1 : 1))) lines.push(`errorstat_${code}:count=${n}`);
      return lines;
    }
    case 'keyspace': {
      const lines: string[] = [];
      const dbs = cfg.num('databases');
      for (let db = 0; db < dbs; db++) {
        const keys = sum(a, F.ST_KEYS + db);
        if (keys > 0) lines.push(`db${db}:keys=${keys},expires=${sum(a, F.ST_EXPIRES + db)},avg_ttl=0`);
      }
      return lines;
    }
    default:
      return extraSections.get(a)?.get(name)?.() ?? null;
  }
}

/** The text of INFO for the requested sections (default, all, everything, or names). */
export function infoText(a: Acceptor, requested: string[]): string {
  let names: string[];
  if (requested.length === 0 || requested.includes('default')) names = DEFAULT_SECTIONS;
  else if (requested.includes('all') || requested.includes('everything')) names = ALL_SECTIONS;
  else names = requested;
  const parts: string[] = [];
  for (const n of names) {
    const base = section(a, n);
    if (base === null) continue;
    const more = extraLines.get(a)?.get(n);
    const lines = more === undefined ? base : [...base, ...more.flatMap((f) => f())];
    parts.push(`# ${n === 'commandstats' ? 'Commandstats' : n[0]!.toUpperCase() + n.slice(1)}\r\n${lines.map((l) => `${l}\r\n`).join('')}`);
  }
  return parts.join('\r\n');
}

/** CLIENT LIST flag letters as Redis writes them (N when none applies). */
function clientFlags(c: Connection): string {
  let f = '';
  if (c.replica) f += 'S';
  if (c.monitor) f += 'O';
  if (c.master) f += 'M';
  if (c.subs.size + c.psubs.size + c.ssubs.size > 0) f += 'P';
  if (c.multi !== null) f += 'x';
  if (c.tracking !== null) f += (c.tracking.flags & TRACK_BROKEN_REDIRECT) !== 0 ? 'tR' : 't';
  if (c.tracking !== null && (c.tracking.flags & TRACK_BCAST) !== 0) f += 'B';
  if (c.closeAfterReplies) f += 'c';
  if (c.noEvict) f += 'e';
  return f === '' ? 'N' : f;
}

/** One CLIENT LIST / CLIENT INFO line with Redis 7.0's fields. */
export function clientInfoLine(c: Connection): string {
  const now = Date.now();
  const qbuf = c.inBytes;
  const omem = c.pendingOutput;
  const multiMem = c.multi === null ? 0 : c.multi.cmds.reduce((n, q) => n + q.buf.length, 0);
  return (
    `id=${c.id} addr=${c.addr} laddr=${c.laddr} fd=-1 name=${c.name} age=${Math.floor((now - c.createdAt) / 1000)} ` +
    `idle=${Math.floor((now - c.lastActive) / 1000)} flags=${clientFlags(c)} db=${c.db} sub=${c.subs.size} psub=${c.psubs.size} ssub=${c.ssubs.size} ` +
    `multi=${c.multi === null ? -1 : c.multi.cmds.length} qbuf=${qbuf} qbuf-free=0 ` +
    `argv-mem=0 multi-mem=${multiMem} rbs=${c.out.bytes.length} rbp=0 obl=0 oll=0 omem=${omem} tot-mem=${c.out.bytes.length + qbuf + omem + multiMem} events=r ` +
    `cmd=${c.lastCommand < 0 ? 'NULL' : COMMANDS[c.lastCommand]!.name} user=${c.user.name} redir=${c.tracking === null ? -1 : c.tracking.redirect} resp=${c.proto} lib-name=${c.libName} lib-ver=${c.libVer}`
  );
}
