#!/usr/bin/env node
// Replication, Sabre master → Sabre replica against Redis → Redis, in alternating rounds (redis,
// sabre, redis, sabre, ...), medians quoted, the load average noted with each run:
//   (a) full sync of N keys: time from REPLICAOF to master_link_status:up with every key there, and
//       the bytes the master sent (counted by a pass-through TCP relay the replica connects through);
//   (b) master write throughput with one replica attached: redis-benchmark -t set -P 16;
//   (c) replication lag under that load: master_repl_offset − the replica's slave_repl_offset,
//       both asked at once every 10 ms, p50/p99/max.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  RESULTS_DIR,
  cleanup,
  commandLine,
  machineInfo,
  median,
  positiveInt,
  requireTool,
  runMain,
  serverSpecs,
  sleep,
  startServer,
  stopServer,
  stopping,
  track,
} from './lib/servers.mjs';

const USAGE = `usage: node native-bench/repl-compare.mjs [options]
  --keys N         keys for the full sync (default 1000000)
  --requests N     redis-benchmark -n for the write test (default 500000)
  --keyspace N     redis-benchmark -r (default 100000)
  --pipeline N     redis-benchmark -P (default 16)
  --clients N      redis-benchmark -c (default 50)
  --rounds N       alternating rounds per part; medians are quoted (default 3)
  --parts LIST     sync,write (default both)
  --shards N       passed to 'sabre server --shards N'
  --out FILE       results file (default native-bench/results/replication.md; only this script's section is replaced)`;

const BEGIN = '<!-- repl-compare:begin -->';
const END = '<!-- repl-compare:end -->';

function options() {
  const { values } = parseArgs({
    options: {
      keys: { type: 'string', default: '1000000' },
      requests: { type: 'string', default: '500000' },
      keyspace: { type: 'string', default: '100000' },
      pipeline: { type: 'string', default: '16' },
      clients: { type: 'string', default: '50' },
      rounds: { type: 'string', default: '3' },
      parts: { type: 'string', default: 'sync,write' },
      shards: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name) => positiveInt(values, name, USAGE);
  const parts = values.parts.split(',').map((p) => p.trim());
  for (const p of parts) if (p !== 'sync' && p !== 'write') throw new Error(`unknown part '${p}'\n${USAGE}`);
  return {
    keys: int('keys'),
    requests: int('requests'),
    keyspace: int('keyspace'),
    pipeline: int('pipeline'),
    clients: int('clients'),
    rounds: int('rounds'),
    parts,
    shards: values.shards ? int('shards') : undefined,
    out: values.out ?? path.join(RESULTS_DIR, 'replication.md'),
  };
}

/** A persistent RESP connection for INFO/DBSIZE/REPLICAOF polling (one reply at a time). */
class Conn {
  constructor(port) {
    this.port = port;
    this.buf = Buffer.alloc(0);
    this.waiting = null;
  }
  open() {
    return new Promise((resolve, reject) => {
      this.sock = net.connect({ host: '127.0.0.1', port: this.port }, resolve);
      this.sock.on('error', (e) => (this.waiting ? this.waiting.reject(e) : reject(e)));
      this.sock.on('data', (d) => {
        this.buf = Buffer.concat([this.buf, d]);
        this.tryReply();
      });
    });
  }
  tryReply() {
    if (this.waiting === null) return;
    const eol = this.buf.indexOf('\r\n');
    if (eol < 0) return;
    const head = this.buf.subarray(0, eol).toString();
    let value;
    let used;
    if (head[0] === '$') {
      const len = Number(head.slice(1));
      if (this.buf.length < eol + 2 + len + 2) return;
      value = this.buf.subarray(eol + 2, eol + 2 + len).toString();
      used = eol + 2 + len + 2;
    } else {
      value = head.slice(1);
      used = eol + 2;
    }
    this.buf = this.buf.subarray(used);
    const w = this.waiting;
    this.waiting = null;
    if (head[0] === '-') w.reject(new Error(value));
    else w.resolve(value);
  }
  cmd(...args) {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
  }
  close() {
    this.sock?.destroy();
  }
}

/** One field of an INFO reply. */
function field(info, name) {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/** A pass-through relay to `port` counting the bytes that flow from it to the client (the master's output to its replica). */
function countingRelay(port) {
  const relay = { bytes: 0, port: 0, server: null };
  relay.server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port });
    upstream.on('data', (d) => (relay.bytes += d.length));
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  return new Promise((resolve) =>
    relay.server.listen(0, '127.0.0.1', () => {
      relay.port = relay.server.address().port;
      resolve(relay);
    }),
  );
}

/** Loads `n` keys key:<i> = value:<i> (DEBUG POPULATE's shape) with redis-cli --pipe. */
async function fill(port, n) {
  const child = track(spawn('redis-cli', ['-p', String(port), '--pipe'], { stdio: ['pipe', 'ignore', 'inherit'] }));
  const done = new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`redis-cli --pipe exited ${code}`)))),
  );
  for (let i = 0; i < n; ) {
    let chunk = '';
    for (const end = Math.min(n, i + 10000); i < end; i++) {
      const k = `key:${i}`;
      const v = `value:${i}`;
      chunk += `*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`;
    }
    if (!child.stdin.write(chunk)) await new Promise((r) => child.stdin.once('drain', r));
  }
  child.stdin.end();
  await done;
}

