/** Redis 7.0.15 command table: byte-level name lookup, arity checks, key extraction and COMMAND replies. */
import { readFileSync } from 'node:fs';
import { CMD, COMMAND_COUNT } from './ids.generated.js';
import { encodeCommand } from '../wire/resp-command.js';
import {
  E_GETKEYS_ARGS,
  E_GETKEYS_ARITY,
  E_GETKEYS_INVALID_COMMAND,
  E_GETKEYS_NO_KEYS,
  unknownCommand,
  unknownSubcommand,
} from '../wire/error-text.js';

/** Command flags, one bit each; bit order is the order COMMAND INFO lists them in. */
export const F_WRITE = 1 << 0;
export const F_READONLY = 1 << 1;
export const F_DENYOOM = 1 << 2;
export const F_MODULE = 1 << 3;
export const F_ADMIN = 1 << 4;
export const F_PUBSUB = 1 << 5;
export const F_NOSCRIPT = 1 << 6;
export const F_BLOCKING = 1 << 7;
export const F_LOADING = 1 << 8;
export const F_STALE = 1 << 9;
export const F_SKIP_MONITOR = 1 << 10;
export const F_SKIP_SLOWLOG = 1 << 11;
export const F_ASKING = 1 << 12;
export const F_FAST = 1 << 13;
export const F_NO_AUTH = 1 << 14;
export const F_MAY_REPLICATE = 1 << 15;
export const F_SENTINEL = 1 << 16;
export const F_ONLY_SENTINEL = 1 << 17;
export const F_NO_MANDATORY_KEYS = 1 << 18;
export const F_PROTECTED = 1 << 19;
export const F_NO_ASYNC_LOADING = 1 << 20;
export const F_NO_MULTI = 1 << 21;
export const F_MOVABLEKEYS = 1 << 22;
export const F_ALLOW_BUSY = 1 << 23;
export const F_TOUCHES_ARBITRARY_KEYS = 1 << 24;

const FLAG_NAMES = [
  'write',
  'readonly',
  'denyoom',
  'module',
  'admin',
  'pubsub',
  'noscript',
  'blocking',
  'loading',
  'stale',
  'skip_monitor',
  'skip_slowlog',
  'asking',
  'fast',
  'no_auth',
  'may_replicate',
  'sentinel',
  'only_sentinel',
  'no_mandatory_keys',
  'protected',
  'no_async_loading',
  'no_multi',
  'movablekeys',
  'allow_busy',
  'touches_arbitrary_keys',
];
// Redis keeps these out of COMMAND INFO on purpose.
const HIDDEN_FLAGS = F_MAY_REPLICATE | F_SENTINEL | F_ONLY_SENTINEL | F_PROTECTED | F_TOUCHES_ARBITRARY_KEYS;

/** begin_search / find_keys kinds of a key spec. */
export const BS_INDEX = 0;
export const BS_KEYWORD = 1;
export const BS_UNKNOWN = 2;
export const FK_RANGE = 0;
export const FK_KEYNUM = 1;
export const FK_UNKNOWN = 2;

/** ACL access bits of a key (extractKeyAccess): read when its spec says `access`, write for `insert`, `delete` or `update`. */
export const KEY_READ = 1;
export const KEY_WRITE = 2;

/** One key spec (Redis 7 "key_specs" entry) with numeric fields for the hot path. */
export interface KeySpec {
  notes: string | null;
  /** Display flags as COMMAND INFO shows them: RO/RW/OW/RM, access, update, insert, delete, not_key, incomplete, variable_flags. */
  flags: string[];
  notKey: boolean;
  bsType: number;
  /** BS_INDEX: the position; BS_KEYWORD: startfrom. */
  bsPos: number;
  /** BS_KEYWORD: the keyword in lowercase bytes, and as the spec spells it. */
  keyword: Uint8Array | null;
  keywordText: string | null;
  fkType: number;
  /** FK_RANGE: lastkey, keystep, limit; FK_KEYNUM: keynumidx, firstkey, keystep. */
  fk0: number;
  fk1: number;
  fk2: number;
  /** KEY_READ | KEY_WRITE as the ACL checks %R~ and %W~ patterns against this spec's keys. */
  access: number;
}

/** Argument documentation as COMMAND DOCS shows it. */
export interface CommandArgDoc {
  name: string;
  type: string;
  key_spec_index?: number;
  token?: string;
  summary?: string;
  since?: string;
  deprecated_since?: string;
  flags?: string[];
  arguments?: CommandArgDoc[];
}

/** Documentation fields of COMMAND DOCS. */
export interface CommandDocs {
  summary: string;
  since: string;
  group: string;
  complexity?: string;
  doc_flags?: string[];
  deprecated_since?: string;
  replaced_by?: string;
  history?: [string, string][];
  arguments?: CommandArgDoc[];
}

/** A command or subcommand of the table. */
export interface CommandSpec {
  id: number;
  /** Lowercase full name, "get" or "client|list". */
  name: string;
  arity: number;
  flags: number;
  /** ACL categories as COMMAND INFO shows them ("@read", ...). */
  aclCategories: string[];
  tips: string[];
  firstKey: number;
  lastKey: number;
  step: number;
  keySpecs: KeySpec[];
  docs: CommandDocs;
  subcommands: CommandSpec[] | null;
  container: CommandSpec | null;
}

