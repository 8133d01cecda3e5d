/**
 * Big sorted sets: Redis's skiplist with span counts (O(log n) rank, range and insert)
 * whose nodes double as the entries of a field table keyed by member, so a member costs
 * one node block plus a slot — no separate dict entry.
 *
 * Header block Z (aligned): the field-table header, then u32 head node, u32 tail, u32 level.
 * Node: field-table entry header (0..12, key offset 24 + 8·level), 12 u32 backward,
 * 16 f64 score, 24 + 8i u32 forward[i], 28 + 8i u32 span[i], then the member.
 */
import type { Arena } from './arena.js';
import { FT_HEADER, entHeader, ftCount, ftFind, ftFreeSlots, ftHash, ftInit, ftInsert, ftRemove } from './field-table.js';

const MAX_LEVEL = 32;
const ZHEADER = FT_HEADER + 12;
/** Header words after the field table's: head node, tail node, level. */
const ZH = FT_HEADER;
const ZT = FT_HEADER + 4;
const ZL = FT_HEADER + 8;
const update = new Uint32Array(MAX_LEVEL);
const rankAt = new Float64Array(MAX_LEVEL);

/** Creates an empty skiplist sorted set sized for about `n` members; returns its header. */
export function zslNew(m: Arena, n: number): number {
  const z = m.alloc(ZHEADER);
  ftInit(m, z, n);
  const h = newNode(m, MAX_LEVEL, 0, m.u8, 0, 0, 0);
  m.u32[(z + ZH) >>> 2] = h;
  m.u32[(z + ZT) >>> 2] = 0;
  m.u32[(z + ZL) >>> 2] = 1;
  return z;
}

function newNode(m: Arena, level: number, score: number, buf: Uint8Array, s: number, n: number, hv: number): number {
  const ko = 24 + 8 * level;
  const e = m.alloc(ko + n);
  entHeader(m, e, ko, hv, n);
  m.u8[e + 1] = level;
  m.u32[(e + 12) >>> 2] = 0;
  m.f64[(e + 16) >>> 3] = score;
  m.u32.fill(0, (e + 24) >>> 2, (e + ko) >>> 2);
  // buf may be the arena itself, whose views were re-made by alloc: re-read.
  const src = buf.buffer === m.sab ? m.u8 : buf;
  for (let i = 0; i < n; i++) m.u8[e + ko + i] = src[s + i]!;
  return e;
}

function nodeSize(m: Arena, e: number): number {
  return 24 + 8 * m.u8[e + 1]! + m.u32[(e + 8) >>> 2]!;
}

/** Number of members. */
export function zslLen(m: Arena, z: number): number {
  return ftCount(m, z);
}

/** Score of a node. */
export function nodeScore(m: Arena, e: number): number {
  return m.f64[(e + 16) >>> 3]!;
}

/** Member address of a node. */
export function nodeMember(m: Arena, e: number): number {
  return e + 24 + 8 * m.u8[e + 1]!;
}

/** Member length of a node. */
export function nodeMemberLen(m: Arena, e: number): number {
  return m.u32[(e + 8) >>> 2]!;
}

/** Next node at level 0, or 0. */
export function nodeNext(m: Arena, e: number): number {
  return m.u32[(e + 24) >>> 2]!;
}

/** Previous node, or 0. */
export function nodePrev(m: Arena, e: number): number {
  return m.u32[(e + 12) >>> 2]!;
}

/** First node, or 0. */
export function zslFirst(m: Arena, z: number): number {
  return m.u32[(m.u32[(z + ZH) >>> 2]! + 24) >>> 2]!;
}

/** Last node, or 0. */
export function zslLast(m: Arena, z: number): number {
  return m.u32[(z + ZT) >>> 2]!;
}

/** memcmp-then-length order of two byte spans (Redis's sdscmp). */
export function cmpBytes(a: Uint8Array, as: number, an: number, b: Uint8Array, bs: number, bn: number): number {
  const n = an < bn ? an : bn;
  for (let i = 0; i < n; i++) {
    const d = a[as + i]! - b[bs + i]!;
    if (d !== 0) return d;
  }
  return an - bn;
}

/** Node e orders before (score, member). */
function before(m: Arena, e: number, score: number, buf: Uint8Array, s: number, n: number): boolean {
  const sc = m.f64[(e + 16) >>> 3]!;
  if (sc !== score) return sc < score;
  return cmpBytes(m.u8, nodeMember(m, e), m.u32[(e + 8) >>> 2]!, buf, s, n) < 0;
}

function fwd(m: Arena, e: number, i: number): number {
  return m.u32[(e + 24 + 8 * i) >>> 2]!;
}

function span(m: Arena, e: number, i: number): number {
  return m.u32[(e + 28 + 8 * i) >>> 2]!;
}

function randomLevel(): number {
  let l = 1;
  while (l < MAX_LEVEL && Math.random() < 0.25) l++;
  return l;
}

