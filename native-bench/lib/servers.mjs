// Shared helpers for the native-bench server scripts: start/stop Redis and Sabre on
// free 127.0.0.1 ports, wait for PING, read CPU/RSS from /proc, describe the machine.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RESULTS_DIR = path.join(ROOT, 'native-bench', 'results');
const SETUP_HINT = 'run `sudo bash native-bench/setup.sh` once to install the benchmark tools';

/** Exit with a clear message when a required binary is missing (the user has not run setup.sh). */
export function requireTool(bin) {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`'${bin}' not found or not runnable; ${SETUP_HINT}`);
  return r.stdout.trim();
}

/** Ask the kernel for a free 127.0.0.1 port by listening on port 0 and closing again. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Every child we start, so cleanup can kill them on success, error and Ctrl-C alike.
const children = new Set();

/**
 * Describe how to start each server. Sabre runs from dist/ unless SABRE_CMD (or --sabre-cmd)
 * substitutes any shell command with a {port} placeholder, e.g. a second redis-server for
 * validating the harness before Sabre exists.
 */
export function serverSpecs({ shards, sabreCmd = process.env.SABRE_CMD, refCmd = process.env.REDIS_CMD, nodeFlags = [], env = {} } = {}) {
  let redis = {
    name: 'redis',
    argv: (port) => [
      'redis-server',
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
    ],
    env: {},
  };
  if (refCmd) {
    // An A/B of two Sabre builds: the previous build takes the reference's place.
    if (!refCmd.includes('{port}')) throw new Error('REDIS_CMD must contain a {port} placeholder');
    const cmd = (port) => refCmd.replaceAll('{port}', String(port));
    redis = { name: 'redis', argv: (port) => ['/bin/sh', '-c', `exec ${cmd(port)}`], display: cmd, env: {}, substitute: true };
  }
  let sabre;
  if (sabreCmd) {
    if (!sabreCmd.includes('{port}')) throw new Error('SABRE_CMD must contain a {port} placeholder');
    // `exec` makes the shell become the server, so the pid we watch is the server's own.
    const cmd = (port) => sabreCmd.replaceAll('{port}', String(port));
    sabre = { name: 'sabre', argv: (port) => ['/bin/sh', '-c', `exec ${cmd(port)}`], display: cmd, env, substitute: true };
  } else {
    const cli = path.join(ROOT, 'dist', 'cli.js');
    if (!existsSync(cli)) throw new Error(`${cli} not found; run \`npm run build\` first (or set SABRE_CMD to substitute a server)`);
    const extra = shards ? ['--shards', String(shards)] : [];
    sabre = {
      name: 'sabre',
      argv: (port) => [process.execPath, ...nodeFlags, cli, 'server', '--port', String(port), '--bind', '127.0.0.1', ...extra],
      env,
    };
  }
  return { redis, sabre };
}