interface RawKeySpec {
  notes?: string;
  flags: string[];
  bs: { type: string; index?: number; keyword?: string; startfrom?: number };
  fk: { type: string; lastkey?: number; keystep?: number; limit?: number; keynumidx?: number; firstkey?: number };
}
interface RawCommand {
  name: string;
  container: string | null;
  arity: number;
  flags: string[];
  acl: string[];
  tips: string[];
  firstKey: number;
  lastKey: number;
  step: number;
  keySpecs: RawKeySpec[];
  docs: CommandDocs;
  subcommands: string[];
}

const readTable = (file: string): { commands: RawCommand[] } =>
  JSON.parse(readFileSync(new URL(`../../data/${file}`, import.meta.url), 'utf8')) as { commands: RawCommand[] };
const raw = readTable('redis-commands.json');
/** Sabre's own commands (CL.THROTTLE…), after Redis's so the generated ids stay valid; counted like module commands. */
const sabreCommands = readTable('sabre-commands.json').commands;
raw.commands.push(...sabreCommands);

function toKeySpec(k: RawKeySpec): KeySpec {
  const bsType = k.bs.type === 'index' ? BS_INDEX : k.bs.type === 'keyword' ? BS_KEYWORD : BS_UNKNOWN;
  const fkType = k.fk.type === 'range' ? FK_RANGE : k.fk.type === 'keynum' ? FK_KEYNUM : FK_UNKNOWN;
  return {
    notes: k.notes ?? null,
    flags: k.flags,
    notKey: k.flags.includes('not_key'),
    bsType,
    bsPos: bsType === BS_INDEX ? k.bs.index! : bsType === BS_KEYWORD ? k.bs.startfrom! : 0,
    keyword: bsType === BS_KEYWORD ? Buffer.from(k.bs.keyword!.toLowerCase(), 'latin1') : null,
    keywordText: k.bs.keyword ?? null,
    fkType,
    fk0: fkType === FK_RANGE ? k.fk.lastkey! : fkType === FK_KEYNUM ? k.fk.keynumidx! : 0,
    fk1: fkType === FK_RANGE ? k.fk.keystep! : fkType === FK_KEYNUM ? k.fk.firstkey! : 0,
    fk2: fkType === FK_RANGE ? k.fk.limit! : fkType === FK_KEYNUM ? k.fk.keystep! : 0,
    access:
      (k.flags.includes('access') ? KEY_READ : 0) |
      (k.flags.includes('insert') || k.flags.includes('delete') || k.flags.includes('update') ? KEY_WRITE : 0),
  };
}

/** Every command and subcommand, indexed by id (see CMD). */
export const COMMANDS: CommandSpec[] = raw.commands.map((c, id) => ({
  id,
  name: c.name,
  arity: c.arity,
  flags: c.flags.reduce((m, f) => {
    const bit = FLAG_NAMES.indexOf(f);
    if (bit < 0) throw new Error(`unknown command flag ${f} on ${c.name}`);
    return m | (1 << bit);
  }, 0),
  aclCategories: c.acl,
  tips: c.tips,
  firstKey: c.firstKey,
  lastKey: c.lastKey,
  step: c.step,
  keySpecs: c.keySpecs.map(toKeySpec),
  docs: c.docs,
  subcommands: null,
  container: null,
}));
const byName = new Map(COMMANDS.map((c) => [c.name, c]));
raw.commands.forEach((c, id) => {
  const spec = COMMANDS[id]!;
  if (c.container) spec.container = byName.get(c.container)!;
  if (c.subcommands.length) spec.subcommands = c.subcommands.map((n) => byName.get(n)!);
});
/** Top-level commands in name order. */
const TOP_LEVEL = COMMANDS.filter((c) => c.container === null);
if (TOP_LEVEL.length !== COMMAND_COUNT + sabreCommands.length) throw new Error('data/redis-commands.json does not match ids.generated.ts');

// ---- name lookup: FNV-1a over ASCII-lowercased bytes into open-addressing tables ----

const TABLE_BITS = 11;
const TABLE_MASK = (1 << TABLE_BITS) - 1;
const topSlots = new Int32Array(1 << TABLE_BITS).fill(-1);
const subSlots = new Int32Array(1 << TABLE_BITS).fill(-1);
const nameBytes = Buffer.from(COMMANDS.map((c) => c.name.slice(c.name.indexOf('|') + 1)).join(''), 'latin1');
const nameOff = new Int32Array(COMMANDS.length);
const nameLen = new Int32Array(COMMANDS.length);
const parentOf = new Int32Array(COMMANDS.length);
let maxNameLen = 0;

// Spreads parent ids so that equal subcommand names ("list", "help") of different containers land apart.
function subSeed(parentId: number): number {
  return Math.imul(parentId + 1, 0x9e3779b1);
}

