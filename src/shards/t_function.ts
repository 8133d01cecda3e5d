/**
 * Redis 7.0 functions (functions.c, function_lua.c): FUNCTION LOAD/DELETE/FLUSH/LIST/STATS and
 * FCALL/FCALL_RO. A library is Lua code whose load registers named functions with flags; each
 * shard keeps the same libraries (the acceptor sends the changes to every shard).
 */
import type { Ctx, Handler } from './context.js';
import { globMatch } from '../wire/bytes.js';
import { E_NUMKEYS_OVER_ARGS, subcommandSyntaxError } from '../wire/error-text.js';
import { T_FUNCTION, T_STRING, T_TABLE } from './lua-vm.js';
import { splitArgs } from './t_script.js';
import { ByteWriter } from '../persistence/byte-writer.js';
import { crc64LE } from '../persistence/crc64.js';
import { RdbInput } from '../persistence/rdb-input.js';
import { RdbOpcode, RDB_VERSION } from '../persistence/rdb-constants.js';
import { writeString } from '../persistence/rdb-value.js';
import { FLAG_NAMES, SF_NO_WRITES, luaVm, pushArgTable, raiseError, refusedForMemory, runFunction, runLibraryCode } from './script-run.js';

interface LuaFunction {
  name: string;
  ref: number;
  flags: number;
  description: Buffer | null;
  library: Library;
}

interface Library {
  name: string;
  code: Buffer;
  functions: LuaFunction[];
}

const libraries = new Map<string, Library>();
const functions = new Map<string, LuaFunction>();
let codeBytes = 0;

const NAME_RE = /^[A-Za-z0-9_]+$/;

/** Reads a register_function flags table at stack index `i`; -1 for an unknown flag. */
function readFlags(i: number): number {
  const vm = luaVm();
  const m = vm.m;
  const L = vm.L;
  let flags = 0;
  const n = m._lua_rawlen(L, i);
  for (let j = 1; j <= n; j++) {
    m._lua_rawgeti(L, i, BigInt(j));
    const name = m._lua_type(L, -1) === T_STRING ? vm.stringAt(-1) : '';
    m._lua_settop(L, -2);
    const def = FLAG_NAMES.find(([f]) => f === name);
    if (def === undefined) return -1;
    flags |= def[1];
  }
  return flags;
}

/** redis.register_function while `lib` loads: reads positional or named arguments and adds the function. */
function registerInto(lib: Library): (L: number) => number {
  return (L) => {
    const vm = luaVm();
    const m = vm.m;
    const argc = m._lua_gettop(L);
    let name: string | null = null;
    let fnIndex = 0;
    let flags = 0;
    let description: Buffer | null = null;
    if (argc < 1 || argc > 2) return raiseError('wrong number of arguments to redis.register_function');
    if (argc === 1) {
      if (m._lua_type(L, 1) !== T_TABLE)
        return raiseError(
          'calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).',
        );
      m._lua_pushnil(L);
      while (m._lua_next(L, 1) !== 0) {
        if (m._lua_type(L, -2) !== T_STRING) return raiseError('named argument key given to redis.register_function is not a string');
        const key = vm.stringAt(-2).toLowerCase();
        const t = m._lua_type(L, -1);
        if (key === 'function_name') {
          if (t !== T_STRING) return raiseError('function_name argument given to redis.register_function must be a string');
          name = vm.stringAt(-1);
        } else if (key === 'description') {
          if (t !== T_STRING) return raiseError('description argument given to redis.register_function must be a string');
          description = vm.bytesAt(-1);
        } else if (key === 'callback') {
          if (t !== T_FUNCTION) return raiseError('callback argument given to redis.register_function must be a function');
          m._lua_pushvalue(L, -1);
          m._lua_rotate(L, 2, 1);
          fnIndex = 2;
          // The callback now sits at index 2; the iteration's key and value moved up by one.
        } else if (key === 'flags') {
          if (t !== T_TABLE) return raiseError('flags argument to redis.register_function must be a table representing function flags');
          flags = readFlags(m._lua_gettop(L));
          if (flags < 0) return raiseError('unknown flag given');
        } else return raiseError('unknown argument given to redis.register_function');
        m._lua_settop(L, -2);
      }
      if (name === null) return raiseError('redis.register_function must get a function name argument');
      if (fnIndex === 0) return raiseError('redis.register_function must get a callback argument');
    } else {
      if (m._lua_type(L, 1) !== T_STRING) return raiseError('first argument to redis.register_function must be a string');
      if (m._lua_type(L, 2) !== T_FUNCTION) return raiseError('second argument to redis.register_function must be a function');
      name = vm.stringAt(1);
      fnIndex = 2;
    }
    // Redis 7.0 words this error as for library names.
    if (!NAME_RE.test(name))
      return raiseError('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long');
    if (lib.functions.some((f) => f.name.toLowerCase() === name!.toLowerCase()))
      return raiseError('Function already exists in the library');
    m._lua_pushvalue(L, fnIndex);
    lib.functions.push({ name, ref: vm.ref(), flags, description, library: lib });
    return 0;
  };
}

