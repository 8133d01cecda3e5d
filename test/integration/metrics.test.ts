import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import parsePrometheus from 'parse-prometheus-text-format';
import { runCli, startServer, type TestServer } from '../helpers/server.js';
import { freePort } from '../helpers/redis-server.js';

interface Family {
  name: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}

describe('sabre server --metrics-port', () => {
  let srv: TestServer;
  let port: number;
  let r: Redis;
  beforeAll(async () => {
    port = await freePort();
    srv = await startServer(['--shards', '2', '--metrics-port', String(port), '--latency-tracking', 'yes']);
    r = new Redis({ port: srv.port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    r.disconnect();
    await srv.stop();
  });

  /** One scrape, parsed with a Prometheus text-format parser, by family name. */
  async function scrape(): Promise<Map<string, Family>> {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    return new Map((parsePrometheus(await res.text()) as Family[]).map((f) => [f.name, f]));
  }
  const value = (m: Map<string, Family>, name: string, labels: Record<string, string> = {}): number => {
    const f = m.get(name);
    const sample = f?.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
    return sample === undefined ? Number.NaN : Number(sample.value);
  };

  it('serves redis_exporter’s names, and the values move with load', async () => {
    const before = await scrape();
    expect(value(before, 'redis_up')).toBe(1);
    expect(before.get('redis_commands_processed_total')?.type).toBe('COUNTER');
    expect(before.get('redis_connected_clients')?.type).toBe('GAUGE');
    const p = r.pipeline();
    for (let i = 0; i < 500; i++) p.set(`k${i}`, 'v', 'EX', 1000).get(`k${i}`).get(`missing${i}`);
    await p.exec();
    const after = await scrape();
    expect(value(after, 'redis_commands_processed_total') - value(before, 'redis_commands_processed_total')).toBeGreaterThanOrEqual(1500);
    expect(value(after, 'redis_commands_total', { cmd: 'set' })).toBe(500);
    expect(value(after, 'redis_commands_total', { cmd: 'get' })).toBe(1000);
    expect(value(after, 'redis_keyspace_hits_total')).toBeGreaterThanOrEqual(500);
    expect(value(after, 'redis_keyspace_misses_total')).toBeGreaterThanOrEqual(500);
    expect(value(after, 'redis_db_keys', { db: 'db0' })).toBe(500);
    expect(value(after, 'redis_db_keys_expiring', { db: 'db0' })).toBe(500);
    expect(value(after, 'redis_connected_clients')).toBeGreaterThanOrEqual(1);
    expect(value(after, 'redis_memory_used_bytes')).toBeGreaterThan(value(before, 'redis_memory_used_bytes'));
    // Every shard has a Lua VM from its start, so its heap shows before any script ran.
    expect(value(after, 'redis_memory_used_lua_bytes')).toBeGreaterThan(10_000);
    expect(value(after, 'redis_memory_used_scripts_eval_bytes')).toBe(0);
    expect(value(after, 'redis_instance_info', { role: 'master', redis_version: '7.0.15' })).toBe(1);
    // Sabre's own, per shard: the two shards' commands add up to at least the keyed ones sent.
    const shardCmds = after.get('sabre_shard_commands_total')!.metrics.map((s) => Number(s.value));
    expect(shardCmds).toHaveLength(2);
    expect(shardCmds.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(1500);
    expect(after.get('sabre_shard_request_ring_bytes')!.metrics).toHaveLength(2);
    const q = value(after, 'sabre_command_latency_seconds', { cmd: 'get', quantile: '0.99' });
    expect(q).toBeGreaterThan(0);
    expect(q).toBeLessThan(1);
    expect(after.get('sabre_command_latency_seconds')!.metrics.some((s) => s.labels?.quantile === '0.999')).toBe(true);
  });

  it('answers other paths and methods with HTTP errors', async () => {
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('refuses a metrics port in use or out of range', async () => {
    const clash = await runCli(['server', '--port', '0', '--metrics-port', String(port)]);
    expect(clash.code).toBe(1);
    expect(clash.output).toContain(`for metrics`);
    expect((await r.config('GET', 'metrics-port'))[1]).toBe(String(port));
    expect((await runCli(['server', '--metrics-port', '70000'])).code).toBe(1);
  });
});