// `| 0x20` folds ASCII case; other bytes that collide are rejected by the exact compare.
function hashBytes(buf: Uint8Array, start: number, len: number, seed: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = start, end = start + len; i < end; i++) h = Math.imul(h ^ (buf[i]! | 0x20), 0x01000193);
  return (h ^ (h >>> 15)) & TABLE_MASK;
}

{
  let off = 0;
  for (const c of COMMANDS) {
    const short = c.name.slice(c.name.indexOf('|') + 1);
    nameOff[c.id] = off;
    nameLen[c.id] = short.length;
    off += short.length;
    if (short.length > maxNameLen) maxNameLen = short.length;
    parentOf[c.id] = c.container ? c.container.id : -1;
    const slots = c.container ? subSlots : topSlots;
    let s = hashBytes(nameBytes, nameOff[c.id]!, short.length, c.container ? subSeed(c.container.id) : 0);
    while (slots[s] !== -1) s = (s + 1) & TABLE_MASK;
    slots[s] = c.id;
  }
}

function nameEquals(id: number, buf: Uint8Array, start: number, len: number): boolean {
  if (nameLen[id] !== len) return false;
  const o = nameOff[id]!;
  for (let i = 0; i < len; i++) {
    let b = buf[start + i]!;
    if (b >= 65 && b <= 90) b += 32;
    if (b !== nameBytes[o + i]) return false;
  }
  return true;
}

/** Id of the top-level command named by buf[start, start+len) in any letter case, or -1. */
export function lookupCommand(buf: Uint8Array, start: number, len: number): number {
  if (len > maxNameLen || len === 0) return -1;
  let s = hashBytes(buf, start, len, 0);
  for (;;) {
    const id = topSlots[s]!;
    if (id === -1) return -1;
    if (nameEquals(id, buf, start, len)) return id;
    s = (s + 1) & TABLE_MASK;
  }
}

/** Id of subcommand buf[start, start+len) of command parentId ("CLIENT LIST"), or -1. */
export function lookupSubcommand(parentId: number, buf: Uint8Array, start: number, len: number): number {
  if (len > maxNameLen || len === 0) return -1;
  let s = hashBytes(buf, start, len, subSeed(parentId));
  for (;;) {
    const id = subSlots[s]!;
    if (id === -1) return -1;
    if (parentOf[id] === parentId && nameEquals(id, buf, start, len)) return id;
    s = (s + 1) & TABLE_MASK;
  }
}

/** Looks up a full name as COMMAND INFO/DOCS accept it: "get" or "client|list", any case. */
export function lookupFullName(buf: Uint8Array, start = 0, len = buf.length - start): number {
  for (let i = 0; i < len; i++) {
    if (buf[start + i] === 0x7c) {
      const parent = lookupCommand(buf, start, i);
      return parent < 0 ? -1 : lookupSubcommand(parent, buf, start + i + 1, len - i - 1);
    }
  }
  return lookupCommand(buf, start, len);
}

// ---- arity and error texts ----

/** Redis's arity rule: positive means exactly, negative means at least -arity arguments (command name included). */
export function checkArity(spec: CommandSpec, argc: number): boolean {
  return spec.arity > 0 ? argc === spec.arity : argc >= -spec.arity;
}

// Like C's "%.Ns" on an sds: stops at a NUL byte and after max bytes; newlines become spaces as in rejectCommandFormat.
function cString(buf: Uint8Array, start: number, len: number, max: number): string {
  let end = start;
  const limit = start + Math.min(len, max);
  while (end < limit && buf[end] !== 0) end++;
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start)
    .toString('latin1')
    .replace(/[\r\n]/g, ' ');
}

/**
 * "ERR unknown command 'foo', with args beginning with: 'a' 'b' " (trailing space included) for argv[0..argc).
 * The text is latin1: encode it with Buffer.from(text, 'latin1') to send the client's bytes back unchanged.
 */
export function unknownCommandError(buf: Uint8Array, argStart: Int32Array, argLen: Int32Array, argc: number): string {
  let args = '';
  for (let i = 1; i < argc && args.length < 128; i++) {
    args += `'${cString(buf, argStart[i]!, argLen[i]!, 128 - args.length)}' `;
  }
  return unknownCommand(cString(buf, argStart[0]!, argLen[0]!, 128), args);
}

/** "ERR unknown subcommand 'foo'. Try CLIENT HELP." for argv[0] = container, argv[1] = the unknown name (latin1 text). */
export function unknownSubcommandError(buf: Uint8Array, argStart: Int32Array, argLen: Int32Array): string {
  const container = cString(buf, argStart[0]!, argLen[0]!, Infinity).toUpperCase();
  return unknownSubcommand(cString(buf, argStart[1]!, argLen[1]!, 128), container);
}

// ---- key extraction ----

const NOT_A_NUMBER = -2;

// string2ll semantics for a non-negative count: digits only, no leading zeros; negatives are invalid counts too.
function parseCount(buf: Uint8Array, start: number, len: number): number {
  if (len === 0 || len > 19 || (buf[start] === 0x30 && len > 1)) return NOT_A_NUMBER;
  let n = 0;
  for (let i = start, end = start + len; i < end; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return NOT_A_NUMBER;
    n = n * 10 + d;
  }
  return n > 0x7fffffff ? 0x7fffffff : n;
}

