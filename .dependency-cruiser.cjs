/**
 * Sabre's layering, checked in CI by `npm run lint:deps` (README, "Architecture").
 *
 * It cruises the build output (dist/): dependency-cruiser 17 parses TypeScript only through the
 * `typescript` package below 7, and Sabre builds with TypeScript 7, which has no JavaScript API.
 * The compiled graph is the one that runs (static and dynamic imports, cycles that break module
 * start-up), but tsc drops type-only imports from it; biome.jsonc repeats the layer rules as
 * noRestrictedImports overrides on src/ so a type import across a layer fails too. Keep the two
 * lists in step. Paths match src/ as well, for the day a TypeScript parser is available here.
 */
const { existsSync, readdirSync, readFileSync } = require('node:fs');
const { join, relative } = require('node:path');

const ROOT = '^(src|dist)/';
/** Modules every layer may use: the error classes, the logger and the version string. */
const SHARED = `${ROOT}(errors|log|version)\\.(ts|js)$`;
/** Block and line comments, which tsc keeps in its output. */
const COMMENTS = /\/\*[\s\S]*?\*\/|\/\/.*$/gm;

/**
 * Sorts the compiled modules under `dir` that the graph must not judge: `typeOnly`, those that
 * declared only types (tsc leaves an empty `export {};` and drops every import of them, so they
 * look like orphans although src/ uses them), and `stale`, those whose src/ file is gone (tsc
 * never deletes an output).
 */
function compiledModules(dir) {
  const typeOnly = [];
  const stale = [];
  let entries = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true, recursive: true });
  } catch {
    // No build yet: nothing to sort.
  }
  for (const e of entries) {
    if (!e.isFile() || !e.name.endsWith('.js')) continue;
    const path = join(e.parentPath, e.name);
    const pattern = `^${path.replace(/[.]/g, '\\.')}$`;
    const source = join('src', relative(dir, path)).replace(/\.js$/, '.ts');
    if (!existsSync(source)) stale.push(pattern);
    else if (readFileSync(path, 'utf8').replace(COMMENTS, '').trim() === 'export {};') typeOnly.push(pattern);
  }
  return { typeOnly, stale };
}
const COMPILED = compiledModules('dist');

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
    keepOff(
      'shards-not-to-io-or-server',
      'shards',
      ['io', 'server', 'proxy'],
      'Shard workers run in their own threads: pulling in io/ or server/ loads the acceptor and server into every shard.',
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
    {
      name: 'no-circular',
      comment: 'A cycle makes module start-up order matter (a class read before its module ran) and ties the modules into one unit.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      comment: 'A module nothing imports and that imports nothing is dead code, or an entry point to list here.',
      severity: 'error',
      from: { orphan: true, pathNot: COMPILED.typeOnly },
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
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['\\.d\\.ts$', ...COMPILED.stale] },
    moduleSystems: ['es6', 'cjs'],
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      mainFields: ['module', 'main'],
    },
  },
};
