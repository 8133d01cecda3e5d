// Micro benchmark: the proxy's route matching (src/proxy/router.ts) per request, as a rule list grows, with and
// without host and header conditions; the cost a config without routes never pays (it skips matching).
// Usage: npm run build && node native-bench/route-match-bench.mjs
import { Bench } from 'tinybench';
import { compileRoutes, Router, rewritePath } from '../dist/proxy/router.js';

const pools = (name) => (name === 'api' ? 1 : 2);
/** n rules on path prefixes that the request does not match, then the one it does. */
const prefixRules = (n) => [
  ...Array.from({ length: n }, (_, i) => ({ match: { pathPrefix: `/never-${i}/` }, pool: 'other' })),
  { match: { pathPrefix: '/api/' }, pool: 'api', rewrite: { stripPrefix: '/api' } },
];
/** The same, every rule also checking a method, a host and a header. */
const fullRules = (n) =>
  prefixRules(n).map((r) => ({
    ...r,
    match: { ...r.match, methods: ['GET', 'POST'], host: '*.example.com', headers: { 'x-env': 'prod' } },
  }));
const req = { getHeader: (n) => (n === 'x-env' ? 'prod' : '') };
const PATHS = ['/api/users/7', '/api/orders', '/api/', '/api/users/7/items'];
const ROUNDS = 256;
let sink = 0;

const bench = new Bench({ time: 1000, warmupTime: 300 });
for (const [label, make] of [
  ['prefix', prefixRules],
  ['prefix+method+host+header', fullRules],
]) {
  for (const n of [0, 8, 32]) {
    const router = new Router(compileRoutes(make(n), pools));
    bench.add(`${label}, ${n} rules before the match`, () => {
      for (let r = 0; r < ROUNDS; r++) {
        for (let i = 0; i < PATHS.length; i++) {
          const route = router.match('GET', PATHS[i], 'Api.Example.com:8080', req);
          sink += route.pool + rewritePath(route, PATHS[i]).length;
        }
      }
    });
  }
}
await bench.run();
for (const t of bench.tasks)
  console.log(`${t.name.padEnd(50)} ${((t.result.latency.mean * 1e6) / (ROUNDS * PATHS.length)).toFixed(1)} ns/request`);
if (sink === 0.5) console.log(sink);