// C atoi, as Redis's genericGetKeys reads key counts: leading spaces, a sign, then digits up to the first non-digit.
function atoi(buf: Uint8Array, start: number, len: number): number {
  let i = start;
  const end = start + len;
  while (i < end && (buf[i] === 0x20 || (buf[i]! >= 9 && buf[i]! <= 13))) i++;
  let sign = 1;
  if (i < end && (buf[i] === 0x2b || buf[i] === 0x2d)) sign = buf[i++] === 0x2d ? -1 : 1;
  let n = 0;
  for (; i < end && buf[i]! >= 48 && buf[i]! <= 57 && n <= 0x7fffffff; i++) n = n * 10 + buf[i]! - 48;
  return sign * Math.min(n, 0x7fffffff);
}

function argEqualsLower(buf: Uint8Array, start: number, len: number, lower: Uint8Array): boolean {
  if (len !== lower.length) return false;
  for (let i = 0; i < len; i++) {
    let b = buf[start + i]!;
    if (b >= 65 && b <= 90) b += 32;
    if (b !== lower[i]) return false;
  }
  return true;
}

const KW_LIMIT = Buffer.from('limit');
const KW_GET = Buffer.from('get');
const KW_BY = Buffer.from('by');
const KW_STORE = Buffer.from('store');
const KW_KEYS = Buffer.from('keys');
const KW_AUTH = Buffer.from('auth');
const KW_AUTH2 = Buffer.from('auth2');

// sortGetKeys: the key (read), plus the argument after the last STORE (written), skipping LIMIT/GET/BY operands.
function sortKeys(
  buf: Uint8Array,
  argStart: Int32Array,
  argLen: Int32Array,
  argc: number,
  out: Int32Array,
  access: Uint8Array | null,
): number {
  out[0] = 1;
  if (access !== null) access[0] = KEY_READ;
  let store = -1;
  for (let i = 2; i < argc; i++) {
    const s = argStart[i]!;
    const l = argLen[i]!;
    if (argEqualsLower(buf, s, l, KW_LIMIT)) i += 2;
    else if (argEqualsLower(buf, s, l, KW_GET) || argEqualsLower(buf, s, l, KW_BY)) i += 1;
    else if (argEqualsLower(buf, s, l, KW_STORE) && i + 1 < argc) store = i + 1;
  }
  if (store < 0) return 1;
  out[1] = store;
  if (access !== null) access[1] = KEY_WRITE;
  return 2;
}

// migrateGetKeys: the key at 3, or every argument after KEYS (then argv[3] is the empty string); all read and deleted.
function migrateKeys(
  buf: Uint8Array,
  argStart: Int32Array,
  argLen: Int32Array,
  argc: number,
  out: Int32Array,
  access: Uint8Array | null,
): number {
  let n = 0;
  for (let i = 6; i < argc && n === 0; i++) {
    const s = argStart[i]!;
    const l = argLen[i]!;
    if (argEqualsLower(buf, s, l, KW_KEYS)) {
      for (let k = i + 1; k < argc; k++) out[n++] = k;
      if (n === 0) return 0;
    } else if (argEqualsLower(buf, s, l, KW_AUTH)) i += 1;
    else if (argEqualsLower(buf, s, l, KW_AUTH2)) i += 2;
  }
  if (n === 0) out[n++] = 3;
  if (access !== null) access.fill(KEY_READ | KEY_WRITE, 0, n);
  return n;
}

/**
 * Writes the indexes of the key arguments of argv[0..argc) into out (sized for argc) and returns how many,
 * following the command's key specs like Redis's getKeysUsingKeySpecs; -1 when a key count is not a valid
 * number or the keys run past argc. SORT and MIGRATE follow their getkeys functions, whose keys the specs
 * cannot locate.
 */
export function extractKeys(
  spec: CommandSpec,
  buf: Uint8Array,
  argStart: Int32Array,
  argLen: Int32Array,
  argc: number,
  out: Int32Array,
): number {
  return keysBySpecs(spec, buf, argStart, argLen, argc, out, false, null);
}

/**
 * extractKeys for the ACL: also writes each key's KEY_READ/KEY_WRITE bits into `access` (sized like
 * `out`), as Redis's getKeysFromCommandWithSpecs reports them. SET and BITFIELD read their key only
 * with some arguments (their specs say variable_flags), so their bits come from the arguments.
 */
export function extractKeyAccess(
  spec: CommandSpec,
  buf: Uint8Array,
  argStart: Int32Array,
  argLen: Int32Array,
  argc: number,
  out: Int32Array,
  access: Uint8Array,
): number {
  const n = keysBySpecs(spec, buf, argStart, argLen, argc, out, false, access);
  if (n > 0 && spec.id === CMD.SET) access[0] = setReads(buf, argStart, argLen, argc) ? KEY_READ | KEY_WRITE : KEY_WRITE;
  else if (n > 0 && spec.id === CMD.BITFIELD) access[0] = bitfieldWrites(buf, argStart, argLen, argc) ? KEY_READ | KEY_WRITE : KEY_READ;
  return n;
}

