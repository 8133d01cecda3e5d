/** List commands (Redis's t_list.c), blocking pops included, over the arena quicklist. */
import type { Arena } from './arena.js';
import type { Ctx, Handler } from './context.js';
import { T_LIST } from './record.js';
import { ES, EN, lpDecode, lpEnd, lpStart } from './listpack.js';
import {
  nodeNext,
  qlCount,
  qlDelAt,
  qlHead,
  qlInsertAt,
  qlNext,
  qlPeekEnd,
  qlPush,
  qlReplaceAt,
  qlSeek,
  qlStepBack,
  qlTrim,
  qpos,
} from './quicklist.js';
import { ENC_QUICKLIST, copyOut, createCollection, deleteKey, lookupTyped, newCompact, parseNumkeys, valPtr } from './value.js';
import { blockOn, parseTimeout } from './blocking.js';
import {
  E_COUNT_NEGATIVE,
  E_COUNT_NOT_POSITIVE,
  E_INDEX_RANGE,
  E_MAXLEN_NEGATIVE,
  E_NOT_INT,
  E_NOT_POSITIVE,
  E_NO_KEY,
  E_RANK_ZERO,
  E_SYNTAX,
  wrongArityError,
} from '../wire/error-text.js';
import { R_EMPTY_ARRAY, R_OK, writeDigits } from '../wire/resp-writer.js';
import { bytesEqual, copyBytes } from '../wire/bytes.js';

/** Creates an empty list for key argument `i` (after a lookup returned 0). */
export function createList(c: Ctx, i: number): number {
  return createCollection(c.store, c.db, c.buf, c.as[i]!, c.al[i]!, T_LIST, ENC_QUICKLIST, newCompact(c.store.arena, T_LIST));
}

/** Appends an element to a list record (the __restore path and pushes). */
export function listPush(m: Arena, a: number, head: boolean, buf: Uint8Array, s: number, n: number): void {
  qlPush(m, valPtr(m, a), head, buf, s, n);
}

function pushGeneric(c: Ctx, head: boolean, onlyIfExists: boolean): void {
  let a = lookupTyped(c, 1, T_LIST, false);
  if (a < 0) return;
  if (a === 0) {
    if (onlyIfExists) {
      c.out.int(0);
      return;
    }
    a = createList(c, 1);
  }
  const m = c.store.arena;
  const q = valPtr(m, a);
  for (let i = 2; i < c.argc; i++) qlPush(m, q, head, c.buf, c.as[i]!, c.al[i]!);
  c.out.int(qlCount(m, q));
}

const lpush: Handler = (c) => pushGeneric(c, true, false);
const rpush: Handler = (c) => pushGeneric(c, false, false);
const lpushx: Handler = (c) => pushGeneric(c, true, true);
const rpushx: Handler = (c) => pushGeneric(c, false, true);

/** Pops up to `count` elements of list record `a` (key argument `k`) into the reply, deleting an emptied key. */
function popInto(c: Ctx, a: number, k: number, head: boolean, count: number, asArray: boolean): void {
  const m = c.store.arena;
  const q = valPtr(m, a);
  const n = Math.min(count, qlCount(m, q));
  if (asArray) c.out.arrayHeader(n);
  for (let i = 0; i < n; i++) {
    qlPeekEnd(m, q, head);
    c.out.bulk(m.u8, ES, EN);
    qlDelAt(m, q);
  }
  if (qlCount(m, q) === 0) deleteKey(c, k);
}

function popGeneric(c: Ctx, head: boolean): void {
  let count = -1;
  if (c.argc === 3) {
    const v = c.int(2);
    if (v === null || v < 0) {
      c.out.error(v === null ? E_NOT_INT : E_NOT_POSITIVE);
      return;
    }
    count = v;
  } else if (c.argc > 3) {
    c.out.error(wrongArityError(c.name));
    return;
  }
  const a = lookupTyped(c, 1, T_LIST, false);
  if (a < 0) return;
  if (a === 0) {
    if (count < 0) c.out.nullBulk();
    else c.out.nullArray();
    return;
  }
  if (count === 0) c.out.constant(R_EMPTY_ARRAY);
  else popInto(c, a, 1, head, count < 0 ? 1 : count, count >= 0);
}

const lpop: Handler = (c) => popGeneric(c, true);
const rpop: Handler = (c) => popGeneric(c, false);

const llen: Handler = (c) => {
  const a = lookupTyped(c, 1, T_LIST, true);
  if (a < 0) return;
  c.out.int(a === 0 ? 0 : qlCount(c.store.arena, valPtr(c.store.arena, a)));
};

