/**
 * Secure defaults as Redis 7.0: protected mode, protected configs and commands (DEBUG, MODULE),
 * CONFIG SET reaching every shard, maxclients fitted to the descriptor limit, and clients let in
 * when the password is removed. A client "from elsewhere" connects from 127.0.0.2, which Redis
 * (comparing the peer with exactly 127.0.0.1 and ::1) treats as non-local.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { RespConn, encode, type Reply } from '../helpers/resp.js';
import { runCli, startServer, type TestServer } from '../helpers/server.js';
import { spawnRedisServer } from '../helpers/redis-server.js';

const DENIED =
  "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";
const DEBUG_REFUSED =
  'ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.';
const MODULE_REFUSED =
  'ERR MODULE command not allowed. If the enable-module-command option is set to "local", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.';
const protectedConfig = (name: string): Reply => ({
  err: `ERR CONFIG SET failed (possibly related to argument '${name}') - can't set protected config`,
});

/** Whether this host lets a client bind 127.0.0.2 (all of 127/8 is loopback on Linux). */
async function canUseSecondLoopback(): Promise<boolean> {
  const srv = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  const ok = await new Promise<boolean>((resolve) => {
    const s = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
  srv.close();
  return ok;
}

const REMOTE_OK = await canUseSecondLoopback();
const HAVE_PRLIMIT = spawnSync('prlimit', ['--version']).status === 0;
const HAVE_REDIS = spawnSync('redis-server', ['--version']).status === 0;
if (!REMOTE_OK) console.warn('security.test: skipping the non-loopback client tests: cannot connect from 127.0.0.2');
if (!HAVE_PRLIMIT)
  console.warn('security.test: skipping the descriptor-limit test: prlimit is missing (Debian: apt-get install util-linux)');
if (!HAVE_REDIS)
  console.warn('security.test: skipping the comparison with Redis: redis-server is not installed (apt-get install redis-server)');

/** Connects from 127.0.0.2 to the server on 127.0.0.1. */
function fromElsewhere(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything a non-loopback client receives after sending PING, and whether the server closed the connection. */
async function remoteGreeting(port: number): Promise<{ text: string; closed: boolean }> {
  const s = await fromElsewhere(port);
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString('latin1')));
  s.on('error', () => {});
  s.write('PING\r\n');
  const closed = await new Promise<boolean>((resolve) => {
    s.once('close', () => resolve(true));
    s.on('data', () => {
      if (text.endsWith('\r\n') && !text.startsWith('-DENIED')) resolve(false);
    });
  });
  s.destroy();
  return { text, closed };
}

/** A RespConn from 127.0.0.2. */
async function remoteConn(port: number): Promise<RespConn> {
  return new RespConn(await fromElsewhere(port));
}

describe('protected mode', () => {
  let srv: TestServer;
  let admin: Redis;
  beforeAll(async () => {
    srv = await startServer(['--shards', '1']);
    admin = new Redis({ port: srv.port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    admin.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('is on by default and serves loopback clients', async () => {
    expect(await admin.config('GET', 'protected-mode')).toEqual(['protected-mode', 'yes']);
    expect(await admin.ping()).toBe('PONG');
  });

  it.skipIf(!REMOTE_OK)(
    'refuses a client from 127.0.0.2 with Redis DENIED text and closes, until a password is set or it is turned off',
    async () => {
      const before = Number(/rejected_connections:(\d+)/.exec(await admin.info('stats'))![1]);
      expect(await remoteGreeting(srv.port)).toEqual({ text: DENIED, closed: true });
      expect(await admin.info('stats')).toContain(`rejected_connections:${before + 1}`);

      // A password lifts protected mode: node-redis from 127.0.0.2 authenticates and works.
      expect(await admin.config('SET', 'requirepass', 'secret')).toBe('OK');
      expect(await remoteGreeting(srv.port)).toEqual({ text: '-NOAUTH Authentication required.\r\n', closed: false });
      const client = createClient({ socket: { host: '127.0.0.1', port: srv.port, localAddress: '127.0.0.2' }, password: 'secret' });
      await client.connect();
      expect(await client.set('remote', 'yes')).toBe('OK');
      expect(await client.get('remote')).toBe('yes');
      await client.quit();

      // Removing it protects again; protected-mode no admits the client without one.
      expect(await admin.config('SET', 'requirepass', '')).toBe('OK');
      expect(await remoteGreeting(srv.port)).toEqual({ text: DENIED, closed: true });
      expect(await admin.config('SET', 'protected-mode', 'no')).toBe('OK');
      expect(await remoteGreeting(srv.port)).toEqual({ text: '+PONG\r\n', closed: false });
      expect(await admin.config('SET', 'protected-mode', 'yes')).toBe('OK');
    },
  );
});

describe('protected configs and commands, defaults', () => {
  let srv: TestServer;
  let c: RespConn;
  beforeAll(async () => {
    srv = await startServer(['--shards', '2']);
    c = await RespConn.open(srv.port);
  });
  afterAll(async () => {
    c.close();
    expect(await srv.stop()).toBe(0);
  });

  it('CONFIG SET dir and dbfilename are refused, and a set that names one changes nothing', async () => {
    expect(await c.call('CONFIG', 'SET', 'dir', tmpdir())).toEqual(protectedConfig('dir'));
    expect(await c.call('CONFIG', 'SET', 'dbfilename', 'x.rdb')).toEqual(protectedConfig('dbfilename'));
    expect(await c.call('CONFIG', 'SET', 'maxmemory-samples', '7', 'dbfilename', 'x.rdb')).toEqual(protectedConfig('dbfilename'));
    expect(await c.call('CONFIG', 'GET', 'maxmemory-samples')).toEqual(['maxmemory-samples', '5']);
    expect(await c.call('CONFIG', 'GET', 'dbfilename')).toEqual(['dbfilename', 'dump.rdb']);
  });

  it('the enable-* options read no and can only be set at start-up', async () => {
    for (const name of ['enable-protected-configs', 'enable-debug-command', 'enable-module-command']) {
      expect(await c.call('CONFIG', 'GET', name)).toEqual([name, 'no']);
      expect(await c.call('CONFIG', 'SET', name, 'yes')).toEqual({
        err: `ERR CONFIG SET failed (possibly related to argument '${name}') - can't set immutable config`,
      });
    }
  });

  it('DEBUG and MODULE LOAD are refused with Redis text, before authentication and inside MULTI', async () => {
    expect(await c.call('DEBUG', 'SLEEP', '0')).toEqual({ err: DEBUG_REFUSED });
    expect(await c.call('DEBUG', 'OBJECT', 'k')).toEqual({ err: DEBUG_REFUSED });
    expect(await c.call('DEBUG')).toEqual({ err: "ERR wrong number of arguments for 'debug' command" });
    expect(await c.call('MODULE', 'LOAD', '/tmp/x.so')).toEqual({ err: MODULE_REFUSED });
    expect(await c.call('MULTI')).toBe('OK');
    expect(await c.call('DEBUG', 'SLEEP', '0')).toEqual({ err: DEBUG_REFUSED });
    expect(await c.call('EXEC')).toEqual({ err: 'EXECABORT Transaction discarded because of previous errors.' });
    expect(await c.call('CONFIG', 'SET', 'requirepass', 'pw')).toBe('OK');
    try {
      const locked = await RespConn.open(srv.port);
      expect(await locked.call('DEBUG', 'SLEEP', '0')).toEqual({ err: DEBUG_REFUSED });
      expect(await locked.call('GET', 'k')).toEqual({ err: 'NOAUTH Authentication required.' });
      locked.close();
    } finally {
      expect(await c.call('CONFIG', 'SET', 'requirepass', '')).toBe('OK');
    }
  });

  it('a bad value for an enable-* option stops start-up', async () => {
    const r = await runCli(['server', '--port', '0', '--bind', '127.0.0.1', '--enable-debug-command', 'maybe']);
    expect(r.code).toBe(1);
    expect(r.output).toContain("bad value for 'enable-debug-command': argument(s) must be one of the following: no, yes, local");
  });

  it.skipIf(!HAVE_REDIS)('answers as redis-server 7.0 does with the same defaults', async () => {
    const probe = async (port: number): Promise<Reply[]> => {
      const p = await RespConn.open(port);
      const out = [
        await p.call('CONFIG', 'SET', 'dir', tmpdir()),
        await p.call('CONFIG', 'SET', 'dbfilename', 'x.rdb'),
        await p.call('CONFIG', 'SET', 'enable-protected-configs', 'yes'),
        await p.call('CONFIG', 'GET', 'enable-debug-command'),
        await p.call('CONFIG', 'GET', 'protected-mode'),
        await p.call('DEBUG', 'SLEEP', '0'),
        await p.call('MODULE', 'LOAD', '/tmp/x.so'),
      ];
      p.close();
      return out;
    };
    const redis = await startRedis([]);
    try {
      expect(await probe(srv.port)).toEqual(await probe(redis.port));
      if (REMOTE_OK) expect(await remoteGreeting(srv.port)).toEqual(await remoteGreeting(redis.port));
    } finally {
      redis.stop();
    }
  });
});

describe.skipIf(!REMOTE_OK)('enable-protected-configs and enable-debug-command local and yes', () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const s of servers) expect(await s.stop()).toBe(0);
  });

  it('local: allowed from 127.0.0.1, refused from 127.0.0.2', async () => {
    const srv = await startServer(['--protected-mode', 'no', '--enable-protected-configs', 'local', '--enable-debug-command', 'local']);
    servers.push(srv);
    const near = await RespConn.open(srv.port);
    expect(await near.call('CONFIG', 'SET', 'dbfilename', 'local.rdb')).toBe('OK');
    expect(await near.call('DEBUG', 'SLEEP', '0')).toBe('OK');
    near.close();
    const far = await remoteConn(srv.port);
    expect(await far.call('CONFIG', 'SET', 'dbfilename', 'far.rdb')).toEqual(protectedConfig('dbfilename'));
    expect(await far.call('DEBUG', 'SLEEP', '0')).toEqual({ err: DEBUG_REFUSED });
    expect(await far.call('CONFIG', 'GET', 'dbfilename')).toEqual(['dbfilename', 'local.rdb']);
    far.close();
  });

  it('yes: allowed from anywhere', async () => {
    const srv = await startServer(['--protected-mode', 'no', '--enable-protected-configs', 'yes', '--enable-debug-command', 'yes']);
    servers.push(srv);
    const far = await remoteConn(srv.port);
    expect(await far.call('CONFIG', 'SET', 'dir', tmpdir())).toBe('OK');
    expect(await far.call('DEBUG', 'SLEEP', '0')).toBe('OK');
    far.close();
  });
});

describe('CONFIG SET reaches every shard', () => {
  let srv: TestServer;
  let r: Redis;
  /** Keys spread over the three shards (CRC16 slot % 3 differs between them). */
  const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8'];
  beforeAll(async () => {
    srv = await startServer(['--shards', '3']);
    r = new Redis({ port: srv.port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    r.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('SETRANGE and APPEND past a lowered proto-max-bulk-len are refused on every shard, and allowed again when it rises', async () => {
    const mb = 1024 * 1024;
    expect(await r.config('SET', 'proto-max-bulk-len', String(mb))).toBe('OK');
    try {
      for (const k of keys) {
        await expect(r.setrange(k, mb, 'x')).rejects.toThrow('ERR string exceeds maximum allowed size (proto-max-bulk-len)');
        expect(await r.set(k, 'a'.repeat(mb - 1))).toBe('OK');
        expect(await r.append(k, 'b')).toBe(mb);
        await expect(r.append(k, 'c')).rejects.toThrow('ERR string exceeds maximum allowed size (proto-max-bulk-len)');
        expect(await r.strlen(k)).toBe(mb);
      }
    } finally {
      expect(await r.config('SET', 'proto-max-bulk-len', '512mb')).toBe('OK');
    }
    for (const k of keys) {
      expect(await r.setrange(k, mb, 'x')).toBe(mb + 1);
      expect(await r.append(k, 'y')).toBe(mb + 2);
    }
    await r.del(...keys);
  });

  it('the encoding thresholds too', async () => {
    expect(await r.config('SET', 'hash-max-listpack-entries', '1')).toBe('OK');
    try {
      for (const k of keys) {
        await r.hset(`h${k}`, 'a', '1', 'b', '2');
        expect(await r.object('ENCODING', `h${k}`)).toBe('hashtable');
      }
    } finally {
      expect(await r.config('SET', 'hash-max-listpack-entries', '512')).toBe('OK');
      await r.del(...keys.map((k) => `h${k}`));
    }
  });
});

describe('removing the password', () => {
  let srv: TestServer;
  let admin: RespConn;
  beforeAll(async () => {
    srv = await startServer(['--shards', '2']);
    admin = await RespConn.open(srv.port);
  });
  afterAll(async () => {
    admin.close();
    expect(await srv.stop()).toBe(0);
  });

  it('lets in a client that never authenticated, and locks it again when a password is set, as Redis does', async () => {
    expect(await admin.call('CONFIG', 'SET', 'requirepass', 'pw')).toBe('OK');
    const u = await RespConn.open(srv.port);
    const big = 'x'.repeat(20_000);
    expect(await u.call('PING')).toEqual({ err: 'NOAUTH Authentication required.' });

    expect(await admin.call('CONFIG', 'SET', 'requirepass', '')).toBe('OK');
    expect(await u.call('PING')).toBe('PONG');
    // Past the 16 KiB an unauthenticated client may send in one bulk.
    expect(await u.call('SET', 'unlocked', big)).toBe('OK');
    expect(await u.call('STRLEN', 'unlocked')).toBe(20_000);
    // Redis 7.0's HELLO still looks at the client's own flag.
    expect(await u.call('HELLO', '2')).toEqual({
      err: 'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
    });

    const created = await RespConn.open(srv.port);
    expect(await admin.call('CONFIG', 'SET', 'requirepass', 'pw2')).toBe('OK');
    expect(await u.call('PING')).toEqual({ err: 'NOAUTH Authentication required.' });
    // One that connected while there was no password counts as authenticated.
    expect(await created.call('PING')).toBe('PONG');
    expect(await admin.call('CONFIG', 'SET', 'requirepass', '')).toBe('OK');
    u.close();
    created.close();
  });
});

// Node's module loader opens a thread's whole module graph at once: one shard needs about 80
// descriptors to start (README, Configuration: maxclients), so the limit leaves room for that.
const FD_LIMIT = 128;

describe.skipIf(!HAVE_PRLIMIT)('maxclients under a descriptor limit', () => {
  let srv: TestServer;
  let dir: string;
  const clients: RespConn[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-fd-'));
    srv = await startServer(['--shards', '1', '--dir', dir, '--appendonly', 'yes'], {}, ['prlimit', `--nofile=${FD_LIMIT}:${FD_LIMIT}`]);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    expect(await srv.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('is lowered at start-up with Redis log lines, refuses clients past it, and SAVE, BGSAVE and BGREWRITEAOF still work when full', async () => {
    const out = srv.output();
    const m = /You requested maxclients of 10000 requiring at least (\d+) max file descriptors\./.exec(out);
    expect(m).not.toBeNull();
    expect(out).toContain(`Server can't set maximum open files to ${m![1]} because of OS error: Operation not permitted.`);
    const reduced = new RegExp(
      `Current maximum open files is ${FD_LIMIT}\\. maxclients has been reduced to (\\d+) to compensate for low ulimit\\. If you need higher maxclients increase 'ulimit -n'\\.`,
    ).exec(out);
    expect(reduced).not.toBeNull();
    const max = Number(reduced![1]);
    // Redis keeps 32 descriptors beyond the clients; Sabre keeps those plus what its threads hold.
    expect(max).toBeGreaterThan(0);
    expect(max).toBeLessThanOrEqual(FD_LIMIT - 32);
    expect(Number(m![1])).toBe(10000 + FD_LIMIT - max);

    for (let i = 0; i < max; i++) clients.push(await RespConn.open(srv.port));
    const c = clients[0]!;
    expect(await c.call('CONFIG', 'GET', 'maxclients')).toEqual(['maxclients', String(max)]);
    const extra = await RespConn.open(srv.port);
    expect(await extra.raw(encode(['PING']))).toEqual([{ err: 'ERR max number of clients reached' }]);
    extra.close();

    for (let i = 0; i < 200; i++) await c.call('SET', `key:${i}`, `value:${i}`);
    expect(await c.call('SAVE')).toBe('OK');
    const finished = async (field: string): Promise<string> => {
      for (;;) {
        const info = String(await c.call('INFO', 'persistence'));
        if (info.includes(`${field}:0`)) return info;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    expect(await c.call('BGSAVE')).toBe('Background saving started');
    expect(await finished('rdb_bgsave_in_progress')).toContain('rdb_last_bgsave_status:ok');
    expect(await c.call('BGREWRITEAOF')).toBe('Background append only file rewriting started');
    expect(await finished('aof_rewrite_in_progress')).toContain('aof_last_bgrewrite_status:ok');
    for (const conn of clients) expect(await conn.call('PING')).toBe('PONG');

    expect(await c.call('CONFIG', 'SET', 'maxclients', String(max + 1))).toEqual({
      err: `ERR CONFIG SET failed (possibly related to argument 'maxclients') - The operating system is not able to handle the specified number of clients, try with ${max}`,
    });
    expect(await c.call('CONFIG', 'SET', 'maxclients', String(max - 1))).toBe('OK');
    expect(await c.call('CONFIG', 'SET', 'maxclients', String(max))).toBe('OK');
  });
});

/** Starts redis-server 7.0 on a free port with its defaults (saving off), for side-by-side replies. */
async function startRedis(flags: string[]): Promise<{ port: number; stop(): void }> {
  const { port, proc } = await spawnRedisServer(['--save', '', ...flags]);
  return { port, stop: () => proc.kill('SIGTERM') };
}
