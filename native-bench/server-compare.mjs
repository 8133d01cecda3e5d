#!/usr/bin/env node
// Throughput, latency and CPU-per-op of Sabre vs real Redis, measured with identical
// redis-benchmark runs in alternation (redis, sabre, redis, sabre, ...). See README.md.
import { HdrRuns, histogramFromPoints } from './lib/hdr-report.mjs';
import { parseRedisBenchmark } from './lib/redis-benchmark.mjs';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  RESULTS_DIR,
  cleanup,
  commandLine,
  cpuSeconds,
  fileStamp,
  isAlive,
  machineInfo,
  makeTlsCerts,
  median,
  positiveInt,
  requireTool,
  runMain,
  serverSpecs,
  startServer,
  stopping,
  track,
  withTls,
  writeResult,
} from './lib/servers.mjs';

const USAGE = `usage: node native-bench/server-compare.mjs [options]
  --clients N      redis-benchmark -c (default 50)
  --requests N     redis-benchmark -n per run (default 1000000)
  --keyspace N     redis-benchmark -r (default 100000)
  --data N         redis-benchmark -d: bytes of SET/GET values (default 3, redis-benchmark's)
  --rounds N       alternating rounds per test; medians are quoted (default 3)
  --tests LIST     comma list of set,get,incr,mset,ping,ping_inline,ping_mbulk (default set,get,incr,mset,ping)
  --pipelines LIST comma list of -P values (default 1,16)
  --shards N       passed to 'sabre server --shards N'
  --tls            over TLS: certificates made with openssl, both servers on a --tls-port, redis-benchmark --tls --cacert
  --timeout S      kill a single redis-benchmark run after S seconds (default 600)
  --out FILE       results file (default native-bench/results/server-<date>.md)
env SABRE_CMD='redis-server --port {port} --save ""' substitutes the Sabre command (validation);
env REDIS_CMD='node ../base/dist/cli.js server --port {port}' substitutes the reference (A/B of two builds).`;

// redis-benchmark's name for each -t test we run (ping is split so CPU/op is per test).
const CSV_NAME = { set: 'SET', get: 'GET', incr: 'INCR', mset: 'MSET (10 keys)', ping_inline: 'PING_INLINE', ping_mbulk: 'PING_MBULK' };

/** Parse and validate the command-line flags. */
function options() {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '50' },
      requests: { type: 'string', default: '1000000' },
      keyspace: { type: 'string', default: '100000' },
      data: { type: 'string', default: '3' },
      rounds: { type: 'string', default: '3' },
      tests: { type: 'string', default: 'set,get,incr,mset,ping' },
      pipelines: { type: 'string', default: '1,16' },
      shards: { type: 'string' },
      tls: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '600' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name) => positiveInt(values, name, USAGE);
  const tests = values.tests
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .flatMap((t) => (t === 'ping' ? ['ping_inline', 'ping_mbulk'] : [t]));
  for (const t of tests) if (!CSV_NAME[t]) throw new Error(`unknown test '${t}'\n${USAGE}`);
  const pipelines = values.pipelines.split(',').map(Number);
  if (pipelines.some((p) => !Number.isInteger(p) || p <= 0)) throw new Error(`bad --pipelines '${values.pipelines}'`);
  return {
    clients: int('clients'),
    requests: int('requests'),
    keyspace: int('keyspace'),
    data: int('data'),
    rounds: int('rounds'),
    timeoutS: int('timeout'),
    shards: values.shards ? int('shards') : undefined,
    tls: values.tls,
    tests,
    pipelines,
    out: values.out ?? path.join(RESULTS_DIR, `server-${fileStamp()}.md`),
  };
}

