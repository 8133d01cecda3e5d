/**
 * The shard's Lua VM: Lua 5.4 compiled to WebAssembly (wasmoon's build), driven through its raw C
 * API exports so a redis.call costs a few wasm calls and byte copies, not a generic JS↔Lua bridge
 * (native-bench/results/lua-vm.md has the measurements behind this choice). Strings cross as bytes
 * copied through the wasm heap, so keys and values stay binary-safe.
 */
import { LuaFactory } from 'wasmoon';
import { copyBytes } from '../wire/bytes.js';

/** The raw exports of the Lua wasm module this file uses (pointers and sizes are numbers, lua_Integer is bigint). */
export interface LuaModule {
  HEAPU8: Uint8Array;
  HEAPU32: Uint32Array;
  HEAPF64: Float64Array;
  _malloc(n: number): number;
  _free(p: number): void;
  addFunction(fn: (L: number, ar: number) => unknown, sig: string): number;
  _luaL_newstate(): number;
  _luaL_openlibs(L: number): void;
  _luaL_loadbufferx(L: number, buf: number, len: number, name: number, mode: number): number;
  _luaL_ref(L: number, t: number): number;
  _luaL_unref(L: number, t: number, ref: number): void;
  _lua_pcallk(L: number, nargs: number, nres: number, msgh: number, ctx: number, k: number): number;
  _lua_error(L: number): number;
  _lua_gettop(L: number): number;
  _lua_settop(L: number, i: number): void;
  _lua_checkstack(L: number, n: number): number;
  _lua_type(L: number, i: number): number;
  _lua_isinteger(L: number, i: number): number;
  _lua_tolstring(L: number, i: number, lenPtr: number): number;
  _lua_tonumberx(L: number, i: number, isnum: number): number;
  _lua_tointegerx(L: number, i: number, isnum: number): bigint;
  _lua_toboolean(L: number, i: number): number;
  _lua_pushnil(L: number): void;
  _lua_pushnumber(L: number, n: number): void;
  _lua_pushinteger(L: number, n: bigint): void;
  _lua_pushlstring(L: number, p: number, len: number): number;
  _lua_pushstring(L: number, p: number): number;
  _lua_pushboolean(L: number, b: number): void;
  _lua_pushlightuserdata(L: number, p: number): void;
  _lua_pushvalue(L: number, i: number): void;
  _lua_pushcclosure(L: number, fn: number, n: number): void;
  _lua_createtable(L: number, narr: number, nrec: number): void;
  _lua_rawgeti(L: number, i: number, n: bigint): number;
  _lua_rawseti(L: number, i: number, n: bigint): void;
  _lua_rawget(L: number, i: number): number;
  _lua_rawset(L: number, i: number): void;
  _lua_getfield(L: number, i: number, k: number): number;
  _lua_setfield(L: number, i: number, k: number): void;
  _lua_getglobal(L: number, k: number): number;
  _lua_setglobal(L: number, k: number): void;
  _lua_next(L: number, i: number): number;
  _lua_rawlen(L: number, i: number): number;
  _lua_rotate(L: number, i: number, n: number): void;
  _lua_sethook(L: number, fn: number, mask: number, count: number): void;
  /** Whether a count hook counts trap points (loop edges, calls, returns) rather than instructions: see patchTraceExec. */
  hookCountsTraps?: boolean;
}

export const LUA_REGISTRYINDEX = -1001000;
export const T_NIL = 0;
export const T_BOOLEAN = 1;
export const T_NUMBER = 3;
export const T_STRING = 4;
export const T_TABLE = 5;
export const T_FUNCTION = 6;
/** lua_sethook's count mask. */
export const MASK_COUNT = 8;
/** lua_sethook's line mask. */
export const MASK_LINE = 4;

/** UTF-8 decoding as Buffer's toString('utf8') does it (invalid bytes become U+FFFD). */
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** One Lua state with the helpers that move bytes in and out of it. */
export class LuaVm {
  readonly L: number;
  /** A 16-byte cell for out-parameters (string lengths, isnum flags). */
  private readonly cell: number;
  private scratch = 0;
  private scratchLen = 0;
  private readonly names = new Map<string, number>();