/** A server spec with extra flags after its own (each server in its own temp dir, so nothing lands in the repo). */
function withFlags(spec, flags) {
  if (!spec.substitute) return { ...spec, argv: (port) => [...spec.argv(port), ...flags] };
  // A substitute (SABRE_CMD/REDIS_CMD) is one shell line: the flags go at its end.
  const quote = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);
  const line = (port) => `${spec.display(port)} ${flags.map(quote).join(' ')}`;
  return { ...spec, argv: (port) => ['/bin/sh', '-c', `exec ${line(port)}`], display: line };
}

/** Flags both servers take alike: a private dir, diskless sync without Redis's 5 s wait for more replicas. */
function nodeFlags(dir) {
  return ['--dir', dir, '--save', '', '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'];
}

/** Waits until `check` returns true, polling every `ms`. */
async function until(what, check, ms = 10, boundMs = 600_000) {
  const end = Date.now() + boundMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(ms);
  }
}

/** (a) One full sync: master filled with `keys` keys, an empty replica told REPLICAOF through the counting relay. */
async function fullSync(spec, o) {
  const dirs = [mkdtempSync(path.join(os.tmpdir(), 'repl-bench-m-')), mkdtempSync(path.join(os.tmpdir(), 'repl-bench-r-'))];
  const master = await startServer(withFlags(spec, nodeFlags(dirs[0])));
  const replica = await startServer(withFlags(spec, nodeFlags(dirs[1])));
  const relay = await countingRelay(master.port);
  const rc = new Conn(replica.port);
  try {
    await fill(master.port, o.keys);
    await rc.open();
    const load = os.loadavg()[0];
    const t0 = performance.now();
    await rc.cmd('REPLICAOF', '127.0.0.1', String(relay.port));
    await until('the replica to finish the full sync', async () => {
      const info = await rc.cmd('INFO', 'replication');
      if (field(info, 'master_link_status') !== 'up') return false;
      return Number(await rc.cmd('DBSIZE')) === o.keys;
    });
    return { ms: performance.now() - t0, bytes: relay.bytes, load };
  } finally {
    rc.close();
    relay.server.close();
    await stopServer(replica);
    await stopServer(master);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

/** Percentile `p` (0..100) of a sorted list. */
function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** The same redis-benchmark run against a server without replicas: the baseline the replica's cost is read against. */
async function writeAlone(spec, o) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'repl-bench-m-'));
  const master = await startServer(withFlags(spec, nodeFlags(dir)));
  try {
    const load = os.loadavg()[0];
    return { rps: await benchmarkSet(master.port, o), load };
  } finally {
    await stopServer(master);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** redis-benchmark -t set against `port`; resolves with SET/s. */
async function benchmarkSet(port, o) {
  const args = [
    '-p',
    String(port),
    '-t',
    'set',
    '-P',
    String(o.pipeline),
    '-n',
    String(o.requests),
    '-r',
    String(o.keyspace),
    '-c',
    String(o.clients),
    '--csv',
  ];
  const out = await new Promise((resolve, reject) => {
    const child = track(spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'inherit'] }));
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`redis-benchmark exited ${code}`))));
  });
  const line = out.split('\n').find((l) => l.startsWith('"SET"'));
  if (!line) throw new Error(`no SET line in redis-benchmark output:\n${out}`);
  return Number(line.split(',')[1].replaceAll('"', ''));
}

