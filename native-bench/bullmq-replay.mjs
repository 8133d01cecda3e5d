// BullMQ's scripts in process: captures a real BullMQ run against Redis 7.0 with MONITOR (the
// client's own commands, the same EVALSHAs in the same order), then replays them on a shard's Store
// and script engine from dist/, with no sockets and no threads, and reports CPU per script call.
// bullmq-compare.mjs says how fast a queue is; this says where a shard's time per job goes, steadily
// enough for an A/B of one change (DIST=/path/to/other/dist runs another build on the same capture).
// Usage: npm run build && node native-bench/bullmq-replay.mjs [--jobs 5000] [--rounds 8]
import { readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { ROOT, median, option, runMain, serverSpecs, startServer, stopServer } from './lib/servers.mjs';

const JOBS = Number(option('jobs', 5000));
const ROUNDS = Number(option('rounds', 8));
const DIST = process.env.DIST ?? path.join(ROOT, 'dist');

/** BullMQ's script names by the SHA1 of their bodies. */
function scriptNames() {
  const dir = path.join(ROOT, 'node_modules', 'bullmq', 'dist', 'cjs', 'scripts');
  const require = createRequire(import.meta.url);
  const names = new Map();
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.js') || f === 'index.js') continue;
    for (const s of Object.values(require(path.join(dir, f)))) {
      if (s && typeof s.content === 'string') names.set(createHash('sha1').update(s.content).digest('hex'), s.name);
    }
  }
  return names;
}

/** The arguments of one MONITOR line (sdscatrepr's quoting undone), or null for a line of a script's own calls. */
function monitorArgs(line) {
  const at = line.indexOf('] "');
  if (at < 0 || line.includes(' lua] ')) return null;
  const args = [];
  let p = at + 2;
  while (p < line.length) {
    if (line[p] !== '"') {
      p++;
      continue;
    }
    p++;
    const bytes = [];
    while (p < line.length && line[p] !== '"') {
      if (line[p] === '\\') {
        const c = line[p + 1];
        if (c === 'x') {
          bytes.push(Number.parseInt(line.slice(p + 2, p + 4), 16));
          p += 4;
          continue;
        }
        bytes.push({ n: 10, r: 13, t: 9, a: 7, b: 8 }[c] ?? c.charCodeAt(0));
        p += 2;
        continue;
      }
      bytes.push(line.charCodeAt(p));
      p++;
    }
    p++;
    args.push(Buffer.from(bytes));
  }
  return args;
}

/** Runs BullMQ (add JOBS jobs, process them with concurrency 50) against Redis while MONITOR records; returns the client commands. */
async function capture() {
  const redis = await startServer(serverSpecs().redis);
  try {
    const mon = net.connect(redis.port, '127.0.0.1');
    let text = '';
    mon.setEncoding('latin1');
    mon.on('data', (d) => {
      text += d;
    });
    mon.write('MONITOR\r\n');
    await new Promise((r) => setTimeout(r, 100));
    const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
    const queue = new Queue('replay', { connection, prefix: 'bull' });
    await queue.waitUntilReady();
    for (let i = 0; i < JOBS; i += 500) {
      await queue.addBulk(Array.from({ length: Math.min(500, JOBS - i) }, (_, k) => ({ name: 'job', data: { n: i + k } })));
    }
    let done = 0;
    let worker;
    await new Promise((resolve, reject) => {
      worker = new Worker('replay', async (job) => job.data.n * 2, { connection, prefix: 'bull', concurrency: 50 });
      worker.on('completed', () => {
        if (++done === JOBS) resolve();
      });
      worker.on('failed', (_job, err) => reject(err));
    });
    await worker.close();
    await queue.close();
    await new Promise((r) => setTimeout(r, 200));
    mon.destroy();
    const skip = new Set(['info', 'quit', 'client', 'bzpopmin', 'monitor', 'hello', 'ping']);
    return text
      .split('\n')
      .map(monitorArgs)
      .filter((a) => a !== null && a.length > 0 && !skip.has(a[0].toString('latin1').toLowerCase()));
  } finally {
    await stopServer(redis);
  }
}

