#!/usr/bin/env node
// Compares sabre proxy with nginx (least_conn + upstream keepalive) and HAProxy (leastconn + http-reuse)
// in front of the same three nginx backends, plus one backend hit directly, under the same wrk/hey/ab load.
// Targets run in alternation (A, B, C, D, A, B, …) and each figure is the median over rounds, because the
// machine is shared and noisy. Writes a Markdown table to native-bench/results/proxy.md, and per tool every
// target's HDR latency distribution (.hgrm) and a plot of them under results/proxy/.
//
// usage: node native-bench/proxy-compare.mjs [--duration 5] [--rounds 3] [--tools wrk,hey,ab,ab-close,h2load] [--threads 2]
//        [--fronts net,uws,node] [--base DIR] [--routes N] [--tls] [--h2-connections 10] [--h2-streams 10]
// --tls: the balancers (not 'direct') listen with TLS on one self-signed certificate (made with openssl), nginx with
// `listen … ssl http2`, HAProxy with `alpn h2,http/1.1`, sabre with listen.tls; wrk/hey/ab then speak HTTPS, and
// the h2load tool speaks HTTP/2 (ALPN h2): -c h2-connections, -m h2-streams per connection. Results go to
// native-bench/results/proxy-tls.md unless --out says otherwise.
// --fronts replaces the target 'sabre' with one sabre per front ('sabre-net', …), each with `front` set in its config.
// --base DIR adds a target 'sabre-base': DIR/dist/cli.js (another build of sabre), for A/B runs of two builds.
// --routes N gives the 'sabre' targets (not 'sabre-base') N routing rules that never match and a last one, matching
// every request, to a pool of the same three backends: the cost of routing, against --base without routes.
// Tools: ab runs with -k (keep-alive), ab-close without; both report ab's failed requests. Sabre runs on the Node
// that runs this script (run it with another node binary to measure another Node).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HdrRuns, histogramFromPercentiles, histogramFromValues } from './lib/hdr-report.mjs';
import { cpuSeconds, freePort, median } from './lib/servers.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    tools: { type: 'string', default: 'wrk,hey,ab' },
    threads: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    targets: { type: 'string', default: 'direct,nginx,haproxy,sabre' },
    out: { type: 'string' },
    base: { type: 'string' },
    fronts: { type: 'string' },
    tls: { type: 'boolean', default: false },
    'h2-connections': { type: 'string', default: '10' },
    'h2-streams': { type: 'string', default: '10' },
    routes: { type: 'string', default: '0' },
  },
});
const TLS = opt.tls;
const H2_CONNS = Number(opt['h2-connections']);
const H2_STREAMS = Number(opt['h2-streams']);
if (TLS && opt.out === undefined) opt.out = join(ROOT, 'native-bench', 'results', 'proxy-tls.md');
const DURATION = Number(opt.duration);
const ROUNDS = Number(opt.rounds);
const THREADS = Number(opt.threads);
const CONNS = Number(opt.connections);
const TOOLS = opt.tools.split(',');
const BODY = 'hello from a sabre benchmark backend: a fixed body of modest size, like a small JSON reply\n';

const FRONTS = opt.fronts ? opt.fronts.split(',') : [];
opt.out ??= join(ROOT, 'native-bench', 'results', 'proxy.md');
for (const bin of ['nginx', 'haproxy', ...(TLS ? ['openssl'] : []), ...new Set(TOOLS.map((t) => t.replace('-close', '')))]) {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
  } catch {
    console.error(`${bin} is missing: run 'bash native-bench/setup.sh' as root`);
    process.exit(1);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'sabre-proxy-bench-'));