/** Run one redis-benchmark against a server; returns its summary row, latency histogram, CPU µs/op and any problems. */
async function benchmark(server, test, pipeline, opt) {
  const args = [
    '-h',
    '127.0.0.1',
    '-p',
    String(server.tlsPort ?? server.port),
    '-c',
    String(opt.clients),
    '-n',
    String(opt.requests),
    '-r',
    String(opt.keyspace),
    '-P',
    String(pipeline),
    '-d',
    String(opt.data),
    '-t',
    test,
  ];
  if (opt.certs) args.push('--tls', '--cacert', opt.certs.ca);
  const cpu0 = cpuSeconds(server);
  const t0 = performance.now();
  const child = track(spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true }));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  // redis-benchmark spins forever if the server dies, so watch the server and bound the run.
  let killedWhy = null;
  const kill = (why) => {
    if (!killedWhy) {
      killedWhy = why;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
  const timer = setTimeout(() => kill(`timed out after ${opt.timeoutS} s`), opt.timeoutS * 1000);
  const watch = setInterval(() => {
    if (!isAlive(server)) kill(`${server.name} died during the run`);
  }, 500);
  const [code, signal] = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (c, s) => resolve([c, s]));
  });
  clearTimeout(timer);
  clearInterval(watch);
  const wallS = (performance.now() - t0) / 1000;
  const cpuUsPerOp = ((cpuSeconds(server) - cpu0) * 1e6) / opt.requests;

  const problems = [];
  if (killedWhy) problems.push(killedWhy);
  else if (code !== 0) problems.push(`redis-benchmark exited with ${code ?? signal}`);
  // The default output (not --csv): its summary and the whole latency distribution, for the HDR report.
  const parsed = parseRedisBenchmark(stdout);
  const row = parsed && {
    rps: parsed.rps,
    avg: parsed.avg,
    min: parsed.min,
    p50: parsed.p50,
    p95: parsed.p95,
    p99: parsed.p99,
    max: parsed.max,
  };
  const histogram = parsed ? histogramFromPoints(parsed.points) : null;
  // redis-benchmark exits on the first error reply and prints it (e.g. "Error from server: ERR unknown command").
  for (const m of stdout.matchAll(/^(Error from server: .*|.*(?:error|Error|ERR) .*)$/gm)) problems.push(m[1].trim());
  for (const line of stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    // Redis-benchmark reads CONFIG GET save/appendonly only to print a hint; a server without CONFIG is fine.
    if (/^WARNING: Could not fetch server CONFIG/.test(line)) continue;
    problems.push(line);
  }
  if (!row && problems.length === 0) problems.push(`no throughput summary for ${CSV_NAME[test]} in output`);
  return { server: server.name, test, pipeline, row, histogram, cpuUsPerOp, wallS, problems: [...new Set(problems)].slice(0, 5) };
}

/** Number formatting helpers for the table. */
const fmtInt = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');
const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');

/** Medians over the clean runs of one server for one test/pipeline, plus how many runs failed. */
function summarize(runs) {
  const ok = runs.filter((r) => r.row && r.problems.length === 0);
  return {
    ok: ok.length,
    total: runs.length,
    rps: median(ok.map((r) => r.row.rps)),
    p50: median(ok.map((r) => r.row.p50)),
    p99: median(ok.map((r) => r.row.p99)),
    cpu: median(ok.map((r) => r.cpuUsPerOp)),
  };
}

/**
 * Writes each test's merged latency distribution per server as .hgrm and one SVG plot of both into
 * results/<report name>/; returns the Markdown section that links and shows them.
 */
function hdrSection(opt, results) {
  const hdr = new HdrRuns();
  for (const test of opt.tests) {
    for (const pipeline of opt.pipelines) {
      for (const r of results) {
        if (r.test === test && r.pipeline === pipeline && r.problems.length === 0)
          hdr.add(`${CSV_NAME[test]} -P ${pipeline}`, r.server, r.histogram);
      }
    }
  }
  const dir = path.join(path.dirname(opt.out), path.basename(opt.out, '.md'));
  return ['', ...hdr.write(dir, path.dirname(opt.out), { note: 'Clean runs only.', embed: true })];
}

