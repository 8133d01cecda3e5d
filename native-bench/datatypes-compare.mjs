// Sabre vs Redis 7.0 for the collection types: redis-benchmark throughput (-P 1 and -P 16,
// alternating servers, median of runs) and memory per element of 1M-element collections
// (used_memory and process RSS growth in both). Writes native-bench/results/datatypes.md.
// Usage: npm run build && node native-bench/datatypes-compare.mjs [--runs 3] [--requests 100000] [--only memory|bench]
//        [--pin 1:0]  (bench only: both servers on CPU 1 and redis-benchmark on CPU 0, via taskset; the
//        pinned table is kept beside the unpinned one)
import net from 'node:net';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const RUNS = Number(opt('runs', 3));
const REQUESTS = Number(opt('requests', 100000));
const ONLY = opt('only', '');
const PIN = opt('pin', '');
const [SERVER_CPUS, CLIENT_CPUS] = PIN.split(':');
/** The command and arguments that run `cmd` on `cpus` (taskset), or as is when not pinning. */
const pinned = (cpus, cmd, argv) => (cpus ? ['taskset', ['-c', cpus, cmd, ...argv]] : [cmd, argv]);
const TESTS = ['lpush', 'rpush', 'lpop', 'rpop', 'sadd', 'hset', 'spop', 'zadd', 'lrange_100', 'lrange_300'];
const N = Number(opt('elements', 1000000));

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
  const proc = spawn(
    ...pinned(SERVER_CPUS, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await waitFor(proc, /Ready to accept connections/);
  return { name: 'redis', port, proc };
}

async function startSabre() {
  const proc = spawn(
    ...pinned(SERVER_CPUS, process.execPath, [`${root}dist/cli.js`, 'server', '--port', '0', '--bind', '127.0.0.1', '--shards', '1']),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
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

/** Sends commands pipelined and waits for as many replies (counts top-level reply lines). */
function pipeline(port, cmds) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let replies = 0;
    let pending = Buffer.alloc(0);
    sock.on('data', (d) => {
      pending = pending.length ? Buffer.concat([pending, d]) : d;
      // Replies here are integers, +OK or errors: one line each.
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

function info(port, field) {
  const out = execFileSync('redis-cli', ['-p', String(port), 'info', 'memory']).toString();
  return Number(new RegExp(`${field}:(\\d+)`).exec(out)[1]);
}

function rss(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(s)[1]) * 1024;
}

const LOADS = {
  'sorted set (ZADD)': (i) => ['zadd', 'big', String(i), `member:${i}`],
  'hash (HSET)': (i) => ['hset', 'big', `field:${i}`, `value:${i}`],
  'set (SADD)': (i) => ['sadd', 'big', `member:${i}`],
  'list (RPUSH)': (i) => ['rpush', 'big', `element:${i}`],
};

/** Batches of 100 elements per command, as a client loading data would. */
function loadCommands(make) {
  const cmds = [];
  for (let i = 0; i < N; i += 100) {
    const first = make(i);
    const parts = first.slice(0, 2);
    for (let j = i; j < Math.min(N, i + 100); j++) parts.push(...make(j).slice(2));
    cmds.push(encode(parts));
  }
  return cmds;
}

/**
 * Loads the collection twice into other keys (the first loads also grow each process for the
 * traffic itself: V8's heap, Redis's query buffers), then measures the third load's growth of
 * used_memory and of RSS, the same way for both servers.
 */
async function measureLoad(srv, cmds) {
  let cold = 0;
  for (let w = 0; w < 2; w++) {
    const r0 = rss(srv.proc.pid);
    await pipeline(srv.port, cmds);
    if (w === 0) cold = (rss(srv.proc.pid) - r0) / N;
    execFileSync('redis-cli', ['-p', String(srv.port), 'rename', 'big', `warm${w}`]);
  }
  await new Promise((res) => setTimeout(res, 300));
  const b0 = rss(srv.proc.pid);
  const u0 = info(srv.port, 'used_memory');
  await pipeline(srv.port, cmds);
  await new Promise((res) => setTimeout(res, 300));
  return { rss: (rss(srv.proc.pid) - b0) / N, used: (info(srv.port, 'used_memory') - u0) / N, cold };
}

async function memory() {
  const rows = [];
  for (const [label, make] of Object.entries(LOADS)) {
    const cmds = loadCommands(make);
    const r = await startRedis();
    const redis = await measureLoad(r, cmds);
    await stop(r);
    const s = await startSabre();
    const sabre = await measureLoad(s, cmds);
    await stop(s);
    const f = (x) => x.toFixed(1);
    rows.push(
      `| ${label} | ${f(redis.used)} | ${f(redis.rss)} | ${f(sabre.used)} | ${f(sabre.rss)} | ${f(sabre.cold)} | ${(sabre.used / redis.used).toFixed(2)} | ${(sabre.rss / redis.rss).toFixed(2)} |`,
    );
    console.log(rows.at(-1));
  }
  return rows;
}

function benchOnce(port, pipelineDepth) {
  const argv = ['-p', String(port), '-q', '--csv', '-n', String(REQUESTS), '-P', String(pipelineDepth), '-t', TESTS.join(',')];
  const out = execFileSync(...pinned(CLIENT_CPUS, 'redis-benchmark', argv), { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const res = {};
  for (const line of out.split('\n')) {
    const m = /^"([^"]+)","([\d.]+)"/.exec(line);
    if (m && !m[1].startsWith('LPUSH (')) res[m[1].split(' ')[0]] = Number(m[2]);
  }
  return res;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function bench() {
  const r = await startRedis();
  const s = await startSabre();
  const rows = [];
  try {
    for (const depth of [1, 16]) {
      const acc = { redis: {}, sabre: {} };
      for (let run = 0; run < RUNS; run++) {
        for (const srv of run % 2 === 0 ? [r, s] : [s, r]) {
          const res = benchOnce(srv.port, depth);
          for (const [k, v] of Object.entries(res)) (acc[srv.name][k] ??= []).push(v);
        }
      }
      for (const k of Object.keys(acc.redis)) {
        const rv = median(acc.redis[k]);
        const sv = median(acc.sabre[k] ?? [0]);
        rows.push(`| ${k} | ${depth} | ${Math.round(rv)} | ${Math.round(sv)} | ${(sv / rv).toFixed(2)} |`);
        console.log(rows.at(-1));
      }
    }
  } finally {
    await stop(r);
    await stop(s);
  }
  return rows;
}

const out = `${root}native-bench/results/datatypes.md`;
/** The section of the previous results that this run (--only) does not redo, kept as it was. */
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

const lines = [
  `# Collection types: Sabre vs Redis ${
    execFileSync('redis-server', ['--version'])
      .toString()
      .match(/v=(\S+)/)[1]
  }`,
  '',
  `Machine: ${(await import('node:os')).cpus().length} cores, ${new Date().toISOString()}; Sabre with --shards 1.`,
  '',
];
if (ONLY === 'bench') lines.push(...previousSection('## Memory per element'));
else {
  lines.push(
    `## Memory per element (${N} elements in one key)`,
    '',
    'Bytes per element grown by the third load of the collection (after two loads into other keys), in each server.',
    '',
    '| collection | Redis used_memory | Redis RSS | Sabre used_memory | Sabre RSS | Sabre RSS, 1st load | used_memory Sabre/Redis | RSS Sabre/Redis |',
    '|---|---|---|---|---|---|---|---|',
    ...(await memory()),
    '',
  );
}
const UNPINNED = '## redis-benchmark (';
const PINNED = '## redis-benchmark, pinned';
/** This run's table under `title`, or the previous run's section of that name when this run does not redo it. */
async function benchSection(title, fresh) {
  if (!fresh) return previousSection(title);
  const head = title === PINNED ? `${PINNED}: servers on CPU ${SERVER_CPUS}, redis-benchmark on CPU ${CLIENT_CPUS} (` : UNPINNED;
  return [
    `${head}-n ${REQUESTS}, median of ${RUNS}, alternating servers)`,
    '',
    '| test | -P | Redis rps | Sabre rps | Sabre/Redis |',
    '|---|---|---|---|---|',
    ...(await bench()),
    '',
  ];
}
lines.push(...(await benchSection(UNPINNED, ONLY !== 'memory' && !PIN)), ...(await benchSection(PINNED, ONLY !== 'memory' && !!PIN)));
mkdirSync(`${root}native-bench/results`, { recursive: true });
writeFileSync(out, lines.join('\n'));
console.log(lines.join('\n'));