/** (b)+(c) redis-benchmark against a master with one replica attached, sampling the replication lag every 10 ms. */
async function writeLoad(spec, o) {
  const dirs = [mkdtempSync(path.join(os.tmpdir(), 'repl-bench-m-')), mkdtempSync(path.join(os.tmpdir(), 'repl-bench-r-'))];
  const master = await startServer(withFlags(spec, nodeFlags(dirs[0])));
  const replica = await startServer(withFlags(spec, nodeFlags(dirs[1])));
  const mc = new Conn(master.port);
  const rc = new Conn(replica.port);
  try {
    await mc.open();
    await rc.open();
    await rc.cmd('REPLICAOF', '127.0.0.1', String(master.port));
    await until('the replica link', async () => field(await rc.cmd('INFO', 'replication'), 'master_link_status') === 'up', 50);
    const lags = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        // Both asked at once: asking one after the other would hide (or add) the time between the two answers.
        const [mi, ri] = await Promise.all([mc.cmd('INFO', 'replication'), rc.cmd('INFO', 'replication')]);
        lags.push(Math.max(0, Number(field(mi, 'master_repl_offset')) - Number(field(ri, 'slave_repl_offset'))));
        await sleep(10);
      }
    })();
    const load = os.loadavg()[0];
    const rps = await benchmarkSet(master.port, o);
    sampling = false;
    await sampler;
    // The replica must end with everything: the figures are for a replica that kept up, not one left behind.
    await until('the replica to catch up after the load', async () => {
      const m = Number(field(await mc.cmd('INFO', 'replication'), 'master_repl_offset'));
      return Number(field(await rc.cmd('INFO', 'replication'), 'slave_repl_offset')) === m;
    });
    const sorted = lags.sort((a, b) => a - b);
    return { rps, p50: pct(sorted, 50), p99: pct(sorted, 99), max: sorted[sorted.length - 1] ?? NaN, samples: sorted.length, load };
  } finally {
    mc.close();
    rc.close();
    await stopServer(replica);
    await stopServer(master);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '–');
const mib = (b) => `${fmt(b / 1048576, 1)} MiB`;