const lindex: Handler = (c) => {
  const idx = c.int(2);
  if (idx === null) {
    c.out.error(E_NOT_INT);
    return;
  }
  const a = lookupTyped(c, 1, T_LIST, true);
  if (a < 0) return;
  if (a === 0) {
    c.out.nullBulk();
    return;
  }
  const m = c.store.arena;
  const q = valPtr(m, a);
  const i = idx < 0 ? idx + qlCount(m, q) : idx;
  if (qlSeek(m, q, i)) c.out.bulk(m.u8, ES, EN);
  else c.out.nullBulk();
};

const lset: Handler = (c) => {
  const idx = c.int(2);
  if (idx === null) {
    c.out.error(E_NOT_INT);
    return;
  }
  const a = lookupTyped(c, 1, T_LIST, false);
  if (a < 0) return;
  if (a === 0) {
    c.out.error(E_NO_KEY);
    return;
  }
  const m = c.store.arena;
  const q = valPtr(m, a);
  const i = idx < 0 ? idx + qlCount(m, q) : idx;
  if (!qlSeek(m, q, i)) {
    c.out.error(E_INDEX_RANGE);
    return;
  }
  qlReplaceAt(m, q, c.buf, c.as[3]!, c.al[3]!);
  c.out.constant(R_OK);
};

const lrange: Handler = (c) => {
  let start = c.int(2);
  let end = c.int(3);
  if (start === null || end === null) {
    c.out.error(E_NOT_INT);
    return;
  }
  const a = lookupTyped(c, 1, T_LIST, true);
  if (a < 0) return;
  if (a === 0) {
    c.out.constant(R_EMPTY_ARRAY);
    return;
  }
  const m = c.store.arena;
  const q = valPtr(m, a);
  const len = qlCount(m, q);
  if (start < 0) start += len;
  if (end < 0) end += len;
  if (start < 0) start = 0;
  if (start > end || start >= len) {
    c.out.constant(R_EMPTY_ARRAY);
    return;
  }
  if (end >= len) end = len - 1;
  const n = end - start + 1;
  const out = c.out;
  out.arrayHeader(n);
  qlSeek(m, q, start);
  // Walk the nodes' entries directly, writing each as a bulk string straight into the reply
  // buffer with one capacity check per node (no qpos round trips, no per-entry calls).
  const u8 = m.u8;
  let node = qpos.node;
  let x = node + qpos.off;
  let left = n;
  for (;;) {
    const stop = node + lpEnd(m, node);
    // An entry of L bytes takes at least L + 2 in the listpack and at most L + 15 as a bulk.
    out.ensure(Math.min(8 * (stop - x), stop - x + 16 * left));
    const b = out.bytes;
    let p = out.len;
    while (x < stop && left > 0) {
      const h = u8[x]!;
      let es: number;
      let en: number;
      if (h < 0x80) {
        es = x + 1;
        en = h;
        x = es + en + (h < 0x7f ? 1 : 2);
      } else {
        x = lpDecode(u8, x);
        es = ES;
        en = EN;
      }
      b[p] = 36;
      if (en < 10) {
        b[p + 1] = 48 + en;
        p += 2;
      } else p = writeDigits(b, p + 1, en);
      b[p] = 13;
      b[p + 1] = 10;
      p += 2;
      copyBytes(b, p, u8, es, en);
      p += en;
      b[p] = 13;
      b[p + 1] = 10;
      p += 2;
      left--;
    }
    out.len = p;
    if (left === 0) break;
    node = nodeNext(m, node);
    x = node + lpStart(m, node);
  }
};

const ltrim: Handler = (c) => {
  let start = c.int(2);
  let end = c.int(3);
  if (start === null || end === null) {
    c.out.error(E_NOT_INT);
    return;
  }
  const a = lookupTyped(c, 1, T_LIST, false);
  if (a < 0) return;
  if (a === 0) {
    c.out.constant(R_OK);
    return;
  }
  const m = c.store.arena;
  const q = valPtr(m, a);
  const len = qlCount(m, q);
  if (start < 0) start += len;
  if (end < 0) end += len;
  if (start < 0) start = 0;
  let ltrimN: number;
  let rtrimN: number;
  if (start > end || start >= len) {
    ltrimN = len;
    rtrimN = 0;
  } else {
    if (end >= len) end = len - 1;
    ltrimN = start;
    rtrimN = len - end - 1;
  }
  qlTrim(m, q, true, ltrimN);
  qlTrim(m, q, false, rtrimN);
  if (qlCount(m, q) === 0) deleteKey(c, 1);
  c.out.constant(R_OK);
};

