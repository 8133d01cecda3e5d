/** The `sabre server` command line: flags, config files, signals, SHUTDOWN. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RespConn } from '../helpers/resp.js';
import { refused, runCli, startServer } from '../helpers/server.js';
import { freePort } from '../helpers/redis-server.js';

const dir = mkdtempSync(join(tmpdir(), 'sabre-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function conf(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('sabre server: bad flags and config values exit 1 with a clear message', () => {
  it.each([
    [['--port', 'abc'], /--port: bad value for 'port': argument couldn't be parsed into an integer/],
    [['--port', '70000'], /bad value for 'port': argument must be between 0 and 65535 inclusive/],
    [['--shards', '0'], /bad value for 'shards'/],
    [['--databases', '0'], /bad value for 'databases'/],
    [['--loglevel', 'loud'], /bad value for 'loglevel'.*debug, verbose, notice, warning/],
    [['--proto-max-bulk-len', 'lots'], /bad value for 'proto-max-bulk-len'/],
    [['--nosuch', '1'], /Unknown option '--nosuch'/],
    [['--port'], /argument missing/],
    [['positional'], /Unexpected argument 'positional'/],
    [['--config', '/nonexistent/sabre.conf'], /cannot read config file '\/nonexistent\/sabre.conf'/],
  ])('server %j', async (args, message) => {
    const { code, output } = await runCli(['server', ...(args as string[])]);
    expect(code).toBe(1);
    expect(output).toMatch(message);
    expect(output).not.toMatch(/ready to accept connections/);
    expect(output).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('a bad value in the config file names the file and line, and nothing keeps listening', async () => {
    const port = await freePort();
    const p = conf('bad.conf', `port ${port}\n# comment\n\ndatabases many\n`);
    const { code, output } = await runCli(['server', '--config', p]);
    expect(code).toBe(1);
    expect(output).toContain(`${p}:4: bad value for 'databases'`);
    expect(await refused(port)).toBe(true);
  });

  it('an unknown directive in the config file is refused', async () => {
    const p = conf('unknown.conf', 'port 0\nfrobnicate yes\n');
    const { code, output } = await runCli(['server', '--config', p]);
    expect(code).toBe(1);
    expect(output).toContain(`${p}:2: unknown option 'frobnicate'`);
  });

  it('a port already in use exits 1 with the address in the message', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const { code, output } = await runCli(['server', '--port', String(port), '--bind', '127.0.0.1']);
      expect(code).toBe(1);
      expect(output).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}.*EADDRINUSE`));
    } finally {
      blocker.close();
    }
  });

  it('an unknown program exits 1 with the usage', async () => {
    const { code, output } = await runCli(['nosuch']);
    expect(code).toBe(1);
    expect(output).toContain("sabre: unknown command 'nosuch'");
    expect(output).toContain('usage: sabre <command>');
  });
});

describe('sabre server: config file, signals and SHUTDOWN', () => {
  it('reads a redis.conf-style file (port, bind, requirepass, databases); flags override it', async () => {
    const port = await freePort();
    const p = conf(
      'good.conf',
      [
        `# sabre test`,
        `port ${port}`,
        'bind 127.0.0.1',
        'requirepass "pa ss"',
        'databases 4',
        'save ""',
        'appendonly no',
        'maxclients 77',
        '',
      ].join('\n'),
    );
    const srv = await startServer(['--config', p, '--maxclients', '88', '--port', String(port)]);
    try {
      expect(srv.port).toBe(port);
      const c = await RespConn.open(port);
      expect(await c.call('PING')).toEqual({ err: 'NOAUTH Authentication required.' });
      expect(await c.call('AUTH', 'pa ss')).toBe('OK');
      expect(await c.call('CONFIG', 'GET', 'databases')).toEqual(['databases', '4']);
      expect(await c.call('CONFIG', 'GET', 'maxclients')).toEqual(['maxclients', '88']);
      expect(await c.call('SELECT', '3')).toBe('OK');
      expect(await c.call('SELECT', '4')).toEqual({ err: 'ERR DB index is out of range' });
      c.close();
    } finally {
      expect(await srv.stop()).toBe(0);
    }
  });

  it('SIGTERM exits 0 and closes the port', async () => {
    const srv = await startServer(['--shards', '3']);
    const r = new Redis({ port: srv.port, host: '127.0.0.1' });
    await r.set('k', 'v');
    r.disconnect();
    expect(await srv.stop()).toBe(0);
    expect(await refused(srv.port)).toBe(true);
  });

  it('SIGINT exits 0', async () => {
    const srv = await startServer(['--shards', '2']);
    const exited = new Promise<number | null>((res) => srv.proc.once('exit', (code) => res(code)));
    srv.proc.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it('SHUTDOWN (and SHUTDOWN NOSAVE) makes the process exit 0', async () => {
    for (const args of [['SHUTDOWN'], ['SHUTDOWN', 'NOSAVE']]) {
      const srv = await startServer(['--shards', '3']);
      const exited = new Promise<number | null>((res) => srv.proc.once('exit', (code) => res(code)));
      const c = await RespConn.open(srv.port);
      expect(await c.call('SET', 'k', 'v')).toBe('OK');
      expect(await c.call('SHUTDOWN', 'ABORT')).toEqual({ err: 'ERR No shutdown in progress.' });
      await c.raw(Buffer.from(`*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`), 0);
      expect(await c.waitClose(5000)).toBe(true);
      expect(await exited).toBe(0);
    }
  });
});
