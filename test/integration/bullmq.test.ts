import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowProducer, Queue, QueueEvents, Worker, type Job } from 'bullmq';
import { startServer, type TestServer } from '../helpers/server.js';

/**
 * BullMQ, unchanged, on Sabre: its Lua scripts (EVALSHA with many keys, cmsgpack, streams for
 * events) run as on Redis. With one shard any prefix works; with several, BullMQ's Redis Cluster
 * setting (a hash-tagged prefix, `{bull}`) keeps each queue's keys in one slot, so every script
 * runs in one shard, since its scripts touch keys they do not declare.
 */
describe.each([
  { shards: 1, prefix: 'bull' },
  { shards: 2, prefix: '{bull}' },
])('BullMQ on Sabre with $shards shard(s), prefix $prefix', ({ shards, prefix }) => {
  let srv: TestServer;
  let connection: { host: string; port: number; maxRetriesPerRequest: null };
  let opts: { connection: typeof connection; prefix: string };
  const closers: { close(): Promise<unknown> }[] = [];

  beforeAll(async () => {
    srv = await startServer(['--shards', String(shards)]);
    connection = { host: '127.0.0.1', port: srv.port, maxRetriesPerRequest: null };
    opts = { connection, prefix };
  });
  afterAll(async () => {
    for (const c of closers.reverse()) await c.close();
    await srv.stop();
  });

  /** Resolves once `n` jobs completed (their results) or rejects on a worker error. */
  function completions(worker: Worker, n: number): Promise<Map<string, unknown>> {
    const results = new Map<string, unknown>();
    return new Promise((resolve, reject) => {
      worker.on('completed', (job: Job, result: unknown) => {
        results.set(job.id!, result);
        if (results.size === n) resolve(results);
      });
      worker.on('error', reject);
    });
  }

  it('processes added and bulk-added jobs with their results', async () => {
    const queue = new Queue('plain', opts);
    closers.push(queue);
    await queue.add('one', { x: 1 });
    await queue.addBulk(Array.from({ length: 199 }, (_, i) => ({ name: 'many', data: { x: i + 2 } })));
    const worker = new Worker('plain', async (job) => job.data.x * 2, { ...opts, concurrency: 20 });
    closers.push(worker);
    const results = await completions(worker, 200);
    expect([...results.values()].sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 200 }, (_, i) => (i + 1) * 2));
    expect(await queue.getJobCounts('completed', 'waiting', 'active', 'failed')).toMatchObject({
      completed: 200,
      waiting: 0,
      active: 0,
      failed: 0,
    });
  });

  it('retries a failing job with its attempts, runs delayed and prioritized jobs, and reports events', async () => {
    const queue = new Queue('rich', opts);
    const events = new QueueEvents('rich', opts);
    closers.push(queue, events);
    await events.waitUntilReady();
    const order: string[] = [];
    const worker = new Worker(
      'rich',
      async (job) => {
        order.push(job.name);
        if (job.name === 'flaky' && job.attemptsMade < 2) throw new Error('not yet');
        await job.updateProgress(100);
        return job.name;
      },
      { ...opts, concurrency: 1, autorun: false },
    );
    closers.push(worker);
    const seen = new Promise<string>((resolve) => events.on('completed', ({ jobId }) => jobId === 'late' && resolve(jobId)));
    await queue.add('flaky', {}, { attempts: 3, backoff: { type: 'fixed', delay: 10 } });
    await queue.add('low', {}, { priority: 10 });
    await queue.add('high', {}, { priority: 1 });
    await queue.add('later', {}, { delay: 200, jobId: 'late' });
    expect(await queue.getDelayedCount()).toBe(1);
    const done = completions(worker, 4);
    void worker.run();
    const results = await done;
    expect(new Set(results.values())).toEqual(new Set(['flaky', 'low', 'high', 'later']));
    expect(await seen).toBe('late');
    // flaky ran three times; among the prioritized ones the higher priority went first.
    expect(order.filter((n) => n === 'flaky')).toHaveLength(3);
    expect(order.indexOf('high')).toBeLessThan(order.indexOf('low'));
    const flaky = (await queue.getCompleted()).find((j) => j.name === 'flaky')!;
    expect(flaky.attemptsMade).toBe(3);
    expect(flaky.progress).toBe(100);
  });
  it('runs a job scheduler (repeatable jobs) until it is removed', async () => {
    const queue = new Queue('repeat', opts);
    closers.push(queue);
    const runs: number[] = [];
    const worker = new Worker('repeat', async (job) => runs.push(job.data.n), { ...opts, concurrency: 1 });
    closers.push(worker);
    const three = completions(worker, 3);
    await queue.upsertJobScheduler('every-50ms', { every: 50 }, { name: 'tick', data: { n: 7 } });
    expect((await queue.getJobSchedulers()).map((s) => s.key)).toEqual(['every-50ms']);
    await three;
    expect(await queue.removeJobScheduler('every-50ms')).toBe(true);
    expect(await queue.getJobSchedulers()).toEqual([]);
    expect(runs.slice(0, 3)).toEqual([7, 7, 7]);
  });

  it('holds a rate-limited worker to its limit', async () => {
    const queue = new Queue('limited', opts);
    closers.push(queue);
    await queue.addBulk(Array.from({ length: 6 }, (_, i) => ({ name: 'job', data: { i } })));
    const started = performance.now();
    const worker = new Worker('limited', async (job) => job.data.i, { ...opts, concurrency: 6, limiter: { max: 2, duration: 300 } });
    closers.push(worker);
    const results = await completions(worker, 6);
    // Six jobs at two per 300 ms take two full windows after the first (600 ms; unlimited, about 10 ms). A lower
    // bound, so load cannot break it; 500 leaves room for millisecond rounding of the limiter key's expiry.
    expect(performance.now() - started).toBeGreaterThanOrEqual(500);
    expect([...results.values()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('runs a flow: the parent after its children, with their results', async () => {
    const flows = new FlowProducer(opts);
    closers.push(flows);
    const tree = await flows.add({
      name: 'parent',
      queueName: 'flow',
      children: [1, 2, 3].map((x) => ({ name: 'child', queueName: 'flow', data: { x } })),
    });
    expect(await tree.job.getState()).toBe('waiting-children');
    const worker = new Worker(
      'flow',
      async (job) => {
        if (job.name !== 'parent') return job.data.x * 10;
        const values = await job.getChildrenValues<number>();
        return Object.values(values).sort((a, b) => a - b);
      },
      { ...opts, concurrency: 4 },
    );
    closers.push(worker);
    const done = completions(worker, 4);
    const results = await done;
    expect(results.get(tree.job.id!)).toEqual([10, 20, 30]);
  });
});