/** A CA and a server certificate for 127.0.0.1 (EC P-256, as OpenSSL makes them), in a new temp dir; needs the openssl CLI. */
export function makeTlsCerts() {
  if (spawnSync('openssl', ['version']).status !== 0) throw new Error(`'openssl' not found or not runnable; ${SETUP_HINT}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sabre-bench-tls-'));
  const ssl = (line) => {
    const args = line.split(' ');
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const name of ['ca', 'server']) ssl(`genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out ${name}.key`);
  ssl('req -x509 -new -key ca.key -out ca.crt -days 2 -subj /CN=Sabre-bench-CA');
  ssl('req -new -key server.key -out server.csr -subj /CN=localhost');
  ssl('x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile san.ext');
  return { dir, ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };
}

/**
 * The same server with a TLS port next to its plain one, by Redis's flags (Sabre takes the same):
 * readiness checks keep the plain port, `redis-benchmark --tls` uses server.tlsPort. Clients need
 * no certificate (tls-auth-clients no), as with `redis-benchmark --tls --cacert`.
 */
export function withTls(spec, certs) {
  const flags = (tlsPort) => [
    '--tls-port',
    String(tlsPort),
    '--tls-cert-file',
    certs.cert,
    '--tls-key-file',
    certs.key,
    '--tls-ca-cert-file',
    certs.ca,
    '--tls-auth-clients',
    'no',
  ];
  if (!spec.substitute) return { ...spec, tls: true, argv: (port, tlsPort) => [...spec.argv(port), ...flags(tlsPort)] };
  // A substitute is one shell command line: the flags go at its end.
  const line = (port, tlsPort) => `${spec.display(port)} ${flags(tlsPort).map(shellQuote).join(' ')}`;
  return { ...spec, tls: true, argv: (port, tlsPort) => ['/bin/sh', '-c', `exec ${line(port, tlsPort)}`], display: line };
}

/** Start one server on a free port (and a free TLS port for a withTls spec), in its own process group, and wait until it answers PING. */
export async function startServer(spec, { onStdout } = {}) {
  const port = await freePort();
  const tlsPort = spec.tls ? await freePort() : undefined;
  const argv = spec.argv(port, tlsPort);
  const child = spawn(argv[0], argv.slice(1), {
    cwd: ROOT,
    detached: true, // own process group: we can kill the server and anything it forked at once
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...spec.env },
  });
  children.add(child);
  let tail = '';
  const keepTail = (d) => {
    tail = (tail + d.toString()).slice(-4000);
  };
  child.stdout.on('data', (d) => {
    keepTail(d);
    onStdout?.(d);
  });
  child.stderr.on('data', keepTail);
  child.on('exit', () => children.delete(child));
  const spawnError = new Promise((_, reject) =>
    child.on('error', (e) => reject(new Error(`cannot start ${spec.name} (${argv[0]}): ${e.message}`))),
  );
  spawnError.catch(() => {});
  const server = {
    name: spec.name,
    port,
    tlsPort,
    pid: child.pid,
    child,
    command: spec.display?.(port, tlsPort) ?? argv.map(shellQuote).join(' '),
    output: () => tail,
  };
  await Promise.race([waitForPing(server), spawnError]);
  return server;
}

/** Poll PING over a raw socket until +PONG (or fail if the process dies / 30 s pass). */
export async function waitForPing(server, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(
        `${server.name} exited (${server.child.exitCode ?? server.child.signalCode}) before answering PING:\n${server.output()}`,
      );
    }
    if (await pingOnce(server.port)) return;
    await sleep(100);
  }
  throw new Error(`${server.name} did not answer PING on 127.0.0.1:${server.port} within ${timeoutMs} ms:\n${server.output()}`);
}

/** One PING over a fresh socket; resolves true on +PONG, false on any error or other reply (-LOADING). */
export function pingOnce(port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('*1\r\n$4\r\nPING\r\n'));
    sock.on('data', (d) => {
      buf += d;
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

/** True while the server process is still running (redis-benchmark spins forever on a dead port). */
export function isAlive(server) {
  return server.child.exitCode === null && server.child.signalCode === null;
}

/** Send one command over a raw socket and return the raw reply text (for DBSIZE / INFO). */
export function rawCommand(port, ...args) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    sock.setTimeout(10000, () => {
      sock.destroy();
      reject(new Error(`${args[0]} timed out on port ${port}`));
    });
    sock.on('error', reject);
    sock.on('connect', () => sock.write(encodeCommand(args)));
    sock.on('data', (d) => {
      buf += d;
      try {
        const reply = parseSimpleReply(buf);
        if (reply !== undefined) {
          sock.destroy();
          resolve(reply);
        }
      } catch (err) {
        sock.destroy();
        reject(err);
      }
    });
  });
}

/** RESP-encode one command (array of bulk strings). */
export function encodeCommand(args) {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`;
  return s;
}

/** Parse a complete integer / simple / error / bulk reply, or undefined if more bytes are needed. */
function parseSimpleReply(buf) {
  const eol = buf.indexOf('\r\n');
  if (eol < 0) return undefined;
  const head = buf.slice(0, eol);
  if (head[0] === '$') {
    const len = Number(head.slice(1));
    if (len < 0) return null;
    return Buffer.byteLength(buf) >= eol + 2 + len + 2 ? buf.slice(eol + 2, eol + 2 + len) : undefined;
  }
  if (head[0] === '-') throw new Error(`server error: ${head.slice(1)}`);
  return head.slice(1);
}

/** The pid plus all its descendants, found via /proc/<pid>/stat ppid (threads are already inside a pid). */
export function processTree(rootPid) {
  const parentOf = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(Number(entry));
    if (f) parentOf.set(Number(entry), Number(f[1]));
  }
  const tree = [rootPid];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parentOf) if (ppid === tree[i]) tree.push(pid);
  }
  return tree;
}

