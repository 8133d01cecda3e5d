import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { startServer, type TestServer } from '../helpers/server.js';
import { startProxy } from '../../dist/index.js';
import { freePort } from '../helpers/redis-server.js';

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
const read = (f: string): string => readFileSync(`${DEPLOY}${f}`, 'utf8');

/** Metric names an expression uses (Sabre's and redis_exporter's prefixes). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b((?:redis|sabre)_[a-z0-9_]+)/g)].map((m) => m[1]!);
}

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

describe('deploy/: Prometheus config, alert rules and the Grafana dashboard', () => {
  let srv: TestServer;
  let backend: Server;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  const exported = new Set<string>();

  beforeAll(async () => {
    const metricsPort = await freePort();
    srv = await startServer(['--metrics-port', String(metricsPort), '--latency-tracking', 'yes']);
    backend = createHttpServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const bport = (backend.address() as { port: number }).port;
    proxy = await startProxy({
      listen: { host: '127.0.0.1', port: 0 },
      threads: 1,
      backends: [{ url: `http://127.0.0.1:${bport}` }],
      admin: { host: '127.0.0.1', port: 0 },
      rateLimit: { policies: [{ name: 'per-ip', limit: 1000, window: '1s' }] },
    });
    // Traffic through both, so per-command and per-backend series exist.
    await fetch(`http://127.0.0.1:${proxy.port}/`);
    const { Redis } = await import('ioredis');
    const r = new Redis({ port: srv.port, host: '127.0.0.1' });
    await r.set('k', 'v', 'EX', 100);
    r.disconnect();
    for (const url of [`http://127.0.0.1:${metricsPort}/metrics`, `http://127.0.0.1:${proxy.adminPort}/metrics`]) {
      for (const m of (await (await fetch(url)).text()).matchAll(/^# TYPE (\S+)/gm)) exported.add(m[1]!);
    }
  });
  afterAll(async () => {
    await proxy.close();
    backend.close();
    await srv.stop();
  });

  /** A name is exported when it is a family or one of a family's series (summaries add _count and _sum). */
  const isExported = (name: string): boolean => exported.has(name) || exported.has(name.replace(/_(count|sum|bucket)$/, ''));

  it('has a scrape config for servers and proxies that loads the rules', () => {
    const cfg = parse(read('prometheus.yml'));
    expect(cfg.rule_files).toEqual(['alerts.yml']);
    const jobs = cfg.scrape_configs.map((j: { job_name: string }) => j.job_name);
    expect(jobs).toEqual(['sabre-server', 'sabre-proxy']);
    for (const j of cfg.scrape_configs) {
      expect(j.metrics_path).toBe('/metrics');
      for (const t of j.static_configs.flatMap((s: { targets: string[] }) => s.targets)) expect(t).toMatch(/^[\w.-]+:\d+$/);
    }
  });

  it('has well-formed alert rules over metrics that exist', () => {
    const rules: Rule[] = parse(read('alerts.yml')).groups.flatMap((g: { rules: Rule[] }) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'SabreServerDown',
        'SabreMemoryNearMax',
        'SabreReplicaLost',
        'SabreProxyDown',
        'SabreProxyBackendDown',
        'SabreProxyErrorRate',
      ]),
    );
    for (const r of rules) {
      expect(r.alert).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(['critical', 'warning']).toContain(r.labels.severity);
      expect(r.annotations.summary.length).toBeGreaterThan(10);
      if (r.for !== undefined) expect(r.for).toMatch(/^\d+[smh]$/);
      for (const name of metricNames(r.expr))
        expect({ rule: r.alert, name, exported: isExported(name) }).toEqual({ rule: r.alert, name, exported: true });
    }
  });

  it('has a Grafana dashboard whose every query names metrics that exist', () => {
    const dash = JSON.parse(read('grafana-dashboard.json'));
    expect(dash.__inputs[0].pluginId).toBe('prometheus');
    expect(dash.panels.length).toBeGreaterThanOrEqual(10);
    const ids = new Set<number>();
    for (const p of dash.panels) {
      expect(ids.has(p.id)).toBe(false);
      ids.add(p.id);
      expect(p.targets.length).toBeGreaterThan(0);
      for (const t of p.targets) {
        const names = metricNames(t.expr);
        expect(names.length).toBeGreaterThan(0);
        for (const name of names)
          expect({ panel: p.title, name, exported: isExported(name) }).toEqual({ panel: p.title, name, exported: true });
      }
    }
  });
});