function dropLibrary(lib: Library): void {
  const vm = luaVm();
  for (const f of lib.functions) {
    functions.delete(f.name.toLowerCase());
    vm.unref(f.ref);
  }
  libraries.delete(lib.name);
  codeBytes -= lib.code.length + lib.name.length;
}

function releaseFunctions(lib: Library): void {
  const vm = luaVm();
  for (const f of lib.functions) vm.unref(f.ref);
}

/** Parses a library's "#!lua name=…" line; returns its name and the code after it, or an error text. */
function libraryMeta(code: Buffer): { name: string; body: Buffer } | string {
  if (code.length < 2 || code[0] !== 35 || code[1] !== 33) return 'ERR Missing library metadata';
  const nl = code.indexOf(10);
  if (nl === -1) return 'ERR Invalid library metadata';
  const parts = splitArgs(code.subarray(0, nl).toString('utf8'));
  if (parts === null || parts.length === 0) return 'ERR Invalid library metadata';
  const engine = parts[0]!.slice(2);
  let name: string | null = null;
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.toLowerCase().startsWith('name=')) {
      if (name !== null) return 'ERR Invalid metadata value, name argument was given multiple times';
      name = p.slice(5);
      continue;
    }
    return `ERR Invalid metadata value given: ${p}`;
  }
  if (name === null) return 'ERR Library name was not given';
  if (!NAME_RE.test(name))
    return 'ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long';
  if (engine.toLowerCase() !== 'lua') return `ERR Engine '${engine}' not found`;
  return { name, body: code.subarray(nl) };
}

/** Loads library `code`; returns its name, or an error text. */
export function loadLibrary(code: Buffer, replace: boolean): { name: string } | string {
  const meta = libraryMeta(code);
  if (typeof meta === 'string') return meta;
  const old = libraries.get(meta.name);
  if (old !== undefined && !replace) return `ERR Library '${meta.name}' already exists`;
  const lib: Library = { name: meta.name, code: Buffer.from(code), functions: [] };
  const err = runLibraryCode(meta.body, registerInto(lib));
  if (err !== null) {
    releaseFunctions(lib);
    return err;
  }
  if (lib.functions.length === 0) return 'ERR No functions registered';
  for (const f of lib.functions) {
    const other = functions.get(f.name.toLowerCase());
    if (other !== undefined && other.library !== old) {
      releaseFunctions(lib);
      return `ERR Function ${f.name} already exists`;
    }
  }
  if (old !== undefined) dropLibrary(old);
  libraries.set(lib.name, lib);
  codeBytes += lib.code.length + lib.name.length;
  for (const f of lib.functions) functions.set(f.name.toLowerCase(), f);
  return { name: lib.name };
}

/** Every library's code, in load order (FUNCTION DUMP, RDB). */
export function libraryCodes(): Buffer[] {
  return [...libraries.values()].map((l) => l.code);
}