const KW_OVERFLOW = Buffer.from('overflow');

// setGetKeys: SET reads its key only when a GET option follows the value.
function setReads(buf: Uint8Array, argStart: Int32Array, argLen: Int32Array, argc: number): boolean {
  for (let i = 3; i < argc; i++) if (argEqualsLower(buf, argStart[i]!, argLen[i]!, KW_GET)) return true;
  return false;
}

// bitfieldGetKeys: BITFIELD writes once a SET or INCRBY (or anything it cannot parse) comes before the end.
function bitfieldWrites(buf: Uint8Array, argStart: Int32Array, argLen: Int32Array, argc: number): boolean {
  for (let i = 2; i < argc; i++) {
    const more = argc - i - 1;
    const s = argStart[i]!;
    const l = argLen[i]!;
    if (argEqualsLower(buf, s, l, KW_GET) && more >= 2) i += 2;
    else if (argEqualsLower(buf, s, l, KW_OVERFLOW) && more >= 1) i += 1;
    else return true;
  }
  return false;
}

// lenient: COMMAND GETKEYS semantics, where Redis falls back from failing key specs to genericGetKeys,
// which reads the count with atoi and answers no keys at all for a count below 1 or past argc.
function keysBySpecs(
  spec: CommandSpec,
  buf: Uint8Array,
  argStart: Int32Array,
  argLen: Int32Array,
  argc: number,
  out: Int32Array,
  lenient: boolean,
  access: Uint8Array | null,
  specOf: Int32Array | null = null,
): number {
  const fail = lenient ? 0 : -1;
  const id = spec.id;
  if (id === CMD.SORT) return sortKeys(buf, argStart, argLen, argc, out, access);
  if (id === CMD.MIGRATE) return migrateKeys(buf, argStart, argLen, argc, out, access);
  const specs = spec.keySpecs;
  let n = 0;
  for (let j = 0; j < specs.length; j++) {
    const ks = specs[j]!;
    if (ks.notKey) continue;
    let first = 0;
    if (ks.bsType === BS_INDEX) {
      first = ks.bsPos;
    } else if (ks.bsType === BS_KEYWORD) {
      const from = ks.bsPos;
      const kw = ks.keyword!;
      if (from > 0) {
        // Redis stops before the last argument: a trailing keyword has no key after it.
        for (let i = from; i < argc - 1; i++) {
          if (argEqualsLower(buf, argStart[i]!, argLen[i]!, kw)) {
            first = i + 1;
            break;
          }
        }
      } else {
        for (let i = argc + from; i >= 1; i--) {
          if (i < argc && argEqualsLower(buf, argStart[i]!, argLen[i]!, kw)) {
            first = i + 1;
            break;
          }
        }
      }
      if (first === 0) continue;
    } else {
      continue; // Only SORT/SORT_RO have unknown specs; their first spec already names the sorted key.
    }
    let last: number;
    let step: number;
    if (ks.fkType === FK_RANGE) {
      step = ks.fk1;
      if (ks.fk0 >= 0) last = first + ks.fk0;
      else if (ks.fk2 === 0) last = argc + ks.fk0;
      else last = first + (((argc - first) / ks.fk2) | 0) + ks.fk0;
    } else if (ks.fkType === FK_KEYNUM) {
      step = ks.fk2;
      const at = first + ks.fk0;
      if (at >= argc) return fail;
      const num = lenient ? atoi(buf, argStart[at]!, argLen[at]!) : parseCount(buf, argStart[at]!, argLen[at]!);
      if (num === NOT_A_NUMBER || (lenient && num < 1)) return fail;
      first += ks.fk1;
      if (num === 0) continue;
      last = first + num - 1;
    } else {
      continue;
    }
    if (last >= argc || last < first || first >= argc) return fail;
    for (let i = first; i <= last; i += step) {
      if (access !== null) access[n] = ks.access;
      if (specOf !== null) specOf[n] = j;
      out[n++] = i;
    }
  }
  return n;
}

// ---- RESP encoding of COMMAND replies ----

/** RESP protocol version of the connection. */
export type Resp = 2 | 3;

/** Collects RESP fragments; maps/sets degrade to arrays in RESP2 as Redis's addReplyMapLen/SetLen do. */
class RespWriter {
  private parts: string[] = [];
  constructor(readonly resp: Resp) {}
  arr(n: number): this {
    this.parts.push(`*${n}\r\n`);
    return this;
  }
  map(n: number): this {
    this.parts.push(this.resp === 3 ? `%${n}\r\n` : `*${n * 2}\r\n`);
    return this;
  }
  set(n: number): this {
    this.parts.push(this.resp === 3 ? `~${n}\r\n` : `*${n}\r\n`);
    return this;
  }
  bulk(s: string): this {
    this.parts.push(`$${Buffer.byteLength(s)}\r\n${s}\r\n`);
    return this;
  }
  status(s: string): this {
    this.parts.push(`+${s}\r\n`);
    return this;
  }
  int(n: number): this {
    this.parts.push(`:${n}\r\n`);
    return this;
  }
  null(): this {
    this.parts.push(this.resp === 3 ? '_\r\n' : '$-1\r\n');
    return this;
  }
  toBuffer(): Buffer {
    return Buffer.from(this.parts.join(''), 'utf8');
  }
}

