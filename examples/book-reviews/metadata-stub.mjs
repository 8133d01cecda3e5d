// The external "book metadata" service the API depends on: slow (100 ms by default), and
// breakable on demand (POST /break, POST /heal) to show the circuit breaker at work.
// Usage: node examples/book-reviews/metadata-stub.mjs [port]
import { createServer } from 'node:http';

/** Starts the stub on `port` (0: a free one); resolves with { url, calls(), setBroken(b), close() }. */
export async function startMetadataStub({ port = 0, delayMs = 100 } = {}) {
  let calls = 0;
  let broken = false;
  const server = createServer((req, res) => {
    if (req.method === 'POST' && (req.url === '/break' || req.url === '/heal')) {
      broken = req.url === '/break';
      res.writeHead(204).end();
      return;
    }
    const m = /^\/isbn\/(\d{13})$/.exec(req.url ?? '');
    if (!m) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    calls++;
    setTimeout(() => {
      if (broken) {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"metadata service down"}');
        return;
      }
      const n = Number(m[1].slice(-4));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          isbn: m[1],
          pages: 100 + (n % 400),
          publisher: `Publisher ${n % 13}`,
          cover: `https://covers.example/${m[1]}.jpg`,
        }),
      );
    }, delayMs);
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    calls: () => calls,
    setBroken: (b) => {
      broken = b;
    },
    close: () => new Promise((r) => server.close(r)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const stub = await startMetadataStub({ port: Number(process.argv[2] ?? 0) });
  console.log(`metadata stub on ${stub.url} (POST /break, POST /heal)`);
}
