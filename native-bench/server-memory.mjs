#!/usr/bin/env node
// Memory per key of Sabre vs Redis (RSS growth while loading exactly N distinct keys), and
// with --gc-trace, Sabre's GC pauses (node --trace-gc) while loading 5M keys. See README.md.
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  RESULTS_DIR,
  cleanup,
  commandLine,
  fileStamp,
  machineInfo,
  rawCommand,
  rssBytes,
  runMain,
  serverSpecs,
  sleep,
  startServer,
  stopServer,
  writeResult,
} from './lib/servers.mjs';

const USAGE = `usage: node native-bench/server-memory.mjs [options]
  --keys N         distinct keys to load (default 1000000; 5000000 with --gc-trace)
  --value-size N   bytes per value (default 100)
  --shards N       passed to 'sabre server --shards N'
  --gc-trace       Sabre only: run it under node --trace-gc and report the longest GC pause per kind
  --out FILE       results file (default native-bench/results/memory-<date>.md or gc-<date>.md)
env SABRE_CMD='redis-server --port {port} --save ""' substitutes the Sabre command (validation);
    with --gc-trace it must start node with --trace-gc itself, e.g. 'node --trace-gc native-bench/lib/toy-server.mjs {port}'.`;

const BATCH = 1000; // SETs per pipelined write
const IN_FLIGHT = 4; // batches written before waiting for their replies

