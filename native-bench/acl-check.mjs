// What the ACL permission check costs a restricted user per command, run against dist/ with
// tinybench (ns/op, median of its samples). The default user (+@all ~* &*) never runs the check:
// its connections are not `restricted`, which the acceptor tests once per command.
import { Bench } from 'tinybench';
import { AclChecker } from '../dist/server/acl-check.js';
import { applyUserRule } from '../dist/server/acl-rules.js';
import { AclUser } from '../dist/server/acl-user.js';
import { CMD } from '../dist/commands/ids.generated.js';

/** A user with these rules (acl-pubsub-default resetchannels, as Redis 7.0's default). */
function user(...rules) {
  const u = new AclUser('bench', false);
  for (const r of rules) if (applyUserRule(u, r, false) !== 0) throw new Error(`bad rule ${r}`);
  return u;
}

/** A parsed command's argument spans, as the acceptor hands them to the check. */
function args(...a) {
  const buf = Buffer.from(a.join(''), 'latin1');
  const argStart = new Int32Array(a.length);
  const argLen = new Int32Array(a.length);
  let off = 0;
  a.forEach((x, i) => {
    argStart[i] = off;
    argLen[i] = x.length;
    off += x.length;
  });
  return { buf, argStart, argLen, argc: a.length };
}

const checker = new AclChecker();
const get = args('GET', 'key:000000012345');
const set = args('SET', 'key:000000012345', 'xxx');
const cases = [
  ['+@all ~* without channels: GET', user('+@all', '~*'), CMD.GET, get],
  ['+@read +@write ~key:*: SET', user('+@read', '+@write', '~key:*'), CMD.SET, set],
  ['-@all +get +set %R~key:* %W~key:*: GET', user('-@all', '+get', '+set', '%R~key:*', '%W~key:*'), CMD.GET, get],
  ['two selectors, the second allows: SET', user('-@all', '(+get ~key:*)', '(+set %W~key:*)'), CMD.SET, set],
];
// Checks per sample: one check is shorter than the timer's resolution.
const BATCH = 1000;
const bench = new Bench({ time: Number(process.env.BENCH_MS ?? 500), warmupTime: 200 });
for (const [name, u, id, a] of cases) {
  bench.add(name, () => {
    let refused = 0;
    for (let i = 0; i < BATCH; i++) refused += checker.check(u, id, a);
    if (refused !== 0) throw new Error(`${name} was refused`);
  });
}
await bench.run();
console.table(
  bench.tasks.map((t) => ({
    task: t.name,
    'ns/check (median)': Number((((t.result.latency?.p50 ?? t.result.p50) * 1e6) / BATCH).toFixed(1)),
  })),
);