const children = [];
function start(name, cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => (err += c));
  child.on('exit', (code) => {
    if (!stopping) console.error(`${name} exited early (${code}): ${err}`);
  });
  children.push(child);
  return child;
}
let stopping = false;
function stopAll() {
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}
process.on('exit', () => {
  stopAll();
  rmSync(dir, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));

/** One GET (HTTPS without verification when `tls`); resolves the status, or rejects. */
function probe(port, tls) {
  return new Promise((resolve, reject) => {
    const req = (tls ? httpsGet : httpGet)(
      `${tls ? 'https' : 'http'}://127.0.0.1:${port}/`,
      { rejectUnauthorized: false, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('error', reject);
  });
}

async function waitHttp(port, tls = false) {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await probe(port, tls)) === 200) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing answered on ${port}`);
}

// One self-signed certificate (EC P-256, names localhost and 127.0.0.1) for every TLS listener.
const CERT = join(dir, 'cert.pem');
const KEY = join(dir, 'key.pem');
if (TLS) {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      KEY,
      '-out',
      CERT,
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  writeFileSync(join(dir, 'combined.pem'), readFileSync(CERT, 'latin1') + readFileSync(KEY, 'latin1'));
}
const nginxTls = TLS ? ` ssl http2; ssl_certificate ${CERT}; ssl_certificate_key ${KEY}` : '';
const proto = TLS ? 'https' : 'http';
const temps = `client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};`;
const backendPorts = [await freePort(), await freePort(), await freePort()];
writeFileSync(
  join(dir, 'backends.conf'),
  `worker_processes 1; daemon off; pid ${dir}/backends.pid; error_log ${dir}/backends.err warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; ${temps}
${backendPorts.map((p) => `  server { listen 127.0.0.1:${p}; location / { return 200 "${BODY.trim()}\\n"; } }`).join('\n')}
}`,
);
start('backend nginx', 'nginx', ['-c', join(dir, 'backends.conf'), '-p', dir]);

const ports = { direct: backendPorts[0], nginx: await freePort(), haproxy: await freePort(), sabre: await freePort() };
for (const f of FRONTS) ports[`sabre-${f}`] = await freePort();
if (opt.base) ports['sabre-base'] = await freePort();
writeFileSync(
  join(dir, 'lb.conf'),
  `worker_processes ${THREADS}; daemon off; pid ${dir}/lb.pid; error_log ${dir}/lb.err warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; ${temps}
  upstream be { least_conn; ${backendPorts.map((p) => `server 127.0.0.1:${p};`).join(' ')} keepalive 64; }
  server { listen 127.0.0.1:${ports.nginx}${nginxTls}; location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection "";
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-Host $host; proxy_set_header Via "1.1 nginx"; } }
}`,
);
writeFileSync(
  join(dir, 'haproxy.cfg'),
  `global
  nbthread ${THREADS}
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend fe
  bind 127.0.0.1:${ports.haproxy}${TLS ? ` ssl crt ${dir}/combined.pem alpn h2,http/1.1` : ''}
  default_backend be
backend be
  balance leastconn
  option forwardfor
  http-request set-header X-Forwarded-Proto ${proto}
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-request add-header Via "1.1 haproxy"
${backendPorts.map((p, i) => `  server s${i} 127.0.0.1:${p}`).join('\n')}
`,
);
const adminPort = await freePort();
const ROUTES = Number(opt.routes);
const backendList = backendPorts.map((p) => ({ url: `http://127.0.0.1:${p}` }));
/** --routes N: N rules that never match, then one that sends every request to a pool of the same backends. */
const routing =
  ROUTES > 0
    ? {
        routes: [
          ...Array.from({ length: ROUTES }, (_, i) => ({ match: { pathPrefix: `/never-${i}/` }, pool: 'all' })),
          { match: { pathPrefix: '/' }, pool: 'all' },
        ],
        pools: { all: { backends: backendList } },
      }
    : {};
const sabreConfig = (port, admin, front, extra = {}) =>
  JSON.stringify({
    ...(front ? { front } : {}),
    listen: { host: '127.0.0.1', port, ...(TLS ? { tls: { cert: CERT, key: KEY } } : {}) },
    admin: { host: '127.0.0.1', port: admin },
    threads: THREADS,
    algorithm: 'least-connections',
    backends: backendList,
    ...extra,
  });
