import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { startServer, type TestServer } from '../helpers/server.js';
import { buildWebApp } from '../../examples/chat-room/web.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium)
  console.warn(`chat web example: browser test skipped: no ${CHROMIUM} (Debian: apt-get install chromium, or set CHROMIUM_PATH)`);

describe('examples/chat-room web app', () => {
  let srv: TestServer;
  let app: Awaited<ReturnType<typeof buildWebApp>>;
  let url: string;

  beforeAll(async () => {
    srv = await startServer(['--shards', '2']);
    app = await buildWebApp({ port: srv.port, secret: 'a test secret of more than 32 bytes' });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app.close();
    await srv.stop();
  });

  it('registers and logs in users, refuses bad credentials and posts without a session', async () => {
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    expect((await post('/register', { user: 'zoe', password: 'long enough' })).status).toBe(201);
    expect((await post('/register', { user: 'zoe', password: 'long enough' })).status).toBe(409);
    expect((await post('/register', { user: 'zoe!', password: 'long enough' })).status).toBe(400);
    expect((await post('/login', { user: 'zoe', password: 'wrong password' })).status).toBe(401);
    const { token } = await (await post('/login', { user: 'zoe', password: 'long enough' })).json();
    expect((await post('/rooms/lobby/messages', { text: 'hi' })).status).toBe(401);
    expect((await post('/rooms/lobby/messages', { text: 'hi' }, { authorization: `Bearer ${token}` })).status).toBe(204);
    expect((await fetch(`${url}/rooms/lobby/events?token=forged`)).status).toBe(401);
  });

  it.skipIf(!hasChromium)('two users chat in a room in a browser (Chromium, playwright-core) and see each other arrive', async () => {
    const browser: Browser = await chromium.launch({
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
      const [ann, ben] = await Promise.all([browser.newPage(), browser.newPage()]);
      const enter = async (page: typeof ann, user: string) => {
        await page.goto(url);
        await page.fill('input[name=user]', user);
        await page.fill('input[name=password]', 'correct horse');
        await page.fill('input[name=room]', 'web');
        await page.click('button[name=register]');
        await page.waitForSelector('#chat:not([hidden])');
      };
      await enter(ann, 'ann');
      await enter(ben, 'ben');
      await ann.waitForFunction(() => document.getElementById('log')!.textContent!.includes('ben joined'));
      await ben.fill('input[name=text]', 'hello from ben');
      await ben.click('#say button');
      await ann.waitForFunction(() => document.getElementById('log')!.textContent!.includes('ben: hello from ben'));
      await ann.waitForFunction(() => document.getElementById('members')!.textContent === 'ann, ben');
      expect(await ann.textContent('#members')).toBe('ann, ben');
      await ann.reload();
      await ann.fill('input[name=user]', 'ann');
      await ann.fill('input[name=password]', 'wrong horse');
      await ann.click('button[name=login]');
      await ann.waitForFunction(() => document.getElementById('error')!.textContent !== '');
      expect(await ann.textContent('#error')).toBe('wrong user or password');
    } finally {
      await browser.close();
    }
  });
});
