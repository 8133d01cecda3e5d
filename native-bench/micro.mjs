// tinybench micro benchmarks for the server's hot-path pieces, run against dist/:
// the RESP parser, the shard hash table and the SPSC ring. Prints ns/op (median of tinybench's samples).
import os from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Bench } from 'tinybench';
import { ParsedCommand, parseCommand } from '../dist/wire/resp-parser.js';
import { Arena } from '../dist/shards/arena.js';
import { KeyTable, hashBytes } from '../dist/shards/key-table.js';
import { newRecord } from '../dist/shards/record.js';
import { RingReader, RingWriter, createRingMemory } from '../dist/wire/ring.js';

const time = Number(process.env.BENCH_MS ?? 500);
const bench = new Bench({ time, warmupTime: 200 });

// Parser: a pipelined batch of 16 SETs as redis-benchmark -P 16 sends them.
const one = '*3\r\n$3\r\nSET\r\n$16\r\nkey:000000012345\r\n$3\r\nxxx\r\n';
const batch = Buffer.from(one.repeat(16));
const cmd = new ParsedCommand();
const limits = { maxBulkLen: 512 * 1024 * 1024, authenticated: true };
bench.add('parse a batch of 16 SETs (-P 16)', () => {
  let p = 0;
  while (p < batch.length) p = parseCommand(batch, p, batch.length, cmd, limits);
});

// Hash table: 1M keys loaded, then hits on random existing keys.
const arena = new Arena();
const table = new KeyTable(arena);
const N = 1_000_000;
const keys = [];
for (let i = 0; i < N; i++) {
  const k = Buffer.from(`key:${String(i).padStart(12, '0')}`);
  keys.push(k);
  const h = hashBytes(k, 0, k.length);
  table.find(k, 0, k.length, h);
  table.insert(h, newRecord(arena, 0, k, 0, k.length, 0, 0, 0));
}
let i = 0;
bench.add('hash table find (1M keys, hit)', () => {
  const k = keys[(i = (i + 7919) % N)];
  table.find(k, 0, k.length, hashBytes(k, 0, k.length));
});

// Ring: one 64-byte frame written, published, read and released.
const mem = createRingMemory(1 << 20);
const w = new RingWriter(mem);
const r = new RingReader(mem);
const payload = new Uint8Array(64);
bench.add('ring frame round trip (64 B)', () => {
  const p = w.reserve(64);
  w.buf.set(payload, p);
  w.commit(p, 64);
  w.publish();
  r.poll();
  r.next();
  r.release();
});

await bench.run();
const rows = bench.tasks.map((t) => ({
  task: t.name,
  'ns/op (median)': Math.round((t.result.latency?.p50 ?? t.result.p50) * 1e6),
  'ops/s': Math.round(t.result.throughput?.mean ?? t.result.hz),
}));
console.table(rows);
const md = [
  `# Micro benchmarks (tinybench), ${new Date().toISOString()}`,
  '',
  `Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}. Command: \`node native-bench/micro.mjs\`.`,
  '',
  '| task | ns/op (median) | ops/s |',
  '|---|--:|--:|',
  ...rows.map((r) => `| ${r.task} | ${r['ns/op (median)']} | ${r['ops/s'].toLocaleString('en-US')} |`),
  '',
];
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/micro.md', import.meta.url), md.join('\n'));
