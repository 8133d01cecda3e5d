/**
 * SORT's arguments and patterns (Redis's sort.c), shared by the shard that sorts and the
 * acceptor that decides whether a sort must read keys on other shards: both parse alike.
 */
import { isKeyword, parseI64 } from '../wire/bytes.js';
import { E_NOT_INT, E_SYNTAX } from '../wire/error-text.js';

/** A parsed SORT (one at a time per thread: the object and its arrays are reused). */
export interface SortArgs {
  /** An error reply text, or null when the arguments are valid. */
  error: string | null;
  desc: boolean;
  alpha: boolean;
  limitStart: number;
  limitCount: number;
  /** Argument index of the STORE key (0: none). */
  store: number;
  /** Argument index of the BY pattern in force (0: none). */
  by: number;
  /** A BY pattern without '*' was given: no sorting. */
  dontsort: boolean;
  /** Argument indexes of the GET patterns, in order. */
  gets: number[];
  /** Argument indexes of every BY and GET pattern, in argument order (values are provided per pattern). */
  patterns: number[];
}

const parsed: SortArgs = {
  error: null,
  desc: false,
  alpha: false,
  limitStart: 0,
  limitCount: -1,
  store: 0,
  by: 0,
  dontsort: false,
  gets: [],
  patterns: [],
};

/** Whether bytes [s, s+n) hold a '*'. */
export function hasStar(b: Uint8Array, s: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (b[s + i] === 42) return true;
  return false;
}

/** Parses SORT's options from argument 2 on, as sortCommandGeneric does (SORT_RO has no STORE). */
export function parseSortArgs(b: Uint8Array, as: Int32Array, al: Int32Array, argc: number, readonly: boolean): SortArgs {
  const r = parsed;
  r.error = null;
  r.desc = false;
  r.alpha = false;
  r.limitStart = 0;
  r.limitCount = -1;
  r.store = 0;
  r.by = 0;
  r.dontsort = false;
  r.gets.length = 0;
  r.patterns.length = 0;
  for (let j = 2; j < argc; j++) {
    const left = argc - j - 1;
    const s = as[j]!;
    const n = al[j]!;
    if (isKeyword(b, s, n, 'ASC')) r.desc = false;
    else if (isKeyword(b, s, n, 'DESC')) r.desc = true;
    else if (isKeyword(b, s, n, 'ALPHA')) r.alpha = true;
    else if (isKeyword(b, s, n, 'LIMIT') && left >= 2) {
      // Any 64-bit value is accepted (as Redis's long); beyond 2^53 only its size matters.
      const start = parseI64(b, as[j + 1]!, al[j + 1]!);
      const count = start === null ? null : parseI64(b, as[j + 2]!, al[j + 2]!);
      if (start === null || count === null) {
        r.error = E_NOT_INT;
        return r;
      }
      r.limitStart = Number(start);
      r.limitCount = Number(count);
      j += 2;
    } else if (!readonly && isKeyword(b, s, n, 'STORE') && left >= 1) {
      r.store = ++j;
    } else if (isKeyword(b, s, n, 'BY') && left >= 1) {
      r.by = ++j;
      if (!hasStar(b, as[j]!, al[j]!)) r.dontsort = true;
      r.patterns.push(j);
    } else if (isKeyword(b, s, n, 'GET') && left >= 1) {
      r.gets.push(++j);
      r.patterns.push(j);
    } else {
      r.error = E_SYNTAX;
      return r;
    }
  }
  return r;
}

/** Whether a pattern reads a key: not "#" (the element itself) and holding a '*'. */
export function patternReadsKeys(b: Uint8Array, s: number, n: number): boolean {
  if (n === 1 && b[s] === 35) return false;
  return hasStar(b, s, n);
}

/** Where a pattern's hash field starts ("->" after the '*', with something after it), or -1. */
export function patternField(b: Uint8Array, s: number, n: number): number {
  let star = -1;
  for (let i = 0; i < n; i++) {
    if (b[s + i] === 42) {
      star = i;
      break;
    }
  }
  if (star < 0) return -1;
  for (let i = star + 1; i + 2 < n; i++) if (b[s + i] === 45 && b[s + i + 1] === 62) return s + i + 2;
  return -1;
}

/**
 * The key a pattern names for an element: the first '*' replaced by the element, without the
 * "->field" part. Written into `out` from offset 0 (grown as needed); returns [buffer, length].
 */
export function patternKey(
  b: Uint8Array,
  s: number,
  n: number,
  e: Uint8Array,
  es: number,
  en: number,
  out: Uint8Array,
): [Uint8Array, number] {
  let star = 0;
  while (b[s + star] !== 42) star++;
  const f = patternField(b, s, n);
  const end = f < 0 ? s + n : f - 2;
  const post = end - (s + star + 1);
  const len = star + en + post;
  if (out.length < len) out = new Uint8Array(len * 2);
  out.set(b.subarray(s, s + star), 0);
  out.set(e.subarray(es, es + en), star);
  out.set(b.subarray(s + star + 1, end), star + en);
  return [out, len];
}

/**
 * The `{hash tag}` span [start, length] every key of a pattern hashes by, when the tag closes
 * before the '*' (so no element can change it); null otherwise.
 */
export function patternFixedTag(b: Uint8Array, s: number, n: number): [number, number] | null {
  let open = -1;
  for (let i = 0; i < n; i++) {
    const ch = b[s + i];
    if (open < 0 && ch === 123) open = i;
    else if (open >= 0 && ch === 125) return i > open + 1 ? [s + open + 1, i - open - 1] : null;
    if (ch === 42) return null;
  }
  return null;
}

/**
 * Whether a SORT must run in the coordinator with every shard held: its STORE key, or a key its
 * BY/GET patterns read, may live on another shard than its source key. `shardOf` maps key bytes
 * (hash tags honoured) to a shard. Invalid arguments stay on the source key's shard, which replies the error.
 */
export function sortSpansShards(
  b: Uint8Array,
  as: Int32Array,
  al: Int32Array,
  argc: number,
  readonly: boolean,
  shardOf: (b: Uint8Array, s: number, n: number) => number,
): boolean {
  const r = parseSortArgs(b, as, al, argc, readonly);
  if (r.error !== null) return false;
  const home = shardOf(b, as[1]!, al[1]!);
  if (r.store !== 0 && shardOf(b, as[r.store]!, al[r.store]!) !== home) return true;
  for (const p of r.patterns) {
    const s = as[p]!;
    const n = al[p]!;
    if (!patternReadsKeys(b, s, n) || (p !== r.by && r.gets.indexOf(p) < 0) || (p === r.by && r.dontsort)) continue;
    const tag = patternFixedTag(b, s, n);
    if (tag === null || shardOf(b, tag[0], tag[1]) !== home) return true;
  }
  return false;
}
