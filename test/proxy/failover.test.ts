import { afterAll, describe, expect, it } from 'vitest';
import { admin, http, startBackend, startProxyProc, waitFor, type Backend, type ProxyProc } from './helpers.js';

/** Sends GETs from `workers` loops until `stop()`; returns the statuses/errors seen. */
function load(p: ProxyProc, workers: number) {
  let running = true;
  const results: Array<number | string> = [];
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      try {
        results.push((await http(p.url('/'))).status);
      } catch (err) {
        results.push((err as Error).message);
      }
    }
  });
  return {
    results,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

describe('proxy failover', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const f of cleanup.reverse()) await f();
  });

  it('loses no idempotent request when a backend dies mid-run, and sends it traffic again once it is back', async () => {
    // Slow-ish answers keep requests in flight at the moment of the kill.
    const delayed = (name: string) =>
      startBackend(name, (req, res) => {
        req.resume();
        setTimeout(() => res.end(name), 3);
        return true;
      });
    const [a, b, c] = await Promise.all([delayed('a'), delayed('b'), delayed('c')]);
    cleanup.push(() => Promise.all([a, c].map((x) => x.kill())));
    const p = await startProxyProc({ algorithm: 'round-robin', backends: [a, b, c].map((x: Backend) => ({ url: x.url })) });
    cleanup.push(() => p.stop());

    const run = load(p, 6);
    await new Promise((r) => setTimeout(r, 400));
    await b.kill();
    await new Promise((r) => setTimeout(r, 600));
    await run.stop();
    const failed = run.results.filter((r) => r !== 200);
    expect(run.results.length).toBeGreaterThan(20);
    expect(failed).toEqual([]);
    const st = await admin(p, 'GET', '/status');
    expect(st.json.backends[1].healthy).toBe(false);
    expect(p.output()).toMatch(/backend state change backend=http:\/\/127\.0\.0\.1:\d+ from=up to=down/);

    const before = b.hits;
    await b.revive();
    cleanup.push(() => b.kill());
    await waitFor(async () => (await admin(p, 'GET', '/status')).json.backends[1].healthy, 5000, 'recovery');
    expect(p.output()).toMatch(/from=down to=up/);
    for (let i = 0; i < 9; i++) expect((await http(p.url('/'))).status).toBe(200);
    expect(b.hits - before).toBeGreaterThanOrEqual(3);
  });
});
