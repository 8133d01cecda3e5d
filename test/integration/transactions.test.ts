import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';

const ACCOUNTS = 12;
const START = 1000;

describe.each([1, 3])('MULTI/EXEC with %i shard(s)', (shards) => {
  let srv: TestServer;
  let r: Redis;
  let r2: Redis;
  const client = (): Redis => new Redis({ port: srv.port, host: '127.0.0.1' });
  beforeAll(async () => {
    srv = await startServer(['--shards', String(shards)]);
    r = client();
    r2 = client();
  });
  afterAll(async () => {
    r.disconnect();
    r2.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('queues commands and returns runtime errors in place', async () => {
    await r.set('str', 'x');
    const res = await r.multi().set('a', '1').incr('a').incr('str').mset('k1', '1', 'k2', '2', 'k3', '3').mget('k1', 'k2', 'k3').exec();
    expect(res!.map(([e, v]) => (e ? String(e.message) : v))).toEqual([
      'OK',
      2,
      'ERR value is not an integer or out of range',
      'OK',
      ['1', '2', '3'],
    ]);
  });

  it('aborts with EXECABORT after a queueing error and rejects misuse', async () => {
    expect(await r.call('multi')).toBe('OK');
    await expect(r.call('multi')).rejects.toThrow('ERR MULTI calls can not be nested');
    await expect(r.call('watch', 'a')).rejects.toThrow('ERR WATCH inside MULTI is not allowed');
    expect(await r.call('set', 'never', '1')).toBe('QUEUED');
    await expect(r.call('get')).rejects.toThrow("wrong number of arguments for 'get'");
    await expect(r.call('exec')).rejects.toThrow('EXECABORT Transaction discarded because of previous errors.');
    expect(await r.exists('never')).toBe(0);
    await expect(r.call('exec')).rejects.toThrow('ERR EXEC without MULTI');
    await expect(r.call('discard')).rejects.toThrow('ERR DISCARD without MULTI');
  });

  it('DISCARD drops the queue and SELECT inside MULTI switches the db', async () => {
    await r.call('multi');
    await r.call('set', 'd', '1');
    await r.call('discard');
    expect(await r.exists('d')).toBe(0);
    const x = client();
    await x.multi().select(2).set('indb2', 'y').exec();
    expect(await x.get('indb2')).toBe('y');
    await x.select(0);
    expect(await x.get('indb2')).toBeNull();
    x.disconnect();
  });

  it('aborts EXEC when a WATCHed key is written by another client', async () => {
    await r.set('w1', '1');
    await r.watch('w1', 'w2');
    await r2.set('w1', '2');
    expect(await r.multi().set('w2', 'mine').exec()).toBeNull();
    expect(await r.get('w2')).toBeNull();
  });

  it('runs EXEC when the watched keys are untouched, then forgets them', async () => {
    await r.watch('w3', 'w4');
    await r2.set('other', '1');
    expect(await r.multi().set('w3', 'a').set('w4', 'b').exec()).toEqual([
      [null, 'OK'],
      [null, 'OK'],
    ]);
    await r2.set('w3', 'later');
    expect(await r.multi().get('w3').exec()).toEqual([[null, 'later']]);
  });

  it('UNWATCH and DISCARD drop watches', async () => {
    await r.watch('w5');
    await r.unwatch();
    await r2.set('w5', '1');
    expect(await r.multi().get('w5').exec()).toEqual([[null, '1']]);
    await r.watch('w5');
    await r.call('multi');
    await r.call('get', 'w5');
    expect(await r.call('discard')).toBe('OK');
    await r2.set('w5', '2');
    expect(await r.multi().get('w5').exec()).toEqual([[null, '2']]);
  });

  it('aborts EXEC when a WATCHed key expires or is flushed', async () => {
    await r.set('ttl', '1', 'PX', 30);
    await r.watch('ttl');
    await new Promise((res) => setTimeout(res, 80));
    expect(await r.multi().get('ttl').exec()).toBeNull();
    await r.set('fl', '1');
    await r.watch('fl');
    await r2.flushdb();
    expect(await r.multi().get('fl').exec()).toBeNull();
  });

  it('does not abort when another client writes nothing to an absent watched key', async () => {
    await r.watch('absent1', 'absent2');
    expect(await r2.del('absent1')).toBe(0);
    expect(await r2.expire('absent2', 100)).toBe(0);
    expect(await r.multi().set('absent1', 'x').exec()).toEqual([[null, 'OK']]);
    await r.watch('absent3');
    await r2.set('absent3', 'created');
    expect(await r.multi().get('absent3').exec()).toBeNull();
  });

  it('does not abort for a stale key watched after it expired', async () => {
    await r.set('stale', '1', 'PX', 1);
    await new Promise((res) => setTimeout(res, 20));
    await r.watch('stale');
    expect(await r.multi().set('stale', '2').exec()).toEqual([[null, 'OK']]);
  });

  it('runs multi-step cross-shard commands inside a watched transaction', async () => {
    // {k1} and {k2} hash to different shards when there are 3.
    await r.set('src{k1}', 'v');
    await r.watch('src{k1}');
    const res = await r.multi().rename('src{k1}', 'dst{k2}').get('dst{k2}').exec();
    expect(res).toEqual([
      [null, 'OK'],
      [null, 'v'],
    ]);
  });

  it('keeps the total constant under concurrent cross-shard transfers', async () => {
    const init = r.pipeline();
    for (let i = 0; i < ACCOUNTS; i++) init.set(`acct:${i}`, String(START));
    await init.exec();
    const workers = Array.from({ length: 50 }, client);
    const checker = client();
    const deadline = Date.now() + 3000;
    let transfers = 0;
    const work = workers.map(async (c, n) => {
      for (let i = 0; i < 100_000 && Date.now() < deadline; i++) {
        const from = (n + i) % ACCOUNTS;
        const to = (from + 1 + (i % (ACCOUNTS - 1))) % ACCOUNTS;
        if (n % 5 === 0) {
          await c.watch(`acct:${from}`);
          const bal = Number(await c.get(`acct:${from}`));
          const res = await c
            .multi()
            .set(`acct:${from}`, String(bal - 1))
            .incrby(`acct:${to}`, 1)
            .exec();
          if (res !== null) transfers++;
        } else {
          await c.multi().decrby(`acct:${from}`, 3).incrby(`acct:${to}`, 3).exec();
          transfers++;
        }
      }
    });
    const totals: number[] = [];
    const check = (async () => {
      for (let i = 0; i < 100_000 && Date.now() < deadline; i++) {
        const m = checker.multi();
        for (let k = 0; k < ACCOUNTS; k++) m.get(`acct:${k}`);
        const res = await m.exec();
        totals.push(res!.reduce((s, [, v]) => s + Number(v), 0));
        const mg = await checker.mget(...Array.from({ length: ACCOUNTS }, (_, k) => `acct:${k}`));
        totals.push(mg.reduce((s, v) => s + Number(v), 0));
      }
    })();
    await Promise.all([...work, check]);
    for (const c of [...workers, checker]) c.disconnect();
    expect(transfers).toBeGreaterThan(0);
    expect(totals.length).toBeGreaterThan(0);
    expect(new Set(totals)).toEqual(new Set([ACCOUNTS * START]));
  });
});
