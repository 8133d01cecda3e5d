/**
 * EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD/EXISTS/FLUSH (Redis's eval.c): scripts are
 * compiled once and cached by SHA1 in every shard they reach; each run sets KEYS and ARGV and
 * calls the cached function (script-run.ts).
 */
import type { Ctx, Handler } from './context.js';
import { E_NOSCRIPT, E_NOT_INT, E_NUMKEYS_OVER_ARGS } from '../wire/error-text.js';
import { hashBytes } from './key-table.js';
import { FLAG_NAMES, SF_EVAL_COMPAT, SF_NO_WRITES, luaVm, refusedForMemory, runFunction, setKeysAndArgv, sha1hex } from './script-run.js';

interface Script {
  /** Registry reference of the compiled function. */
  ref: number;
  flags: number;
  /** Lower-case hex SHA1: as text (SCRIPT EXISTS, error texts) and as bytes (EVALSHA compares them). */
  sha: string;
  hex: Uint8Array;
  /** The body, for EVAL to recognise a script it has run without hashing it again. */
  body: Buffer;
}

const scripts = new Map<string, Script>();
/** Bytes of the cached scripts' bodies and SHA1s (INFO used_memory_scripts_eval). */
let bodyBytes = 0;
/** Scripts by the first 32 bits of their SHA1: EVALSHA finds one without decoding its argument to a string. */
const byShaWord = new Map<number, Script[]>();
/** Scripts by hashBytes of their body: EVAL of a known body skips the SHA1 (a crypto object per call). */
const byBody = new Map<number, Script[]>();

/** The first 8 hex digits at b[s…] as a number (either case), or -1. */
function hexWord(b: Uint8Array, s: number): number {
  let w = 0;
  for (let i = s; i < s + 8; i++) {
    const ch = b[i]!;
    let v: number;
    if (ch >= 48 && ch <= 57) v = ch - 48;
    else if ((ch | 32) >= 97 && (ch | 32) <= 102) v = (ch | 32) - 87;
    else return -1;
    w = w * 16 + v;
  }
  return w;
}

/** The cached script whose SHA1 is argument `i` (40 hex digits, either case). */
function scriptBySha(c: Ctx, i: number): Script | undefined {
  if (c.al[i] !== 40) return undefined;
  const b = c.buf;
  const s = c.as[i]!;
  const bucket = byShaWord.get(hexWord(b, s));
  if (bucket === undefined) return undefined;
  for (const sc of bucket) {
    let j = 8;
    while (j < 40) {
      const ch = b[s + j]!;
      if ((ch >= 65 && ch <= 70 ? ch | 32 : ch) !== sc.hex[j]) break;
      j++;
    }
    if (j === 40) return sc;
  }
  return undefined;
}

/** The cached script with exactly these body bytes. */
function scriptByBody(b: Uint8Array, h: number): Script | undefined {
  const bucket = byBody.get(h);
  if (bucket === undefined) return undefined;
  for (const sc of bucket) if (sc.body.equals(b)) return sc;
  return undefined;
}

function addTo(index: Map<number, Script[]>, k: number, s: Script): void {
  const bucket = index.get(k);
  if (bucket === undefined) index.set(k, [s]);
  else bucket.push(s);
}

/** Splits a line into words as Redis's sdssplitargs does (quotes, simple escapes); null when quotes are unbalanced. */
export function splitArgs(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && ' \t\r\n'.includes(line[i]!)) i++;
    if (i >= line.length) break;
    let cur = '';
    let quote = '';
    for (;;) {
      if (i >= line.length) {
        if (quote !== '') return null;
        break;
      }
      const ch = line[i]!;
      if (quote !== '') {
        if (quote === '"' && ch === '\\' && i + 1 < line.length) {
          const n = line[++i]!;
          cur += n === 'n' ? '\n' : n === 'r' ? '\r' : n === 't' ? '\t' : n;
        } else if (ch === quote) {
          quote = '';
          if (i + 1 < line.length && !' \t\r\n'.includes(line[i + 1]!)) return null;
        } else cur += ch;
        i++;
        continue;
      }
      if (' \t\r\n'.includes(ch)) break;
      if (ch === '"' || ch === "'") quote = ch;
      else cur += ch;
      i++;
    }
    out.push(cur);
  }
  return out;
}

