#!/usr/bin/env node
// AOF load time, Sabre next to real Redis 7.0: writes an AOF of N commands (SET of unique keys, RPUSH
// onto 1,000 lists, INCR of 5,000 counters, in turn) in Redis 7's multi-part layout (appendonlydir/,
// one base file of commands and its manifest), starts each server with appendonly yes on a copy of
// it, and times from spawn until PING answers PONG and DBSIZE is right. An empty AOF gives each
// server's start-up time without data. Needs dist/ (npx tsc) and redis-server on PATH.
// Usage: node native-bench/aof-load-compare.mjs [--commands 200000,400000,1000000] [--shards N] [--rounds 1]
import { spawn } from 'node:child_process';
import { cpSync, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  RESULTS_DIR,
  commandLine,
  cpuSeconds,
  freePort,
  machineInfo,
  median,
  option,
  pingOnce,
  rawCommand,
  runMain,
  serverSpecs,
  sleep,
  stopServer,
  track,
  writeResult,
} from './lib/servers.mjs';

const SIZES = option('commands', '200000,400000,1000000').split(',').map(Number);
const SHARDS = option('shards', undefined);
const ROUNDS = Number(option('rounds', 1));
const LISTS = 1000;
const COUNTERS = 5000;

function resp(args) {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return s;
}

/** Writes the multi-part AOF of `n` commands under `dir`; returns the DBSIZE it must load to. */
async function writeAof(dir, n) {
  const sub = path.join(dir, 'appendonlydir');
  mkdirSync(sub, { recursive: true });
  const base = 'appendonly.aof.1.base.aof';
  const out = createWriteStream(path.join(sub, base));
  const write = (s) => (out.write(s) ? undefined : new Promise((r) => out.once('drain', r)));
  let chunk = resp(['SELECT', '0']);
  let sets = 0;
  for (let i = 0; i < n; i++) {
    if (i % 3 === 0) {
      chunk += resp(['SET', `key:${i}`, `value:${i}:${'x'.repeat(16)}`]);
      sets++;
    } else if (i % 3 === 1) chunk += resp(['RPUSH', `list:${i % LISTS}`, `element:${i}`]);
    else chunk += resp(['INCR', `counter:${i % COUNTERS}`]);
    if (chunk.length > 1 << 20) {
      await write(chunk);
      chunk = '';
    }
  }
  await write(chunk);
  await new Promise((r) => out.end(r));
  writeFileSync(path.join(sub, 'appendonly.aof.manifest'), `file ${base} seq 1 type b\n`);
  const lists = Math.min(LISTS, Math.floor((n + 1) / 3));
  const counters = Math.min(COUNTERS, Math.floor(n / 3));
  return { dbsize: sets + lists + counters, bytes: statSync(path.join(sub, base)).size };
}

/** Starts `spec` on a copy of `src` and returns seconds until PING and DBSIZE are right, and its CPU seconds. */
async function timeLoad(spec, src, dbsize, work) {
  const dir = path.join(work, `${spec.name}-${Date.now()}`);
  cpSync(src, dir, { recursive: true });
  const port = await freePort();
  const extra = ['--dir', dir, '--appendonly', 'yes', ...(spec.name === 'sabre' && SHARDS ? ['--shards', SHARDS] : [])];
  const base = spec.argv(port);
  // A substituted command (SABRE_CMD, REDIS_CMD) is one shell line: the options go on its end.
  const argv = spec.substitute ? [...base.slice(0, -1), `${base.at(-1)} ${extra.join(' ')}`] : [...base, ...extra];
  const t0 = performance.now();
  const child = track(spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'] }));
  let log = '';
  child.stdout.on('data', (d) => (log = (log + d).slice(-4000)));
  child.stderr.on('data', (d) => (log = (log + d).slice(-4000)));
  const server = { name: spec.name, pid: child.pid, child };
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${spec.name} exited while loading:\n${log}`);
      if (await pingOnce(port, 2000)) {
        // PONG comes only once loading is done (Redis answers -LOADING before), so the count must be right.
        const got = Number(await rawCommand(port, 'DBSIZE'));
        if (got !== dbsize) throw new Error(`${spec.name} loaded ${got} keys, expected ${dbsize}:\n${log}`);
        break;
      }
      if (performance.now() - t0 > 1_800_000) throw new Error(`${spec.name} did not load within 30 minutes`);
      await sleep(5);
    }
    return { seconds: (performance.now() - t0) / 1000, cpu: cpuSeconds(server) };
  } finally {
    await stopServer(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const specs = serverSpecs();
  const work = mkdtempSync(path.join(tmpdir(), 'sabre-aof-load-'));
  const rows = [];
  try {
    for (const n of [0, ...SIZES]) {
      const src = path.join(work, `aof-${n}`);
      const { dbsize, bytes } = await writeAof(src, n);
      const row = { n, dbsize, bytes };
      for (const spec of [specs.redis, specs.sabre]) {
        const runs = [];
        for (let r = 0; r < ROUNDS; r++) runs.push(await timeLoad(spec, src, dbsize, work));
        row[spec.name] = { seconds: median(runs.map((x) => x.seconds)), cpu: median(runs.map((x) => x.cpu)) };
        console.log(`${n} commands, ${spec.name}: ${row[spec.name].seconds.toFixed(2)} s to PING + DBSIZE ${dbsize}`);
      }
      rows.push(row);
      rmSync(src, { recursive: true, force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const m = machineInfo();
  let md = '# AOF load time, Sabre vs Redis\n\n';
  md += `\`${commandLine()}\`\n\n`;
  md += `${m.nproc} CPUs (${m.cpuModel}), Node ${m.node}, Redis ${m.redisVersion}, ${m.kernel}, load ${m.loadavg}.\n\n`;
  md += 'A multi-part AOF (appendonlydir/, one base file of commands: SET of unique keys, RPUSH onto 1,000 lists and INCR of ';
  md += `5,000 counters in turn) loaded with appendonly yes; time from spawn until PING answers PONG and DBSIZE is right `;
  md += `(median of ${ROUNDS}); CPU is the server's utime+stime until then. The 0-command row is start-up without data.\n\n`;
  md += '| commands | file | Redis | Sabre | Sabre/Redis | Redis CPU | Sabre CPU |\n|---:|---:|---:|---:|---:|---:|---:|\n';
  for (const r of rows) {
    md += `| ${r.n.toLocaleString('en')} | ${(r.bytes / 2 ** 20).toFixed(1)} MB | ${r.redis.seconds.toFixed(2)} s | ${r.sabre.seconds.toFixed(2)} s `;
    md += `| ${(r.sabre.seconds / r.redis.seconds).toFixed(2)}× | ${r.redis.cpu.toFixed(2)} s | ${r.sabre.cpu.toFixed(2)} s |\n`;
  }
  writeResult(path.join(RESULTS_DIR, 'aof-load.md'), md);
}

runMain(main);