  constructor(readonly m: LuaModule) {
    // Lua 5.4 seeds math.random from time(NULL) and the state's address here: with the clock read as 0
    // and a heap laid out the same way (no environment, see loadRawModule), every VM draws the same
    // sequence, run after run. (String hashes, so table order, have no seed at all: patchHashSeed.)
    clockFrozen = true;
    try {
      this.L = m._luaL_newstate();
      m._luaL_openlibs(this.L);
    } finally {
      clockFrozen = false;
    }
    this.cell = m._malloc(16);
    this.grow(4096);
    patchNumberFormat(m);
  }

  private grow(n: number): void {
    if (this.scratchLen >= n) return;
    if (this.scratch !== 0) this.m._free(this.scratch);
    let size = Math.max(this.scratchLen * 2, 4096);
    while (size < n) size *= 2;
    this.scratch = this.m._malloc(size);
    if (this.scratch === 0) throw new RangeError('Lua heap exhausted');
    this.scratchLen = size;
  }

  /** A NUL-terminated copy of `s` kept for the VM's life (field and global names). */
  name(s: string): number {
    let p = this.names.get(s);
    if (p === undefined) {
      const b = Buffer.from(`${s}\0`, 'latin1');
      p = this.m._malloc(b.length);
      this.m.HEAPU8.set(b, p);
      this.names.set(s, p);
    }
    return p;
  }

  /** Pushes bytes [start, start + len) of `b` as a Lua string. */
  pushBytes(b: Uint8Array, start: number, len: number): void {
    this.grow(len + 1);
    copyBytes(this.m.HEAPU8, this.scratch, b, start, len);
    this.m._lua_pushlstring(this.L, this.scratch, len);
  }

  /** Pushes a JS string (latin1 bytes: callers pass ASCII or byte strings). */
  pushString(s: string): void {
    const n = s.length;
    this.grow(n + 1);
    const h = this.m.HEAPU8;
    const p = this.scratch;
    for (let i = 0; i < n; i++) h[p + i] = s.charCodeAt(i);
    this.m._lua_pushlstring(this.L, p, n);
  }

  /** Pushes a UTF-8 JS string. */
  pushUtf8(s: string): void {
    // ASCII (keys, most JSON text) is its own UTF-8: written as pushString writes it, without a Buffer.
    const n = s.length;
    let ascii = true;
    for (let i = 0; i < n; i++) {
      if (s.charCodeAt(i) > 127) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      this.pushString(s);
      return;
    }
    const b = Buffer.from(s, 'utf8');
    this.pushBytes(b, 0, b.length);
  }

  /** Heap address of the string at stack index `i` (converting a number in place); the length is in lastLen. */
  strAt(i: number): number {
    const p = this.m._lua_tolstring(this.L, i, this.cell);
    this.lastLen = this.m.HEAPU32[this.cell >>> 2]!;
    return p;
  }

  /** Length of the string strAt returned last. */
  lastLen = 0;

  /** A copy of the string at stack index `i` (null when it is neither a string nor a number). */
  bytesAt(i: number): Buffer | null {
    const p = this.strAt(i);
    if (p === 0) return null;
    return Buffer.from(this.m.HEAPU8.subarray(p, p + this.lastLen));
  }

  /** The string at stack index `i` as a latin1 JS string ('' when not a string). */
  stringAt(i: number): string {
    const b = this.bytesAt(i);
    return b === null ? '' : b.toString('latin1');
  }

  /** The string at stack index `i` decoded as UTF-8. */
  utf8At(i: number): string {
    const p = this.strAt(i);
    if (p === 0) return '';
    // Decoded straight from the heap: the string is copied once, into the JS string.
    return utf8.decode(this.m.HEAPU8.subarray(p, p + this.lastLen));
  }

  /** The number at stack index `i`. */
  numberAt(i: number): number {
    return this.m._lua_tonumberx(this.L, i, 0);
  }

  /** Compiles `src` as chunk `chunkName`; on success the function is on the stack and 0 is returned. */
  load(src: Uint8Array, chunkName: string): number {
    this.grow(src.length + 1);
    this.m.HEAPU8.set(src, this.scratch);
    return this.m._luaL_loadbufferx(this.L, this.scratch, src.length, this.name(chunkName), 0);
  }

