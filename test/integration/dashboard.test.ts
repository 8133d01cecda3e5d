import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { chromium } from 'playwright-core';
import { startServer, type TestServer } from '../helpers/server.js';
import { startDashboard, type Dashboard } from '../../dist/dashboard/main.js';
import { startProxy } from '../../dist/index.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`dashboard: browser test skipped: no ${CHROMIUM} (Debian: apt-get install chromium, or set CHROMIUM_PATH)`);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('sabre dashboard', () => {
  let srv: TestServer;
  let backend: Server;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let dash: Dashboard;
  let url: string;

  beforeAll(async () => {
    srv = await startServer(['--shards', '2', '--latency-tracking', 'yes', '--slowlog-log-slower-than', '0', '--slowlog-max-len', '5']);
    backend = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const bport = (backend.address() as { port: number }).port;
    proxy = await startProxy({
      listen: { host: '127.0.0.1', port: 0 },
      threads: 1,
      backends: [{ url: `http://127.0.0.1:${bport}` }],
      admin: { host: '127.0.0.1', port: 0 },
    });
    dash = await startDashboard({
      port: 0,
      bind: '127.0.0.1',
      servers: [{ name: `127.0.0.1:${srv.port}`, host: '127.0.0.1', port: srv.port }],
      proxies: [`http://127.0.0.1:${proxy.adminPort}`],
      intervalMs: 250,
    });
    url = `http://127.0.0.1:${dash.port}`;
  });
  afterAll(async () => {
    await dash.close();
    await proxy.close();
    backend.close();
    await srv.stop();
  });

  /** Runs a bounded load on the server and the proxy while `during` runs. */
  async function underLoad<T>(during: () => Promise<T>): Promise<T> {
    const r = new Redis({ port: srv.port, host: '127.0.0.1' });
    let on = true;
    const redisLoad = (async () => {
      for (let i = 0; on && i < 200_000; i++) await Promise.all([r.set(`k${i % 100}`, 'v'), r.get(`k${i % 100}`), r.lpush('l', 'x')]);
    })();
    const httpLoad = (async () => {
      for (let i = 0; on && i < 100_000; i++) await fetch(`http://127.0.0.1:${proxy.port}/`).then((res) => res.text());
    })();
    try {
      return await during();
    } finally {
      on = false;
      await Promise.all([redisLoad, httpLoad]);
      r.disconnect();
    }
  }

  it('serves a snapshot of servers and proxies that moves with load', async () => {
    const snap = await underLoad(async () => {
      for (let i = 0; i < 100; i++) {
        const s = (await (await fetch(`${url}/api/snapshot`)).json()) as {
          state: string;
          opsPerSec?: number;
          backends?: { reqPerSec: number }[];
        }[];
        if (
          s[0]!.opsPerSec! > 0 &&
          (s[1]!.backends?.[0]?.reqPerSec ?? 0) > 0 &&
          (s[0] as { latency10s?: { p99: number | null } }).latency10s?.p99 != null
        )
          return s;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('the snapshot never showed load');
    });
    const [server, px] = snap as [Record<string, unknown>, Record<string, unknown>];
    expect(server).toMatchObject({ kind: 'server', state: 'up', latencyTracking: true, role: 'master' });
    expect(Object.keys(server.opsByFamily as object)).toEqual(expect.arrayContaining(['string', 'list']));
    expect((server.slowlog as unknown[]).length).toBeGreaterThan(0);
    expect((server.slowlog as unknown[]).length).toBeLessThanOrEqual(5);
    expect(px).toMatchObject({ kind: 'proxy', state: 'up' });
    expect((await fetch(`${url}/uplot.js`)).headers.get('content-type')).toContain('javascript');
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    expect((await fetch(`${url}/`, { method: 'POST' })).status).toBe(405);
  });

  it.skipIf(!hasChromium)('draws live numbers and plots in a browser, and shows a server that went away as unreachable', async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1360, height: 1100 } });
      await page.goto(url);
      await underLoad(async () => {
        await page.waitForFunction(
          () => Number(document.querySelector('#card-0 [data-test=ops]')?.textContent?.replace(/,/g, '')) > 0,
          undefined,
          { timeout: 20_000 },
        );
        await page.waitForFunction(
          () => Number(document.querySelector('#card-1 [data-test=rps]')?.textContent?.replace(/,/g, '')) > 0,
          undefined,
          { timeout: 20_000 },
        );
        // Three plots for the server and one for the proxy, with a few seconds of history.
        await page.waitForFunction(() => document.querySelectorAll('canvas').length >= 4, undefined, { timeout: 20_000 });
        await page.waitForTimeout(3000);
        const first = await page.textContent('#card-0 [data-test=ops]');
        await page.waitForFunction((before) => document.querySelector('#card-0 [data-test=ops]')?.textContent !== before, first, {
          timeout: 20_000,
        });
        const dir = join(ROOT, process.env.SABRE_UPDATE_SCREENSHOTS === '1' ? 'docs' : 'test-results');
        mkdirSync(dir, { recursive: true });
        await page.screenshot({ path: join(dir, 'dashboard.png'), fullPage: true });
      });
      expect(await page.textContent('#card-0 [data-test=state]')).toBe('up');
      expect(await page.textContent('#card-1 [data-test=state]')).toBe('up');
      await srv.stop();
      await page.waitForFunction(() => document.querySelector('#card-0 [data-test=state]')?.textContent === 'unreachable', undefined, {
        timeout: 20_000,
      });
      expect(await page.textContent('#card-0 [data-test=error]')).toMatch(/connection (refused|lost)/);
    } finally {
      await browser.close();
    }
  });
});