/** Links node e (its level and score already set) into the list at its place. */
function link(m: Arena, z: number, e: number): void {
  const u32 = m.u32;
  const head = u32[(z + ZH) >>> 2]!;
  let level = u32[(z + ZL) >>> 2]!;
  const score = nodeScore(m, e);
  const ms = nodeMember(m, e);
  const mn = nodeMemberLen(m, e);
  const u8 = m.u8;
  let x = head;
  for (let i = level - 1; i >= 0; i--) {
    rankAt[i] = i === level - 1 ? 0 : rankAt[i + 1]!;
    let f = fwd(m, x, i);
    while (f !== 0 && before(m, f, score, u8, ms, mn)) {
      rankAt[i]! += span(m, x, i);
      x = f;
      f = fwd(m, x, i);
    }
    update[i] = x;
  }
  const lvl = m.u8[e + 1]!;
  const len = ftCount(m, z);
  if (lvl > level) {
    for (let i = level; i < lvl; i++) {
      rankAt[i] = 0;
      update[i] = head;
      u32[(head + 28 + 8 * i) >>> 2] = len;
    }
    level = lvl;
    u32[(z + ZL) >>> 2] = level;
  }
  for (let i = 0; i < lvl; i++) {
    const u = update[i]!;
    u32[(e + 24 + 8 * i) >>> 2] = fwd(m, u, i);
    u32[(u + 24 + 8 * i) >>> 2] = e;
    const us = span(m, u, i);
    const d = rankAt[0]! - rankAt[i]!;
    u32[(e + 28 + 8 * i) >>> 2] = us - d;
    u32[(u + 28 + 8 * i) >>> 2] = d + 1;
  }
  for (let i = lvl; i < level; i++) u32[(update[i]! + 28 + 8 * i) >>> 2]!++;
  const b = update[0] === head ? 0 : update[0]!;
  u32[(e + 12) >>> 2] = b;
  const f0 = fwd(m, e, 0);
  if (f0 !== 0) u32[(f0 + 12) >>> 2] = e;
  else u32[(z + ZT) >>> 2] = e;
}

/** Unlinks node e from the list (its table entry stays). */
function unlink(m: Arena, z: number, e: number): void {
  const u32 = m.u32;
  const head = u32[(z + ZH) >>> 2]!;
  let level = u32[(z + ZL) >>> 2]!;
  const score = nodeScore(m, e);
  const ms = nodeMember(m, e);
  const mn = nodeMemberLen(m, e);
  let x = head;
  for (let i = level - 1; i >= 0; i--) {
    let f = fwd(m, x, i);
    while (f !== 0 && f !== e && before(m, f, score, m.u8, ms, mn)) {
      x = f;
      f = fwd(m, x, i);
    }
    update[i] = x;
  }
  for (let i = 0; i < level; i++) {
    const u = update[i]!;
    if (fwd(m, u, i) === e) {
      u32[(u + 28 + 8 * i) >>> 2] = span(m, u, i) + span(m, e, i) - 1;
      u32[(u + 24 + 8 * i) >>> 2] = fwd(m, e, i);
    } else {
      u32[(u + 28 + 8 * i) >>> 2] = span(m, u, i) - 1;
    }
  }
  const f0 = fwd(m, e, 0);
  if (f0 !== 0) u32[(f0 + 12) >>> 2] = u32[(e + 12) >>> 2]!;
  else u32[(z + ZT) >>> 2] = u32[(e + 12) >>> 2]!;
  while (level > 1 && fwd(m, head, level - 1) === 0) level--;
  u32[(z + ZL) >>> 2] = level;
}

/** Inserts a member known to be absent; returns its node. */
export function zslInsert(m: Arena, z: number, score: number, buf: Uint8Array, s: number, n: number, hv: number): number {
  const e = newNode(m, randomLevel(), score, buf, s, n, hv);
  link(m, z, e);
  ftInsert(m, z, e);
  return e;
}

/** Finds a member's node, or 0. */
export function zslFind(m: Arena, z: number, buf: Uint8Array, s: number, n: number): number {
  return ftFind(m, z, buf, s, n, ftHash(buf, s, n));
}

/** Removes and frees a node. */
export function zslDelete(m: Arena, z: number, e: number): void {
  unlink(m, z, e);
  ftRemove(m, z, e);
  m.free(e, nodeSize(m, e));
}

/** Changes a node's score, moving it only when its order changes. */
export function zslUpdateScore(m: Arena, z: number, e: number, score: number): void {
  const p = nodePrev(m, e);
  const f = nodeNext(m, e);
  const ms = nodeMember(m, e);
  const mn = nodeMemberLen(m, e);
  if ((p === 0 || before(m, p, score, m.u8, ms, mn)) && (f === 0 || !before(m, f, score, m.u8, ms, mn))) {
    m.f64[(e + 16) >>> 3] = score;
    return;
  }
  unlink(m, z, e);
  m.f64[(e + 16) >>> 3] = score;
  link(m, z, e);
}