/** Libraries * span + functions (published for FUNCTION STATS). */
export function functionCounts(span: number): number {
  return libraries.size * span + functions.size;
}

/** Bytes of the loaded libraries' code and names (INFO used_memory_functions). */
export function libraryBytes(): number {
  return codeBytes;
}

/** Drops every library. */
export function flushLibraries(): void {
  for (const lib of [...libraries.values()]) dropLibrary(lib);
}

const functionLoad: Handler = (c) => {
  let replace = false;
  let i = 2;
  if (c.argc > 3) {
    if (!c.is(2, 'REPLACE') || c.argc > 4) return c.out.error(`ERR Unknown option given: ${c.str(2)}`);
    replace = true;
    i = 3;
  }
  const code = Buffer.from(c.buf.subarray(c.as[i]!, c.as[i]! + c.al[i]!));
  const r = loadLibrary(code, replace);
  if (typeof r === 'string') c.out.error(r);
  else c.out.bulkString(r.name);
};

const functionDelete: Handler = (c) => {
  const lib = libraries.get(c.str(2));
  if (lib === undefined) return c.out.error('ERR Library not found');
  dropLibrary(lib);
  c.out.simple('OK');
};

const functionFlush: Handler = (c) => {
  // Redis answers extra arguments as a syntax error of the subcommand, a bad mode with its own text.
  if (c.argc > 3) return c.out.error(subcommandSyntaxError(c.str(1), 'FUNCTION'));
  if (c.argc === 3 && !c.is(2, 'SYNC') && !c.is(2, 'ASYNC')) return c.out.error('ERR FUNCTION FLUSH only supports SYNC|ASYNC option');
  flushLibraries();
  c.out.simple('OK');
};

const functionList: Handler = (c) => {
  let withCode = false;
  let pattern: Buffer | null = null;
  for (let i = 2; i < c.argc; i++) {
    if (!withCode && c.is(i, 'WITHCODE')) withCode = true;
    else if (pattern === null && c.is(i, 'LIBRARYNAME')) {
      if (i >= c.argc - 1) return c.out.error('ERR library name argument was not given');
      i++;
      pattern = Buffer.from(c.buf.subarray(c.as[i]!, c.as[i]! + c.al[i]!));
    } else return c.out.error(`ERR Unknown argument ${c.str(i)}`);
  }
  const libs = [...libraries.values()].filter((l) => {
    if (pattern === null) return true;
    const n = Buffer.from(l.name);
    return globMatch(pattern, 0, pattern.length, n, 0, n.length);
  });
  const out = c.out;
  out.arrayHeader(libs.length);
  for (const l of libs) {
    out.mapHeader(withCode ? 4 : 3);
    out.bulkString('library_name');
    out.bulkString(l.name);
    out.bulkString('engine');
    out.bulkString('LUA');
    out.bulkString('functions');
    out.arrayHeader(l.functions.length);
    for (const f of l.functions) {
      out.mapHeader(3);
      out.bulkString('name');
      out.bulkString(f.name);
      out.bulkString('description');
      if (f.description === null) out.nullBulk();
      else out.bulk(f.description, 0, f.description.length);
      out.bulkString('flags');
      const names = FLAG_NAMES.filter(([, bit]) => (f.flags & bit) !== 0);
      out.setHeader(names.length);
      for (const [n] of names) out.bulkString(n);
    }
    if (withCode) {
      out.bulkString('library_code');
      out.bulk(l.code, 0, l.code.length);
    }
  }
};

/** FUNCTION DUMP's payload: each library as RDB's FUNCTION2 opcode and its code, then the RDB version and CRC-64. */
const functionDump: Handler = (c) => {
  const w = new ByteWriter(256);
  for (const code of libraryCodes()) {
    w.u8(RdbOpcode.FUNCTION2);
    writeString(w, code, { compress: false });
  }
  w.u8(RDB_VERSION & 0xff);
  w.u8(RDB_VERSION >> 8);
  const body = w.take();
  const out = Buffer.alloc(body.length + 8);
  out.set(body);
  out.set(crc64LE(body), body.length);
  c.out.bulk(out, 0, out.length);
};

