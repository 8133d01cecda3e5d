// redis-benchmark for the compare scripts: runs it against one server and reads its default (not
// --csv) report, whose per-test summary gives the throughput and latency figures --csv gives and
// whose "Latency by percentile distribution" gives the whole distribution for the HDR reports.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HdrRuns, histogramFromPoints } from './hdr-report.mjs';
import { alternating, cpuSeconds, median, track } from './servers.mjs';

/**
 * Reads one test's section of redis-benchmark's default output: the throughput and latency summary,
 * and the cumulative distribution as [ms, cumulative count] points from both of its distribution
 * tables; null when the section has no summary.
 */
export function parseRedisBenchmark(stdout) {
  const text = stdout.replace(/\r/g, '\n');
  const rps = Number(/throughput summary: ([\d.]+) requests per second/.exec(text)?.[1]);
  const summary = /latency summary \(msec\):\s*\n\s*avg\s+min\s+p50\s+p95\s+p99\s+max\s*\n\s*([\d.]+(?:[ \t]+[\d.]+){5})/.exec(text);
  const [avg, min, p50, p95, p99, max] = summary ? summary[1].trim().split(/\s+/).map(Number) : [];
  const byMs = new Map();
  for (const m of text.matchAll(/^\s*[\d.]+% <= ([\d.]+) milliseconds \(cumulative count (\d+)\)/gm)) {
    const ms = Number(m[1]);
    byMs.set(ms, Math.max(byMs.get(ms) ?? 0, Number(m[2])));
  }
  const points = [...byMs].sort((a, b) => a[0] - b[0]);
  if (!Number.isFinite(rps) || summary === null) return null;
  return { rps, avg, min, p50, p95, p99, max, points };
}

/**
 * Every test of one redis-benchmark report by its title (the `====== TITLE ======` line, the name
 * --csv gives in its first column), each parsed as parseRedisBenchmark plus its µs `histogram`.
 */
export function parseRedisBenchmarkTests(stdout) {
  const tests = new Map();
  const parts = stdout.replace(/\r/g, '\n').split(/^====== (.*) ======$/m);
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const parsed = parseRedisBenchmark(parts[i + 1]);
    if (parsed) tests.set(parts[i], { ...parsed, histogram: histogramFromPoints(parsed.points) });
  }
  return tests;
}

/**
 * One redis-benchmark run against `server` (from startServer) with `args` after its -h/-p; `pin`, a
 * CPU list, runs it under taskset. Resolves with its tests by title, the first test, and the CPU
 * seconds the server used during the run; rejects when it exits non-zero (an error reply ends it).
 */
export function runRedisBenchmark(server, args, { pin } = {}) {
  const argv = ['-h', '127.0.0.1', '-p', String(server.port), ...args];
  const [cmd, cmdArgs] = pin ? ['taskset', ['-c', pin, 'redis-benchmark', ...argv]] : ['redis-benchmark', argv];
  const cpu0 = cpuSeconds(server);
  return new Promise((resolve, reject) => {
    const child = track(spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== 0)
        return reject(new Error(`redis-benchmark ${args.join(' ')} exited with ${code ?? signal}: ${(err || out).slice(-500)}`));
      const tests = parseRedisBenchmarkTests(out);
      resolve({ tests, first: tests.values().next().value ?? null, cpu: cpuSeconds(server) - cpu0, output: out });
    });
  });
}

/**
 * One redis-benchmark command line on each server in `rounds` alternating rounds: per server name
 * the median requests/s and server CPU µs per request (of `requests`); the latency distributions go
 * to `hdr` (when given) under `label`.
 */
export async function benchRounds(servers, rounds, args, { requests, hdr, label }) {
  const runs = Object.fromEntries(servers.map((s) => [s.name, { rps: [], cpu: [] }]));
  await alternating(rounds, servers, async (server) => {
    const run = await runRedisBenchmark(server, args);
    hdr?.add(label, server.name, run.first?.histogram);
    runs[server.name].rps.push(run.first?.rps ?? 0);
    runs[server.name].cpu.push((run.cpu * 1e6) / requests);
  });
  return Object.fromEntries(Object.entries(runs).map(([name, r]) => [name, { rps: median(r.rps), cpu: median(r.cpu) }]));
}

/**
 * For shell scripts: redis-benchmark outputs saved as `<server>.<test>.<round>.out` merged per test
 * and server into HDR files and plots in `dir`; returns the Markdown section linking them from
 * `dir`'s parent folder.
 */
export function hdrFromOutputFiles(dir, files) {
  const hdr = new HdrRuns(['redis']);
  for (const file of files) {
    const [server, test] = path.basename(file).split('.');
    for (const t of parseRedisBenchmarkTests(readFileSync(file, 'utf8')).values()) hdr.add(test, server, t.histogram);
  }
  return hdr.write(dir, path.dirname(dir));
}

// `node native-bench/lib/redis-benchmark.mjs hdr DIR FILE...` prints hdrFromOutputFiles's section.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === 'hdr') {
  console.log(hdrFromOutputFiles(path.resolve(process.argv[3]), process.argv.slice(4)).join('\n'));
}
