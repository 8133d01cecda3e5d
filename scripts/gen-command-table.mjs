// Generates data/redis-commands.json and src/commands/ids.generated.ts from Redis 7.0.15's
// command specs (the JSON files of its src/commands/), deriving what Redis derives at startup.
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const USAGE = `usage: npm run gen:commands -- <specs-dir>
       node scripts/gen-command-table.mjs <specs-dir>

<specs-dir>: Redis 7.0.15's src/commands/ folder (one JSON file per command), e.g.
../shared/redis-7.0-commands; relative paths start at the current directory
(the repository root under npm run).
`;

/** Prints the usage with a reason and exits 2 (a wrong invocation, not a failed generation). */
function usage(reason) {
  process.stderr.write(`gen-command-table: ${reason}\n\n${USAGE}`);
  process.exit(2);
}

const root = new URL('../', import.meta.url);
if (process.argv.length !== 3) usage(process.argv.length < 3 ? 'missing the specs folder' : 'expected one argument');
const dirPath = resolve(process.argv[2]);
if (!statSync(dirPath, { throwIfNoEntry: false })?.isDirectory()) usage(`${dirPath} is not a folder`);
const srcDir = pathToFileURL(`${dirPath}/`);

// ACLCommandCategories order in acl.c: COMMAND INFO lists categories in this order.
const ACL_ORDER = [
  'keyspace',
  'read',
  'write',
  'set',
  'sortedset',
  'list',
  'hash',
  'string',
  'bitmap',
  'hyperloglog',
  'geo',
  'stream',
  'pubsub',
  'admin',
  'fast',
  'slow',
  'blocking',
  'dangerous',
  'connection',
  'transaction',
  'scripting',
];
// Key-spec flag order of addReplyFlagsForKeyArgs; lowercase except the four access types.
const KS_FLAG_ORDER = ['RO', 'RW', 'OW', 'RM', 'ACCESS', 'UPDATE', 'INSERT', 'DELETE', 'NOT_KEY', 'INCOMPLETE', 'VARIABLE_FLAGS'];
const ARG_FLAGS = ['optional', 'multiple', 'multiple_token'];

const files = readdirSync(srcDir)
  .filter((f) => f.endsWith('.json'))
  .sort();
if (files.length === 0) usage(`${dirPath} holds no command specs (*.json)`);
const raw = [];
for (const f of files) {
  let obj;
  try {
    obj = JSON.parse(readFileSync(new URL(f, srcDir), 'utf8'));
  } catch (err) {
    usage(`${f}: ${err.message}`);
  }
  for (const [name, def] of Object.entries(obj)) {
    if (typeof def?.arity !== 'number' || typeof def.group !== 'string') usage(`${f}: '${name}' is not a Redis command spec`);
    raw.push({ name, def });
  }
}

/** Key specs as Redis describes them, with begin_search/find_keys flattened. */
function keySpecs(def) {
  return (def.key_specs ?? []).map((ks) => {
    const out = {};
    if (ks.notes) out.notes = ks.notes;
    out.flags = KS_FLAG_ORDER.filter((f) => ks.flags.includes(f)).map((f) => (f.length === 2 ? f : f.toLowerCase()));
    const bs = ks.begin_search;
    if (bs.index) out.bs = { type: 'index', index: bs.index.pos };
    else if (bs.keyword) out.bs = { type: 'keyword', keyword: bs.keyword.keyword, startfrom: bs.keyword.startfrom };
    else out.bs = { type: 'unknown' };
    const fk = ks.find_keys;
    if (fk.range) out.fk = { type: 'range', lastkey: fk.range.lastkey, keystep: fk.range.step, limit: fk.range.limit };
    else if (fk.keynum) out.fk = { type: 'keynum', keynumidx: fk.keynum.keynumidx, firstkey: fk.keynum.firstkey, keystep: fk.keynum.step };
    else out.fk = { type: 'unknown' };
    return out;
  });
}

/** populateCommandLegacyRangeSpec of Redis 7.0, which also decides movablekeys (a getkeys function alone does not). */
function legacyRange(specs) {
  let movable = false;
  const isRange = (s) => s.bs.type === 'index' && s.fk.type === 'range';
  if (specs.some((s) => !isRange(s))) movable = true;
  if (specs.length === 0) return { first: 0, last: 0, step: 0, movable };
  if (specs.length === 1 && isRange(specs[0])) {
    const s = specs[0];
    if (s.flags.includes('incomplete')) movable = true;
    return { first: s.bs.index, last: s.fk.lastkey >= 0 ? s.fk.lastkey + s.bs.index : s.fk.lastkey, step: s.fk.keystep, movable };
  }
  let first = Infinity;
  let last = 0;
  let prevLast = 0;
  for (const s of specs) {
    if (!isRange(s)) continue;
    if (s.fk.keystep !== 1 || (prevLast && prevLast !== s.bs.index - 1)) {
      movable = true;
      continue;
    }
    if (s.flags.includes('incomplete')) movable = true;
    first = Math.min(first, s.bs.index);
    const abs = s.fk.lastkey >= 0 ? s.fk.lastkey + s.bs.index : s.fk.lastkey;
    // Redis compares as unsigned, so a negative (open-ended) last key wins.
    last = abs >>> 0 > last >>> 0 ? abs : last;
    prevLast = last;
  }
  if (first === Infinity) return { first: 0, last: 0, step: 0, movable: true };
  return { first, last, step: 1, movable };
}

