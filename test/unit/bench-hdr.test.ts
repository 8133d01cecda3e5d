// The native-bench HDR pieces: redis-benchmark's default report read into per-test histograms,
// percentile tables (wrk, ab) turned into histograms, and the .hgrm/SVG files a compare script links.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error -- plain ESM script without type declarations
import { HdrRuns, histogramFromPercentiles, histogramFromValues } from '../../native-bench/lib/hdr-report.mjs';
// @ts-expect-error -- plain ESM script without type declarations
import { parseRedisBenchmarkTests } from '../../native-bench/lib/redis-benchmark.mjs';

/** One test's section of `redis-benchmark -n 10000 -P 16` output (7.0.15), progress line included. */
function section(title: string, rps: string, summary: string, percentiles: string[], cumulative: string[]): string {
  return [
    `${title}: rps=0.0 (overall: -nan) avg_msec=-nan (overall: -nan)\r                                                    \r====== ${title} ======`,
    '  10000 requests completed in 0.02 seconds',
    '  50 parallel clients',
    'Latency by percentile distribution:',
    ...percentiles,
    'Cumulative distribution of latencies:',
    ...cumulative,
    'Summary:',
    `  throughput summary: ${rps} requests per second`,
    '  latency summary (msec):',
    '          avg       min       p50       p95       p99       max',
    `        ${summary}`,
  ].join('\n');
}

const OUTPUT = [
  section(
    'SET',
    '625000.00',
    '0.846     0.112     0.575     1.583     5.671     5.719',
    [
      '0.000% <= 0.119 milliseconds (cumulative count 16)',
      '50.000% <= 0.575 milliseconds (cumulative count 5072)',
      '75.000% <= 0.807 milliseconds (cumulative count 7536)',
      '93.750% <= 1.327 milliseconds (cumulative count 9376)',
      '96.875% <= 5.591 milliseconds (cumulative count 9696)',
      '99.902% <= 5.719 milliseconds (cumulative count 10000)',
      '100.000% <= 5.719 milliseconds (cumulative count 10000)',
    ],
    [
      '0.000% <= 0.103 milliseconds (cumulative count 0)',
      '37.760% <= 0.503 milliseconds (cumulative count 3776)',
      '55.360% <= 0.607 milliseconds (cumulative count 5536)',
      '95.840% <= 1.607 milliseconds (cumulative count 9584)',
      '100.000% <= 6.103 milliseconds (cumulative count 10000)',
    ],
  ),
  section(
    'LPUSH (needed to benchmark LPOP)',
    '1000000.00',
    '0.538     0.104     0.479     0.887     2.687     2.703',
    ['50.000% <= 0.479 milliseconds (cumulative count 5184)', '100.000% <= 2.703 milliseconds (cumulative count 10000)'],
    [],
  ),
].join('\n');

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('native-bench HDR reports', () => {
  it('reads every test of a redis-benchmark report, with its whole distribution', () => {
    const tests = parseRedisBenchmarkTests(OUTPUT);
    expect([...tests.keys()]).toEqual(['SET', 'LPUSH (needed to benchmark LPOP)']);
    const set = tests.get('SET');
    expect(set.rps).toBe(625000);
    expect([set.p50, set.p99, set.max]).toEqual([0.575, 5.671, 5.719]);
    expect(set.histogram.totalCount).toBe(10000);
    // Half the calls took at most 0.575 ms, by both tables; the slowest 3% between 1.327 and 5.719 ms.
    expect(set.histogram.getValueAtPercentile(50) / 1000).toBeCloseTo(0.575, 2);
    expect(set.histogram.getValueAtPercentile(99) / 1000).toBeCloseTo(5.719, 1);
    // The cumulative table rounds up to 6.103 ms; the percentile table has the true maximum.
    expect(set.histogram.maxValue / 1000).toBeCloseTo(set.max, 2);
  });

  it('turns a percentile table into a histogram, skipping a value that falls with the percentile', () => {
    // ab -e: 1% steps in ms, and for a short run a stray value at 99%.
    const h = histogramFromPercentiles(
      [
        [0, 5.167],
        [50, 20.83],
        [98, 51.9],
        [99, 0.257],
        [100, 51.941],
      ],
      50,
    );
    expect(h.totalCount).toBe(50);
    expect(h.minNonZeroValue / 1000).toBeCloseTo(20.83, 1);
    expect(h.maxValue / 1000).toBeCloseTo(51.941, 1);
  });

  it('writes one .hgrm per series and one plot per test, linked relative to the page', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sabre-hdr-test-'));
    dirs.push(dir);
    const runs = new HdrRuns();
    runs.add('GET -P 16', 'sabre', histogramFromValues([0.2, 0.3, 0.4]));
    runs.add('GET -P 16', 'redis', histogramFromValues([0.1, 0.2]));
    runs.add('GET -P 16', 'redis', histogramFromValues([0.5]));
    runs.add('GET -P 16', 'redis', null);
    const lines: string[] = runs.write(path.join(dir, 'topic'), dir);
    const link = lines.find((l) => l.startsWith('- GET -P 16'));
    expect(link).toBe('- GET -P 16: [redis](topic/get-p-16-redis.hgrm), [sabre](topic/get-p-16-sabre.hgrm) · [plot](topic/get-p-16.svg)');
    const hgrm = readFileSync(path.join(dir, 'topic', 'get-p-16-redis.hgrm'), 'utf8');
    expect(hgrm).toMatch(/Value\s+Percentile\s+TotalCount\s+1\/\(1-Percentile\)/);
    expect(hgrm).toMatch(/Total count\s+=\s+3\]/);
    const svg = readFileSync(path.join(dir, 'topic', 'get-p-16.svg'), 'utf8');
    expect(svg).toContain('redis (2 runs)');
    expect(svg).toContain('sabre (1 run)');
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(existsSync(path.join(dir, 'topic', 'get-p-16-sabre.hgrm'))).toBe(true);
  });
});