/** The markdown section this script owns in the results file. */
function section(o, specs, results) {
  const m = machineInfo();
  const lines = [
    BEGIN,
    '## Sabre → Sabre against Redis → Redis (native-bench/repl-compare.mjs)',
    '',
    `Reproduce: \`${commandLine()}\` (after \`npm run build\`). ${new Date().toISOString()}.`,
    '',
    `Machine: ${m.nproc} × ${m.cpuModel}, ${m.totalMemGiB} GiB, ${m.kernel}, Node ${m.node}, Redis ${m.redisVersion}; load average at the end ${m.loadavg}.`,
    'Each run starts fresh servers on 127.0.0.1 (both with',
    '`--save "" --repl-diskless-sync yes --repl-diskless-sync-delay 0`), alternating redis, sabre, redis, sabre…;',
    `medians of ${o.rounds} rounds; the 1-minute load average is noted at the start of each run (the machine is shared).`,
    '',
    `- Redis: \`${specs.redis.argv(0).join(' ')}\``,
    `- Sabre: \`${specs.sabre.argv(0).join(' ')}\``,
    '',
  ];
  if (results.sync) {
    const { redis, sabre } = results.sync;
    const row = (name, rs) =>
      `| ${name} | ${fmt(median(rs.map((r) => r.ms)))} | ${rs.map((r) => fmt(r.ms)).join(' / ')} | ${mib(median(rs.map((r) => r.bytes)))} | ${rs.map((r) => fmt(r.load, 2)).join(' / ')} |`;
    lines.push(
      `### (a) Full sync of ${fmt(o.keys)} keys`,
      '',
      "Time from REPLICAOF to `master_link_status:up` with DBSIZE equal to the master's; bytes the master sent to the",
      'replica over the link (counted by a TCP relay in between, the same for both).',
      '',
      '| server | median ms | runs (ms) | bytes sent | load avg per run |',
      '| --- | ---: | --- | ---: | --- |',
      row('Redis → Redis', redis),
      row('Sabre → Sabre', sabre),
      '',
      `Sabre/Redis time: ${fmt(median(sabre.map((r) => r.ms)) / median(redis.map((r) => r.ms)), 2)}×.`,
      '',
    );
  }
  if (results.write) {
    const { redis, sabre } = results.write;
    const alone = results.alone;
    const row = (name, rs, base) =>
      `| ${name} | ${fmt(median(rs.map((r) => r.rps)))} | ${rs.map((r) => fmt(r.rps)).join(' / ')} | ${fmt(median(base.map((r) => r.rps)))} | ${fmt(median(rs.map((r) => r.p50)))} | ${fmt(median(rs.map((r) => r.p99)))} | ${fmt(median(rs.map((r) => r.max)))} | ${rs.map((r) => fmt(r.load, 2)).join(' / ')} |`;
    const ratio = median(sabre.map((r) => r.rps)) / median(redis.map((r) => r.rps));
    lines.push(
      `### (b) Master write throughput with one replica, (c) replication lag under that load`,
      '',
      `\`redis-benchmark -t set -P ${o.pipeline} -n ${o.requests} -r ${o.keyspace} -c ${o.clients}\` against the master while its replica`,
      "streams; lag = master_repl_offset − the replica's slave_repl_offset in bytes, both asked at once every 10 ms during the run",
      "(each run also waits for the replica to reach the master's offset afterwards).",
      '',
      '| server | median SET/s | runs (SET/s) | same, no replica (median SET/s) | lag p50 (B) | lag p99 (B) | lag max (B) | load avg per run |',
      '| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |',
      row('Redis + replica', redis, alone.redis),
      row('Sabre + replica', sabre, alone.sabre),
      '',
      `Sabre/Redis throughput with a replica: **${fmt(ratio, 2)}×** (the issue asks for ≥ 0.8×).`,
      '',
    );
  }
  lines.push(END);
  return lines.join('\n');
}

/** Replaces this script's section of the results file (or appends it), keeping whatever else the file holds. */
function writeSection(file, text) {
  let old = '';
  try {
    old = readFileSync(file, 'utf8');
  } catch {
    old = '# Replication benchmarks\n';
  }
  const a = old.indexOf(BEGIN);
  const b = old.indexOf(END);
  const next = a >= 0 && b > a ? `${old.slice(0, a)}${text}${old.slice(b + END.length)}` : `${old.trimEnd()}\n\n${text}\n`;
  writeFileSync(file, next);
}

async function main() {
  const o = options();
  requireTool('redis-server');
  requireTool('redis-benchmark');
  requireTool('redis-cli');
  const specs = serverSpecs({ shards: o.shards });
  const results = {};
  const alone = { redis: [], sabre: [] };
  results.alone = alone;
  for (const part of o.parts) {
    const runs = { redis: [], sabre: [] };
    for (let round = 0; round < o.rounds && !stopping; round++) {
      for (const name of ['redis', 'sabre']) {
        if (part === 'write') {
          const base = await writeAlone(specs[name], o);
          alone[name].push(base);
          console.log(`alone round ${round + 1} ${name}: ${JSON.stringify(base)}`);
        }
        const r = part === 'sync' ? await fullSync(specs[name], o) : await writeLoad(specs[name], o);
        runs[name].push(r);
        console.log(`${part} round ${round + 1} ${name}: ${JSON.stringify(r)}`);
      }
    }
    results[part] = runs;
  }
  const text = section(o, specs, results);
  writeSection(o.out, text);
  console.log(`\n${text}\n\nwritten to ${o.out}`);
  await cleanup();
}

runMain(main);
