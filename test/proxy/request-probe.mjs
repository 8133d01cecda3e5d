// Sends requests the proxy should refuse or serve specially to a proxy on each front, and prints what each client
// got and how soon the connection closed: the measurements behind docs/proxy.md ("Which front answers what").
// usage: npx tsc -p tsconfig.json && node test/proxy/request-probe.mjs [uws|node|net ...]
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const fronts = process.argv.length > 2 ? process.argv.slice(2) : ['uws', 'node', 'net'];
const headers = (n) => Array.from({ length: n }, (_, i) => `x-h${i}: v\r\n`).join('');
const CASES = [
  ['two pipelined GETs', 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
  ['48 headers', `GET / HTTP/1.1\r\nHost: x\r\n${headers(46)}Connection: close\r\n\r\n`],
  ['49 headers', `GET / HTTP/1.1\r\nHost: x\r\n${headers(47)}Connection: close\r\n\r\n`],
  ['absolute-form target', 'GET http://example.com/abs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
  ['no Host', 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n'],
  ['two Host', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
  ['space in a header name', 'GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n'],
  ['NUL in a header name', 'GET / HTTP/1.1\r\nHost: x\r\nBad\0Name: v\r\n\r\n'],
  ['unknown method FROB', 'FROB / HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['CONNECT', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'],
  ['OPTIONS *', 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
  ['HTTP/1.0', 'GET / HTTP/1.0\r\nHost: x\r\n\r\n'],
  ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n'],
  ['9000-byte target', `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`],
  ['70 KB target', `GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`],
  ['Content-Length 1e1', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1e1\r\n\r\n0123456789'],
  ['Content-Length + chunked', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['Transfer-Encoding: gzip', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n'],
];

/** A port that was free a moment ago. */
async function freePort() {
  const s = createNetServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

function probe(port, request) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let got = '';
    const s = connect(port, '127.0.0.1', () => s.write(request, 'latin1'));
    const done = (how) => {
      clearTimeout(timer);
      s.destroy();
      const statuses = [...got.matchAll(/HTTP\/1\.\d (\d{3})/g)].map((m) => m[1]);
      resolve(`${statuses.length ? statuses.join(',') : 'none'}, ${how} after ${Date.now() - t0} ms`);
    };
    const timer = setTimeout(() => done('still open'), 15_000);
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('close', () => done('closed'));
    s.on('error', () => undefined);
  });
}

const backend = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end('ok'));
});
await new Promise((r) => backend.listen(0, '127.0.0.1', r));
const results = {};
await Promise.all(
  fronts.map(async (front) => {
    const port = await freePort();
    const config = join(mkdtempSync(join(tmpdir(), 'sabre-probe-')), 'proxy.json');
    const listen = { host: '127.0.0.1', port };
    const admin = { host: '127.0.0.1', port: await freePort() };
    writeFileSync(
      config,
      JSON.stringify({ front, threads: 1, listen, admin, backends: [{ url: `http://127.0.0.1:${backend.address().port}` }] }),
    );
    const proc = spawn(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'proxy', '--config', config], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise((r) => proc.stdout.on('data', (d) => String(d).includes('proxy listening') && r()));
    results[front] = await Promise.all(CASES.map(([, request]) => probe(port, request)));
    proc.kill();
  }),
);
console.log(`| request | ${fronts.join(' | ')} |\n|---|${fronts.map(() => '---').join('|')}|`);
for (const [i, [name]] of CASES.entries()) console.log(`| ${name} | ${fronts.map((f) => results[f][i]).join(' | ')} |`);
backend.close();
process.exit(0);
