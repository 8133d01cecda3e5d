/** Connection and server commands over raw RESP and real clients; expectations are Redis 7.0's. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { RespConn, type Reply } from '../helpers/resp.js';
import { AGAINST_REDIS, startTarget } from '../helpers/target.js';
import type { TestServer } from '../helpers/server.js';

function mapOf(r: Reply): Record<string, Reply> {
  if (Array.isArray(r)) {
    const o: Record<string, Reply> = {};
    for (let i = 0; i < r.length; i += 2) o[r[i] as string] = r[i + 1]!;
    return o;
  }
  return Object.fromEntries((r as { map: [Reply, Reply][] }).map.map(([k, v]) => [k as string, v]));
}

describe.each([1, 3])('connection and server commands with %i shard(s)', (shards) => {
  let srv: TestServer;
  let c: RespConn;
  beforeAll(async () => {
    srv = await startTarget(['--shards', String(shards)]);
    c = await RespConn.open(srv.port);
  });
  afterAll(async () => {
    c.close();
    await srv.stop();
  });

  it('PING, ECHO and arity errors', async () => {
    expect(await c.call('PING')).toBe('PONG');
    expect(await c.call('PING', 'hi')).toBe('hi');
    expect(await c.call('ECHO', 'x y')).toBe('x y');
    expect(await c.call('PING', 'a', 'b')).toEqual({ err: "ERR wrong number of arguments for 'ping' command" });
    expect(await c.call('GET')).toEqual({ err: "ERR wrong number of arguments for 'get' command" });
    expect(await c.call('client', 'setname')).toEqual({ err: "ERR wrong number of arguments for 'client|setname' command" });
  });

  it('unknown commands and subcommands', async () => {
    expect(await c.call('foo', 'a')).toEqual({ err: "ERR unknown command 'foo', with args beginning with: 'a' " });
    expect(await c.call('FOO')).toEqual({ err: "ERR unknown command 'FOO', with args beginning with: " });
    expect(await c.call('CONFIG', 'nope')).toEqual({ err: "ERR unknown subcommand 'nope'. Try CONFIG HELP." });
    expect(await c.call('CLIENT', 'nope')).toEqual({ err: "ERR unknown subcommand 'nope'. Try CLIENT HELP." });
  });

  it('HELLO 2 and HELLO 3 report the server fields and switch protocol', async () => {
    const h = await RespConn.open(srv.port);
    try {
      const id = await h.call('CLIENT', 'ID');
      const two = mapOf(await h.call('HELLO', '2'));
      expect(two.server).toBe('redis');
      expect(two.version).toMatch(/^7\.\d+\.\d+$/);
      expect(two.proto).toBe(2);
      expect(two.id).toBe(id);
      expect(two.mode).toBe('standalone');
      expect(two.role).toBe('master');
      expect(two.modules).toEqual([]);
      const three = await h.call('HELLO', '3', 'SETNAME', 'conn-3');
      expect(three).toHaveProperty('map');
      expect(mapOf(three).proto).toBe(3);
      expect(await h.call('CLIENT', 'GETNAME')).toBe('conn-3');
      // RESP3 types now: null, map, double
      expect(await h.call('GET', 'no-such-key-here')).toBeNull();
      const [raw] = await h.raw('*2\r\n$3\r\nGET\r\n$16\r\nno-such-key-here\r\n');
      expect(raw).toBeNull();
      expect(await h.call('CONFIG', 'GET', 'maxclients')).toEqual({ map: [['maxclients', '10000']] });
      expect(await h.call('HELLO')).toHaveProperty('map');
      expect(await h.call('HELLO', '4')).toEqual({ err: 'NOPROTO unsupported protocol version' });
      expect(await h.call('HELLO', '1')).toEqual({ err: 'NOPROTO unsupported protocol version' });
      expect(await h.call('HELLO', 'x')).toEqual({ err: 'ERR Protocol version is not an integer or out of range' });
      expect(await h.call('HELLO', '3', 'FOO')).toEqual({ err: "ERR Syntax error in HELLO option 'FOO'" });
      // without requirepass the default user takes any password
      expect(mapOf(await h.call('HELLO', '2', 'AUTH', 'default', 'anything')).proto).toBe(2);
      expect(await h.call('GET', 'no-such-key-here')).toBeNull();
    } finally {
      h.close();
    }
  });

  it('HELLO 3 doubles, maps and nulls from node-redis, RESP2 from ioredis', async () => {
    const nr = createClient({ RESP: 3, socket: { port: srv.port, host: '127.0.0.1' } });
    nr.on('error', () => {});
    await nr.connect();
    const io = new Redis({ port: srv.port, host: '127.0.0.1' });
    try {
      await nr.set('nr:f', '1.5');
      expect(await nr.incrByFloat('nr:f', 1)).toBe('2.5');
      expect(await nr.get('nr:none')).toBeNull();
      expect(await nr.mGet(['nr:f', 'nr:none'])).toEqual(['2.5', null]);
      expect(await nr.configGet('databases')).toEqual({ databases: '16' });
      expect(await nr.hello()).toMatchObject({ server: 'redis', proto: 3 });
      expect(await nr.ttl('nr:f')).toBe(-1);
      expect(await nr.exists(['nr:f', 'nr:none'])).toBe(1);
      expect(await nr.sendCommand(['GETEX', 'nr:none'])).toBeNull();
      // node-redis sends CLIENT SETINFO LIB-NAME/LIB-VER when it connects
      if (!AGAINST_REDIS) expect(await nr.clientInfo()).toMatchObject({ libName: 'node-redis' });
      const info = await nr.info('server');
      expect(info).toMatch(/redis_version:7\./);
      expect(await io.get('nr:f')).toBe('2.5');
      expect(await io.incrbyfloat('nr:f', '0.5')).toBe('3');
      expect(await io.config('GET', 'databases')).toEqual(['databases', '16']);
      expect(await io.call('HELLO', '2')).toContain('proto');
    } finally {
      await nr.quit().catch(() => {});
      io.disconnect();
    }
  });

  it('CLIENT ID, SETNAME, GETNAME, SETINFO, INFO and LIST', async () => {
    const a = await RespConn.open(srv.port);
    try {
      const id = (await a.call('CLIENT', 'ID')) as number;
      expect(typeof id).toBe('number');
      expect(await a.call('CLIENT', 'GETNAME')).toBeNull();
      expect(await a.call('CLIENT', 'SETNAME', 'has space')).toEqual({
        err: 'ERR Client names cannot contain spaces, newlines or special characters.',
      });
      expect(await a.call('CLIENT', 'SETNAME', 'alpha')).toBe('OK');
      expect(await a.call('CLIENT', 'GETNAME')).toBe('alpha');
      if (!AGAINST_REDIS) {
        // Redis 7.2's CLIENT SETINFO (7.0 has none; clients send it)
        expect(await a.call('CLIENT', 'SETINFO', 'lib-name', 'mylib')).toBe('OK');
        expect(await a.call('CLIENT', 'SETINFO', 'LIB-VER', '1.2.3')).toBe('OK');
        expect(await a.call('CLIENT', 'SETINFO', 'lib-name', 'a b')).toEqual({
          err: 'ERR lib-name and lib-ver cannot contain spaces, newlines or special characters.',
        });
        expect(await a.call('CLIENT', 'SETINFO', 'foo', 'x')).toEqual({ err: "ERR Unrecognized option 'foo'" });
      }
      const info = await a.call('CLIENT', 'INFO');
      expect(String(info)).toMatch(
        new RegExp(
          `^id=${id} addr=127\\.0\\.0\\.1:\\d+ laddr=127\\.0\\.0\\.1:${srv.port} .*name=alpha .*db=0 .*cmd=client\\|info .*resp=2`,
        ),
      );
      if (!AGAINST_REDIS) expect(String(info)).toMatch(/lib-name=mylib lib-ver=1\.2\.3/);
      const list = String(await c.call('CLIENT', 'LIST'));
      expect(list.split('\n').filter((l) => l.includes(`id=${id} `))).toHaveLength(1);
      expect(list).toMatch(/ name=alpha /);
      const only = String(await c.call('CLIENT', 'LIST', 'ID', String(id)));
      expect(only.trim().split('\n')).toHaveLength(1);
    } finally {
      a.close();
    }
  });

  it('CLIENT KILL by ID and by address closes that connection', async () => {
    const a = await RespConn.open(srv.port);
    const b = await RespConn.open(srv.port);
    const idA = (await a.call('CLIENT', 'ID')) as number;
    await b.call('PING');
    expect(await c.call('CLIENT', 'KILL', 'ID', String(idA))).toBe(1);
    expect(await a.waitClose()).toBe(true);
    const addr = /addr=(\S+)/.exec(String(await b.call('CLIENT', 'INFO')))![1]!;
    expect(await c.call('CLIENT', 'KILL', addr)).toBe('OK');
    expect(await b.waitClose()).toBe(true);
    expect(await c.call('CLIENT', 'KILL', 'ID', '99999999')).toBe(0);
    expect(await c.call('CLIENT', 'KILL', '1.2.3.4:5')).toEqual({ err: 'ERR No such client' });
    expect(await c.call('PING')).toBe('PONG');
  });

  it('COMMAND COUNT, INFO and DOCS', async () => {
    const count = (await c.call('COMMAND', 'COUNT')) as number;
    expect(count).toBeGreaterThan(20);
    const [get] = (await c.call('COMMAND', 'INFO', 'get')) as Reply[][];
    expect(get!.slice(0, 6)).toEqual(['get', 2, ['readonly', 'fast'], 1, 1, 1]);
    const [set, none] = (await c.call('COMMAND', 'INFO', 'SET', 'nosuch')) as Reply[];
    expect((set as Reply[])[0]).toBe('set');
    expect((set as Reply[])[1]).toBe(-3);
    expect(none).toBeNull();
    const docs = mapOf(await c.call('COMMAND', 'DOCS', 'get'));
    const getDocs = mapOf(docs.get!);
    expect(getDocs.summary).toBe('Get the value of a key');
    expect(getDocs.since).toBe('1.0.0');
    expect(getDocs.group).toBe('string');
    // the whole COMMAND DOCS reply (what redis-cli fetches at start) is a well-formed map
    const allDocs = mapOf(await c.call('COMMAND', 'DOCS'));
    expect(Object.keys(allDocs).length).toBeGreaterThanOrEqual(count - 5);
    for (const name of ['get', 'set', 'scan', 'client', 'config']) {
      const d = mapOf(allDocs[name]!);
      expect(typeof d.summary).toBe('string');
      expect(typeof d.group).toBe('string');
    }
    const clientSub = mapOf(mapOf(allDocs.client!).subcommands!);
    expect(Object.keys(clientSub)).toContain('client|setname');
    // ioredis's and node-redis's COMMAND parsers accept the full reply
    const io = new Redis({ port: srv.port, host: '127.0.0.1' });
    try {
      const all = (await io.call('COMMAND')) as unknown[][];
      expect(all.length).toBe(count);
      expect(all.some((e) => e[0] === 'set')).toBe(true);
      expect(((await io.command('DOCS', 'set')) as unknown[])[0]).toBe('set');
    } finally {
      io.disconnect();
    }
  });

  it('INFO sections', async () => {
    await c.call('SET', 'infokey', 'v');
    await c.call('GET', 'infokey');
    const all = String(await c.call('INFO'));
    for (const s of ['Server', 'Clients', 'Memory', 'Stats', 'Keyspace']) expect(all).toContain(`# ${s}\r\n`);
    expect(all).not.toContain('# Commandstats');
    expect(String(await c.call('INFO', 'server'))).toMatch(/^# Server\r\nredis_version:7\.\d+\.\d+\r\n/);
    expect(String(await c.call('INFO', 'server'))).toMatch(new RegExp(`\r\ntcp_port:${srv.port}\r\n`));
    expect(String(await c.call('INFO', 'clients'))).toMatch(/\r\nconnected_clients:\d+\r\n/);
    expect(String(await c.call('INFO', 'memory'))).toMatch(/\r\nused_memory:\d+\r\n/);
    expect(String(await c.call('INFO', 'stats'))).toMatch(/\r\ntotal_commands_processed:\d+\r\n/);
    expect(String(await c.call('INFO', 'keyspace'))).toMatch(/# Keyspace\r\ndb0:keys=\d+,expires=\d+,avg_ttl=\d+\r\n/);
    const cs = String(await c.call('INFO', 'commandstats'));
    expect(cs).toMatch(/\r\ncmdstat_get:calls=\d+,usec=\d+,usec_per_call=[\d.]+,rejected_calls=\d+,failed_calls=\d+\r\n/);
    expect(cs).toMatch(/cmdstat_set:calls=/);
    expect(String(await c.call('INFO', 'server', 'clients'))).toMatch(/# Server[\s\S]*# Clients/);
    expect(await c.call('INFO', 'nosuchsection')).toBe('');
    expect(String(await c.call('INFO', 'everything'))).toContain('# Commandstats');
  });

  it('INFO carries the fields monitoring tools commonly read', async () => {
    const info = String(await c.call('INFO', 'everything'));
    const field = (name: string): string | undefined => new RegExp(`\r\n${name}:([^\r]*)\r\n`).exec(info)?.[1];
    expect(field('run_id')).toMatch(/^[0-9a-f]{40}$/);
    expect(field('hz')).toMatch(/^\d+$/);
    expect(field('instantaneous_ops_per_sec')).toMatch(/^\d+$/);
    expect(field('rdb_last_save_time')).toMatch(/^\d+$/);
    expect(field('master_repl_offset')).toMatch(/^\d+$/);
    expect(field('mem_allocator')).toBeDefined();
    expect(field('used_memory_human')).toMatch(/^[\d.]+[BKMG]$/);
    expect(field('uptime_in_seconds')).toMatch(/^\d+$/);
    expect(field('connected_clients')).toMatch(/^\d+$/);
    expect(field('role')).toBe('master');
  });

  it('CONFIG GET and SET, with Redis error texts', async () => {
    expect(await c.call('CONFIG', 'GET', 'databases')).toEqual(['databases', '16']);
    expect(await c.call('CONFIG', 'GET', 'nosuchparam')).toEqual([]);
    const many = mapOf(await c.call('CONFIG', 'GET', 'maxclients', 'databases'));
    expect(many).toEqual({ maxclients: '10000', databases: '16' });
    expect(Object.keys(mapOf(await c.call('CONFIG', 'GET', 'max*')))).toContain('maxclients');
    expect(await c.call('CONFIG', 'SET', 'nosuchparam', 'x')).toEqual({
      err: "ERR Unknown option or number of arguments for CONFIG SET - 'nosuchparam'",
    });
    expect(await c.call('CONFIG', 'SET', 'databases', '4')).toEqual({
      err: "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config",
    });
    expect(await c.call('CONFIG', 'SET', 'maxclients', 'abc')).toEqual({
      err: "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer",
    });
    expect(await c.call('CONFIG', 'SET', 'timeout', '30')).toBe('OK');
    expect(await c.call('CONFIG', 'GET', 'timeout')).toEqual(['timeout', '30']);
    expect(await c.call('CONFIG', 'SET', 'timeout', '0', 'maxclients', '9000')).toBe('OK');
    expect(await c.call('CONFIG', 'GET', 'maxclients')).toEqual(['maxclients', '9000']);
    expect(await c.call('CONFIG', 'SET', 'maxclients', '10000')).toBe('OK');
    expect(await c.call('CONFIG', 'SET', 'proto-max-bulk-len', '100mb')).toBe('OK');
    expect(await c.call('CONFIG', 'GET', 'proto-max-bulk-len')).toEqual(['proto-max-bulk-len', '104857600']);
    expect(await c.call('CONFIG', 'SET', 'proto-max-bulk-len', '512mb')).toBe('OK');
    expect(await c.call('CONFIG', 'SET', 'timeout')).toEqual({ err: "ERR wrong number of arguments for 'config|set' command" });
  });

  it.each(['CONFIG', 'CLIENT', 'COMMAND'])('%s HELP lists its subcommands, as Redis does', async (name) => {
    const help = (await c.call(name, 'HELP')) as string[];
    expect(Array.isArray(help)).toBe(true);
    expect(help[0]).toBe(`${name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`);
    expect(help.some((l) => l.startsWith('HELP'))).toBe(true);
    expect(help.some((l) => /^(GET|INFO|ID|COUNT)\b/.test(l))).toBe(true);
  });

  it('maxclients refuses connections beyond the limit with Redis error text', async () => {
    const probe = await RespConn.open(srv.port);
    const before = String(await probe.call('INFO', 'clients'));
    const connected = Number(/connected_clients:(\d+)/.exec(before)![1]);
    expect(await probe.call('CONFIG', 'SET', 'maxclients', String(connected + 1))).toBe('OK');
    const extra: RespConn[] = [];
    try {
      const ok = await RespConn.open(srv.port);
      extra.push(ok);
      expect(await ok.call('PING')).toBe('PONG');
      const over = await RespConn.open(srv.port);
      extra.push(over);
      expect(await over.call('PING')).toEqual({ err: 'ERR max number of clients reached' });
      expect(await over.waitClose()).toBe(true);
    } finally {
      expect(await probe.call('CONFIG', 'SET', 'maxclients', '10000')).toBe('OK');
      for (const e of extra) e.close();
      probe.close();
    }
  });

  it('CONFIG SET requirepass applies to new connections; existing ones stay authenticated', async () => {
    expect(await c.call('CONFIG', 'SET', 'requirepass', 'pw')).toBe('OK');
    try {
      expect(await c.call('PING')).toBe('PONG');
      const d = await RespConn.open(srv.port);
      expect(await d.call('PING')).toEqual({ err: 'NOAUTH Authentication required.' });
      expect(await d.call('AUTH', 'pw')).toBe('OK');
      expect(await d.call('PING')).toBe('PONG');
      d.close();
    } finally {
      expect(await c.call('CONFIG', 'SET', 'requirepass', '')).toBe('OK');
    }
    const e = await RespConn.open(srv.port);
    expect(await e.call('PING')).toBe('PONG');
    expect(await e.call('AUTH', 'x')).toEqual({
      err: 'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
    });
    e.close();
  });

  it('TIME returns seconds and microseconds close to now', async () => {
    const [s, us] = (await c.call('TIME')) as string[];
    expect(s).toMatch(/^\d+$/);
    expect(us).toMatch(/^\d{1,6}$/);
    expect(Math.abs(Number(s) - Date.now() / 1000)).toBeLessThan(60);
  });

  it('RESET restores the connection state; QUIT replies OK and closes', async () => {
    const a = await RespConn.open(srv.port);
    await a.call('SELECT', '3');
    await a.call('CLIENT', 'SETNAME', 'before');
    await a.call('HELLO', '3');
    expect(await a.call('RESET')).toBe('RESET');
    expect(await a.call('CLIENT', 'GETNAME')).toBeNull();
    expect(String(await a.call('CLIENT', 'INFO'))).toMatch(/ db=0 .* resp=2/);
    expect(await a.call('QUIT')).toBe('OK');
    expect(await a.waitClose()).toBe(true);
  });
});

describe('AUTH with --requirepass', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTarget(['--shards', '3', '--requirepass', 's3cret']);
  });
  afterAll(async () => {
    await srv.stop();
  });

  it('refuses commands before AUTH with NOAUTH, accepts the right password', async () => {
    const a = await RespConn.open(srv.port);
    try {
      expect(await a.call('GET', 'k')).toEqual({ err: 'NOAUTH Authentication required.' });
      expect(await a.call('PING')).toEqual({ err: 'NOAUTH Authentication required.' });
      expect(await a.call('AUTH', 'wrong')).toEqual({ err: 'WRONGPASS invalid username-password pair or user is disabled.' });
      expect(await a.call('AUTH', 'nobody', 's3cret')).toEqual({ err: 'WRONGPASS invalid username-password pair or user is disabled.' });
      expect(await a.call('AUTH', 's3cret')).toBe('OK');
      expect(await a.call('SET', 'k', 'v')).toBe('OK');
      expect(await a.call('AUTH', 'default', 's3cret')).toBe('OK');
      expect(await a.call('GET', 'k')).toBe('v');
    } finally {
      a.close();
    }
  });

  it('HELLO with AUTH authenticates; HELLO without it is refused', async () => {
    const a = await RespConn.open(srv.port);
    try {
      expect(await a.call('HELLO', '3')).toEqual({
        err: 'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
      });
      expect(await a.call('HELLO', '3', 'AUTH', 'default', 'bad')).toEqual({
        err: 'WRONGPASS invalid username-password pair or user is disabled.',
      });
      const h = await a.call('HELLO', '3', 'AUTH', 'default', 's3cret', 'SETNAME', 'authed');
      expect(mapOf(h).proto).toBe(3);
      expect(await a.call('CLIENT', 'GETNAME')).toBe('authed');
    } finally {
      a.close();
    }
  });

  it('unauthenticated clients get the tight protocol limits', async () => {
    const a = await RespConn.open(srv.port);
    const [r1] = await a.raw(`*11\r\n${'$1\r\nx\r\n'.repeat(11)}`);
    expect(r1).toEqual({ err: 'ERR Protocol error: unauthenticated multibulk length' });
    expect(await a.waitClose()).toBe(true);
    const b = await RespConn.open(srv.port);
    const [r2] = await b.raw('*2\r\n$4\r\nAUTH\r\n$20000\r\n');
    expect(r2).toEqual({ err: 'ERR Protocol error: unauthenticated bulk length' });
    expect(await b.waitClose()).toBe(true);
  });

  it('ioredis and node-redis connect with a password', async () => {
    const io = new Redis({ port: srv.port, host: '127.0.0.1', password: 's3cret' });
    const nr = createClient({ RESP: 3, password: 's3cret', socket: { port: srv.port, host: '127.0.0.1' } });
    nr.on('error', () => {});
    try {
      await nr.connect();
      expect(await io.set('pw', '1')).toBe('OK');
      expect(await nr.get('pw')).toBe('1');
    } finally {
      io.disconnect();
      await nr.quit().catch(() => {});
    }
  });
});

describe('timeout: idle clients are closed', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTarget(['--shards', '3', '--timeout', '1']);
  });
  afterAll(async () => {
    await srv.stop();
  });

  it('a client idle for longer than `timeout` seconds is disconnected; a busy one is not', async () => {
    const idle = await RespConn.open(srv.port);
    const busy = await RespConn.open(srv.port);
    expect(await idle.call('PING')).toBe('PONG');
    // keep `busy` active every 200 ms while waiting for `idle` to be closed
    let closed = false;
    const waiting = idle.waitClose(6000).then((v) => (closed = v));
    for (let i = 0; i < 30 && !closed; i++) {
      expect(await busy.call('PING')).toBe('PONG');
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await waiting).toBe(true);
    expect(busy.closed).toBe(false);
    busy.close();
  }, 15_000);
});
