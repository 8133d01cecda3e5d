/**
 * LATENCY HISTOGRAM and INFO latencystats from the shards' shared per-command histograms
 * (src/shards/latency.ts), and the push of latency-tracking / slowlog-log-slower-than to
 * the shards. Percentiles go through hdr-histogram-js; LATENCY HISTOGRAM reports
 * cumulative counts at Redis's power-of-two microsecond boundaries.
 */
import * as hdr from 'hdr-histogram-js';
import { CMD } from '../commands/ids.generated.js';
import { COMMANDS, lookupFullName } from '../commands/table.js';
import type { Acceptor } from '../io/acceptor.js';
import type { RespWriter } from '../wire/resp-writer.js';
import { COMMAND_NAMES, internalId } from '../commands/internal.js';
import { LAT_BUCKETS, bucketFloor } from '../wire/latency-buckets.js';
import { registerInfoSection } from './info.js';

/** Bucket counts of one command summed over the shards; null when it never ran. */
function merged(a: Acceptor, id: number): Float64Array | null {
  const out = new Float64Array(LAT_BUCKETS);
  let total = 0;
  for (const link of a.shards) {
    const h = link.latency;
    for (let b = 0; b < LAT_BUCKETS; b++) {
      const n = h[id * LAT_BUCKETS + b]!;
      out[b]! += n;
      total += n;
    }
  }
  return total === 0 ? null : out;
}

function total(h: Float64Array): number {
  let n = 0;
  for (const x of h) n += x;
  return n;
}

/** Writes {calls, histogram_usec} as Redis's fillCommandCDF does. */
function writeCdf(w: RespWriter, h: Float64Array): void {
  const calls = total(h);
  w.mapHeader(2);
  w.bulkString('calls');
  w.int(calls);
  w.bulkString('histogram_usec');
  const points: [number, number][] = [];
  let cum = 0;
  let b = 0;
  let prev = 0;
  for (let k = 0; cum < calls && k < 32; k++) {
    const bound = 1024 * 2 ** k;
    while (b < LAT_BUCKETS && bucketFloor(b) < bound) cum += h[b++]!;
    if (cum > prev) points.push([Math.floor(bound / 1000), cum]);
    prev = cum;
  }
  w.mapHeader(points.length);
  for (const [us, n] of points) {
    w.int(us);
    w.int(n);
  }
}

/** Installs LATENCY HISTOGRAM, INFO latencystats and the config push. */
export function installLatency(a: Acceptor): { started(): void } {
  const push = (): void => {
    const slow = a.config.num('slowlog-log-slower-than');
    const args = [
      Buffer.from('__latencycfg'),
      Buffer.from(a.config.get('latency-tracking') === 'yes' ? '1' : '0'),
      Buffer.from(String(slow)),
    ];
    void a.coordinator.callAll(0, internalId('__latencycfg'), args);
  };
  a.config.onChange('latency-tracking', push);
  a.config.onChange('slowlog-log-slower-than', push);

  a.local[CMD.LATENCY_HISTOGRAM] = (conn, seq, cmd) => {
    const ids: number[] = [];
    if (cmd.argc === 2) {
      for (let id = 0; id < COMMANDS.length; id++) ids.push(id);
    } else {
      for (let i = 2; i < cmd.argc; i++) {
        const id = lookupFullName(cmd.buf, cmd.argStart[i]!, cmd.argLen[i]!);
        if (id < 0) continue;
        const subs = COMMANDS[id]!.subcommands;
        if (subs !== null) for (const s of subs) ids.push(s.id);
        else ids.push(id);
      }
    }
    const found: [string, Float64Array][] = [];
    for (const id of ids) {
      const h = merged(a, id);
      if (h !== null) found.push([COMMAND_NAMES[id]!, h]);
    }
    const w = a.startReply(conn);
    w.mapHeader(found.length);
    for (const [name, h] of found) {
      w.bulkString(name);
      writeCdf(w, h);
    }
    a.replyW(conn, seq);
  };

  const resetstat = a.local[CMD.CONFIG_RESETSTAT];
  a.local[CMD.CONFIG_RESETSTAT] = (conn, seq, cmd) => {
    void a.coordinator.callAll(0, internalId('__latencyreset'), [Buffer.from('__latencyreset')]);
    resetstat?.(conn, seq, cmd);
  };

  registerInfoSection(a, 'latencystats', () => {
    const pcts = a.config.get('latency-tracking-info-percentiles').split(' ').filter(Boolean);
    const lines: string[] = [];
    for (let id = 0; id < COMMANDS.length; id++) {
      const h = merged(a, id);
      if (h === null) continue;
      const hist = hdr.build({ autoResize: true, numberOfSignificantValueDigits: 3 });
      for (let b = 0; b < LAT_BUCKETS; b++) if (h[b]! > 0) hist.recordValueWithCount(Math.max(1, bucketFloor(b)), h[b]!);
      const parts = pcts.map((p) => `p${p}=${(hist.getValueAtPercentile(Number(p)) / 1000).toFixed(3)}`);
      hist.destroy();
      lines.push(`latency_percentiles_usec_${COMMAND_NAMES[id]!}:${parts.join(',')}`);
    }
    return lines;
  });
  return { started: push };
}
