// HDR latency reports for the compare scripts: each tool's latency distribution (redis-benchmark's,
// wrk's, hey's, ab's, a script's own timings) read into hdr-histogram-js histograms, written as .hgrm
// (HdrHistogram's percentile-distribution text, which HdrHistogram's plotter and other tools read)
// and drawn as an SVG plot of latency by percentile, Sabre against the reference.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as hdr from 'hdr-histogram-js';

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

/**
 * A histogram (µs) from a percentile list [[percent, ms], …] of `total` values, as wrk and ab report
 * it: the values between two listed percentiles recorded at the upper one.
 */
export function histogramFromPercentiles(pairs, total) {
  const points = [];
  let top = 0;
  for (const [pct, ms] of [...pairs].sort((a, b) => a[0] - b[0])) {
    // ab -e prints a stray value past the end of its sample for 99% of a short run: a latency can only grow with the percentile.
    if (!(ms >= top)) continue;
    top = ms;
    points.push([ms, Math.round((Math.min(pct, 100) / 100) * total)]);
  }
  return histogramFromPoints(points);
}

/** A histogram (µs) of single latencies given in ms (hey's per-request times, a script's own timings). */
export function histogramFromValues(valuesMs) {
  const h = emptyHistogram();
  for (const ms of valuesMs) h.recordValue(Math.max(1, Math.round(ms * 1000)));
  return h;
}

/** A new empty µs histogram (to merge runs into, or to record a script's own timings in µs). */
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

/** A file-name piece for a test label: "GEOSEARCH 50 km -P 1" → "geosearch-50-km-p-1". */
function slug(label) {
  return (
    label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 60) || 'test'
  );
}

/**
 * The latency histograms of one benchmark's runs, by test and by series (the servers or proxies
 * compared), each series' runs merged: what every compare script writes beside its Markdown page.
 */
export class HdrRuns {
  /** `order`: series names in plot order (the reference first); others follow as they come. */
  constructor(order = ['redis', 'sabre']) {
    this.order = order;
    this.tests = new Map();
  }

  /** Adds one run's µs histogram (nothing when null) to `series` of the test labelled `test`. */
  add(test, series, histogram) {
    if (!histogram) return;
    let t = this.tests.get(test);
    if (!t) this.tests.set(test, (t = new Map()));
    let s = t.get(series);
    if (!s) t.set(series, (s = { histogram: emptyHistogram(), runs: 0 }));
    s.histogram.add(histogram);
    s.runs++;
  }

  /**
   * Writes into `dir` each test's series as `<test>-<series>.hgrm` and one `<test>.svg` plot of them
   * all; returns the Markdown lines (a `heading`, a note, a line per test; `embed` shows the plots)
   * that link them from a page in `pageDir`.
   */
  write(dir, pageDir, { heading = '## Latency distributions (HDR)', note = '', embed = false } = {}) {
    if (this.tests.size === 0) return [];
    mkdirSync(dir, { recursive: true });
    const rel = (file) => path.relative(pageDir, path.join(dir, file)).split(path.sep).join('/');
    const rank = (name) => (this.order.includes(name) ? this.order.indexOf(name) : this.order.length);
    const names = [...new Set([...this.tests.values()].flatMap((t) => [...t.keys()]))].sort((a, b) => rank(a) - rank(b));
    const lines = [
      heading,
      '',
      `Per test and for each of ${names.join(', ')}, all runs merged into one latency distribution: \`.hgrm\` (HdrHistogram's percentile-distribution text, values in ms) and an SVG plot of them together (latency by percentile, on a log 1/(1-p) axis). ${note}`.trim(),
      '',
    ];
    const used = new Set();
    for (const [test, seriesMap] of this.tests) {
      let base = slug(test);
      for (let i = 2; used.has(base); i++) base = `${slug(test)}-${i}`;
      used.add(base);
      const series = [...seriesMap].sort((a, b) => rank(a[0]) - rank(b[0]));
      const links = series.map(([name, { histogram }]) => {
        const file = `${base}-${slug(name)}.hgrm`;
        writeHgrm(path.join(dir, file), histogram);
        return `[${name}](${rel(file)})`;
      });
      const svg = `${base}.svg`;
      writeLatencyPlot(
        path.join(dir, svg),
        `${test}: latency by percentile`,
        series.map(([name, s]) => ({ name: `${name} (${s.runs} run${s.runs === 1 ? '' : 's'})`, histogram: s.histogram })),
      );
      lines.push(`- ${test}: ${links.join(', ')} · [plot](${rel(svg)})`);
      if (embed) lines.push('', `  ![${test}](${rel(svg)})`, '');
    }
    if (!embed) lines.push('');
    return lines;
  }
}
