// A slow upstream API to cache: answers GET /weather/:city after `delayMs`, and counts its calls.
import { createServer } from 'node:http';

/** Starts the stub on a free 127.0.0.1 port; resolves with { url, calls(), close() }. */
export async function startWeatherStub(delayMs = 150) {
  let calls = 0;
  const server = createServer((req, res) => {
    const m = /^\/weather\/([a-z-]{1,40})$/.exec(req.url ?? '');
    if (req.method !== 'GET' || !m) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    calls++;
    const city = m[1];
    // Deterministic "weather" so tests can check what came back.
    const seed = [...city].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 1000, 7);
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ city, tempC: (seed % 40) - 5, windKmh: seed % 60, at: Date.now() }));
    }, delayMs);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    calls: () => calls,
    close: () => new Promise((r) => server.close(r)),
  };
}