  /** Registers `fn` as a Lua C function and pushes it. */
  pushFunction(fn: (L: number) => number): void {
    this.m._lua_pushcclosure(this.L, this.m.addFunction(fn, 'ii'), 0);
  }

  /** Pops the value on top into a registry reference. */
  ref(): number {
    return this.m._luaL_ref(this.L, LUA_REGISTRYINDEX);
  }

  /** Pushes the value a registry reference holds. */
  pushRef(ref: number): void {
    this.m._lua_rawgeti(this.L, LUA_REGISTRYINDEX, bigIndex(ref));
  }

  /** Frees a registry reference. */
  unref(ref: number): void {
    this.m._luaL_unref(this.L, LUA_REGISTRYINDEX, ref);
  }

  /** Sets field `k` of the table at `i` to the value on top (popping it). */
  setField(i: number, k: string): void {
    this.m._lua_setfield(this.L, i, this.name(k));
  }

  /** Pushes Lua's collectgarbage and its option (lua_gc is variadic, so not exported: collectgarbage does its work). */
  private pushCollector(option: string): void {
    this.m._lua_getglobal(this.L, this.name('collectgarbage'));
    this.pushString(option);
  }

  /** Runs a full garbage collection. */
  collect(): void {
    this.pushCollector('collect');
    this.m._lua_pcallk(this.L, 1, 0, 0, 0, 0);
  }

  /** Runs the collector as if `kb` kilobytes had been allocated (collectgarbage('step', kb)). */
  gcStep(kb: number): void {
    this.pushCollector('step');
    this.m._lua_pushnumber(this.L, kb);
    this.m._lua_pcallk(this.L, 2, 0, 0, 0, 0);
  }

  /** Bytes the Lua heap holds (collectgarbage('count')). */
  heapBytes(): number {
    const m = this.m;
    this.pushCollector('count');
    const kb = m._lua_pcallk(this.L, 1, 1, 0, 0, 0) === 0 ? m._lua_tonumberx(this.L, -1, 0) : 0;
    m._lua_settop(this.L, -2);
    return Math.round(kb * 1024);
  }
}

/**
 * Lua 5.4 prints a float with an integral value as "5.0"; Redis's Lua 5.1 prints "5", and scripts
 * build keys and scores by concatenating such numbers. lobject.c's tostringbuff appends ".0" when
 * `buff[strspn(buff, "-0123456789")] == '\0'`; emptying that charset constant (its one copy in the
 * module's data) makes the test never true, so floats print as "%.14g" alone, as in 5.1.
 */
function patchNumberFormat(m: LuaModule): void {
  const needle = Buffer.from('-0123456789\0', 'latin1');
  const heap = Buffer.from(m.HEAPU8.buffer, m.HEAPU8.byteOffset, Math.min(m.HEAPU8.length, 1 << 20));
  const at = heap.indexOf(needle);
  if (at >= 0) heap[at] = 0;
}

/** Small lua_Integer indexes as bigints, made once (table slots and registry references). */
const BIG: bigint[] = Array.from({ length: 1024 }, (_, i) => BigInt(i));

/** `i` as a lua_Integer, without allocating for small values. */
export function bigIndex(i: number): bigint {
  return i < 1024 ? BIG[i]! : BigInt(i);
}

let modulePromise: Promise<LuaModule> | null = null;
/** While set, the module's clock (time(NULL)) reads 0: see LuaVm's constructor. */
let clockFrozen = false;

/** Loads the Lua wasm module (once per thread). */
export function loadLuaModule(): Promise<LuaModule> {
  if (modulePromise === null) modulePromise = loadRawModule();
  return modulePromise;
}

type WasmExports = Record<string, unknown> & {
  stackSave(): number;
  stackRestore(sp: number): void;
  setThrew(threw: number, value: number): void;
  __indirect_function_table: { get(i: number): unknown };
};

/** The part of the WebAssembly global this file uses (the project's lib settings do not declare it). */
interface WasmApi {
  instantiate(src: unknown, imports?: Record<string, unknown>): Promise<{ instance: { exports: unknown } }>;
}

/**
 * wasmoon ships Emscripten's ASSERTIONS build: every `_lua_*` export of its module is a JS wrapper
 * that checks the runtime and forwards through `Function.apply`, and its `invoke_vii` (the
 * setjmp trampoline around every lua_pcall) goes through more such wrappers. Together they took
 * a fifth of an EVALSHA's time. The module's instantiation is watched to get the instance's raw
 * exports: they replace the wrappers, and a plain trampoline replaces `invoke_vii`.
 */