function writeStatusSet(w: RespWriter, items: string[]): void {
  w.set(items.length);
  for (const s of items) w.status(s);
}

// addReplyCommandKeySpecs.
function writeKeySpecs(w: RespWriter, specs: KeySpec[]): void {
  w.set(specs.length);
  for (const ks of specs) {
    w.map(ks.notes ? 4 : 3);
    if (ks.notes) w.bulk('notes').bulk(ks.notes);
    w.bulk('flags');
    writeStatusSet(w, ks.flags);
    w.bulk('begin_search').map(2).bulk('type');
    if (ks.bsType === BS_INDEX) w.bulk('index').bulk('spec').map(1).bulk('index').int(ks.bsPos);
    else if (ks.bsType === BS_KEYWORD) {
      w.bulk('keyword').bulk('spec').map(2).bulk('keyword').bulk(ks.keywordText!);
      w.bulk('startfrom').int(ks.bsPos);
    } else w.bulk('unknown').bulk('spec').map(0);
    w.bulk('find_keys').map(2).bulk('type');
    if (ks.fkType === FK_RANGE) {
      w.bulk('range').bulk('spec').map(3).bulk('lastkey').int(ks.fk0).bulk('keystep').int(ks.fk1);
      w.bulk('limit').int(ks.fk2);
    } else if (ks.fkType === FK_KEYNUM) {
      w.bulk('keynum').bulk('spec').map(3).bulk('keynumidx').int(ks.fk0).bulk('firstkey').int(ks.fk1);
      w.bulk('keystep').int(ks.fk2);
    } else w.bulk('unknown').bulk('spec').map(0);
  }
}

// addReplyCommandInfo.
function writeInfo(w: RespWriter, c: CommandSpec): void {
  w.arr(10).bulk(c.name).int(c.arity);
  const shown = c.flags & ~HIDDEN_FLAGS;
  const flags: string[] = [];
  for (let b = 0; b < FLAG_NAMES.length; b++) if (shown & (1 << b)) flags.push(FLAG_NAMES[b]!);
  writeStatusSet(w, flags);
  w.int(c.firstKey).int(c.lastKey).int(c.step);
  writeStatusSet(w, c.aclCategories);
  w.set(c.tips.length);
  for (const t of c.tips) w.bulk(t);
  writeKeySpecs(w, c.keySpecs);
  // addReplyCommandSubCommands: an empty set, or an array of the subcommands.
  if (c.subcommands === null) w.set(0);
  else {
    w.arr(c.subcommands.length);
    for (const s of c.subcommands) writeInfo(w, s);
  }
}

// addReplyCommandArgList.
function writeArgs(w: RespWriter, args: CommandArgDoc[]): void {
  w.arr(args.length);
  for (const a of args) {
    let n = 2;
    for (const k of ['key_spec_index', 'token', 'summary', 'since', 'deprecated_since', 'flags', 'arguments'] as const) {
      if (a[k] !== undefined) n++;
    }
    w.map(n).bulk('name').bulk(a.name).bulk('type').bulk(a.type);
    if (a.key_spec_index !== undefined) w.bulk('key_spec_index').int(a.key_spec_index);
    if (a.token !== undefined) w.bulk('token').bulk(a.token);
    if (a.summary !== undefined) w.bulk('summary').bulk(a.summary);
    if (a.since !== undefined) w.bulk('since').bulk(a.since);
    if (a.deprecated_since !== undefined) w.bulk('deprecated_since').bulk(a.deprecated_since);
    if (a.flags !== undefined) {
      w.bulk('flags');
      writeStatusSet(w, a.flags);
    }
    if (a.arguments !== undefined) {
      w.bulk('arguments');
      writeArgs(w, a.arguments);
    }
  }
}

// addReplyCommandDocs.
function writeDocs(w: RespWriter, c: CommandSpec): void {
  const d = c.docs;
  let n = 3;
  for (const k of ['complexity', 'doc_flags', 'deprecated_since', 'replaced_by', 'history', 'arguments'] as const) {
    if (d[k] !== undefined) n++;
  }
  if (c.subcommands) n++;
  w.map(n).bulk('summary').bulk(d.summary).bulk('since').bulk(d.since).bulk('group').bulk(d.group);
  if (d.complexity !== undefined) w.bulk('complexity').bulk(d.complexity);
  if (d.doc_flags !== undefined) {
    w.bulk('doc_flags');
    writeStatusSet(w, d.doc_flags);
  }
  if (d.deprecated_since !== undefined) w.bulk('deprecated_since').bulk(d.deprecated_since);
  if (d.replaced_by !== undefined) w.bulk('replaced_by').bulk(d.replaced_by);
  if (d.history !== undefined) {
    w.bulk('history').set(d.history.length);
    for (const [v, t] of d.history) w.arr(2).bulk(v).bulk(t);
  }
  if (d.arguments !== undefined) {
    w.bulk('arguments');
    writeArgs(w, d.arguments);
  }
  if (c.subcommands) {
    w.bulk('subcommands').map(c.subcommands.length);
    for (const s of c.subcommands) {
      w.bulk(s.name);
      writeDocs(w, s);
    }
  }
}