/** The library codes in a FUNCTION DUMP payload, or the error text. */
function dumpedCodes(payload: Uint8Array): Buffer[] | string {
  const E_PAYLOAD = 'ERR payload version or checksum are wrong';
  if (payload.length < 10) return E_PAYLOAD;
  const footer = payload.length - 10;
  const version = payload[footer]! | (payload[footer + 1]! << 8);
  const crc = crc64LE(payload.subarray(0, footer + 2));
  if (version > RDB_VERSION || !crc.every((b, i) => b === payload[footer + 2 + i])) return E_PAYLOAD;
  const input = new RdbInput(payload.subarray(0, footer));
  const codes: Buffer[] = [];
  try {
    while (!input.atEnd()) {
      const type = input.u8();
      if (type !== RdbOpcode.FUNCTION2) return 'ERR given type is not a function';
      codes.push(Buffer.from(input.string()));
    }
  } catch {
    return 'ERR payload version or checksum are wrong';
  }
  return codes;
}

/** FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: all or nothing; a failure puts the previous libraries back. */
const functionRestore: Handler = (c) => {
  if (c.argc > 4) return c.out.error(subcommandSyntaxError(c.str(1), 'FUNCTION'));
  let policy = 'APPEND';
  if (c.argc === 4) {
    if (c.is(3, 'FLUSH')) policy = 'FLUSH';
    else if (c.is(3, 'REPLACE')) policy = 'REPLACE';
    else if (!c.is(3, 'APPEND')) return c.out.error('ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.');
  }
  const codes = dumpedCodes(c.buf.subarray(c.as[2]!, c.as[2]! + c.al[2]!));
  if (typeof codes === 'string') return c.out.error(codes);
  const before = libraryCodes();
  if (policy === 'FLUSH') flushLibraries();
  let err: string | null = null;
  for (const code of codes) {
    const meta = libraryMeta(code);
    if (typeof meta !== 'string' && policy === 'APPEND' && libraries.has(meta.name)) {
      err = `ERR Library ${meta.name} already exists`;
      break;
    }
    const r = loadLibrary(code, policy === 'REPLACE');
    if (typeof r === 'string') {
      err = r;
      break;
    }
  }
  if (err !== null) {
    flushLibraries();
    for (const code of before) loadLibrary(code, false);
    return c.out.error(err);
  }
  c.out.simple('OK');
};

function fcall(c: Ctx, ro: boolean): void {
  // Function names are case-insensitive, as Redis's functions dict is.
  const f = functions.get(c.str(1).toLowerCase());
  if (f === undefined) return c.out.error('ERR Function not found');
  const nk = c.int(2);
  if (nk === null) return c.out.error('ERR Bad number of keys provided');
  if (nk > c.argc - 3) return c.out.error(E_NUMKEYS_OVER_ARGS);
  if (nk < 0) return c.out.error("ERR Number of keys can't be negative");
  if (ro && (f.flags & SF_NO_WRITES) === 0) return c.out.error('ERR Can not execute a script with write flag using *_ro command.');
  if (refusedForMemory(c, f.flags)) return;
  pushArgTable(c, 3, nk);
  pushArgTable(c, 3 + nk, c.argc - 3 - nk);
  runFunction(c, f.ref, 2, f.name, ro || (f.flags & SF_NO_WRITES) !== 0, false);
}

export const functionCommands: Record<string, Handler> = {
  fcall: (c) => fcall(c, false),
  fcall_ro: (c) => fcall(c, true),
  'function|load': functionLoad,
  'function|delete': functionDelete,
  'function|flush': functionFlush,
  'function|list': functionList,
  'function|dump': functionDump,
  'function|restore': functionRestore,
};
