/**
 * TLS on the client port, as Redis 7.0: a CA, server and client certificates made here with the
 * openssl CLI, then ioredis, node-redis and redis-cli over TLS, mutual TLS (required and
 * optional), certificates reloaded with CONFIG SET, and Redis's start-up and CONFIG SET errors.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants } from 'node:crypto';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { RespConn } from '../helpers/resp.js';
import { runCli, startServer, type TestServer } from '../helpers/server.js';
import { freePort } from '../helpers/redis-server.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const hasRedisCli = spawnSync('redis-cli', ['--version']).status === 0;
if (!hasOpenssl) console.warn('tls.test.ts skipped: it needs the openssl command (apt-get install openssl)');
if (!hasRedisCli) console.warn('tls.test.ts: redis-cli case skipped (apt-get install redis-tools)');

/** Certificates for the test: a CA, two server certificates, a client one, and a self-signed stranger. */
function makeCerts(dir: string): void {
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const key = (name: string): void => ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', `${name}.key`);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  key('ca');
  ssl('req', '-x509', '-new', '-key', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Sabre Test CA');
  const signed = (name: string, cn: string): void => {
    key(name);
    ssl('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      'san.ext',
    );
  };
  signed('server', 'sabre-server-1');
  signed('server2', 'sabre-server-2');
  signed('client', 'sabre-client');
  ssl('pkey', '-in', 'server2.key', '-aes256', '-passout', 'pass:s3cret', '-out', 'server2-enc.key');
  mkdirSync(join(dir, 'cadir'));
  copyFileSync(join(dir, 'ca.crt'), join(dir, 'cadir', 'ca.pem'));
  key('stranger');
  ssl('req', '-x509', '-new', '-key', 'stranger.key', '-out', 'stranger.crt', '-days', '2', '-subj', '/CN=stranger');
}

describe.skipIf(!hasOpenssl)('TLS on the client port', () => {
  let dir: string;
  let srv: TestServer;
  let tlsPort: number;
  let plainPort: number;
  const file = (name: string): string => join(dir, name);
  const pem = (name: string): Buffer => readFileSync(file(name));

  /** Opens a raw TLS connection, sends PING and resolves with what came back before the server closed it (or with the reply). */
  function tryPing(opts: tls.ConnectionOptions): Promise<string> {
    return new Promise((resolve) => {
      let got = '';
      const s = tls.connect({ host: '127.0.0.1', port: tlsPort, ca: pem('ca.crt'), ...opts }, () => s.write('PING\r\n'));
      s.on('data', (d: Buffer) => {
        got += d.toString();
        if (got.endsWith('\r\n')) {
          s.destroy();
          resolve(got);
        }
      });
      s.on('error', () => {});
      s.on('close', () => resolve(got === '' ? 'closed' : got));
    });
  }

  /** The certificate the server presents to a new connection. */
  function serverCertCN(): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = tls.connect(
        { host: '127.0.0.1', port: tlsPort, ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') },
        () => {
          const cn = s.getPeerCertificate().subject.CN;
          s.destroy();
          resolve(Array.isArray(cn) ? cn.join(',') : cn);
        },
      );
      s.on('error', reject);
    });
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-tls-'));
    makeCerts(dir);
    tlsPort = await freePort();
    plainPort = await freePort();
    srv = await startServer([
      '--port',
      String(plainPort),
      '--shards',
      '2',
      '--tls-port',
      String(tlsPort),
      '--tls-cert-file',
      file('server.crt'),
      '--tls-key-file',
      file('server.key'),
      '--tls-ca-cert-file',
      file('ca.crt'),
    ]);
  });
  afterAll(async () => {
    await srv?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves ioredis over mutual TLS: commands, pipelines and a large value', async () => {
    const c = new Redis({
      host: '127.0.0.1',
      port: tlsPort,
      tls: { ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') },
      maxRetriesPerRequest: 0,
    });
    try {
      expect(await c.ping()).toBe('PONG');
      expect(await c.set('tls:k', 'v')).toBe('OK');
      expect(await c.get('tls:k')).toBe('v');
      const p = c.pipeline();
      for (let i = 0; i < 500; i++) p.set(`tls:p${i}`, String(i));
      for (let i = 0; i < 500; i++) p.get(`tls:p${i}`);
      const res = await p.exec();
      expect(res!.slice(500).map(([, v]) => v)).toEqual(Array.from({ length: 500 }, (_, i) => String(i)));
      const big = 'x'.repeat(3 * 1024 * 1024 + 7);
      await c.set('tls:big', big);
      expect(await c.strlen('tls:big')).toBe(big.length);
      expect(await c.get('tls:big')).toBe(big);
    } finally {
      c.disconnect();
    }
  });

  it('serves node-redis over mutual TLS', async () => {
    const c = createClient({
      socket: { host: '127.0.0.1', port: tlsPort, tls: true, ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') },
    });
    c.on('error', () => {});
    await c.connect();
    try {
      expect(await c.ping()).toBe('PONG');
      await c.hSet('tls:h', { a: '1', b: '2' });
      expect(await c.hGetAll('tls:h')).toEqual({ a: '1', b: '2' });
      expect(await c.mGet(['tls:k', 'tls:p1', 'tls:p2'])).toEqual(['v', '1', '2']);
    } finally {
      await c.quit();
    }
  });

  it('tls-auth-clients yes refuses a client without a certificate and one the CA did not sign', async () => {
    expect(await tryPing({})).toBe('closed');
    expect(await tryPing({ cert: pem('stranger.crt'), key: pem('stranger.key') })).toBe('closed');
    expect(await tryPing({ cert: pem('client.crt'), key: pem('client.key') })).toBe('+PONG\r\n');
    expect(srv.output()).toContain('Error accepting a client connection');
  });

  it('tls-auth-clients optional serves a client without a certificate, still refuses a bad one', async () => {
    const admin = await RespConn.open(plainPort);
    try {
      expect(await admin.call('CONFIG', 'SET', 'tls-auth-clients', 'optional')).toBe('OK');
      expect(await tryPing({})).toBe('+PONG\r\n');
      expect(await tryPing({ cert: pem('stranger.crt'), key: pem('stranger.key') })).toBe('closed');
      expect(await tryPing({ cert: pem('client.crt'), key: pem('client.key') })).toBe('+PONG\r\n');
      expect(await admin.call('CONFIG', 'SET', 'tls-auth-clients', 'no')).toBe('OK');
      expect(await tryPing({ cert: pem('stranger.crt'), key: pem('stranger.key') })).toBe('+PONG\r\n');
      expect(await admin.call('CONFIG', 'SET', 'tls-auth-clients', 'maybe')).toEqual({
        err: "ERR CONFIG SET failed (possibly related to argument 'tls-auth-clients') - argument(s) must be one of the following: no, yes, optional",
      });
    } finally {
      await admin.call('CONFIG', 'SET', 'tls-auth-clients', 'yes');
      admin.close();
    }
    expect(await tryPing({})).toBe('closed');
  });

  it.skipIf(!hasRedisCli)('redis-cli --tls answers PING', () => {
    const args = [
      '-p',
      String(tlsPort),
      '--tls',
      '--cacert',
      file('ca.crt'),
      '--cert',
      file('client.crt'),
      '--key',
      file('client.key'),
      'PING',
    ];
    const r = spawnSync('redis-cli', args, { encoding: 'utf8', timeout: 10_000 });
    expect(r.stdout.trim()).toBe('PONG');
  });

  it('CONFIG SET tls-cert-file: new connections get the new certificate, open ones keep working', async () => {
    const c = new Redis({
      host: '127.0.0.1',
      port: tlsPort,
      tls: { ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') },
      maxRetriesPerRequest: 0,
    });
    const admin = await RespConn.open(plainPort);
    try {
      expect(await c.ping()).toBe('PONG');
      expect(await serverCertCN()).toBe('sabre-server-1');
      expect(await admin.call('CONFIG', 'SET', 'tls-cert-file', file('server2.crt'), 'tls-key-file', file('server2.key'))).toBe('OK');
      expect(await serverCertCN()).toBe('sabre-server-2');
      expect(await c.ping()).toBe('PONG');
      expect(await admin.call('CONFIG', 'GET', 'tls-cert-file')).toEqual(['tls-cert-file', file('server2.crt')]);

      // A key that does not match the certificate is refused as a whole, and nothing changes.
      expect(await admin.call('CONFIG', 'SET', 'tls-cert-file', file('server.crt'))).toEqual({
        err: "ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs.",
      });
      expect(await admin.call('CONFIG', 'GET', 'tls-cert-file')).toEqual(['tls-cert-file', file('server2.crt')]);
      expect(srv.output()).toContain('Failed to load private key');
      expect(await admin.call('CONFIG', 'SET', 'tls-cert-file', file('missing.crt'))).toEqual({
        err: "ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs.",
      });
      expect(await serverCertCN()).toBe('sabre-server-2');
    } finally {
      c.disconnect();
      admin.close();
    }
  });

  it('an encrypted key with tls-key-file-pass, and CA certificates from tls-ca-cert-dir', async () => {
    const admin = await RespConn.open(plainPort);
    const client = { cert: pem('client.crt'), key: pem('client.key') };
    try {
      const enc = ['tls-cert-file', file('server2.crt'), 'tls-key-file', file('server2-enc.key')];
      expect(await admin.call('CONFIG', 'SET', ...enc, 'tls-key-file-pass', 'wrong')).toEqual({
        err: "ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs.",
      });
      expect(await admin.call('CONFIG', 'SET', ...enc, 'tls-key-file-pass', 's3cret')).toBe('OK');
      expect(await serverCertCN()).toBe('sabre-server-2');
      expect(await admin.call('CONFIG', 'SET', 'tls-ca-cert-file', '', 'tls-ca-cert-dir', file('cadir'))).toBe('OK');
      expect(await tryPing(client)).toBe('+PONG\r\n');
      expect(await tryPing({ cert: pem('stranger.crt'), key: pem('stranger.key') })).toBe('closed');
      expect(await admin.call('CONFIG', 'SET', 'tls-ca-cert-dir', '')).toEqual({
        err: "ERR CONFIG SET failed (possibly related to argument 'tls-ca-cert-dir') - Unable to update TLS configuration. Check server logs.",
      });
      expect(srv.output()).toContain('Either tls-ca-cert-file or tls-ca-cert-dir must be specified');
    } finally {
      await admin.call('CONFIG', 'SET', 'tls-ca-cert-file', file('ca.crt'), 'tls-ca-cert-dir', '');
      admin.close();
    }
  });

  it('session resumption by session id (a TLSv1.2 client without tickets) unless tls-session-caching is no', async () => {
    const admin = await RespConn.open(plainPort);
    /** Connects twice offering the first session; true when the server resumed it. */
    const resumed = async (): Promise<boolean> => {
      let session: Buffer | undefined;
      let reused = false;
      for (let i = 0; i < 2; i++) {
        await new Promise<void>((resolve, reject) => {
          const s = tls.connect(
            {
              host: '127.0.0.1',
              port: tlsPort,
              ca: pem('ca.crt'),
              cert: pem('client.crt'),
              key: pem('client.key'),
              maxVersion: 'TLSv1.2',
              secureOptions: constants.SSL_OP_NO_TICKET,
              session,
            },
            () => {
              reused = s.isSessionReused();
              session = s.getSession();
              s.end();
            },
          );
          s.on('error', reject);
          s.on('close', () => resolve());
          s.resume();
        });
      }
      return reused;
    };
    try {
      expect(await resumed()).toBe(true);
      expect(await admin.call('CONFIG', 'SET', 'tls-session-caching', 'no')).toBe('OK');
      expect(await resumed()).toBe(false);
    } finally {
      await admin.call('CONFIG', 'SET', 'tls-session-caching', 'yes');
      admin.close();
    }
  });

  it('tls-protocols, tls-ciphers and tls-ciphersuites as Redis checks them', async () => {
    const admin = await RespConn.open(plainPort);
    const failed = (name: string) => ({
      err: `ERR CONFIG SET failed (possibly related to argument '${name}') - Unable to update TLS configuration. Check server logs.`,
    });
    const client = { cert: pem('client.crt'), key: pem('client.key') };
    try {
      expect(await admin.call('CONFIG', 'SET', 'tls-protocols', 'TLSv1.2 SSLv3')).toEqual(failed('tls-protocols'));
      expect(await admin.call('CONFIG', 'SET', 'tls-ciphers', 'NOPE')).toEqual(failed('tls-ciphers'));
      expect(await admin.call('CONFIG', 'SET', 'tls-ciphersuites', 'NOPE')).toEqual(failed('tls-ciphersuites'));
      expect(await admin.call('CONFIG', 'SET', 'tls-protocols', 'TLSv1.3')).toBe('OK');
      expect(await tryPing({ ...client, maxVersion: 'TLSv1.2' })).toBe('closed');
      expect(await tryPing(client)).toBe('+PONG\r\n');
      expect(await admin.call('CONFIG', 'SET', 'tls-protocols', 'tlsv1.2', 'tls-ciphers', 'ECDHE-ECDSA-AES128-GCM-SHA256')).toBe('OK');
      expect(await tryPing({ ...client, ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' })).toBe('closed');
      expect(await tryPing({ ...client, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' })).toBe('+PONG\r\n');
      expect(await admin.call('CONFIG', 'GET', 'tls-protocols')).toEqual(['tls-protocols', 'tlsv1.2']);
    } finally {
      await admin.call('CONFIG', 'SET', 'tls-protocols', '', 'tls-ciphers', '');
      admin.close();
    }
  });

  it('CONFIG GET shows every tls-* setting; tls-port is fixed at start-up', async () => {
    const admin = await RespConn.open(plainPort);
    try {
      const all = (await admin.call('CONFIG', 'GET', 'tls-*')) as string[];
      const names = all.filter((_, i) => i % 2 === 0).sort();
      expect(names).toEqual(
        [
          'tls-port',
          'tls-cert-file',
          'tls-key-file',
          'tls-key-file-pass',
          'tls-client-cert-file',
          'tls-client-key-file',
          'tls-client-key-file-pass',
          'tls-dh-params-file',
          'tls-ca-cert-file',
          'tls-ca-cert-dir',
          'tls-auth-clients',
          'tls-protocols',
          'tls-ciphers',
          'tls-ciphersuites',
          'tls-prefer-server-ciphers',
          'tls-session-caching',
          'tls-session-cache-size',
          'tls-session-cache-timeout',
          'tls-replication',
          'tls-cluster',
        ].sort(),
      );
      expect(await admin.call('CONFIG', 'SET', 'tls-replication', 'yes', 'tls-cluster', 'yes')).toBe('OK');
      expect(await admin.call('CONFIG', 'SET', 'tls-replication', 'maybe')).toEqual({
        err: "ERR CONFIG SET failed (possibly related to argument 'tls-replication') - argument must be 'yes' or 'no'",
      });
      expect(await admin.call('CONFIG', 'SET', 'tls-replication', 'no', 'tls-cluster', 'no')).toBe('OK');
      expect(await admin.call('CONFIG', 'SET', 'tls-port', '1')).toEqual({
        err: "ERR CONFIG SET failed (possibly related to argument 'tls-port') - can't set immutable config",
      });
      expect(String(await admin.call('INFO', 'server'))).toContain(`tcp_port:${plainPort}\r\n`);
    } finally {
      admin.close();
    }
  });

  it('with port 0 it serves TLS only, and INFO reports the TLS port as tcp_port, as Redis', async () => {
    const only = await startServer([
      '--shards',
      '1',
      '--tls-port',
      String(await freePort()),
      '--tls-cert-file',
      file('server.crt'),
      '--tls-key-file',
      file('server.key'),
      '--tls-auth-clients',
      'no',
    ]);
    try {
      const m = /tlsPort=(\d+)/.exec(only.output());
      expect(m).not.toBeNull();
      expect(only.port).toBe(Number(m![1]));
      const c = new Redis({ host: '127.0.0.1', port: only.port, tls: { ca: pem('ca.crt') }, maxRetriesPerRequest: 0 });
      try {
        expect(await c.info('server')).toContain(`tcp_port:${only.port}\r\n`);
      } finally {
        c.disconnect();
      }
    } finally {
      await only.stop();
    }
  });

  it('a bad certificate, key or CA setting stops the server at start-up with a clear message', async () => {
    const base = ['server', '--port', '0', '--bind', '127.0.0.1', '--shards', '1', '--tls-port', String(await freePort())];
    const missing = await runCli([
      ...base,
      '--tls-cert-file',
      file('missing.crt'),
      '--tls-key-file',
      file('server.key'),
      '--tls-ca-cert-file',
      file('ca.crt'),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.output).toContain(`Failed to configure TLS: Failed to load certificate: ${file('missing.crt')}`);
    const noCa = await runCli([...base, '--tls-cert-file', file('server.crt'), '--tls-key-file', file('server.key')]);
    expect(noCa.code).toBe(1);
    expect(noCa.output).toContain('Either tls-ca-cert-file or tls-ca-cert-dir must be specified');
    const notACa = await runCli([
      ...base,
      '--tls-cert-file',
      file('server.crt'),
      '--tls-key-file',
      file('server.key'),
      '--tls-ca-cert-file',
      file('ca.key'),
    ]);
    expect(notACa.code).toBe(1);
    expect(notACa.output).toContain('Failed to configure CA certificate(s) file/directory');
  });
});
