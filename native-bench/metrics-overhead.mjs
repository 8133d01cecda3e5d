#!/usr/bin/env node
// What scraping /metrics costs the command path: redis-benchmark SET/GET -P 16 against one Sabre
// with --metrics-port, in alternating rounds with and without a scraper fetching /metrics once a
// second (as Prometheus would). Needs dist/ (npm run build) and redis-benchmark.
// Usage: node native-bench/metrics-overhead.mjs [--rounds 6] [--requests 1000000] [--shards 2]
import path from 'node:path';
import { HdrRuns } from './lib/hdr-report.mjs';
import { runRedisBenchmark } from './lib/redis-benchmark.mjs';
import {
  RESULTS_DIR,
  alternating,
  commandLine,
  freePort,
  machineInfo,
  median,
  option,
  requireTool,
  runMain,
  serverSpecs,
  startServer,
  stopServer,
  writeResult,
} from './lib/servers.mjs';

const ROUNDS = Number(option('rounds', 6));
const REQUESTS = Number(option('requests', 1_000_000));
const SHARDS = Number(option('shards', 2));

const SERIES = { off: 'not scraped', on: 'scraped every second' };

/** One redis-benchmark run; resolves with requests/s per test, its latency distributions going to `hdr` under `mode`. */
async function bench(server, mode, hdr) {
  const run = await runRedisBenchmark(server, ['-n', String(REQUESTS), '-P', '16', '-c', '50', '-t', 'set,get']);
  const rps = {};
  for (const [test, t] of run.tests) {
    rps[test] = t.rps;
    hdr.add(`${test} -P 16`, SERIES[mode], t.histogram);
  }
  return rps;
}

async function main() {
  requireTool('redis-benchmark');
  const metricsPort = await freePort();
  const spec = serverSpecs({ shards: SHARDS }).sabre;
  const argv = spec.argv;
  spec.argv = (port) => [...argv(port), '--metrics-port', String(metricsPort)];
  const server = await startServer(spec);
  const rows = { off: { SET: [], GET: [] }, on: { SET: [], GET: [] } };
  let scrapes = 0;
  const hdr = new HdrRuns([SERIES.off, SERIES.on]);
  try {
    await alternating(ROUNDS, ['off', 'on'], async (mode, r) => {
      let timer = null;
      if (mode === 'on') {
        timer = setInterval(() => {
          fetch(`http://127.0.0.1:${metricsPort}/metrics`)
            .then((res) => res.text())
            .then(() => scrapes++);
        }, 1000);
      }
      const rps = await bench(server, mode, hdr);
      if (timer) clearInterval(timer);
      rows[mode].SET.push(rps.SET);
      rows[mode].GET.push(rps.GET);
      console.log(`round ${r + 1} scraping ${mode}: SET ${rps.SET} GET ${rps.GET}`);
    });
  } finally {
    await stopServer(server);
  }
  const m = machineInfo();
  let md = '# Scraping /metrics: what it costs SET/GET\n\n';
  md += `\`${commandLine()}\`\n\n${m.nproc} CPUs (${m.cpuModel}), Node ${m.node}, ${m.kernel}, load ${m.loadavg}.\n\n`;
  md += `redis-benchmark \`-P 16 -c 50 -n ${REQUESTS} -t set,get\` against one Sabre (${SHARDS} shards, \`--metrics-port\`), ${ROUNDS} alternating rounds with and without a scraper fetching /metrics every second (${scrapes} scrapes in all). Medians:\n\n`;
  md += '| test | without scraping | scraped every second | ratio |\n|---|--:|--:|--:|\n';
  for (const t of ['SET', 'GET']) {
    const off = median(rows.off[t]);
    const on = median(rows.on[t]);
    md += `| ${t} | ${off.toFixed(0)} | ${on.toFixed(0)} | ${(on / off).toFixed(3)}× |\n`;
  }
  md += ['', ...hdr.write(path.join(RESULTS_DIR, 'metrics-overhead'), RESULTS_DIR)].join('\n');
  writeResult(path.join(RESULTS_DIR, 'metrics-overhead.md'), md);
}

runMain(main);
