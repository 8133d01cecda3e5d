// Micro benchmark: lookupCommand on raw bytes vs the string baseline map.get(buf.toString().toLowerCase()).
// Usage: npm run build && node native-bench/command-lookup-bench.mjs
import { Bench } from 'tinybench';
import { COMMANDS, lookupCommand } from '../dist/commands/table.js';

const names = [
  'GET',
  'SET',
  'get',
  'HSET',
  'incr',
  'ZADD',
  'EXPIRE',
  'mget',
  'LPUSH',
  'Publish',
  'EVALSHA',
  'XADD',
  'GEORADIUSBYMEMBER_RO',
  'ping',
  'DEL',
  'NOSUCHCMD',
];
// Names sit inside one buffer at arbitrary offsets, as they do in a received RESP frame.
const starts = [];
const lens = [];
const chunks = [];
let off = 0;
for (const n of names) {
  const frame = Buffer.from(`*1\r\n$${n.length}\r\n`);
  chunks.push(frame, Buffer.from(n), Buffer.from('\r\n'));
  starts.push(off + frame.length);
  lens.push(n.length);
  off += frame.length + n.length + 2;
}
const buf = Buffer.concat(chunks);
const map = new Map(COMMANDS.filter((c) => !c.container).map((c) => [c.name, c.id]));
const N = names.length;
const ROUNDS = 64;
let sink = 0;

const bench = new Bench({ time: 1000, warmupTime: 300 });
bench
  .add('lookupCommand (bytes, hash table)', () => {
    for (let r = 0; r < ROUNDS; r++) for (let i = 0; i < N; i++) sink += lookupCommand(buf, starts[i], lens[i]);
  })
  .add("map.get(buf.toString('latin1', s, e).toLowerCase())", () => {
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < N; i++) sink += map.get(buf.toString('latin1', starts[i], starts[i] + lens[i]).toLowerCase()) ?? -1;
    }
  });
await bench.run();
for (const t of bench.tasks) {
  const ns = (t.result.latency.mean * 1e6) / (ROUNDS * N);
  console.log(`${t.name.padEnd(55)} ${ns.toFixed(1)} ns/lookup`);
}
if (sink === 0.5) console.log(sink);