/** Fields of /proc/<pid>/stat after the ")" of the command name (index 0 = state); null if gone. */
function statFields(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

export const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100; // 100 on Linux if getconf is missing

/** CPU seconds (utime+stime, all threads) used so far by a server and any processes it forked. */
export function cpuSeconds(server) {
  let ticks = 0;
  for (const pid of processTree(server.pid)) {
    const f = statFields(pid);
    if (f) ticks += Number(f[11]) + Number(f[12]); // fields 14 and 15 of stat: utime, stime
  }
  return ticks / CLK_TCK;
}

/** Resident set size in bytes (VmRSS) of a server and any processes it forked. */
export function rssBytes(server) {
  let kb = 0;
  for (const pid of processTree(server.pid)) {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      /* process went away */
    }
  }
  return kb * 1024;
}

/** Kill one server's whole process group: SIGTERM, then SIGKILL if it lingers. */
export async function stopServer(server) {
  const child = server.child ?? server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    /* already gone */
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 3000);
  await exited;
  clearTimeout(timer);
}

/** Register a child (e.g. a redis-benchmark run) so it is killed on exit/Ctrl-C too. */
export function track(child) {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/** Stop everything we started. */
export async function cleanup() {
  await Promise.all([...children].map((c) => stopServer(c)));
}

// Set on Ctrl-C/SIGTERM so benchmark loops stop starting new runs while we clean up.
export let stopping = false;

/** Run main(), always killing the servers afterwards, also on errors, Ctrl-C and SIGTERM. */
export function runMain(main) {
  const onSignal = (sig) => {
    stopping = true;
    process.stderr.write(`\n${sig}: stopping servers...\n`);
    cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Last resort if something exits synchronously: never leave a server behind.
  process.on('exit', () => {
    for (const c of children)
      try {
        process.kill(-c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
  });
  main()
    .catch((err) => {
      process.stderr.write(`error: ${err.message}\n`);
      process.exitCode = 1;
    })
    .finally(() => cleanup());
}

/** Machine/software facts for a results header. */
export function machineInfo() {
  const cpuModel = os.cpus()[0]?.model ?? 'unknown';
  const redisVersion = /v=(\S+)/.exec(requireTool('redis-server'))?.[1] ?? 'unknown';
  return {
    nproc: os.availableParallelism(),
    cpuModel,
    node: process.version,
    redisVersion,
    kernel: `${os.type()} ${os.release()}`,
    loadavg: os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
    totalMemGiB: (os.totalmem() / 2 ** 30).toFixed(1),
  };
}

/** Timestamp usable in a file name (UTC), e.g. 2026-11-23T2130Z. */
export function fileStamp(d = new Date()) {
  return `${d.toISOString().slice(0, 16).replace(':', '')}Z`;
}

/** Write a results file under native-bench/results and print it. */
export function writeResult(file, markdown) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, markdown);
  process.stdout.write(`\n${markdown}\nwritten to ${path.relative(process.cwd(), file)}\n`);
}

/** The exact command line that produced a result, for the report header. */
export function commandLine() {
  const env = process.env.SABRE_CMD ? `SABRE_CMD=${shellQuote(process.env.SABRE_CMD)} ` : '';
  return `${env}node ${path.relative(process.cwd(), process.argv[1])} ${process.argv.slice(2).map(shellQuote).join(' ')}`.trim();
}

/** Quote one argument for display as a shell command line. */
function shellQuote(a) {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The parsed option `--name` as a positive integer; throws with the usage text otherwise. */
export function positiveInt(values, name, usage) {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got '${values[name]}'\n${usage}`);
  return n;
}

/** Median of a list of numbers, those not finite left out (NaN if none). */
export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The value after `--name` on the command line, or `fallback`. */
export function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
}

/** The same server run on `cpus` by taskset (as is when cpus is empty). */
export function pinnedSpec(spec, cpus) {
  if (!cpus) return spec;
  return { ...spec, argv: (...ports) => ['taskset', '-c', cpus, ...spec.argv(...ports)] };
}

/**
 * Runs `fn(server, round)` for each server in `rounds` rounds, the order flipping every round
 * (a, b, b, a, …) so drift in the machine's load hits both.
 */
export async function alternating(rounds, servers, fn) {
  for (let round = 0; round < rounds; round++) {
    for (const server of round % 2 === 0 ? servers : [...servers].reverse()) await fn(server, round);
  }
}

/** A number from INFO `section` (e.g. used_memory from memory). */
export async function infoField(port, section, field) {
  return Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(await rawCommand(port, 'INFO', section))[1]);
}

/**
 * Sends RESP-encoded commands pipelined over one connection and resolves once as many replies
 * came back; they must be integers, simple strings or bulk strings (loads), an error rejects.
 */
export function pipeline(port, cmds) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let replies = 0;
    let pending = Buffer.alloc(0);
    sock.on('data', (d) => {
      pending = pending.length ? Buffer.concat([pending, d]) : d;
      let at = 0;
      for (;;) {
        const eol = pending.indexOf(10, at);
        if (eol === -1) break;
        let next = eol + 1;
        if (pending[at] === 45) {
          sock.destroy();
          return reject(new Error(pending.toString('latin1', at + 1, eol - 1)));
        }
        if (pending[at] === 36) {
          const len = Number(pending.toString('latin1', at + 1, eol - 1));
          if (len >= 0) next += len + 2;
          if (next > pending.length) break;
        }
        replies++;
        at = next;
      }
      pending = pending.subarray(at);
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

/** The section under `heading` of a results file as it was (for a run that does not redo it), or []. */
export function previousSection(file, heading) {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const at = text.indexOf(heading);
  if (at < 0) return [];
  const next = text.indexOf('\n## ', at + 1);
  return [text.slice(at, next < 0 ? text.length : next).trimEnd(), ''];
}

/** Starts a server from each spec, runs `fn(...servers)` and stops them all, also when it throws. */
export async function withServers(specs, fn) {
  const servers = [];
  try {
    for (const spec of specs) servers.push(await startServer(spec));
    return await fn(...servers);
  } finally {
    for (const server of servers) await stopServer(server);
  }
}

/**
 * Memory a load adds per element: `load(i)` runs for i = 0, 1, 2 (each into keys of its own); the
 * first two grow the process for the traffic itself, the third's growth of RSS and of INFO
 * used_memory (each read 300 ms after the load) is measured and divided by `elements`.
 */
export async function thirdLoadGrowth(server, elements, load) {
  for (let i = 0; i < 2; i++) await load(i);
  await sleep(300);
  const rss0 = rssBytes(server);
  const used0 = await infoField(server.port, 'memory', 'used_memory');
  await load(2);
  await sleep(300);
  const used = await infoField(server.port, 'memory', 'used_memory');
  return { rss: (rssBytes(server) - rss0) / elements, used: (used - used0) / elements };
}