/** Parse and validate the command-line flags. */
function options() {
  const { values } = parseArgs({
    options: {
      keys: { type: 'string' },
      'value-size': { type: 'string', default: '100' },
      shards: { type: 'string' },
      'gc-trace': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got '${v}'\n${USAGE}`);
    return n;
  };
  const gcTrace = values['gc-trace'];
  return {
    gcTrace,
    keys: int('keys', values.keys ?? (gcTrace ? 5000000 : 1000000)),
    valueSize: int('value-size', values['value-size']),
    shards: values.shards ? int('shards', values.shards) : undefined,
    out: values.out ?? path.join(RESULTS_DIR, `${gcTrace ? 'gc' : 'memory'}-${fileStamp()}.md`),
  };
}

/** Key i, fixed width so every key has the same size: key:000000000042. */
const keyName = (i) => `key:${String(i).padStart(12, '0')}`;

/** Value for key i: valueSize bytes, distinct per key (the index padded with 'v'). */
const valueFor = (i, size) => String(i).padStart(size, 'v').slice(-size);

/**
 * Load keys 0..n-1 with SET over one raw socket, BATCH commands per write and IN_FLIGHT batches
 * outstanding. SET replies are single lines (+OK or -ERR), so counting lines counts replies.
 */
async function loadKeys(port, n, valueSize, label) {
  const sock = net.connect({ host: '127.0.0.1', port });
  await new Promise((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  let replies = 0;
  let atLineStart = true;
  let errorLine = null; // first error reply, collected byte by byte
  let collecting = false;
  let failure = null;
  let wake = () => {};
  sock.on('error', (e) => {
    failure = e;
    wake();
  });
  sock.on('close', () => {
    failure ??= new Error('connection closed by server');
    wake();
  });
  sock.on('data', (buf) => {
    for (const b of buf) {
      if (atLineStart && b === 0x2d /* '-' */ && errorLine === null) {
        collecting = true;
        errorLine = '';
      }
      if (b === 0x0a) {
        replies++;
        atLineStart = true;
        collecting = false;
        continue;
      }
      if (collecting && b !== 0x0d) errorLine += String.fromCharCode(b);
      atLineStart = false;
    }
    wake();
  });
  // Resolve once at least `target` replies arrived (or the connection failed).
  const repliesAtLeast = (target) =>
    new Promise((resolve) => {
      wake = () => {
        if (replies >= target || failure || errorLine !== null) resolve();
      };
      wake();
    });
  const t0 = performance.now();
  let sent = 0;
  let lastReport = t0;
  while (sent < n) {
    const count = Math.min(BATCH, n - sent);
    let cmd = '';
    for (let i = sent; i < sent + count; i++) {
      const k = keyName(i);
      const v = valueFor(i, valueSize);
      cmd += `*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`;
    }
    sock.write(cmd);
    sent += count;
    await repliesAtLeast(sent - IN_FLIGHT * BATCH);
    if (failure || errorLine !== null) break;
    if (performance.now() - lastReport > 5000) {
      lastReport = performance.now();
      console.error(`  ${label}: ${sent.toLocaleString('en-US')} / ${n.toLocaleString('en-US')} keys`);
    }
  }
  if (!failure && errorLine === null) await repliesAtLeast(n);
  sock.destroy();
  if (errorLine !== null) throw new Error(`${label}: SET failed after ${replies} replies: ${errorLine}`);
  if (failure) throw new Error(`${label}: loading failed after ${replies} replies: ${failure.message}`);
  return { seconds: (performance.now() - t0) / 1000 };
}

/** INFO memory's used_memory in bytes, or null if the server does not report it. */
async function usedMemory(port) {
  try {
    const m = /used_memory:(\d+)/.exec(await rawCommand(port, 'INFO', 'memory'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Start a server fresh, measure memory, load the keys, measure again, check DBSIZE, stop it. */
async function measure(spec, opt, startOptions) {
  const server = await startServer(spec, startOptions);
  console.error(`${server.name} on :${server.port} (pid ${server.pid}): loading ${opt.keys.toLocaleString('en-US')} keys`);
  await sleep(500); // let startup allocations settle before the baseline
  const before = { rss: rssBytes(server), used: await usedMemory(server.port), dbsize: Number(await rawCommand(server.port, 'DBSIZE')) };
  const { seconds } = await loadKeys(server.port, opt.keys, opt.valueSize, server.name);
  await sleep(1000); // let the server finish any work queued behind the last reply
  const after = { rss: rssBytes(server), used: await usedMemory(server.port), dbsize: Number(await rawCommand(server.port, 'DBSIZE')) };
  await stopServer(server);
  const result = { name: server.name, command: server.command, before, after, seconds, keys: opt.keys };
  console.error(`  ${server.name}: ${(result.seconds).toFixed(1)} s, DBSIZE ${after.dbsize}, RSS +${mib(after.rss - before.rss)} MiB`);
  return result;
}

const mib = (b) => (b / 2 ** 20).toFixed(1);
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const perKey = (r, field) => (r.after[field] === null || r.before[field] === null ? NaN : (r.after[field] - r.before[field]) / r.keys);
const dbsizeOk = (r) => r.before.dbsize === 0 && r.after.dbsize === r.keys;

/** Header lines shared by both reports. */
function header(title, opt, info) {
  return [
    `# ${title}, ${new Date().toISOString()}`,
    '',
    `- Command: \`${commandLine()}\``,
    `- Machine: ${info.nproc} CPUs (${info.cpuModel}), ${info.totalMemGiB} GiB RAM, ${info.kernel}; load average at start ${info.loadavg}`,
    `- Software: Node ${info.node}, redis-server ${info.redisVersion}`,
    `- Load: exactly ${opt.keys.toLocaleString('en-US')} distinct keys \`key:%012d\` with ${opt.valueSize}-byte values, SET pipelined over one connection (${BATCH} per write, ${IN_FLIGHT} writes in flight), into a freshly started server.`,
  ];
}

/** Markdown report for the memory comparison. */
function memoryReport(opt, info, redis, sabre) {
  const substitute = process.env.SABRE_CMD ? ' — **substitute via SABRE_CMD, not Sabre** (harness validation)' : '';
  const rowFor = (r) =>
    `| ${r.name} | ${mib(r.before.rss)} | ${mib(r.after.rss)} | ${fmt(perKey(r, 'rss'))} | ${fmt(perKey(r, 'used'))} | ${r.after.dbsize.toLocaleString('en-US')}${dbsizeOk(r) ? '' : ' ⚠'} | ${fmt(r.seconds)} | ${Math.round(r.keys / r.seconds).toLocaleString('en-US')} |`;
  const lines = [
    ...header('Sabre vs Redis: memory per key', opt, info),
    `- Redis: \`${redis.command}\``,
    `- Sabre: \`${sabre.command}\`${substitute}`,
    '- RSS = VmRSS from /proc/<pid>/status (summed over any processes the server forked), 0.5 s after PING answered and 1 s after the last reply. used_memory = INFO memory, if the server reports it.',
    '',
    '| Server | RSS before MiB | RSS after MiB | RSS growth bytes/key | used_memory growth bytes/key | DBSIZE after | load s | SET/s while loading |',
    '|---|--:|--:|--:|--:|--:|--:|--:|',
    rowFor(redis),
    rowFor(sabre),
    '',
    `**Sabre / Redis RSS growth per key: ${fmt(perKey(sabre, 'rss') / perKey(redis, 'rss'), 2)}×** (Redis used_memory per key: ${fmt(perKey(redis, 'used'))} bytes; key + value payload alone is ${keyName(0).length + opt.valueSize} bytes).`,
  ];
  for (const r of [redis, sabre]) {
    if (!dbsizeOk(r))
      lines.push('', `⚠ ${r.name}: DBSIZE was ${r.before.dbsize} before and ${r.after.dbsize} after loading, expected 0 and ${r.keys}.`);
  }
  return `${lines.join('\n')}\n`;
}

// One --trace-gc line: "[pid:0xisolate]  1234 ms: Mark-Compact 12.3 (15.0) -> 10.1 (14.0) MB, 5.6 / 0.0 ms  (+ 44.5 ms in 69 steps ..., biggest step 8.6 ms ...".
const GC_LINE =
  /^\[(\d+):(0x[0-9a-f]+)\]\s+(\d+) ms: (.+?) ([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ ([\d.]+) ms(.*)$/;

/** Parse --trace-gc output lines into events {isolate, kind, pauseMs, biggestStepMs, heapAfterMb}. */
export function parseGcTrace(text) {
  const events = [];
  events.unparsed = 0; // lines that look like GC traces but did not match: a V8 format change
  for (const line of text.split('\n')) {
    const m = GC_LINE.exec(line.trim());
    if (!m) {
      if (/^\[\d+:0x[0-9a-f]+\]\s+\d+ ms: /.test(line.trim())) events.unparsed++;
      continue;
    }
    const kind = m[4].replace(/\s*\(.*\)$/, '').trim(); // "Mark-Compact (reduce)" -> "Mark-Compact"
    const step = /biggest step ([\d.]+) ms/.exec(m[11]);
    events.push({ isolate: m[2], kind, pauseMs: Number(m[9]), biggestStepMs: step ? Number(step[1]) : 0, heapAfterMb: Number(m[7]) });
  }
  return events;
}

/** Markdown report for --gc-trace: longest pause per GC kind, over all isolates (main + workers). */
function gcReport(opt, info, result, events, limitMs) {
  const substitute = process.env.SABRE_CMD ? ' — **substitute via SABRE_CMD, not Sabre** (harness validation)' : '';
  const kinds = [...new Set(events.map((e) => e.kind))];
  const maxPause = Math.max(0, ...events.map((e) => e.pauseMs));
  const lines = [
    ...header('Sabre GC pauses while loading keys (node --trace-gc)', opt, info),
    `- Sabre: \`${result.command}\`${substitute}`,
    `- Loaded in ${fmt(result.seconds)} s (${Math.round(result.keys / result.seconds).toLocaleString('en-US')} SET/s); DBSIZE after: ${result.after.dbsize.toLocaleString('en-US')}${dbsizeOk(result) ? '' : ` ⚠ expected ${result.keys}`}; RSS ${mib(result.before.rss)} → ${mib(result.after.rss)} MiB.`,
    `- Every GC from server start to 1 s after the last reply, on all isolates (main thread and workers: ${new Set(events.map((e) => e.isolate)).size} seen). Pause = the stop-the-world time V8 prints; incremental marking steps are listed separately.`,
    '',
    '| GC kind | count | max pause ms | total pause ms | biggest incremental step ms |',
    '|---|--:|--:|--:|--:|',
  ];
  for (const kind of kinds) {
    const es = events.filter((e) => e.kind === kind);
    const sum = es.reduce((s, e) => s + e.pauseMs, 0);
    lines.push(
      `| ${kind} | ${es.length} | ${fmt(Math.max(...es.map((e) => e.pauseMs)), 2)} | ${fmt(sum, 1)} | ${fmt(Math.max(...es.map((e) => e.biggestStepMs)), 2)} |`,
    );
  }
  lines.push('');
  if (events.unparsed) lines.push(`⚠ ${events.unparsed} GC trace lines could not be parsed and are not counted above.`, '');
  if (events.length === 0)
    lines.push(
      '⚠ **No --trace-gc lines were found in the server output** — is it a Node process started with --trace-gc (with SABRE_CMD, include `node --trace-gc` in it)?',
    );
  else
    lines.push(
      `**Longest GC pause: ${fmt(maxPause, 2)} ms — ${maxPause <= limitMs ? `within the ${limitMs} ms budget` : `⚠ OVER the ${limitMs} ms budget`}.**`,
    );
  return `${lines.join('\n')}\n`;
}

/** Run the memory comparison, or with --gc-trace, the GC-pause measurement on Sabre alone. */
async function main() {
  const opt = options();
  const info = machineInfo(); // also checks redis-server is installed
  if (opt.gcTrace) {
    // Node refuses --trace-gc in NODE_OPTIONS, so it goes on the command line; it is a V8 flag and
    // so covers worker threads too (and fork() passes execArgv on). With SABRE_CMD, put it there.
    const { sabre } = serverSpecs({ shards: opt.shards, nodeFlags: ['--trace-gc'] });
    let trace = '';
    const result = await measure(sabre, opt, {
      onStdout: (d) => {
        trace += d;
      },
    });
    const events = parseGcTrace(trace);
    writeResult(opt.out, gcReport(opt, info, result, events, 10));
    if (!dbsizeOk(result) || events.length === 0) process.exitCode = 2;
    return;
  }
  const { redis, sabre } = serverSpecs({ shards: opt.shards });
  const r = await measure(redis, opt);
  const s = await measure(sabre, opt);
  await cleanup();
  writeResult(opt.out, memoryReport(opt, info, r, s));
  if (!dbsizeOk(r) || !dbsizeOk(s)) process.exitCode = 2;
}

runMain(main);