async function loadRawModule(): Promise<LuaModule> {
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const instantiate = wasm.instantiate;
  let raw: WasmExports | null = null;
  let trapsPatched = false;
  // Only the instantiation that imports invoke_vii is the Lua module's.
  wasm.instantiate = async (src, imports) => {
    const env = imports?.env as Record<string, unknown> | undefined;
    const lua = env !== undefined && typeof env.invoke_vii === 'function';
    if (lua) {
      env.invoke_vii = (fn: number, a: number, b: number) => invokeVii(raw!, fn, a, b);
      const now = env.emscripten_date_now as () => number;
      env.emscripten_date_now = () => (clockFrozen ? 0 : now());
      // An empty environment: Emscripten copies it (argv[0] included) into the heap at start, which
      // would move the state's address, and so math.random's seed, with the path the server runs
      // from. Scripts see no environment anyway (no os, no package).
      const wasi = imports!.wasi_snapshot_preview1 as Record<string, unknown>;
      wasi.environ_sizes_get = (countAt: number, sizeAt: number) => {
        const u32 = new Uint32Array((raw!.memory as { buffer: ArrayBuffer }).buffer);
        u32[countAt >>> 2] = 0;
        u32[sizeAt >>> 2] = 0;
        return 0;
      };
      wasi.environ_get = () => 0;
      if (src instanceof Uint8Array || src instanceof ArrayBuffer) {
        const copy = new Uint8Array(src instanceof ArrayBuffer ? src.slice(0) : src.slice());
        trapsPatched = patchTraceExec(copy) !== null;
        patchHashSeed(copy);
        src = copy;
      }
    }
    const made = await instantiate.call(wasm, src, imports);
    if (lua) raw = made.instance.exports as WasmExports;
    return made;
  };
  let glue: LuaModule;
  try {
    glue = ((await new LuaFactory().getLuaModule()) as unknown as { module: LuaModule }).module;
  } finally {
    wasm.instantiate = instantiate;
  }
  if (raw === null) throw new Error('Lua wasm module: instance not seen');
  const exports: WasmExports = raw;
  const target = glue as unknown as Record<string, unknown>;
  for (const name of Object.keys(exports)) {
    if (typeof exports[name] === 'function' && typeof target[`_${name}`] === 'function') target[`_${name}`] = exports[name];
  }
  glue.hookCountsTraps = trapsPatched;
  return glue;
}

/**
 * The end of lua_newstate's seed computation in wasmoon's module (luai_makeseed inlined: the loop
 * of luaS_hash over time and addresses, then `g->seed = h`, `local.get 2; local.get 1; i32.store
 * offset=192`).
 */
const SEED_STORE = Uint8Array.from([
  0x05, 0x74, 0x20, 0x01, 0x41, 0x02, 0x76, 0x6a, 0x6a, 0x20, 0x01, 0x73, 0x21, 0x01, 0x20, 0x04, 0x41, 0x02, 0x6b, 0x22, 0x04, 0x0d, 0x00,
  0x0b, 0x20, 0x02, 0x20, 0x01, 0x36, 0x02, 0xc0, 0x01,
]);

/**
 * Lua 5.4 seeds its string hash (`h = seed ^ len`, then the same step per byte as Lua 5.1), so a
 * table's iteration order changes from one state to the next; Lua 5.1, which Redis runs, has no
 * seed (`h = len`). Storing 0 as the seed (`i32.const 0` for `local.get 1`) gives strings shorter
 * than 32 bytes 5.1's hashes, so tables of such keys iterate in the order Redis's scripts see (and
 * cmsgpack and cjson encode them in it). Returns the module, or null (seeded as before) unless the
 * store is found exactly once.
 */
export function patchHashSeed(wasm: Uint8Array): Uint8Array | null {
  const at = findOnce(wasm, SEED_STORE);
  if (at < 0) return null;
  const p = at + SEED_STORE.length - 6;
  wasm[p] = 0x41;
  wasm[p + 1] = 0x00;
  return wasm;
}

