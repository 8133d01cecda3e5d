// HDR latency reports for the compare scripts: redis-benchmark's distributions read into
// hdr-histogram-js histograms, written as .hgrm (HdrHistogram's percentile-distribution text, which
// HdrHistogram's plotter and other tools read) and drawn as an SVG plot of latency by percentile.
import { writeFileSync } from 'node:fs';
import * as hdr from 'hdr-histogram-js';

/**
 * Reads redis-benchmark's default (not --csv) output: the throughput and latency summary, and the
 * cumulative distribution as [ms, cumulative count] points from both of its distribution tables.
 */
export function parseRedisBenchmark(stdout) {
  const text = stdout.replace(/\r/g, '\n');
  const rps = Number(/throughput summary: ([\d.]+) requests per second/.exec(text)?.[1]);
  const summary = /latency summary \(msec\):\s*\n\s*avg\s+min\s+p50\s+p95\s+p99\s+max\s*\n\s*([\d.\s]+)\n/.exec(text);
  const [avg, min, p50, p95, p99, max] = summary ? summary[1].trim().split(/\s+/).map(Number) : [];
  const byMs = new Map();
  for (const m of text.matchAll(/^\s*[\d.]+% <= ([\d.]+) milliseconds \(cumulative count (\d+)\)/gm)) {
    const ms = Number(m[1]);
    byMs.set(ms, Math.max(byMs.get(ms) ?? 0, Number(m[2])));
  }
  const points = [...byMs].sort((a, b) => a[0] - b[0]);
  if (!Number.isFinite(rps) || summary === null) return null;
  return { rps, avg, min, p50, p95, p99, max, points };
}

/** A histogram (µs) from cumulative [ms, count] points: each step's calls recorded at its upper bound. */
export function histogramFromPoints(points) {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let before = 0;
  for (const [ms, cum] of points) {
    if (cum > before) h.recordValueWithCount(Math.max(1, Math.round(ms * 1000)), cum - before);
    before = Math.max(before, cum);
  }
  return h;
}

/** Adds `from` into `into` (both µs histograms). */
export function mergeInto(into, from) {
  into.add(from);
  return into;
}

/** A new empty µs histogram to merge runs into. */
export function emptyHistogram() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

/** Writes HdrHistogram's percentile distribution, values in milliseconds. */
export function writeHgrm(file, histogram) {
  writeFileSync(file, histogram.outputPercentileDistribution(5, 1000));
}

const TICKS = [0, 90, 99, 99.9, 99.99, 99.999];

/**
 * An SVG plot of latency (ms, linear) by percentile (log of 1 / (1 - p), as HdrHistogram plots
 * do, so the tail gets room), one line per histogram.
 */
export function writeLatencyPlot(file, title, series) {
  const W = 720;
  const H = 360;
  const L = 64;
  const R = 150;
  const T = 36;
  const B = 44;
  const colors = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd'];
  const lines = series.map(({ name, histogram }) => {
    const pts = [];
    for (let i = 0; i <= 400; i++) {
      const x = (i / 400) * 5; // log10(1/(1-p)) from 0 to 5: 0% to 99.999%
      const p = 100 * (1 - 10 ** -x);
      pts.push([x, histogram.getValueAtPercentile(Math.min(p, 100)) / 1000]);
    }
    return { name, pts };
  });
  const ymax = Math.max(0.001, ...lines.flatMap((l) => l.pts.map((p) => p[1]))) * 1.05;
  const sx = (x) => L + (x / 5) * (W - L - R);
  const sy = (y) => H - B - (y / ymax) * (H - T - B);
  const esc = (s) => String(s).replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]);
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">\n`;
  svg += `<rect width="${W}" height="${H}" fill="#fff"/>\n<text x="${L}" y="20" font-size="14">${esc(title)}</text>\n`;
  for (let i = 0; i <= 4; i++) {
    const y = (ymax * i) / 4;
    svg += `<line x1="${L}" x2="${W - R}" y1="${sy(y)}" y2="${sy(y)}" stroke="#e5e5e5"/><text x="${L - 6}" y="${sy(y) + 4}" text-anchor="end">${y.toFixed(y < 1 ? 3 : 2)}</text>\n`;
  }
  TICKS.forEach((p, i) => {
    svg += `<line x1="${sx(i)}" x2="${sx(i)}" y1="${T}" y2="${H - B}" stroke="#e5e5e5"/><text x="${sx(i)}" y="${H - B + 16}" text-anchor="middle">${p}%</text>\n`;
  });
  svg += `<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">percentile</text>`;
  svg += `<text x="14" y="${(T + H - B) / 2}" transform="rotate(-90 14 ${(T + H - B) / 2})" text-anchor="middle">latency (ms)</text>\n`;
  lines.forEach((l, i) => {
    const c = colors[i % colors.length];
    svg += `<polyline fill="none" stroke="${c}" stroke-width="2" points="${l.pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>\n`;
    svg += `<rect x="${W - R + 14}" y="${T + i * 20}" width="12" height="12" fill="${c}"/><text x="${W - R + 32}" y="${T + i * 20 + 10}">${esc(l.name)}</text>\n`;
  });
  writeFileSync(file, `${svg}</svg>\n`);
}