if (opt.base) writeFileSync(join(dir, 'sabre-base.json'), sabreConfig(ports['sabre-base'], await freePort()));
const procs = {
  nginx: start('nginx', 'nginx', ['-c', join(dir, 'lb.conf'), '-p', dir]),
  haproxy: start('haproxy', 'haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')]),
};
const adminPorts = {};
const TARGETS = [
  ...opt.targets.split(',').flatMap((t) => (t === 'sabre' && FRONTS.length > 0 ? FRONTS.map((f) => `sabre-${f}`) : [t])),
  ...(opt.base ? ['sabre-base'] : []),
];
for (const target of TARGETS.filter((t) => t.startsWith('sabre') && t !== 'sabre-base')) {
  const front = target === 'sabre' ? undefined : target.slice(6);
  adminPorts[target] = target === 'sabre' ? adminPort : await freePort();
  writeFileSync(join(dir, `${target}.json`), sabreConfig(ports[target], adminPorts[target], front, routing));
  procs[target] = start(target, process.execPath, [join(ROOT, 'dist', 'cli.js'), 'proxy', '--config', join(dir, `${target}.json`)]);
}
if (opt.base)
  procs['sabre-base'] = start('sabre-base', process.execPath, [
    join(opt.base, 'dist', 'cli.js'),
    'proxy',
    '--config',
    join(dir, 'sabre-base.json'),
  ]);
for (const t of ['direct', 'nginx', 'haproxy', ...TARGETS]) await waitHttp(ports[t], TLS && t !== 'direct');
const loadBefore = loadavg();
/** What serves each sabre target (GET /status): its front, and why. */
const fronts = {};
/**
 * GET from an admin API: retried while the admin port is not listening yet (it opens after the
 * proxy's own port) or when its idle keep-alive connection was closed under fetch.
 */