/** Where `pattern` starts in `b` when it occurs exactly once, else -1. */
function findOnce(b: Uint8Array, pattern: Uint8Array): number {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  const at = buf.indexOf(pattern);
  if (at < 0 || buf.indexOf(pattern, at + 1) >= 0) return -1;
  return at;
}

/**
 * The start of luaG_traceexec's body in wasmoon's module: `ci = L->ci; mask = L->hookmask;
 * if (!(mask & (LUA_MASKLINE | LUA_MASKCOUNT))) { ci->u.l.trap = 0; return 0; }`.
 */
const TRACEEXEC_START = Uint8Array.from([
  0x20, 0x00, 0x28, 0x02, 0x14, 0x21, 0x08, 0x20, 0x00, 0x28, 0x02, 0x70, 0x22, 0x03, 0x41, 0x0c, 0x71, 0x45, 0x04, 0x40, 0x20, 0x08, 0x41,
  0x00, 0x36, 0x02, 0x14, 0x41, 0x00, 0x0f, 0x0b,
]);
/** Its end: `} return 1; }` (every path but the no-hook one leaves through it). */
const TRACEEXEC_END = Uint8Array.from([0x0b, 0x41, 0x01, 0x0b]);

/**
 * With a count hook set, Lua 5.4 calls luaG_traceexec before every instruction: `return 1` keeps
 * the interpreter's local `trap` on, and the call took about half of a tight loop's time (Lua 5.1,
 * which Redis runs, counts inline). Making it return 0 turns `trap` off until the next point that
 * reloads it from `ci->u.l.trap`, which stays set: every backward jump, loop and call return (the
 * points where Lua 5.4 lets a signal's lua_sethook stop a loop), and function entry. The hook then
 * counts those points instead of instructions, so a loop that never ends still reaches it.
 * Returns the patched module, or null (unchanged behaviour) unless the function is found exactly once.
 */
export function patchTraceExec(wasm: Uint8Array): Uint8Array | null {
  let at = -1;
  forEachFunctionBody(wasm, (code, end) => {
    if (end - code < TRACEEXEC_START.length + TRACEEXEC_END.length) return;
    if (!startsWith(wasm, code, TRACEEXEC_START) || !startsWith(wasm, end - TRACEEXEC_END.length, TRACEEXEC_END)) return;
    at = at === -1 ? end - 2 : -2;
  });
  if (at < 0) return null;
  wasm[at] = 0x00;
  return wasm;
}

function startsWith(b: Uint8Array, at: number, prefix: Uint8Array): boolean {
  for (let i = 0; i < prefix.length; i++) if (b[at + i] !== prefix[i]) return false;
  return true;
}

/** Calls `fn(codeStart, end)` for each function body of a wasm binary (code after its locals). */
function forEachFunctionBody(b: Uint8Array, fn: (code: number, end: number) => void): void {
  let p = 8;
  const leb = (): number => {
    let r = 0;
    let shift = 0;
    let x: number;
    do {
      x = b[p++]!;
      r += (x & 0x7f) * 2 ** shift;
      shift += 7;
    } while ((x & 0x80) !== 0 && p < b.length);
    return r;
  };
  while (p < b.length) {
    const id = b[p++]!;
    const size = leb();
    const sectionEnd = p + size;
    if (id === 10) {
      const n = leb();
      for (let i = 0; i < n && p < sectionEnd; i++) {
        const bodyEnd = leb() + p;
        const groups = leb();
        for (let g = 0; g < groups; g++) {
          leb();
          p++;
        }
        fn(p, bodyEnd);
        p = bodyEnd;
      }
    }
    p = sectionEnd;
  }
}

/** Emscripten's invoke_vii without its checks: calls table entry `fn`; a longjmp (a thrown number) unwinds to the setjmp. */
function invokeVii(ex: WasmExports, fn: number, a: number, b: number): void {
  const sp = ex.stackSave();
  try {
    (ex.__indirect_function_table.get(fn) as (a: number, b: number) => void)(a, b);
  } catch (e) {
    ex.stackRestore(sp);
    // Emscripten's test (e !== e + 0): only a number that is not NaN is a longjmp.
    if (typeof e !== 'number' || Number.isNaN(e)) throw e;
    ex.setThrew(1, 0);
  }
}