const lrem: Handler = (c) => {
  const count = c.int(2);
  if (count === null) {
    c.out.error(E_NOT_INT);
    return;
  }
  const a = lookupTyped(c, 1, T_LIST, false);
  if (a < 0) return;
  if (a === 0) {
    c.out.int(0);
    return;
  }
  const m = c.store.arena;
  const q = valPtr(m, a);
  const es = c.as[3]!;
  const en = c.al[3]!;
  let removed = 0;
  if (count >= 0) {
    qpos.node = qlHead(m, q);
    qpos.off = lpStart(m, qpos.node);
    while (qpos.node !== 0 && (count === 0 || removed < count)) {
      lpDecode(m.u8, qpos.node + qpos.off);
      if (bytesEqual(m.u8, ES, EN, c.buf, es, en)) {
        qlDelAt(m, q);
        removed++;
      } else qlNext(m);
    }
  } else {
    qlPeekEnd(m, q, false);
    while (qpos.node !== 0 && removed < -count) {
      const node = qpos.node;
      const off = qpos.off;
      lpDecode(m.u8, node + off);
      const match = bytesEqual(m.u8, ES, EN, c.buf, es, en);
      qlStepBack(m);
      if (match) {
        const pn = qpos.node;
        const po = qpos.off;
        qpos.node = node;
        qpos.off = off;
        qlDelAt(m, q);
        qpos.node = pn;
        qpos.off = po;
        removed++;
      }
    }
  }
  if (qlCount(m, q) === 0) deleteKey(c, 1);
  c.out.int(removed);
};

const linsert: Handler = (c) => {
  let after: boolean;
  if (c.is(2, 'AFTER')) after = true;
  else if (c.is(2, 'BEFORE')) after = false;
  else {
    c.out.error(E_SYNTAX);
    return;
  }
  const a = lookupTyped(c, 1, T_LIST, false);
  if (a < 0) return;
  if (a === 0) {
    c.out.int(0);
    return;
  }
  const m = c.store.arena;
  const q = valPtr(m, a);
  qpos.node = qlHead(m, q);
  qpos.off = lpStart(m, qpos.node);
  while (qpos.node !== 0) {
    lpDecode(m.u8, qpos.node + qpos.off);
    if (bytesEqual(m.u8, ES, EN, c.buf, c.as[3]!, c.al[3]!)) {
      qlInsertAt(m, q, after, c.buf, c.as[4]!, c.al[4]!);
      c.out.int(qlCount(m, q));
      return;
    }
    qlNext(m);
  }
  c.out.int(-1);
};

const lpos: Handler = (c) => {
  let rank = 1;
  let count = -1;
  let maxlen = 0;
  for (let i = 3; i < c.argc; i++) {
    const more = i + 1 < c.argc;
    if (more && c.is(i, 'RANK')) {
      const v = c.int(++i);
      if (v === null) {
        c.out.error(E_NOT_INT);
        return;
      }
      if (v === 0) {
        c.out.error(E_RANK_ZERO);
        return;
      }
      rank = v;
    } else if (more && c.is(i, 'COUNT')) {
      const v = c.int(++i);
      if (v === null || v < 0) {
        c.out.error(v === null ? E_NOT_INT : E_COUNT_NEGATIVE);
        return;
      }
      count = v;
    } else if (more && c.is(i, 'MAXLEN')) {
      const v = c.int(++i);
      if (v === null || v < 0) {
        c.out.error(v === null ? E_NOT_INT : E_MAXLEN_NEGATIVE);
        return;
      }
      maxlen = v;
    } else {
      c.out.error(E_SYNTAX);
      return;
    }
  }
  const a = lookupTyped(c, 1, T_LIST, true);
  if (a < 0) return;
  if (a === 0) {
    if (count >= 0) c.out.constant(R_EMPTY_ARRAY);
    else c.out.nullBulk();
    return;
  }
  const m = c.store.arena;
  const q = valPtr(m, a);
  const len = qlCount(m, q);
  const fromHead = rank > 0;
  let skip = Math.abs(rank) - 1;
  const want = count < 0 ? 1 : count === 0 ? Infinity : count;
  const found = matches;
  found.length = 0;
  if (fromHead) {
    qpos.node = qlHead(m, q);
    qpos.off = lpStart(m, qpos.node);
  } else qlPeekEnd(m, q, false);
  for (let i = 0; qpos.node !== 0 && (maxlen === 0 || i < maxlen) && found.length < want; i++) {
    lpDecode(m.u8, qpos.node + qpos.off);
    if (bytesEqual(m.u8, ES, EN, c.buf, c.as[2]!, c.al[2]!)) {
      if (skip > 0) skip--;
      else found.push(fromHead ? i : len - 1 - i);
    }
    if (fromHead) qlNext(m);
    else qlStepBack(m);
  }
  if (count >= 0) {
    c.out.arrayHeader(found.length);
    for (const x of found) c.out.int(x);
  } else if (found.length === 0) c.out.nullBulk();
  else c.out.int(found[0]!);
};
const matches: number[] = [];

/** LEFT → true, RIGHT → false, anything else null. */
function side(c: Ctx, i: number): boolean | null {
  if (c.is(i, 'LEFT')) return true;
  if (c.is(i, 'RIGHT')) return false;
  return null;
}