/** Parses a "#!lua flags=a,b" first line; returns the flags and the shebang's length, or an error text. */
export function parseShebang(body: Uint8Array, allowName: boolean): { flags: number; len: number; name: string | null } | string {
  if (body.length < 2 || body[0] !== 35 || body[1] !== 33) return { flags: SF_EVAL_COMPAT, len: 0, name: null };
  const nl = body.indexOf(10);
  if (nl === -1) return 'ERR Invalid script shebang';
  const parts = splitArgs(Buffer.from(body.subarray(0, nl)).toString('utf8'));
  if (parts === null || parts.length === 0) return 'ERR Invalid engine in script shebang';
  if (parts[0] !== '#!lua') return `ERR Unexpected engine in script shebang: ${parts[0]}`;
  let flags = 0;
  let name: string | null = null;
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.startsWith('flags=')) {
      for (const f of p.slice(6).split(',')) {
        if (f === '') continue;
        const def = FLAG_NAMES.find(([n]) => n === f);
        if (def === undefined) return `ERR Unexpected flag in script shebang: ${f}`;
        flags |= def[1];
      }
    } else if (allowName && p.startsWith('name=')) name = p.slice(5);
    else return `ERR Unknown lua shebang option: ${p}`;
  }
  return { flags, len: nl, name };
}

/** Compiles and caches a script body; returns it, or an error text. */
function createScript(body: Uint8Array, sha: string): Script | string {
  const she = parseShebang(body, false);
  if (typeof she === 'string') return she;
  const vm = luaVm();
  if (vm.load(body.subarray(she.len), '@user_script') !== 0) {
    const msg = vm.utf8At(-1);
    vm.m._lua_settop(vm.L, 0);
    return `ERR Error compiling script (new function): ${msg}`;
  }
  const hex = Buffer.from(sha, 'latin1');
  const s: Script = { ref: vm.ref(), flags: she.flags, sha, hex, body: Buffer.from(body) };
  scripts.set(sha, s);
  bodyBytes += s.body.length + sha.length;
  addTo(byShaWord, hexWord(hex, 0), s);
  addTo(byBody, hashBytes(body, 0, body.length), s);
  return s;
}

/** How many scripts the cache holds. */
export function cachedScripts(): number {
  return scripts.size;
}

/** Bytes of the cached scripts' bodies and SHA1s. */
export function cachedScriptBytes(): number {
  return bodyBytes;
}

function argBytes(c: Ctx, i: number): Uint8Array {
  return c.buf.subarray(c.as[i]!, c.as[i]! + c.al[i]!);
}

/** The SHA argument in lower case (Redis accepts either case). */
function shaArg(c: Ctx, i: number): string {
  return c.str(i).toLowerCase();
}

function evalGeneric(c: Ctx, bySha: boolean, ro: boolean): void {
  const nk = c.int(2);
  if (nk === null) return c.out.error(E_NOT_INT);
  if (nk > c.argc - 3) return c.out.error(E_NUMKEYS_OVER_ARGS);
  if (nk < 0) return c.out.error("ERR Number of keys can't be negative");
  let script: Script | string | undefined;
  if (bySha) {
    script = scriptBySha(c, 1);
    if (script === undefined) return c.out.error(E_NOSCRIPT);
  } else {
    const body = argBytes(c, 1);
    script = scriptByBody(body, hashBytes(body, 0, body.length));
    if (script === undefined) {
      const sha = sha1hex(body);
      script = scripts.get(sha) ?? createScript(body, sha);
    }
    if (typeof script === 'string') return c.out.error(script);
  }
  if (ro && (script.flags & (SF_EVAL_COMPAT | SF_NO_WRITES)) === 0)
    return c.out.error('ERR Can not execute a script with write flag using *_ro command.');
  if (refusedForMemory(c, script.flags)) return;
  setKeysAndArgv(c, nk);
  runFunction(c, script.ref, 0, script.sha, ro || (script.flags & SF_NO_WRITES) !== 0, true);
}

const scriptLoad: Handler = (c) => {
  const body = argBytes(c, 2);
  const sha = sha1hex(body);
  const s = scripts.get(sha) ?? createScript(body, sha);
  if (typeof s === 'string') c.out.error(s);
  else c.out.bulkString(sha);
};

const scriptExists: Handler = (c) => {
  c.out.arrayHeader(c.argc - 2);
  for (let i = 2; i < c.argc; i++) c.out.int(scripts.has(shaArg(c, i)) ? 1 : 0);
};

const scriptFlush: Handler = (c) => {
  if (c.argc > 3 || (c.argc === 3 && !c.is(2, 'SYNC') && !c.is(2, 'ASYNC'))) {
    c.out.error('ERR SCRIPT FLUSH only support SYNC|ASYNC option');
    return;
  }
  const vm = luaVm();
  for (const s of scripts.values()) vm.unref(s.ref);
  scripts.clear();
  bodyBytes = 0;
  byShaWord.clear();
  byBody.clear();
  vm.collect();
  c.out.simple('OK');
};

export const scriptCommands: Record<string, Handler> = {
  eval: (c) => evalGeneric(c, false, false),
  evalsha: (c) => evalGeneric(c, true, false),
  eval_ro: (c) => evalGeneric(c, false, true),
  evalsha_ro: (c) => evalGeneric(c, true, true),
  'script|load': scriptLoad,
  'script|exists': scriptExists,
  'script|flush': scriptFlush,
};