const infoCache: [Buffer[], Buffer[]] = [[], []];
const docsCache: [Buffer[], Buffer[]] = [[], []];
const allInfoCache: (Buffer | undefined)[] = [];
const allDocsCache: (Buffer | undefined)[] = [];

function cachedInfo(id: number, resp: Resp): Buffer {
  const cache = infoCache[resp - 2]!;
  let b = cache[id];
  if (!b) {
    const w = new RespWriter(resp);
    writeInfo(w, COMMANDS[id]!);
    b = cache[id] = w.toBuffer();
  }
  return b;
}

function cachedDocs(id: number, resp: Resp): Buffer {
  const cache = docsCache[resp - 2]!;
  let b = cache[id];
  if (!b) {
    const w = new RespWriter(resp);
    w.bulk(COMMANDS[id]!.name);
    writeDocs(w, COMMANDS[id]!);
    b = cache[id] = w.toBuffer();
  }
  return b;
}

function header(prefix: string, n: number): Buffer {
  return Buffer.from(`${prefix}${n}\r\n`, 'latin1');
}

const countReply = Buffer.from(`:${TOP_LEVEL.length}\r\n`, 'latin1');

/** COMMAND COUNT: ":240\r\n". */
export function commandCountReply(): Buffer {
  return countReply;
}

/** COMMAND INFO [name ...]: all top-level commands when names is null; unknown names give null entries. */
export function commandInfoReply(names: Uint8Array[] | null, resp: Resp): Buffer {
  if (names === null) {
    let all = allInfoCache[resp];
    if (!all) {
      all = allInfoCache[resp] = Buffer.concat([header('*', TOP_LEVEL.length), ...TOP_LEVEL.map((c) => cachedInfo(c.id, resp))]);
    }
    return all;
  }
  const parts: Buffer[] = [header('*', names.length)];
  const nil = Buffer.from(resp === 3 ? '_\r\n' : '$-1\r\n', 'latin1');
  for (const n of names) {
    const id = lookupFullName(n);
    parts.push(id < 0 ? nil : cachedInfo(id, resp));
  }
  return Buffer.concat(parts);
}

/** COMMAND DOCS [name ...]: map of name to docs; unknown names are left out as Redis does. */
export function commandDocsReply(names: Uint8Array[] | null, resp: Resp): Buffer {
  const mapHeader = (n: number): Buffer => (resp === 3 ? header('%', n) : header('*', n * 2));
  if (names === null) {
    let all = allDocsCache[resp];
    if (!all) {
      all = allDocsCache[resp] = Buffer.concat([mapHeader(TOP_LEVEL.length), ...TOP_LEVEL.map((c) => cachedDocs(c.id, resp))]);
    }
    return all;
  }
  const found: Buffer[] = [];
  for (const n of names) {
    const id = lookupFullName(n);
    if (id >= 0) found.push(cachedDocs(id, resp));
  }
  return Buffer.concat([mapHeader(found.length), ...found]);
}

/** COMMAND LIST filter: FILTERBY MODULE name | ACLCAT category | PATTERN glob. */
export type CommandListFilter = { module: string } | { aclcat: string } | { pattern: string };

/** Redis stringmatchlen with nocase: *, ?, [...] with ranges and ^, backslash escapes. */
export function globMatch(pattern: string, str: string, nocase = true): boolean {
  const p = nocase ? pattern.toLowerCase() : pattern;
  const s = nocase ? str.toLowerCase() : str;
  const rec = (pi: number, si: number): boolean => {
    while (pi < p.length) {
      const ch = p[pi]!;
      if (ch === '*') {
        while (p[pi + 1] === '*') pi++;
        if (pi + 1 === p.length) return true;
        for (let k = si; k <= s.length; k++) if (rec(pi + 1, k)) return true;
        return false;
      }
      if (si >= s.length) return false;
      if (ch === '?') {
        pi++;
        si++;
        continue;
      }
      if (ch === '[') {
        let j = pi + 1;
        const not = p[j] === '^';
        if (not) j++;
        let match = false;
        while (j < p.length && p[j] !== ']') {
          if (p[j] === '\\' && j + 1 < p.length) {
            j++;
            if (p[j] === s[si]) match = true;
          } else if (p[j + 1] === '-' && j + 2 < p.length && p[j + 2] !== ']') {
            let lo = p[j]!;
            let hi = p[j + 2]!;
            if (lo > hi) [lo, hi] = [hi, lo];
            if (s[si]! >= lo && s[si]! <= hi) match = true;
            j += 2;
          } else if (p[j] === s[si]) match = true;
          j++;
        }
        if (not) match = !match;
        if (!match) return false;
        pi = j + 1;
        si++;
        continue;
      }
      if (ch === '\\' && pi + 1 < p.length) pi++;
      if (p[pi] !== s[si]) return false;
      pi++;
      si++;
    }
    return si === s.length;
  };
  return rec(0, 0);
}