/**
 * Moves one element from the source list (argument 1, known to exist) to the destination
 * (argument 2) and replies it; WRONGTYPE when the destination is not a list.
 */
function moveOne(c: Ctx, src: number, fromHead: boolean, toHead: boolean): void {
  const dst = lookupTyped(c, 2, T_LIST, false);
  if (dst < 0) return;
  const m = c.store.arena;
  const q = valPtr(m, src);
  qlPeekEnd(m, q, fromHead);
  const n = EN;
  const b = copyOut(m, ES, n);
  qlDelAt(m, q);
  if (qlCount(m, q) === 0) deleteKey(c, 1);
  let d = c.lookup(2);
  if (d === 0) d = createList(c, 2);
  qlPush(m, valPtr(m, d), toHead, b, 0, n);
  c.out.bulk(b, 0, n);
}

function moveGeneric(c: Ctx, fromHead: boolean, toHead: boolean, timeoutArg: number): void {
  let ms = 0;
  if (timeoutArg > 0 && (ms = parseTimeout(c, timeoutArg)) < 0) return;
  const src = lookupTyped(c, 1, T_LIST, false);
  if (src < 0) return;
  if (src !== 0) moveOne(c, src, fromHead, toHead);
  else if (timeoutArg > 0) blockOn(c, 1, 1, ms, T_LIST);
  else c.out.nullBulk();
}

const lmove: Handler = (c) => {
  const from = side(c, 3);
  const to = side(c, 4);
  if (from === null || to === null) c.out.error(E_SYNTAX);
  else moveGeneric(c, from, to, 0);
};

const rpoplpush: Handler = (c) => moveGeneric(c, false, true, 0);

const blmove: Handler = (c) => {
  const from = side(c, 3);
  const to = side(c, 4);
  if (from === null || to === null) c.out.error(E_SYNTAX);
  else moveGeneric(c, from, to, 5);
};

const brpoplpush: Handler = (c) => moveGeneric(c, false, true, 3);

/** BLPOP/BRPOP key… timeout. */
function bpop(c: Ctx, head: boolean): void {
  const ms = parseTimeout(c, c.argc - 1);
  if (ms < 0) return;
  for (let i = 1; i < c.argc - 1; i++) {
    const a = lookupTyped(c, i, T_LIST, false);
    if (a < 0) return;
    if (a === 0) continue;
    c.out.arrayHeader(2);
    c.out.bulk(c.buf, c.as[i]!, c.al[i]!);
    popInto(c, a, i, head, 1, false);
    return;
  }
  blockOn(c, 1, c.argc - 2, ms, T_LIST);
}

const blpop: Handler = (c) => bpop(c, true);
const brpop: Handler = (c) => bpop(c, false);

/** [B]LMPOP: `first` is the numkeys argument; `ms` < 0 for the non-blocking form. */
function mpop(c: Ctx, first: number, ms: number): void {
  const nk = parseNumkeys(c, first);
  if (nk < 0) return;
  const sideArg = first + 1 + nk;
  if (sideArg >= c.argc) {
    c.out.error(E_SYNTAX);
    return;
  }
  const head = side(c, sideArg);
  if (head === null) {
    c.out.error(E_SYNTAX);
    return;
  }
  let count = 1;
  let i = sideArg + 1;
  if (i < c.argc) {
    if (i + 2 === c.argc && c.is(i, 'COUNT')) {
      const v = c.int(i + 1);
      if (v === null || v <= 0) {
        c.out.error(E_COUNT_NOT_POSITIVE);
        return;
      }
      count = v;
    } else {
      c.out.error(E_SYNTAX);
      return;
    }
  }
  for (i = first + 1; i < sideArg; i++) {
    const a = lookupTyped(c, i, T_LIST, false);
    if (a < 0) return;
    if (a === 0) continue;
    c.out.arrayHeader(2);
    c.out.bulk(c.buf, c.as[i]!, c.al[i]!);
    popInto(c, a, i, head, count, true);
    return;
  }
  if (ms >= 0) blockOn(c, first + 1, sideArg - 1, ms, T_LIST);
  else c.out.nullArray();
}

const lmpop: Handler = (c) => mpop(c, 1, -1);

const blmpop: Handler = (c) => {
  const ms = parseTimeout(c, 1);
  if (ms >= 0) mpop(c, 2, ms);
};

/** Handlers by lower-case command name. */
export const listCommands: Record<string, Handler> = {
  lpush,
  rpush,
  lpushx,
  rpushx,
  lpop,
  rpop,
  llen,
  lindex,
  lset,
  lrange,
  ltrim,
  lrem,
  linsert,
  lpos,
  lmove,
  rpoplpush,
  lmpop,
  blpop,
  brpop,
  blmove,
  brpoplpush,
  blmpop,
};
