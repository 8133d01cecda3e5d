// Sabre vs Redis 7.0 for bitmaps and HyperLogLogs: redis-benchmark throughput of SETBIT, GETBIT,
// BITCOUNT, PFADD and PFCOUNT (-P 1 and -P 16, alternating servers, median of runs) and the memory
// of 10k HLLs, sparse and dense (used_memory and process RSS growth in both).
// Writes native-bench/results/bits-hll.md.
// Usage: npm run build && node native-bench/bits-hll-compare.mjs [--runs 5] [--requests 200000] [--only memory|bench]
import net from 'node:net';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpuSeconds } from './lib/servers.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const RUNS = Number(opt('runs', 5));
const REQUESTS = Number(opt('requests', 200000));
const ONLY = opt('only', '');
const HLLS = 10000;

/**
 * The benchmarked commands: `bit:<n>` are 126-byte bitmaps, `bm` spans 100000 bits (12.5 KB), `h1`/`h2`
 * are dense HLLs. (redis-benchmark's __rand_int__ has leading zeros, which Redis refuses as a bit
 * offset, so random positions go in the key name.)
 */
const TESTS = [
  { label: 'GET str (baseline: a 10-byte string)', argv: ['GET', 'str'] },
  { label: 'SETBIT bit:<rand> 1000 1', argv: ['-r', '100000', 'SETBIT', 'bit:__rand_int__', '1000', '1'] },
  { label: 'GETBIT bit:<rand> 1000', argv: ['-r', '100000', 'GETBIT', 'bit:__rand_int__', '1000'] },
  { label: 'SETBIT bm 77777 1 (12.5 KB)', argv: ['SETBIT', 'bm', '77777', '1'] },
  { label: 'BITCOUNT bm (12.5 KB)', argv: ['BITCOUNT', 'bm'] },
  { label: 'BITCOUNT bm 0 99', argv: ['BITCOUNT', 'bm', '0', '99'] },
  { label: 'PFADD h1 <rand>', argv: ['-r', '100000000', 'PFADD', 'h1', '__rand_int__'] },
  { label: 'PFADD hll:<rand> <rand> (sparse)', argv: ['-r', '100000', 'PFADD', 'hll:__rand_int__', '__rand_int__'] },
  { label: 'PFCOUNT h1 (cached)', argv: ['PFCOUNT', 'h1'] },
  { label: 'PFCOUNT h1 h2 (merge)', argv: ['PFCOUNT', 'h1', 'h2'], share: 0.05 },
];

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function waitFor(proc, re) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no start:\n${out}`)), 20000);
    const on = (d) => {
      out += d.toString();
      const m = re.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    proc.stdout.on('data', on);
    proc.stderr.on('data', on);
  });
}

async function startRedis() {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await waitFor(proc, /Ready to accept connections/);
  return { name: 'redis', port, proc };
}

async function startSabre() {
  const proc = spawn(process.execPath, [`${root}dist/cli.js`, 'server', '--port', '0', '--bind', '127.0.0.1', '--shards', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const m = await waitFor(proc, /ready to accept connections .*port=(\d+)/);
  return { name: 'sabre', port: Number(m[1]), proc };
}

async function stop(s) {
  if (s.proc.exitCode !== null) return;
  const done = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGTERM');
  await done;
}

function encode(parts) {
  let s = `*${parts.length}\r\n`;
  for (const p of parts) s += `$${Buffer.byteLength(p)}\r\n${p}\r\n`;
  return s;
}

/** Sends commands pipelined and waits for as many one-line replies. */
function pipeline(port, cmds) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let replies = 0;
    let pending = Buffer.alloc(0);
    sock.on('data', (d) => {
      pending = pending.length ? Buffer.concat([pending, d]) : d;
      let i;
      let last = 0;
      while ((i = pending.indexOf(10, last)) !== -1) {
        if (pending[last] === 45) reject(new Error(pending.toString('latin1', last, i)));
        replies++;
        last = i + 1;
      }
      pending = pending.subarray(last);
      if (replies === cmds.length) {
        sock.end();
        resolve();
      }
    });
    sock.on('error', reject);
    let k = 0;
    const write = () => {
      while (k < cmds.length) if (!sock.write(cmds[k++])) return sock.once('drain', write);
    };
    write();
  });
}

const cli = (port, ...a) => execFileSync('redis-cli', ['-p', String(port), ...a]).toString();

function info(port, field) {
  return Number(new RegExp(`${field}:(\\d+)`).exec(cli(port, 'info', 'memory'))[1]);
}

function rss(pid) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
}

/** PFADD of `elements` elements into each of 10k keys named `${prefix}:<i>`. */
function hllCommands(prefix, elements) {
  const cmds = [];
  for (let k = 0; k < HLLS; k++) {
    const parts = ['pfadd', `${prefix}:${k}`];
    for (let j = 0; j < elements; j++) parts.push(`e${k}-${j}`);
    cmds.push(encode(parts));
  }
  return cmds;
}

/**
 * Memory of 10k HLLs: loads them twice under other names first (growing each process for the
 * traffic itself), then measures the third load's growth. Dense: hll-sparse-max-bytes 0, so
 * every HLL is promoted at its first change.
 */
async function measureHlls(srv, dense, elements) {
  if (dense) cli(srv.port, 'config', 'set', 'hll-sparse-max-bytes', '0');
  for (let w = 0; w < 2; w++) await pipeline(srv.port, hllCommands(`warm${w}`, elements));
  await new Promise((res) => setTimeout(res, 300));
  const r0 = rss(srv.proc.pid);
  const u0 = info(srv.port, 'used_memory');
  await pipeline(srv.port, hllCommands('hll', elements));
  await new Promise((res) => setTimeout(res, 300));
  const enc = cli(srv.port, 'pfdebug', 'encoding', 'hll:1').trim();
  return { used: (info(srv.port, 'used_memory') - u0) / HLLS, rss: (rss(srv.proc.pid) - r0) / HLLS, enc };
}

async function memory() {
  const rows = [];
  for (const [dense, elements] of [
    [false, 100],
    [false, 1000],
    [true, 100],
  ]) {
    const r = await startRedis();
    const redis = await measureHlls(r, dense, elements);
    await stop(r);
    const s = await startSabre();
    const sabre = await measureHlls(s, dense, elements);
    await stop(s);
    const f = (x) => x.toFixed(0);
    rows.push(
      `| ${HLLS} HLLs, ${elements} elements each, ${sabre.enc} (Redis: ${redis.enc}) | ${f(redis.used)} | ${f(redis.rss)} | ${f(sabre.used)} | ${f(sabre.rss)} | ${(sabre.used / redis.used).toFixed(2)} | ${(sabre.rss / redis.rss).toFixed(2)} |`,
    );
    console.log(rows.at(-1));
  }
  return rows;
}

/** The keys the benchmarks use: a 100000-bit bitmap and two dense HLLs. */
async function prepare(port) {
  cli(port, 'flushall');
  const cmds = [encode(['set', 'str', '0123456789']), encode(['setbit', 'bm', '99999', '1'])];
  for (let i = 0; i < 100000; i += 3) cmds.push(encode(['setbit', 'bm', String(i), '1']));
  for (const key of ['h1', 'h2']) {
    for (let i = 0; i < 20000; i += 500) {
      const parts = ['pfadd', key];
      for (let j = i; j < i + 500; j++) parts.push(`${key}-${j}`);
      cmds.push(encode(parts));
    }
  }
  await pipeline(port, cmds);
  cli(port, 'pfcount', 'h1');
}

/** One redis-benchmark run: requests per second, and the server's CPU time per request (µs, all its threads). */
function benchOnce(srv, depth, test) {
  const n = Math.round(REQUESTS * (test.share ?? 1));
  const argv = ['-p', String(srv.port), '-q', '--csv', '-n', String(n), '-P', String(depth), ...test.argv];
  const cpu0 = cpuSeconds({ pid: srv.proc.pid });
  const out = execFileSync('redis-benchmark', argv, { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const cpu = ((cpuSeconds({ pid: srv.proc.pid }) - cpu0) * 1e6) / n;
  const m = /^"[^"]+","([\d.]+)"/m.exec(out);
  return { rps: m ? Number(m[1]) : 0, cpu };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function bench() {
  const r = await startRedis();
  const s = await startSabre();
  const rows = [];
  try {
    await prepare(r.port);
    await prepare(s.port);
    for (const depth of [1, 16]) {
      for (const test of TESTS) {
        const acc = { redis: [], sabre: [] };
        // A first, untimed round warms both servers up (Sabre's JIT, both key tables).
        for (const srv of [r, s]) benchOnce(srv, depth, test);
        for (let run = 0; run < RUNS; run++) {
          for (const srv of run % 2 === 0 ? [r, s] : [s, r]) acc[srv.name].push(benchOnce(srv, depth, test));
        }
        const rv = median(acc.redis.map((x) => x.rps));
        const sv = median(acc.sabre.map((x) => x.rps));
        const rc = median(acc.redis.map((x) => x.cpu));
        const sc = median(acc.sabre.map((x) => x.cpu));
        rows.push(
          `| ${test.label} | ${depth} | ${Math.round(rv)} | ${Math.round(sv)} | ${(sv / rv).toFixed(2)} | ${rc.toFixed(2)} | ${sc.toFixed(2)} | ${(rc / sc).toFixed(2)} |`,
        );
        console.log(rows.at(-1));
      }
    }
  } finally {
    await stop(r);
    await stop(s);
  }
  return rows;
}

const out = `${root}native-bench/results/bits-hll.md`;
/** A section of the previous results that this run (--only) does not redo, kept as it was. */
function previousSection(heading) {
  let text = '';
  try {
    text = readFileSync(out, 'utf8');
  } catch {
    return [];
  }
  const at = text.indexOf(heading);
  if (at < 0) return [];
  const next = text.indexOf('\n## ', at + 1);
  return [text.slice(at, next < 0 ? text.length : next).trimEnd(), ''];
}

const version = execFileSync('redis-server', ['--version'])
  .toString()
  .match(/v=(\S+)/)[1];
const lines = [
  `# Bitmaps and HyperLogLogs: Sabre vs Redis ${version}`,
  '',
  `Machine: ${(await import('node:os')).cpus().length} cores, ${new Date().toISOString()}; Sabre with --shards 1.`,
  'Reproduce: `npm run build && node native-bench/bits-hll-compare.mjs`.',
  '',
];
const MEM = '## Memory of 10k HyperLogLogs';
if (ONLY === 'bench') lines.push(...previousSection(MEM));
else {
  lines.push(
    `${MEM} (bytes per HLL, key included)`,
    '',
    'Growth of used_memory and RSS from loading the third set of 10k HLLs (after two sets under other names).',
    '',
    '| HLLs | Redis used_memory | Redis RSS | Sabre used_memory | Sabre RSS | used_memory Sabre/Redis | RSS Sabre/Redis |',
    '|---|---|---|---|---|---|---|',
    ...(await memory()),
    '',
  );
}
const BENCH = '## redis-benchmark';
if (ONLY === 'memory') lines.push(...previousSection(BENCH));
else {
  lines.push(
    `${BENCH} (-n ${REQUESTS}, median of ${RUNS}, alternating servers)`,
    '',
    '`bit:<rand>` are 100000 keys of 126-byte bitmaps, `bm` a 100000-bit bitmap (every third bit set), `h1` and `h2` dense HLLs of 20000 elements each; the merging PFCOUNT runs 1/20 of the requests. Each test has an untimed warm-up round first.',
    '',
    'CPU µs/op: utime+stime of the server process (all threads) over the run ÷ requests (clock-tick resolution); Redis/Sabre CPU above 1 means Sabre spends less CPU per command.',
    '',
    '| test | -P | Redis rps | Sabre rps | Sabre/Redis rps | Redis CPU µs/op | Sabre CPU µs/op | Redis/Sabre CPU |',
    '|---|---|---|---|---|---|---|---|',
    ...(await bench()),
    '',
  );
}
mkdirSync(`${root}native-bench/results`, { recursive: true });
writeFileSync(out, lines.join('\n'));
console.log(lines.join('\n'));
