/**
 * Sabre's layering, checked in CI by `npm run lint:deps` (README, "Development"). It reads src/
 * with swc (TypeScript 7 has no JavaScript API for dependency-cruiser's own TypeScript parser),
 * so type-only imports count for the layer rules too. Import cycles are checked on the build output
 * by .dependency-cruiser-cycles.cjs: only run-time cycles matter, and dependency-cruiser cannot
 * leave type-only edges out of a cycle in the source (its issue #695).
 */
const ROOT = '^src/';
/** Modules every layer may use: the error classes, the logger, the version string and garbage reclaiming. */
const SHARED = `${ROOT}(errors|log|reclaim|version)\\.ts$`;

/** A rule that keeps `from` (a folder of src/) off the listed folders. */
function keepOff(name, from, folders, why) {
  return {
    name,
    comment: why,
    severity: 'error',
    from: { path: `${ROOT}${from}/` },
    to: { path: `${ROOT}(${folders.join('|')})/` },
  };
}

/** A rule that lets `from` import nothing of Sabre's but the listed folders and SHARED. */
function onlyUses(name, from, folders, why) {
  return {
    name,
    comment: why,
    severity: 'error',
    from: { path: `${ROOT}${from}/` },
    to: { path: ROOT, pathNot: [`${ROOT}(${folders.join('|')})/`, SHARED] },
  };
}

module.exports = {
  forbidden: [
    onlyUses(
      'wire-is-the-bottom',
      'wire',
      ['wire'],
      'wire/ (RESP, bytes, error texts, rings, frames) is spoken by every thread, so it depends on nothing else of Sabre.',
    ),
    onlyUses(
      'net-uses-only-wire',
      'net',
      ['net', 'wire'],
      'net/ wraps Node socket internals for any program; it may use wire/ and nothing above it.',
    ),
    onlyUses(
      'commands-uses-only-wire',
      'commands',
      ['commands', 'wire'],
      'commands/ (the command table) is read by the acceptor, the shards and the server alike; it may use wire/ only.',
    ),
    onlyUses(
      'acl-uses-only-commands-and-wire',
      'acl',
      ['acl', 'commands', 'wire'],
      'acl/ (users, rules, the permission check) is read by the server and by shards checking scripts; it may use commands/ and wire/ only.',
    ),
    keepOff(
      'shards-not-to-io-or-server',
      'shards',
      ['io', 'server', 'proxy', 'cluster'],
      'Shard workers run in their own threads: pulling in io/ or server/ loads the acceptor and server into every shard.',
    ),
    onlyUses(
      'cluster-uses-only-wire-and-commands',
      'cluster',
      ['cluster', 'wire', 'commands'],
      'cluster/ (bus codec, node table, nodes.conf, gossip) is driven by server/; it never reaches into the acceptor or the shards.',
    ),
    keepOff(
      'io-not-to-server-shards-persistence',
      'io',
      ['server', 'shards', 'persistence', 'proxy'],
      'io/ is the acceptor thread; the server wires it by injection (options and interfaces io/ declares).',
    ),
    keepOff(
      'limiter-not-to-proxy-io-server-shards',
      'limiter',
      ['proxy', 'io', 'server', 'shards'],
      'The limiter is a library (sabre/limiter) used by the proxy and by apps; it must not drag in the programs.',
    ),
    keepOff(
      'proxy-not-to-redis-server',
      'proxy',
      ['shards', 'io', 'server', 'persistence'],
      'The HTTP proxy is its own program; it talks to a Sabre server over the network (limiter/), never in-process.',
    ),
    keepOff(
      'persistence-not-to-programs',
      'persistence',
      ['shards', 'server', 'io', 'proxy'],
      'persistence/ (RDB and AOF formats) is used by the shards and the server; it must not reach back into them.',
    ),
    keepOff(
      'inspect-is-a-client',
      'inspect',
      ['shards', 'server', 'io', 'proxy', 'persistence', 'limiter'],
      'sabre inspect talks to a server over RESP like redis-cli, against Sabre or Redis; it never loads the programs.',
    ),
    keepOff(
      'dashboard-is-a-client',
      'dashboard',
      ['shards', 'server', 'io', 'proxy', 'persistence', 'limiter'],
      'sabre dashboard reads servers over RESP and proxies over their admin API, like any monitoring client.',
    ),
    {
      name: 'no-orphans',
      comment: 'A module nothing imports and that imports nothing is dead code, or an entry point to list here.',
      severity: 'error',
      from: { orphan: true },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that does not resolve fails at run time.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'not-to-dev-dep',
      comment: 'The published package installs only "dependencies"; src/ must not need a devDependency.',
      severity: 'error',
      from: { path: ROOT },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    parser: 'swc',
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.d\\.ts$' },
    moduleSystems: ['es6', 'cjs'],
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      mainFields: ['module', 'main'],
    },
  },
};