/** Build the Markdown report: header, median table, failures, and every single run. */
function report(opt, info, servers, results, aborted) {
  const substitute = Boolean(process.env.SABRE_CMD);
  const lines = [
    `# Sabre vs Redis: redis-benchmark, ${new Date().toISOString()}`,
    '',
    `- Command: \`${commandLine()}\``,
    `- Machine: ${info.nproc} CPUs (${info.cpuModel}), ${info.totalMemGiB} GiB RAM, ${info.kernel}; load average at start ${info.loadavg}`,
    `- Software: Node ${info.node}, redis-server ${info.redisVersion}`,
    `- Redis: \`${servers.redis.command}\``,
    `- Sabre: \`${servers.sabre.command}\`${substitute ? ' — **substitute via SABRE_CMD, not Sabre** (harness validation)' : ''}`,
    ...(opt.certs
      ? [
          '- TLS: both servers serve a --tls-port with the same EC P-256 certificate (made with openssl for the run); redis-benchmark `--tls --cacert ca.crt` connects there.',
        ]
      : []),
    `- redis-benchmark: \`-c ${opt.clients} -n ${opt.requests} -r ${opt.keyspace} -d ${opt.data}\`, one \`-t\` test per run, ${opt.rounds} rounds in alternation (redis, sabre, redis, sabre, ...) after an unmeasured warm-up of every test at -P 16 on both. Values are medians over the clean rounds.`,
    '- CPU µs/op: server process utime+stime (all threads and forked children, /proc/<pid>/stat) over the run ÷ requests; resolution 1 clock tick. redis-benchmark runs on the same machine and competes for the same cores.',
    '',
    '| Test | -P | Redis ops/s | Sabre ops/s | Sabre/Redis | Redis p50 ms | Sabre p50 ms | Redis p99 ms | Sabre p99 ms | Redis CPU µs/op | Sabre CPU µs/op | Clean runs R/S |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const test of opt.tests) {
    for (const pipeline of opt.pipelines) {
      const pick = (name) => summarize(results.filter((r) => r.server === name && r.test === test && r.pipeline === pipeline));
      const r = pick('redis');
      const s = pick('sabre');
      const failed = (x) => (x.ok < x.total ? ' ⚠' : '');
      lines.push(
        `| ${CSV_NAME[test]} | ${pipeline} | ${fmtInt(r.rps)}${failed(r)} | ${fmtInt(s.rps)}${failed(s)} | ${fmt(s.rps / r.rps)} | ${fmt(r.p50, 3)} | ${fmt(s.p50, 3)} | ${fmt(r.p99, 3)} | ${fmt(s.p99, 3)} | ${fmt(r.cpu)} | ${fmt(s.cpu)} | ${r.ok}/${r.total} · ${s.ok}/${s.total} |`,
      );
    }
  }
  // Load drifts on a shared machine; each Sabre run against the Redis run just before it cancels most of it.
  lines.push(
    '',
    '## Per-round ratios',
    '',
    'Each Sabre run ÷ the Redis run of the same round (clean pairs only): median and range.',
    '',
    '| Test | -P | Sabre/Redis ops/s, median of rounds | lowest | highest | pairs |',
    '|---|--:|--:|--:|--:|--:|',
  );
  for (const test of opt.tests) {
    for (const pipeline of opt.pipelines) {
      const runs = results.filter((r) => r.test === test && r.pipeline === pipeline);
      const ratios = [];
      // Rounds run redis then sabre, so runs pair up in order.
      for (let i = 0; i + 1 < runs.length; i += 2) {
        const r = runs[i];
        const s = runs[i + 1];
        if (r.server === 'redis' && s.server === 'sabre' && r.row && s.row && !r.problems.length && !s.problems.length) {
          ratios.push(s.row.rps / r.row.rps);
        }
      }
      lines.push(
        `| ${CSV_NAME[test]} | ${pipeline} | ${fmt(median(ratios))} | ${fmt(Math.min(...ratios))} | ${fmt(Math.max(...ratios))} | ${ratios.length} |`,
      );
    }
  }
  lines.push(...hdrSection(opt, results));
  if (aborted) lines.push('', `## ⚠ Benchmark aborted`, '', aborted);
  const bad = results.filter((r) => r.problems.length > 0);
  lines.push('', `## Runs with errors (${bad.length})`, '');
  if (bad.length === 0) lines.push('None: every run exited 0 with a throughput summary and no error lines.');
  else {
    lines.push('These runs are excluded from the medians above (marked ⚠).', '');
    for (const r of bad) lines.push(`- ${r.server} ${CSV_NAME[r.test]} -P ${r.pipeline}: ${r.problems.map((p) => `\`${p}\``).join('; ')}`);
  }
  lines.push(
    '',
    '## All runs',
    '',
    '| # | Server | Test | -P | ops/s | p50 ms | p99 ms | max ms | CPU µs/op | wall s | ok |',
    '|--:|---|---|--:|--:|--:|--:|--:|--:|--:|---|',
  );
  results.forEach((r, i) => {
    lines.push(
      `| ${i + 1} | ${r.server} | ${CSV_NAME[r.test]} | ${r.pipeline} | ${fmtInt(r.row?.rps)} | ${fmt(r.row?.p50, 3)} | ${fmt(r.row?.p99, 3)} | ${fmt(r.row?.max, 3)} | ${fmt(r.cpuUsPerOp)} | ${fmt(r.wallS, 1)} | ${r.problems.length ? 'ERROR' : 'yes'} |`,
    );
  });
  return `${lines.join('\n')}\n`;
}

/** Start both servers, run every test/pipeline in alternating rounds, write the report. */
async function main() {
  const opt = options();
  requireTool('redis-benchmark');
  const info = machineInfo(); // also checks redis-server
  let specs = serverSpecs({ shards: opt.shards });
  if (opt.tls) {
    opt.certs = makeTlsCerts();
    specs = { redis: withTls(specs.redis, opt.certs), sabre: withTls(specs.sabre, opt.certs) };
  }
  const servers = { redis: await startServer(specs.redis), sabre: await startServer(specs.sabre) };
  const where = (s) => `:${s.tlsPort ?? s.port}${s.tlsPort ? ' (TLS)' : ''}`;
  console.error(`redis on ${where(servers.redis)} (pid ${servers.redis.pid}), sabre on ${where(servers.sabre)} (pid ${servers.sabre.pid})`);
  // Warm-up, not measured: V8 compiles Sabre's hot paths during its first few hundred thousand
  // commands, which would otherwise land in whichever test runs first.
  for (const server of [servers.redis, servers.sabre]) {
    for (const test of opt.tests) await benchmark(server, test, 16, { ...opt, requests: Math.min(opt.requests, 200000) });
  }
  const results = [];
  let aborted = null;
  const total = opt.tests.length * opt.pipelines.length * opt.rounds * 2;
  runs: for (const test of opt.tests) {
    for (const pipeline of opt.pipelines) {
      for (let round = 1; round <= opt.rounds; round++) {
        for (const server of [servers.redis, servers.sabre]) {
          if (stopping) return;
          // A dead server ends the benchmark, but the runs so far are still reported.
          if (!isAlive(server)) {
            aborted = `${server.name} exited (${server.child.exitCode ?? server.child.signalCode}) after run ${results.length}; remaining runs skipped. Last output:\n\n\`\`\`\n${server.output().trim()}\n\`\`\``;
            console.error(`error: ${aborted}`);
            break runs;
          }
          const r = await benchmark(server, test, pipeline, opt);
          results.push(r);
          const status = r.problems.length
            ? `ERROR ${r.problems[0]}`
            : `${fmtInt(r.row.rps)} ops/s p99 ${r.row.p99} ms cpu ${fmt(r.cpuUsPerOp)} µs/op`;
          console.error(`[${results.length}/${total}] ${server.name.padEnd(5)} ${CSV_NAME[test]} -P ${pipeline} round ${round}: ${status}`);
        }
      }
    }
  }
  await cleanup();
  if (opt.certs) rmSync(opt.certs.dir, { recursive: true, force: true });
  writeResult(opt.out, report(opt, info, servers, results, aborted));
  if (aborted || results.some((r) => r.problems.length)) process.exitCode = 2;
}

runMain(main);