/** 1-based rank of a node. */
export function zslRank(m: Arena, z: number, e: number): number {
  const score = nodeScore(m, e);
  const ms = nodeMember(m, e);
  const mn = nodeMemberLen(m, e);
  let x = m.u32[(z + ZH) >>> 2]!;
  let rank = 0;
  for (let i = m.u32[(z + ZL) >>> 2]! - 1; i >= 0; i--) {
    let f = fwd(m, x, i);
    while (f !== 0 && (f === e || before(m, f, score, m.u8, ms, mn))) {
      rank += span(m, x, i);
      x = f;
      if (x === e) return rank;
      f = fwd(m, x, i);
    }
  }
  return rank;
}

/** Node at a 1-based rank, or 0. */
export function zslByRank(m: Arena, z: number, rank: number): number {
  let x = m.u32[(z + ZH) >>> 2]!;
  let traversed = 0;
  for (let i = m.u32[(z + ZL) >>> 2]! - 1; i >= 0; i--) {
    let f = fwd(m, x, i);
    while (f !== 0 && traversed + span(m, x, i) <= rank) {
      traversed += span(m, x, i);
      x = f;
      f = fwd(m, x, i);
    }
    if (traversed === rank) return x;
  }
  return 0;
}

/** Score range bound test: value `v` is above the minimum. */
export function gteMin(v: number, min: number, minex: boolean): boolean {
  return minex ? v > min : v >= min;
}

/** Value `v` is below the maximum. */
export function lteMax(v: number, max: number, maxex: boolean): boolean {
  return maxex ? v < max : v <= max;
}

/** First node whose score is within the minimum, or 0. */
export function zslFirstGe(m: Arena, z: number, min: number, minex: boolean): number {
  let x = m.u32[(z + ZH) >>> 2]!;
  for (let i = m.u32[(z + ZL) >>> 2]! - 1; i >= 0; i--) {
    let f = fwd(m, x, i);
    while (f !== 0 && !gteMin(nodeScore(m, f), min, minex)) {
      x = f;
      f = fwd(m, x, i);
    }
  }
  return fwd(m, x, 0);
}

/** Last node whose score is within the maximum, or 0. */
export function zslLastLe(m: Arena, z: number, max: number, maxex: boolean): number {
  let x = m.u32[(z + ZH) >>> 2]!;
  for (let i = m.u32[(z + ZL) >>> 2]! - 1; i >= 0; i--) {
    let f = fwd(m, x, i);
    while (f !== 0 && lteMax(nodeScore(m, f), max, maxex)) {
      x = f;
      f = fwd(m, x, i);
    }
  }
  return x === m.u32[(z + ZH) >>> 2] ? 0 : x;
}

/** A lex range bound: kind -1 = "-", 1 = "+", 0 = bytes (inclusive unless ex). */
export interface LexBound {
  kind: number;
  ex: boolean;
  buf: Uint8Array;
  s: number;
  n: number;
}

/** Member bytes at (u8, s, n) are at or above the lex minimum. */
export function lexGteMin(u8: Uint8Array, s: number, n: number, b: LexBound): boolean {
  if (b.kind !== 0) return b.kind < 0;
  const c = cmpBytes(u8, s, n, b.buf, b.s, b.n);
  return b.ex ? c > 0 : c >= 0;
}

/** Member bytes are at or below the lex maximum. */
export function lexLteMax(u8: Uint8Array, s: number, n: number, b: LexBound): boolean {
  if (b.kind !== 0) return b.kind > 0;
  const c = cmpBytes(u8, s, n, b.buf, b.s, b.n);
  return b.ex ? c < 0 : c <= 0;
}

/** First node within the lex minimum, or 0. */
export function zslFirstLex(m: Arena, z: number, min: LexBound): number {
  let x = m.u32[(z + ZH) >>> 2]!;
  for (let i = m.u32[(z + ZL) >>> 2]! - 1; i >= 0; i--) {
    let f = fwd(m, x, i);
    while (f !== 0 && !lexGteMin(m.u8, nodeMember(m, f), nodeMemberLen(m, f), min)) {
      x = f;
      f = fwd(m, x, i);
    }
  }
  return fwd(m, x, 0);
}

/** Last node within the lex maximum, or 0. */
export function zslLastLex(m: Arena, z: number, max: LexBound): number {
  let x = m.u32[(z + ZH) >>> 2]!;
  for (let i = m.u32[(z + ZL) >>> 2]! - 1; i >= 0; i--) {
    let f = fwd(m, x, i);
    while (f !== 0 && lexLteMax(m.u8, nodeMember(m, f), nodeMemberLen(m, f), max)) {
      x = f;
      f = fwd(m, x, i);
    }
  }
  return x === m.u32[(z + ZH) >>> 2] ? 0 : x;
}

/** Frees every node, the table and the header. */
export function zslFree(m: Arena, z: number): void {
  let x = m.u32[(z + ZH) >>> 2]!;
  while (x !== 0) {
    const next = fwd(m, x, 0);
    m.free(x, nodeSize(m, x));
    x = next;
  }
  ftFreeSlots(m, z);
  m.free(z, ZHEADER);
}
