// Runs test/integration/compat-scenarios.mjs against a real Redis and writes the replies to
// test/integration/compat-expected.json; with a second port, prints where that server differs.
// usage: node test/tools/compat-gen.mjs REDIS_PORT [OTHER_PORT]
import { writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import scenarios from '../integration/compat-scenarios.mjs';

async function run(port) {
  const out = {};
  for (const [name, cmds] of Object.entries(scenarios)) {
    const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, enableOfflineQueue: true, maxRetriesPerRequest: 0 });
    await r.connect();
    await r.call('FLUSHALL');
    const replies = [];
    for (const c of cmds) {
      const args = Array.isArray(c) ? c : c.c;
      let v;
      try {
        v = await r.call(args[0], ...args.slice(1));
        if (v instanceof Buffer) v = v.toString();
        if (!Array.isArray(c) && c.sort && Array.isArray(v)) v = [...v].sort();
      } catch (e) {
        v = { err: e.message };
      }
      replies.push(v);
    }
    r.disconnect();
    out[name] = replies;
  }
  return out;
}

const [redisPort, otherPort] = process.argv.slice(2).map(Number);
const expected = await run(redisPort);
writeFileSync(new URL('../integration/compat-expected.json', import.meta.url), `${JSON.stringify(expected, null, 1)}\n`);
if (otherPort) {
  const got = await run(otherPort);
  for (const [name, cmds] of Object.entries(scenarios)) {
    cmds.forEach((c, i) => {
      const a = JSON.stringify(expected[name][i]);
      const b = JSON.stringify(got[name][i]);
      if (a !== b) console.log(`[${name}] ${JSON.stringify(Array.isArray(c) ? c : c.c)}\n   redis: ${a}\n   sabre: ${b}`);
    });
  }
}
