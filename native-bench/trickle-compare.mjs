#!/usr/bin/env node
// Server CPU for one big command trickled in small pieces, Sabre next to real Redis 7.0: a 64 MB
// bulk (SET), a 64 MB multibulk of ~1M arguments (RPUSH) and one of ~8M one-byte arguments, each
// written in 8 KB pieces with a pause between them (so every piece is a read of its own), and for
// reference the same command written at once. CPU is utime+stime of the server process from /proc,
// taken just before the first byte and just after the reply. Needs dist/ (npx tsc) and redis-server.
// Usage: node native-bench/trickle-compare.mjs [--mb 64] [--piece 8192] [--delay-ms 1] [--cases set,rpush,tiny] [--rounds 3]
import net from 'node:net';
import path from 'node:path';
import {
  RESULTS_DIR,
  commandLine,
  cpuSeconds,
  machineInfo,
  median,
  option,
  rawCommand,
  runMain,
  serverSpecs,
  sleep,
  startServer,
  stopServer,
  writeResult,
} from './lib/servers.mjs';

const MB = Number(option('mb', 64));
const PIECE = Number(option('piece', 8192));
const DELAY_MS = Number(option('delay-ms', 1));
const CASES = option('cases', 'set,rpush,tiny').split(',');
const ROUNDS = Number(option('rounds', 3));

/** RESP encoding of one command whose arguments are Buffers or strings. */
function encode(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(a);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** The command of a case, about MB megabytes long, and the reply it must get. */
function build(name) {
  const total = MB * 1024 * 1024;
  if (name === 'set')
    return { bytes: encode(['SET', 'trickle', Buffer.alloc(total, 120)]), reply: '+OK', what: `SET of one ${MB} MB bulk` };
  const elem = name === 'rpush' ? 'x'.repeat(56) : 'x';
  const per = `$${elem.length}\r\n${elem}\r\n`.length;
  const n = Math.floor(total / per);
  const head = Buffer.from(`*${n + 2}\r\n$5\r\nRPUSH\r\n$7\r\ntrickle\r\n`);
  const body = Buffer.alloc(n * per);
  body.fill(`$${elem.length}\r\n${elem}\r\n`);
  return {
    bytes: Buffer.concat([head, body]),
    reply: `:${n}`,
    what: `RPUSH of ${n.toLocaleString('en')} arguments of ${elem.length} byte${elem.length > 1 ? 's' : ''}`,
  };
}

/** Writes `bytes` to a fresh connection (in pieces, or at once) and resolves with the first reply line. */
function send(port, bytes, piece, delayMs) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    sock.setNoDelay(true);
    let got = '';
    sock.on('error', reject);
    sock.on('data', (d) => {
      got += d.toString('latin1');
      const eol = got.indexOf('\r\n');
      if (eol !== -1) {
        sock.destroy();
        resolve(got.slice(0, eol));
      }
    });
    sock.on('connect', async () => {
      if (piece === 0) {
        sock.write(bytes);
        return;
      }
      for (let p = 0; p < bytes.length; p += piece) {
        if (!sock.write(bytes.subarray(p, p + piece))) await new Promise((r) => sock.once('drain', r));
        await sleep(delayMs);
      }
    });
  });
}

/** One measurement: server CPU seconds and wall seconds for the command, checked against its reply. */
async function measure(server, c, piece) {
  await rawCommand(server.port, 'DEL', 'trickle');
  await sleep(200);
  const cpu0 = cpuSeconds(server);
  const t0 = performance.now();
  const line = await send(server.port, c.bytes, piece, DELAY_MS);
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(server) - cpu0;
  if (line !== c.reply) throw new Error(`${server.name}: expected ${c.reply}, got ${line}`);
  await rawCommand(server.port, 'DEL', 'trickle');
  return { cpu, wall };
}

/** CPU a server spends idle over `ms` (timers, cron), to read the trickled numbers against. */
async function idleCpu(server, ms) {
  const c0 = cpuSeconds(server);
  await sleep(ms);
  return (cpuSeconds(server) - c0) / (ms / 1000);
}

async function main() {
  const specs = serverSpecs();
  const cases = CASES.map((name) => ({ name, ...build(name) }));
  const rows = [];
  const idle = {};
  for (const spec of [specs.redis, specs.sabre]) {
    const server = await startServer(spec);
    try {
      // After start-up has settled (JIT, first GCs), which would otherwise count as idle.
      await sleep(3000);
      idle[spec.name] = await idleCpu(server, 3000);
      for (const c of cases) {
        const runs = [];
        for (let r = 0; r < ROUNDS; r++) runs.push({ whole: await measure(server, c, 0), trickled: await measure(server, c, PIECE) });
        const mid = (k) => ({ cpu: median(runs.map((x) => x[k].cpu)), wall: median(runs.map((x) => x[k].wall)) });
        const whole = mid('whole');
        const trickled = mid('trickled');
        rows.push({ server: spec.name, c, whole, trickled });
        console.log(
          `${spec.name} ${c.name}: whole ${whole.cpu.toFixed(2)} s CPU; trickled ${trickled.cpu.toFixed(2)} s CPU in ${trickled.wall.toFixed(1)} s`,
        );
      }
    } finally {
      await stopServer(server);
    }
  }
  const m = machineInfo();
  let md = `# Trickled big commands: server CPU, Sabre vs Redis\n\n`;
  md += `\`${commandLine()}\`\n\n`;
  md += `${m.nproc} CPUs (${m.cpuModel}), Node ${m.node}, Redis ${m.redisVersion}, ${m.kernel}, load ${m.loadavg}.\n\n`;
  md += `Each command (${MB} MB) is sent once at once and once in ${PIECE}-byte pieces with ${DELAY_MS} ms between them, on a new connection; `;
  md += `CPU is the server's utime+stime from /proc between the first byte and the reply, median of ${ROUNDS} (idle CPU: Redis ${idle.redis.toFixed(3)} s/s, `;
  md += `Sabre ${idle.sabre.toFixed(3)} s/s, included in the trickled numbers).\n\n`;
  md += '| command | Redis whole | Redis trickled | Sabre whole | Sabre trickled | Sabre/Redis trickled | same, idle CPU taken out |\n';
  md += '|---|---:|---:|---:|---:|---:|---:|\n';
  for (const c of cases) {
    const r = rows.find((x) => x.server === 'redis' && x.c === c);
    const s = rows.find((x) => x.server === 'sabre' && x.c === c);
    const net = (x, name) => Math.max(0.005, x.trickled.cpu - idle[name] * x.trickled.wall);
    md += `| ${c.what} | ${r.whole.cpu.toFixed(2)} s | ${r.trickled.cpu.toFixed(2)} s | ${s.whole.cpu.toFixed(2)} s | ${s.trickled.cpu.toFixed(2)} s `;
    md += `| ${(s.trickled.cpu / r.trickled.cpu).toFixed(2)}× | ${(net(s, 'sabre') / net(r, 'redis')).toFixed(2)}× |\n`;
  }
  writeResult(path.join(RESULTS_DIR, 'trickle.md'), md);
}

runMain(main);
