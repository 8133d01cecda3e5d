import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { applyOverrides, loadConfig, parseConfig } from '../../src/proxy/config.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('proxy config', () => {
  it('fills defaults and accepts the shipped example', () => {
    const c = parseConfig({ backends: [{ url: 'http://127.0.0.1:9001/' }] });
    expect(c.algorithm).toBe('least-connections');
    expect(c.backends).toEqual([{ url: 'http://127.0.0.1:9001', weight: 1 }]);
    expect(c.healthCheck).toMatchObject({ type: 'http', rise: 2, fall: 3 });
    expect(c.admin.port).toBe(9090);
    expect(loadConfig(join(ROOT, 'examples', 'proxy.json')).backends).toHaveLength(3);
  });

  it.each([
    [{ listen: { port: 70000 } }, /listen\.port/],
    [{ threads: 0 }, /threads/],
    [{ backends: [{ url: 'ftp://x' }] }, /backends\.0\.url: must be an http/],
    [{ backends: [{ url: 'http://a:1/path' }] }, /backends\.0\.url: must be an origin/],
    [{ backends: [{ url: 'http://a:1', weight: 0 }] }, /backends\.0\.weight/],
    [{ backends: [{ url: 'http://a:1' }, { url: 'http://a:1/' }] }, /duplicate url/],
    [{ algorithm: 'random' }, /algorithm/],
    [{ listen: { tls: { cert: 'c.pem' } } }, /listen\.tls\.key/],
    [{ listen: { tls: { cert: 'c', key: 'k', minVersion: 'TLSv1' } } }, /listen\.tls\.minVersion/],
    [{ listen: { tls: { cert: 'c', key: 'k', alpn: ['spdy/3'] } } }, /listen\.tls\.alpn\.0/],
    [{ listen: { tls: { cert: 'c', key: 'k', certificates: [{ serverNames: ['a b'], cert: 'c', key: 'k' }] } } }, /serverNames\.0/],
    [{ tls: { verify: 'no' } }, /tls\.verify/],
    [{ healthCheck: { type: 'udp' } }, /healthCheck\.type/],
    [{ timeouts: { connect: -1 } }, /timeouts\.connect/],
    [{ sticky: { cookie: 'a b' } }, /sticky\.cookie/],
    [{ maxBodySize: 'big' }, /maxBodySize/],
    [{ admin: { port: 'x' } }, /admin\.port/],
    [{ bogus: 1 }, /bogus/],
  ])('rejects %j naming the field', (raw, re) => {
    expect(() => parseConfig(raw)).toThrow(ConfigError);
    expect(() => parseConfig(raw)).toThrow(re);
  });

  it('takes https backends (port 443 by default), TLS defaults and the TLS example', () => {
    const c = parseConfig({ backends: [{ url: 'https://b.example/' }, { url: 'https://b.example:8443' }] });
    expect(c.backends.map((b) => b.url)).toEqual(['https://b.example:443', 'https://b.example:8443']);
    expect(c.listen.tls).toBeNull();
    expect(c.tls).toEqual({ verify: true });
    const t = loadConfig(join(ROOT, 'examples', 'proxy-tls.json'));
    expect(t.listen.tls).toMatchObject({ minVersion: 'TLSv1.2', alpn: ['h2', 'http/1.1'] });
    expect(t.listen.tls?.certificates[0]?.serverNames).toEqual(['api.example.com', '*.api.example.com']);
    expect(t.backends[0]!.url).toBe('https://127.0.0.1:9443');
  });

  it('lets flags override the file', () => {
    const raw = applyOverrides({ listen: { host: '0.0.0.0', port: 1 } }, { port: 2, threads: 3, backends: ['http://b:1'], adminPort: 4 });
    expect(parseConfig(raw)).toMatchObject({
      listen: { host: '0.0.0.0', port: 2 },
      threads: 3,
      backends: [{ url: 'http://b:1' }],
      admin: { port: 4 },
    });
  });

  it('the CLI prints the error and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sabre-cfg-'));
    const path = join(dir, 'bad.json');
    writeFileSync(path, JSON.stringify({ algorithm: 'fastest' }));
    const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'proxy', '--config', path], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/sabre: invalid proxy config: algorithm/);
    const flags = spawnSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'proxy', '--threads', 'two'], { encoding: 'utf8' });
    expect(flags.status).toBe(1);
    expect(flags.stderr).toMatch(/--threads: expected an integer/);
    const json = spawnSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'proxy', '--config', join(dir, 'missing.json')], {
      encoding: 'utf8',
    });
    expect(json.stderr).toMatch(/cannot read config/);
  });
});
