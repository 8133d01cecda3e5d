#!/usr/bin/env node
// redis-benchmark --cluster SET/GET against a 3-master Sabre cluster and a 3-master Redis 7.0
// cluster on this machine, in alternating rounds (redis, sabre, redis, sabre, ...), medians
// quoted; then the keys/s a redis-cli --cluster reshard moves (MIGRATE) on each.
// usage: node native-bench/cluster-compare.mjs [--rounds 3] [--requests 200000] [--keys 20000] [--slots 500] [--out FILE]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    requests: { type: 'string', default: '200000' },
    keys: { type: 'string', default: '20000' },
    slots: { type: 'string', default: '500' },
    out: { type: 'string', default: path.join(import.meta.dirname, 'results', 'cluster.md') },
  },
});
const CLI = path.join(import.meta.dirname, '..', 'dist', 'cli.js');
const procs = [];
const dir = mkdtempSync(path.join(tmpdir(), 'cluster-bench-'));

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startNode(kind) {
  const port = await freePort();
  const bus = await freePort();
  const common = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--cluster-enabled',
    'yes',
    '--cluster-port',
    String(bus),
    '--cluster-config-file',
    path.join(dir, `n${port}.conf`),
  ];
  const p =
    kind === 'sabre'
      ? spawn(process.execPath, [CLI, 'server', ...common], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('redis-server', [...common, '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(p);
  let out = '';
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(out)), 60_000);
    p.stdout.on('data', (d) => {
      out += d;
      if (/ready to accept connections/i.test(out)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return port;
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  return `${r.stdout}${r.stderr}`;
}

async function cluster(kind) {
  const ports = [];
  for (let i = 0; i < 3; i++) ports.push(await startNode(kind));
  const out = run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes']);
  if (!out.includes('[OK] All 16384 slots covered.')) throw new Error(out);
  for (;;) {
    const ok = ports.every((p) => run('redis-cli', ['-p', String(p), 'cluster', 'info']).includes('cluster_state:ok'));
    if (ok) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return ports;
}

function bench(port) {
  const out = run('redis-benchmark', [
    '--cluster',
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-t',
    'set,get',
    '-P',
    '16',
    '-n',
    o.requests,
    '-r',
    '100000',
    '-q',
    '--csv',
  ]);
  const rps = {};
  for (const line of out.split('\n')) {
    const m = /^"(SET|GET)","([\d.]+)"/.exec(line);
    if (m) rps[m[1]] = Number(m[2]);
  }
  if (rps.SET === undefined || rps.GET === undefined) throw new Error(out);
  return rps;
}

function reshardRate(ports) {
  const id = (p) => run('redis-cli', ['-p', String(p), 'cluster', 'myid']).trim();
  run('redis-benchmark', ['--cluster', '-h', '127.0.0.1', '-p', String(ports[0]), '-t', 'set', '-n', o.keys, '-r', o.keys, '-q']);
  const before = Number(run('redis-cli', ['-p', String(ports[0]), 'dbsize']).trim());
  const t0 = performance.now();
  const out = run('redis-cli', [
    '--cluster',
    'reshard',
    `127.0.0.1:${ports[0]}`,
    '--cluster-from',
    id(ports[0]),
    '--cluster-to',
    id(ports[1]),
    '--cluster-slots',
    o.slots,
    '--cluster-yes',
    '--cluster-pipeline',
    '100',
  ]);
  const secs = (performance.now() - t0) / 1000;
  if (out.includes('[ERR]')) throw new Error(out);
  const moved = before - Number(run('redis-cli', ['-p', String(ports[0]), 'dbsize']).trim());
  return { moved, secs, slotsPerSec: Number(o.slots) / secs, keysPerSec: moved / secs };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  const redis = await cluster('redis');
  const sabre = await cluster('sabre');
  const r = { redis: { SET: [], GET: [] }, sabre: { SET: [], GET: [] } };
  // One uncounted round each first: Sabre's JIT warms up, Redis's caches too.
  bench(redis[0]);
  bench(sabre[0]);
  for (let i = 0; i < Number(o.rounds); i++) {
    for (const [name, ports] of [
      ['redis', redis],
      ['sabre', sabre],
    ]) {
      const x = bench(ports[0]);
      r[name].SET.push(x.SET);
      r[name].GET.push(x.GET);
      console.log(`round ${i + 1} ${name}: SET ${x.SET} GET ${x.GET}`);
    }
  }
  const rr = reshardRate(redis);
  const rs = reshardRate(sabre);
  const row = (t) =>
    `| ${t} | ${median(r.redis[t]).toFixed(0)} | ${median(r.sabre[t]).toFixed(0)} | ${(median(r.sabre[t]) / median(r.redis[t])).toFixed(2)} |`;
  const md = `# redis-benchmark --cluster: 3-master Sabre cluster vs 3-master Redis 7.0 cluster

Reproduce: \`npm run build && node native-bench/cluster-compare.mjs --rounds ${o.rounds} --requests ${o.requests} --keys ${o.keys} --slots ${o.slots}\`

Both clusters on this machine (${(await import('node:os')).cpus().length} cores, shared), each node on 127.0.0.1 with its own port and bus port,
built with \`redis-cli --cluster create\`; Sabre nodes run with the default shard count.
\`redis-benchmark --cluster -t set,get -P 16 -n ${o.requests} -r 100000\`, one uncounted warm-up run each, then ${o.rounds} alternating rounds (redis, sabre, ...), medians (requests/s):

| test | Redis 7.0 | Sabre | Sabre/Redis |
| --- | ---: | ---: | ---: |
${row('SET')}
${row('GET')}

Rounds: Redis SET ${r.redis.SET.join(', ')}; GET ${r.redis.GET.join(', ')}. Sabre SET ${r.sabre.SET.join(', ')}; GET ${r.sabre.GET.join(', ')}.

Reshard (\`redis-cli --cluster reshard --cluster-slots ${o.slots} --cluster-pipeline 100\` after ${o.keys} SETs), one run each:

| | keys moved | seconds | slots/s | keys/s |
| --- | ---: | ---: | ---: | ---: |
| Redis 7.0 | ${rr.moved} | ${rr.secs.toFixed(2)} | ${rr.slotsPerSec.toFixed(0)} | ${rr.keysPerSec.toFixed(0)} |
| Sabre | ${rs.moved} | ${rs.secs.toFixed(2)} | ${rs.slotsPerSec.toFixed(0)} | ${rs.keysPerSec.toFixed(0)} |

Load average when it ran: ${(await import('node:os'))
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}.
`;
  writeFileSync(o.out, md);
  console.log(md);
} finally {
  for (const p of procs) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
