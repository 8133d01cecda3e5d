// Summarises a V8 .cpuprofile (`node --cpu-prof`; the server's shard threads write their own):
// self time and inclusive time per function, as shares of the thread's busy (non-idle) time.
// With --under NAME, only samples whose stack has a frame matching NAME count (the cost inside
// one handler); with --callers NAME, the immediate callers and callees of the matching frame.
// A shard sleeping in Atomics.wait shows as self time of `sleep` (ring.js), not as idle.
// Usage: node native-bench/cpuprofile-summary.mjs FILE.cpuprofile [--top 30] [--under NAME] [--callers NAME]
import { readFileSync } from 'node:fs';
import { option } from './lib/servers.mjs';

const file = process.argv[2];
if (!file || file.startsWith('--')) {
  console.error('usage: node native-bench/cpuprofile-summary.mjs FILE.cpuprofile [--top 30] [--under NAME] [--callers NAME]');
  process.exit(2);
}
const top = Number(option('top', 30));
const under = option('under', '');
const callersOf = option('callers', '');

const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

/** "function file:line" of a profile node (line 1-based, in the file V8 ran: dist/, not src/). */
function label(n) {
  const f = n.callFrame;
  return `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
}

/** The stack of a sample's leaf node, leaf first. */
function stack(id) {
  const out = [];
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) out.push(label(nodes.get(cur)));
  return out;
}

// Microseconds per leaf node.
const time = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  time.set(id, (time.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}

const self = new Map();
const incl = new Map();
const callers = new Map();
const callees = new Map();
let total = 0;
let idle = 0;
for (const [id, t] of time) {
  const frames = stack(id);
  if (frames[0].startsWith('(idle)')) {
    idle += t;
    continue;
  }
  if (under !== '' && !frames.some((f) => f.includes(under))) continue;
  total += t;
  self.set(frames[0], (self.get(frames[0]) ?? 0) + t);
  for (const f of new Set(frames)) incl.set(f, (incl.get(f) ?? 0) + t);
  if (callersOf !== '') {
    const at = frames.findIndex((f) => f.includes(callersOf));
    if (at >= 0) {
      const up = frames[at + 1] ?? '(root)';
      const down = at > 0 ? frames[at - 1] : '(self)';
      callers.set(up, (callers.get(up) ?? 0) + t);
      callees.set(down, (callees.get(down) ?? 0) + t);
    }
  }
}

function print(title, m, of) {
  console.log(`\n${title}`);
  for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * t) / of).toFixed(1).padStart(6)}%  ${k}`);
  }
}

const wasm = [...self].filter(([k]) => k.startsWith('wasm-function')).reduce((a, [, t]) => a + t, 0);
console.log(
  `${file}: ${(total / 1e3).toFixed(0)} ms counted${under ? ` under "${under}"` : ''}, ${(idle / 1e3).toFixed(0)} ms idle; WebAssembly self time ${((100 * wasm) / total).toFixed(1)}%`,
);
print('self time', self, total);
print('inclusive time', incl, total);
if (callersOf !== '') {
  const of = [...callers.values()].reduce((a, b) => a + b, 0);
  print(`callers of "${callersOf}"`, callers, of);
  print(`callees of "${callersOf}"`, callees, of);
}