runMain(async () => {
  const commands = await capture();
  const { Store } = await import(path.join(DIST, 'shards/store.js'));
  const { Ctx } = await import(path.join(DIST, 'shards/context.js'));
  const { RespWriter } = await import(path.join(DIST, 'wire/resp-writer.js'));
  const { buildHandlerTable } = await import(path.join(DIST, 'shards/command-set.js'));
  const { initScripting } = await import(path.join(DIST, 'shards/script-run.js'));
  const { COMMANDS, lookupCommand, lookupSubcommand } = await import(path.join(DIST, 'commands/table.js'));
  const store = new Store(16);
  const ctx = new Ctx(store, new RespWriter(1024), { maxBulkLen: 512 * 1024 * 1024 });
  const handlers = buildHandlerTable();
  await initScripting(
    store,
    ctx.limits,
    (c, cmd) => handlers[cmd](c),
    (id) => handlers[id] !== undefined && id >= 0,
  );

  // Each command laid out once, as a frame's arguments would be.
  const frames = commands.map((parts) => {
    const buf = Buffer.concat(parts);
    const as = new Int32Array(parts.length);
    const al = new Int32Array(parts.length);
    let off = 0;
    parts.forEach((p, i) => {
      as[i] = off;
      al[i] = p.length;
      off += p.length;
    });
    let id = lookupCommand(buf, 0, al[0]);
    if (id >= 0 && COMMANDS[id].subcommands !== null && parts.length > 1) id = lookupSubcommand(id, buf, as[1], al[1]);
    const name = parts[0].toString('latin1').toLowerCase();
    return { buf, as, al, argc: parts.length, id, key: name === 'evalsha' ? parts[1].toString('latin1').toLowerCase() : name };
  });
  const run = (f) => {
    ctx.reserve(f.argc);
    ctx.buf = f.buf;
    ctx.as.set(f.as);
    ctx.al.set(f.al);
    ctx.argc = f.argc;
    ctx.out.len = 0;
    ctx.out.proto = 2;
    ctx.cmd = f.id;
    handlers[f.id](ctx);
  };
  const flushall =
    frames.find((f) => f.key === 'flushall') ??
    (() => {
      const buf = Buffer.from('FLUSHALL');
      return { buf, as: Int32Array.of(0), al: Int32Array.of(8), argc: 1, id: lookupCommand(buf, 0, 8), key: 'flushall' };
    })();

  const names = scriptNames();
  const perKey = new Map();
  const roundCpu = [];
  let errors = 0;
  for (let r = 0; r < ROUNDS + 1; r++) {
    run(flushall);
    const cpu0 = process.cpuUsage();
    for (const f of frames) {
      if (f.id < 0) continue;
      const t = performance.now();
      run(f);
      const us = (performance.now() - t) * 1000;
      if (r === 0) {
        // The first round warms the JIT (and loads the scripts through their EVALs).
        if (ctx.out.bytes[0] === 45 && !Buffer.from(ctx.out.bytes.subarray(0, 9)).toString('latin1').includes('NOSCRIPT')) errors++;
        continue;
      }
      let s = perKey.get(f.key);
      if (!s) perKey.set(f.key, (s = []));
      s.push(us);
    }
    if (r > 0) {
      const c = process.cpuUsage(cpu0);
      roundCpu.push((c.user + c.system) / 1000);
    }
  }
  const rows = [...perKey]
    .map(([key, s]) => ({
      key,
      name: names.get(key) ?? key,
      calls: s.length / ROUNDS,
      total: s.reduce((a, b) => a + b, 0) / ROUNDS,
      med: median(s),
    }))
    .sort((a, b) => b.total - a.total);
  console.log(
    `BullMQ capture: ${commands.length} client commands for ${JOBS} jobs; replayed ${ROUNDS} rounds in process (${DIST}), errors ${errors}`,
  );
  console.log(
    `CPU per round: median ${median(roundCpu).toFixed(0)} ms (${((median(roundCpu) * 1000) / JOBS).toFixed(1)} µs per job), min ${Math.min(...roundCpu).toFixed(0)} ms`,
  );
  console.log('| command or script | calls per round | median µs per call | ms per round |');
  console.log('|---|--:|--:|--:|');
  for (const r of rows.slice(0, 12)) console.log(`| ${r.name} | ${r.calls} | ${r.med.toFixed(1)} | ${(r.total / 1000).toFixed(1)} |`);
});