/** COMMAND LIST [FILTERBY ...]: names of commands and subcommands ("client|list"). */
export function commandListReply(filter: CommandListFilter | null, resp: Resp): Buffer {
  let list: CommandSpec[];
  if (filter === null) list = COMMANDS;
  else if ('module' in filter) list = [];
  else if ('aclcat' in filter) {
    const cat = `@${filter.aclcat.toLowerCase()}`;
    list = COMMANDS.filter((c) => c.aclCategories.includes(cat));
  } else list = COMMANDS.filter((c) => globMatch(filter.pattern, c.name));
  const w = new RespWriter(resp).arr(list.length);
  for (const c of list) w.bulk(c.name);
  return w.toBuffer();
}

function errorReply(text: string): Buffer {
  return Buffer.from(`-${text}\r\n`, 'latin1');
}

/** COMMAND GETKEYS command arg...: the key arguments, or Redis's error replies. */
export function commandGetKeysReply(args: Uint8Array[], resp: Resp): Buffer {
  const r = getKeysOf(args, resp);
  if (Buffer.isBuffer(r)) return r;
  const keys: Uint8Array[] = new Array(r.n);
  for (let i = 0; i < r.n; i++) keys[i] = args[r.out[i]!]!;
  return encodeCommand(keys);
}

/**
 * COMMAND GETKEYSANDFLAGS command arg...: each key with its key-spec flags as a set. SORT, MIGRATE, SET
 * and BITFIELD take theirs from what their arguments do, as Redis's getkeys functions report them.
 */
export function commandGetKeysAndFlagsReply(args: Uint8Array[], resp: Resp): Buffer {
  const r = getKeysOf(args, resp);
  if (Buffer.isBuffer(r)) return r;
  const { spec, n, out, specOf } = r;
  const parts: Buffer[] = [Buffer.from(`*${n}\r\n`)];
  const argc = args.length;
  const { buf, argStart, argLen } = r;
  for (let i = 0; i < n; i++) {
    let flags: string[];
    if (spec.id === CMD.SORT || spec.id === CMD.SORT_RO) flags = out[i] === 1 ? ['RO', 'access'] : ['OW', 'update'];
    else if (spec.id === CMD.MIGRATE) flags = ['RW', 'access', 'delete'];
    else if (spec.id === CMD.SET) flags = setReads(buf, argStart, argLen, argc) ? ['RW', 'access', 'update'] : ['OW', 'update'];
    else if (spec.id === CMD.BITFIELD) flags = bitfieldWrites(buf, argStart, argLen, argc) ? ['RW', 'access', 'update'] : ['RO', 'access'];
    else flags = spec.keySpecs[specOf[i]!]!.flags;
    const key = args[out[i]!]!;
    parts.push(Buffer.from(`*2\r\n$${key.length}\r\n`), Buffer.from(key), Buffer.from('\r\n'));
    const w = new RespWriter(resp);
    writeStatusSet(w, flags);
    parts.push(w.toBuffer());
  }
  return Buffer.concat(parts);
}

/** The keys COMMAND GETKEYS[ANDFLAGS] finds (positions into `args`, and the spec each came from), or Redis's error reply. */
function getKeysOf(
  args: Uint8Array[],
  resp: Resp,
): Buffer | { spec: CommandSpec; n: number; out: Int32Array; specOf: Int32Array; buf: Buffer; argStart: Int32Array; argLen: Int32Array } {
  const id = args.length ? lookupCommand(args[0]!, 0, args[0]!.length) : -1;
  let spec = id >= 0 ? COMMANDS[id]! : null;
  if (spec?.subcommands && args.length > 1) {
    const sub = lookupSubcommand(spec.id, args[1]!, 0, args[1]!.length);
    spec = sub >= 0 ? COMMANDS[sub]! : null;
  }
  if (!spec) return errorReply(E_GETKEYS_INVALID_COMMAND);
  if (!spec.keySpecs.some((k) => !k.notKey) && !(spec.flags & F_MOVABLEKEYS)) {
    return errorReply(E_GETKEYS_NO_KEYS);
  }
  const argc = args.length;
  if ((spec.arity > 0 && spec.arity !== argc) || argc < -spec.arity) {
    return errorReply(E_GETKEYS_ARITY);
  }
  const buf = Buffer.concat(args);
  const argStart = new Int32Array(argc);
  const argLen = new Int32Array(argc);
  for (let i = 0, off = 0; i < argc; i++) {
    argStart[i] = off;
    argLen[i] = args[i]!.length;
    off += args[i]!.length;
  }
  const out = new Int32Array(argc);
  const specOf = new Int32Array(argc);
  const n = keysBySpecs(spec, buf, argStart, argLen, argc, out, true, null, specOf);
  if (n <= 0) {
    return spec.flags & F_NO_MANDATORY_KEYS ? new RespWriter(resp).arr(0).toBuffer() : errorReply(E_GETKEYS_ARGS);
  }
  return { spec, n, out, specOf, buf, argStart, argLen };
}
