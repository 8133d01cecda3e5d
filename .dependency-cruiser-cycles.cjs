/**
 * Run-time import cycles, checked on dist/ by `npm run lint:deps`: tsc erases type-only imports,
 * so what is left is the graph Node loads, where a cycle makes module start-up order matter (a
 * class read before its module ran) and ties the modules into one unit. Type-only cycles in src/
 * (a shard's Store and the value codecs naming each other's types) are harmless and allowed.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A run-time import cycle: break it with an interface, or move the shared part into its own module.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.d\\.ts$' },
    moduleSystems: ['es6'],
  },
};