/** Argument docs in the field order of addReplyCommandArgList. */
function args(list) {
  return list.map((a) => {
    // The code generator of Redis lowercases argument names.
    const o = { name: a.name.toLowerCase(), type: a.type };
    if (a.key_spec_index !== undefined) o.key_spec_index = a.key_spec_index;
    // Redis's code generator uppercases tokens and turns the JSON's '""' into a real empty string.
    if (a.token !== undefined) o.token = a.token === '""' ? '' : a.token.toUpperCase();
    if (a.summary !== undefined) o.summary = a.summary;
    if (a.since !== undefined) o.since = a.since;
    if (a.deprecated_since !== undefined) o.deprecated_since = a.deprecated_since;
    const flags = ARG_FLAGS.filter((f) => a[f]);
    if (flags.length) o.flags = flags;
    if (a.type === 'oneof' || a.type === 'block') o.arguments = args(a.arguments ?? []);
    return o;
  });
}

const entries = [];
for (const { name, def } of raw) {
  const cmdFlags = (def.command_flags ?? []).map((f) => f.toLowerCase());
  // A normal (non-sentinel) server never registers sentinel-only commands.
  if (cmdFlags.includes('only_sentinel')) continue;
  if (
    def.container &&
    raw.some((r) => r.name === def.container && !r.def.container && (r.def.command_flags ?? []).includes('ONLY_SENTINEL'))
  )
    continue;
  const fullname = def.container ? `${def.container.toLowerCase()}|${name.toLowerCase()}` : name.toLowerCase();
  const specs = keySpecs(def);
  const range = legacyRange(specs);
  if (range.movable) cmdFlags.push('movablekeys');
  const acl = new Set((def.acl_categories ?? []).map((c) => c.toLowerCase()));
  // setImplicitACLCategories of Redis 7.0.
  if (cmdFlags.includes('write')) acl.add('write');
  if (cmdFlags.includes('readonly') && !acl.has('scripting')) acl.add('read');
  if (cmdFlags.includes('admin')) {
    acl.add('admin');
    acl.add('dangerous');
  }
  if (cmdFlags.includes('pubsub')) acl.add('pubsub');
  if (cmdFlags.includes('fast')) acl.add('fast');
  if (cmdFlags.includes('blocking')) acl.add('blocking');
  if (!acl.has('fast')) acl.add('slow');
  // Redis names the sorted_set group "sorted-set" in replies.
  const docs = { summary: def.summary, since: def.since, group: def.group.replace(/_/g, '-') };
  if (def.complexity !== undefined) docs.complexity = def.complexity;
  if (def.doc_flags) docs.doc_flags = def.doc_flags.map((f) => f.toLowerCase());
  if (def.deprecated_since !== undefined) docs.deprecated_since = def.deprecated_since;
  if (def.replaced_by !== undefined) docs.replaced_by = def.replaced_by;
  if (def.history?.length) docs.history = def.history;
  if (def.arguments) docs.arguments = args(def.arguments);
  entries.push({
    name: fullname,
    container: def.container ? def.container.toLowerCase() : null,
    arity: def.arity,
    flags: cmdFlags,
    acl: ACL_ORDER.filter((c) => acl.has(c)).map((c) => `@${c}`),
    tips: (def.command_tips ?? []).map((t) => t.toLowerCase()),
    firstKey: range.first,
    lastKey: range.last,
    step: range.step,
    keySpecs: specs,
    docs,
    subcommands: [],
  });
}
entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
const byName = new Map(entries.map((e) => [e.name, e]));
for (const e of entries) if (e.container) byName.get(e.container).subcommands.push(e.name);

writeFileSync(
  new URL('data/redis-commands.json', root),
  `${JSON.stringify({
    source: 'Redis 7.0.15 src/commands (BSD-3-Clause, Copyright (c) 2006-2020, Salvatore Sanfilippo)',
    commands: entries,
  })}\n`,
);

const ident = (n) => n.toUpperCase().replace(/[|\- ]/g, '_');
const lines = entries.map((e, i) => `  ${ident(e.name)}: ${i},`);
const top = entries.filter((e) => !e.container).length;
writeFileSync(
  new URL('src/commands/ids.generated.ts', root),
  `// Generated by scripts/gen-command-table.mjs from Redis 7.0.15's command specs; do not edit.

/** Integer id of every command and subcommand; index into COMMANDS. */
export const CMD = {
${lines.join('\n')}
} as const;

/** Number of top-level commands, as COMMAND COUNT reports. */
export const COMMAND_COUNT = ${top};

/** Number of commands and subcommands together. */
export const COMMAND_TOTAL = ${entries.length};

/** Redis's ACL categories in acl.c's order: ACL CAT lists them so, and COMMAND INFO a command's. */
export const ACL_CATEGORIES = [
${ACL_ORDER.map((c) => `  '${c}',`).join('\n')}
] as const;
`,
);
console.log(`wrote ${entries.length} commands (${top} top-level)`);