async function adminGet(port, path) {
  for (let i = 0; ; i++) {
    try {
      return await (await fetch(`http://127.0.0.1:${port}${path}`)).text();
    } catch (err) {
      if (i >= 100) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
for (const [t, p] of Object.entries(adminPorts)) fronts[t] = JSON.parse(await adminGet(p, '/status'));

const ms = (v, unit) => v * ({ us: 0.001, ms: 1, s: 1000 }[unit] ?? 1);
const WRK_HDR = join(ROOT, 'native-bench', 'lib', 'wrk-hdr.lua');
/** One load run of `tool` against a target's port: req/s, p50/p99 (ms), requests, and the run's latency histogram (µs) where the tool gives one. */
function run(tool, port, target) {
  const url = `${TLS && target !== 'direct' ? 'https' : 'http'}://127.0.0.1:${port}/`;
  let out;
  if (tool === 'h2load') {
    // HTTP/2 (ALPN h2 over TLS, prior knowledge on plain ports); h2load reports the mean and max time per request.
    out = execFileSync('h2load', ['-t1', `-c${H2_CONNS}`, `-m${H2_STREAMS}`, `-D${DURATION}`, url], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    const t = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(out);
    const req = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(out);
    return {
      rps: Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(out)[1]),
      p50: t ? ms(Number(t[5]), t[6]) : NaN,
      p99: t ? ms(Number(t[3]), t[4]) : NaN,
      requests: Number(req[2]),
      failed: Number(req[4]) + Number(req[2]) - Number(req[3]),
    };
  }
  if (tool === 'wrk') {
    out = execFileSync('wrk', ['-t1', `-c${CONNS}`, `-d${DURATION}s`, '--latency', '-s', WRK_HDR, url], { encoding: 'utf8' });
    const lat = (q) => {
      const m = new RegExp(`\\s${q}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
      return m ? ms(Number(m[1]), m[2]) : NaN;
    };
    const req = Number(/(\d+) requests in/.exec(out)[1]);
    const pairs = [...out.matchAll(/^HDR ([\d.]+) (\d+)$/gm)].map((m) => [Number(m[1]), Number(m[2]) / 1000]);
    const histogram = histogramFromPercentiles(pairs, Number(/^HDR-TOTAL (\d+)$/m.exec(out)[1]));
    return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]), p50: lat('50'), p99: lat('99'), requests: req, histogram };
  }
  if (tool === 'hey') {
    // -o csv: one row per request (response time and start offset, in s) instead of hey's summary, which is computed from them.
    out = execFileSync('hey', ['-c', String(CONNS), '-z', `${DURATION}s`, '-o', 'csv', url], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const rows = out
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((line) => line.split(','));
    const secs = rows.map((r) => Number(r[0])).sort((a, b) => a - b);
    const elapsed = rows.reduce((end, r) => Math.max(end, Number(r[7]) + Number(r[0])), 0);
    const lat = (q) => secs[Math.min(secs.length - 1, Math.floor((secs.length * q) / 100))] * 1000;
    const rps = secs.length / elapsed;
    return { rps, p50: lat(50), p99: lat(99), requests: secs.length, histogram: histogramFromValues(secs.map((x) => x * 1000)) };
  }
  const keep = tool === 'ab' ? ['-k'] : [];
  const csv = join(dir, 'ab-percentiles.csv');
  out = execFileSync('ab', [...keep, '-q', '-e', csv, '-c', String(CONNS), '-t', String(DURATION), '-n', '10000000', url], {
    encoding: 'utf8',
  });
  const lat = (q) => Number(new RegExp(`\\s${q}%\\s+(\\d+)`).exec(out)[1]);
  const requests = Number(/Complete requests:\s+(\d+)/.exec(out)[1]);
  const pairs = [...readFileSync(csv, 'utf8').matchAll(/^([\d.]+),([\d.]+)$/gm)].map((m) => [Number(m[1]), Number(m[2])]);
  return {
    failed: Number(/Failed requests:\s+(\d+)/.exec(out)[1]),
    rps: Number(/Requests per second:\s+([\d.]+)/.exec(out)[1]),
    p50: lat('50'),
    p99: lat('99'),
    requests,
    histogram: histogramFromPercentiles(pairs, requests),
  };
}

// ab sends only HTTP/1.0 request lines (`-k` adds `Connection: Keep-Alive` but keeps HTTP/1.0), and uWS.js serves
// HTTP/1.1 only: the 20.30 build never answers an HTTP/1.0 request (no status; its ~10 s idle timeout closes the
// connection), and the 20.57 build answers 505. The request never reaches the proxy's JavaScript, so sabre on uWS
// is left out of the ab rows (docs/proxy.md, "uWebSockets.js and Node versions").
const skip = (tool, target) =>
  (tool.startsWith('ab') && target.startsWith('sabre') && (target === 'sabre-base' || fronts[target]?.front === 'uws')) ||
  (tool === 'h2load' && target === 'direct');
const results = {};
const hdr = new HdrRuns(TARGETS);
for (let round = 1; round <= ROUNDS; round++) {
  for (const tool of TOOLS) {
    for (const target of TARGETS) {
      if (skip(tool, target)) continue;
      const pid = procs[target]?.pid;
      const before = pid ? cpuSeconds({ pid }) : 0;
      const r = run(tool, ports[target], target);
      if (pid) r.cpuUs = ((cpuSeconds({ pid }) - before) * 1e6) / r.requests;
      (results[`${tool} ${target}`] ??= []).push(r);
      if (r.histogram) hdr.add(`${tool} -c ${CONNS}`, target, r.histogram);
      console.log(
        `round ${round} ${tool.padEnd(8)} ${target.padEnd(10)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms${r.cpuUs ? `  cpu ${r.cpuUs.toFixed(1)} µs/req` : ''}${r.failed !== undefined ? `  failed ${r.failed}` : ''}`,
      );
    }
  }
}

const firstSabre = Object.keys(adminPorts)[0];
const latency = firstSabre ? await adminGet(adminPorts[firstSabre], '/latency') : '';
const status = firstSabre ? fronts[firstSabre] : { implementation: { package: 'none', native: false } };
stopAll();

const cmd = `node native-bench/proxy-compare.mjs --duration ${DURATION} --rounds ${ROUNDS} --tools ${TOOLS.join(',')} --threads ${THREADS} --connections ${CONNS} --targets ${opt.targets}${FRONTS.length ? ` --fronts ${FRONTS.join(',')}` : ''}${opt.base ? ` --base ${opt.base}` : ''}${TLS ? ` --tls --h2-connections ${H2_CONNS} --h2-streams ${H2_STREAMS}` : ''}`;
const loadAfter = loadavg();
const lines = [
  `# sabre proxy vs nginx vs HAProxy${TLS ? ' over TLS (HTTPS and HTTP/2)' : ''}`,
  '',
  `Generated ${new Date().toISOString()} by \`${cmd}\`.`,
  '',
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, shared with other work (figures are medians of ${ROUNDS} alternating rounds). ` +
    `Node ${process.versions.node}, uWS ${status.implementation.package} (${status.implementation.native ? 'native' : 'fallback'}). ` +
    `Three nginx backends (1 worker) return a fixed ${BODY.length}-byte body; every balancer uses ${THREADS} workers/threads and least-connections ` +
    `and adds the same X-Forwarded-For/-Proto/-Host and Via headers (sabre's defaults); ` +
    `load is ${CONNS} keep-alive connections for ${DURATION}s per run.` +
    (TLS
      ? ` TLS: every balancer terminates TLS with the same self-signed EC P-256 certificate (nginx \`listen … ssl http2\`, HAProxy \`ssl crt … alpn h2,http/1.1\`, sabre \`listen.tls\`); wrk/hey/ab speak HTTP/1.1 over TLS; h2load speaks h2 with ${H2_CONNS} connections × ${H2_STREAMS} streams, and its p50/p99 columns are h2load's mean and max time per request.`
      : ''),
  '',
  `Load average (1/5/15 min) before the runs: ${loadBefore.map((x) => x.toFixed(2)).join(' / ')}, after: ${loadAfter.map((x) => x.toFixed(2)).join(' / ')} (the machine is shared).`,
  '',
  ...Object.entries(fronts).map(([t, s]) => `- ${t}: front ${s.front} (${s.frontReason})`),
  '',
  '| tool | target | req/s | p50 ms | p99 ms | req/s vs nginx | p99 vs nginx | req/s vs HAProxy | LB CPU µs/req | failed |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
];
for (const tool of TOOLS) {
  const m = (t, k) => median((results[`${tool} ${t}`] ?? []).map((r) => r[k]));
  for (const target of TARGETS) {
    if (skip(tool, target)) {
      lines.push(
        `| ${tool} | ${target} | n/a: uWS.js serves only HTTP/1.1 (20.30 never answers HTTP/1.0), and ab sends only HTTP/1.0, also with -k | | | | | | | |`,
      );
      continue;
    }
    const rps = m(target, 'rps');
    const cpu = target === 'direct' ? '' : m(target, 'cpuUs').toFixed(1);
    lines.push(
      `| ${tool} | ${target} | ${rps.toFixed(0)} | ${m(target, 'p50').toFixed(2)} | ${m(target, 'p99').toFixed(2)} | ${(rps / m('nginx', 'rps')).toFixed(2)}× | ${(m(target, 'p99') / m('nginx', 'p99')).toFixed(2)}× | ${TARGETS.includes('haproxy') ? `${(rps / m('haproxy', 'rps')).toFixed(2)}×` : ''} | ${cpu} | ${tool.startsWith('ab') || tool === 'h2load' ? Math.max(...results[`${tool} ${target}`].map((r) => r.failed)) : ''} |`,
    );
  }
}
lines.push(
  '',
  'CPU µs/req is user+system CPU of the balancer process (nginx: master and workers) divided by the requests of that run; the client and backends are not counted.',
  '',
  ...hdr.write(join(dirname(opt.out), basename(opt.out, '.md')), dirname(opt.out), {
    note: "Client-side latency: wrk's distribution read by `-s native-bench/lib/wrk-hdr.lua`, hey's per-request times (`-o csv`), ab's percentile table (`-e`).",
  }),
  '## sabre proxy latency, HDR percentile distribution (ms, all runs, measured inside the proxy)',
  '',
  '```',
  latency.trimEnd(),
  '```',
  '',
);
mkdirSync(dirname(opt.out), { recursive: true });
writeFileSync(opt.out, lines.join('\n'));
console.log(`\nwrote ${opt.out}`);
process.exit(0);
