/**
 * Lists: a doubly linked chain of listpack nodes (Redis's quicklist). Push and pop touch
 * only the end nodes; indexing walks whole nodes by their counts from the nearer end.
 *
 * Header block (aligned, 24 bytes): 0 u8 0xFE, 4 u32 head node, 8 u32 tail node,
 * 12 u32 element count, 16 u32 node count. Node links live in the listpack header.
 * Source bytes passed in must not lie in the arena (an insert may move it).
 */
import type { Arena } from './arena.js';
import {
  INTERNAL_MARK,
  LP_FIRST,
  entrySize,
  lpDecode,
  lpStart,
  lpDelete,
  lpEnd,
  lpFree,
  lpInsert,
  lpNew,
  lpPrev,
  lpReplace,
} from './listpack.js';
import { dtConfig } from './dt-config.js';

const QHEADER = 24;

/** A position in a list: node address and entry offset within it (set by qlSeek and walks). */
export const qpos = { node: 0, off: 0 };

/** Creates an empty list; returns its header. */
export function qlNew(m: Arena): number {
  const q = m.alloc(QHEADER);
  m.u8[q] = INTERNAL_MARK;
  m.u32.fill(0, (q + 4) >>> 2, (q + QHEADER) >>> 2);
  return q;
}

/** Element count. */
export function qlCount(m: Arena, q: number): number {
  return m.u32[(q + 12) >>> 2]!;
}

/** First node (0 when empty). */
export function qlHead(m: Arena, q: number): number {
  return m.u32[(q + 4) >>> 2]!;
}

/** Last node. */
export function qlTail(m: Arena, q: number): number {
  return m.u32[(q + 8) >>> 2]!;
}

/** Next node of a node. */
export function nodeNext(m: Arena, n: number): number {
  return m.u32[(n + 20) >>> 2]!;
}

/** Previous node of a node. */
export function nodePrev(m: Arena, n: number): number {
  return m.u32[(n + 16) >>> 2]!;
}

/** Frees the whole list. */
export function qlFree(m: Arena, q: number): void {
  let n = qlHead(m, q);
  while (n !== 0) {
    const next = nodeNext(m, n);
    lpFree(m, n);
    n = next;
  }
  m.free(q, QHEADER);
}

/** Points the neighbours of a node that moved from `old` to `now` at its new address. */
function relink(m: Arena, q: number, old: number, now: number): void {
  if (old === now) return;
  const p = nodePrev(m, now);
  const n = nodeNext(m, now);
  if (p !== 0) m.u32[(p + 20) >>> 2] = now;
  else m.u32[(q + 4) >>> 2] = now;
  if (n !== 0) m.u32[(n + 16) >>> 2] = now;
  else m.u32[(q + 8) >>> 2] = now;
}

/** Whether a node can take one more entry of `n` bytes under list-max-listpack-size. */
function fits(m: Arena, node: number, n: number): boolean {
  const cnt = m.u32[(node + 4) >>> 2]!;
  if (cnt === 0) return true;
  const lim = dtConfig.listMaxListpackSize;
  if (lim > 0) return cnt < lim;
  // The size limit counts the node's header too, so a full node fills one 2^k block exactly.
  return LP_FIRST + m.u32[(node + 8) >>> 2]! + entrySize(n) <= 4096 << (-lim - 1);
}

/** Inserts a new empty node after `after` (0 = at the head); returns it. */
function addNode(m: Arena, q: number, after: number, cap: number): number {
  const node = lpNew(m, cap);
  const next = after === 0 ? qlHead(m, q) : nodeNext(m, after);
  m.u32[(node + 16) >>> 2] = after;
  m.u32[(node + 20) >>> 2] = next;
  if (after !== 0) m.u32[(after + 20) >>> 2] = node;
  else m.u32[(q + 4) >>> 2] = node;
  if (next !== 0) m.u32[(next + 16) >>> 2] = node;
  else m.u32[(q + 8) >>> 2] = node;
  m.u32[(q + 16) >>> 2]!++;
  return node;
}

function dropNode(m: Arena, q: number, node: number): void {
  const p = nodePrev(m, node);
  const n = nodeNext(m, node);
  if (p !== 0) m.u32[(p + 20) >>> 2] = n;
  else m.u32[(q + 4) >>> 2] = n;
  if (n !== 0) m.u32[(n + 16) >>> 2] = p;
  else m.u32[(q + 8) >>> 2] = p;
  m.u32[(q + 16) >>> 2]!--;
  lpFree(m, node);
}

/** Pushes an element at the head or the tail. */
export function qlPush(m: Arena, q: number, head: boolean, buf: Uint8Array, s: number, n: number): void {
  let node = head ? qlHead(m, q) : qlTail(m, q);
  if (node === 0 || !fits(m, node, n)) node = addNode(m, q, head ? 0 : node, Math.min(entrySize(n) * 4, 8192));
  const moved = lpInsert(m, node, head ? lpStart(m, node) : lpEnd(m, node), buf, s, n);
  relink(m, q, node, moved);
  m.u32[(q + 12) >>> 2]!++;
}

/** Decodes the head or tail element into ES/EN (the list must not be empty); sets qpos. */
export function qlPeekEnd(m: Arena, q: number, head: boolean): void {
  const node = head ? qlHead(m, q) : qlTail(m, q);
  qpos.node = node;
  qpos.off = head ? lpStart(m, node) : lpPrev(m.u8, node + lpEnd(m, node)) - node;
  lpDecode(m.u8, node + qpos.off);
}

/**
 * Deletes the element at qpos. Afterwards qpos names the element that followed it
 * (node 0 at the end of the list).
 */
export function qlDelAt(m: Arena, q: number): void {
  const node = qpos.node;
  const rel = qpos.off - lpStart(m, node);
  lpDelete(m, node, qpos.off, 1);
  m.u32[(q + 12) >>> 2]!--;
  if (m.u32[(node + 4) >>> 2] === 0) {
    const next = nodeNext(m, node);
    dropNode(m, q, node);
    qpos.node = next;
    if (next !== 0) qpos.off = lpStart(m, next);
    return;
  }
  qpos.off = lpStart(m, node) + rel;
  if (qpos.off >= lpEnd(m, node)) {
    qpos.node = nodeNext(m, node);
    if (qpos.node !== 0) qpos.off = lpStart(m, qpos.node);
  }
}

/** Moves qpos to a 0-based index (from the nearer end) and decodes it; false when out of range. */
export function qlSeek(m: Arena, q: number, index: number): boolean {
  const count = qlCount(m, q);
  if (index < 0 || index >= count) return false;
  const u8 = m.u8;
  if (index < count / 2) {
    let node = qlHead(m, q);
    let i = index;
    while (i >= m.u32[(node + 4) >>> 2]!) {
      i -= m.u32[(node + 4) >>> 2]!;
      node = nodeNext(m, node);
    }
    let a = node + lpStart(m, node);
    while (i-- > 0) a = lpDecode(u8, a);
    qpos.node = node;
    qpos.off = a - node;
  } else {
    let node = qlTail(m, q);
    let i = count - 1 - index;
    while (i >= m.u32[(node + 4) >>> 2]!) {
      i -= m.u32[(node + 4) >>> 2]!;
      node = nodePrev(m, node);
    }
    let a = node + lpEnd(m, node);
    a = lpPrev(u8, a);
    while (i-- > 0) a = lpPrev(u8, a);
    qpos.node = node;
    qpos.off = a - node;
  }
  lpDecode(u8, qpos.node + qpos.off);
  return true;
}

/** Decodes the element at qpos into ES/EN and advances qpos to the next one (node 0 at the end). */
export function qlNext(m: Arena): void {
  const node = qpos.node;
  const next = lpDecode(m.u8, node + qpos.off) - node;
  if (next >= lpEnd(m, node)) {
    qpos.node = nodeNext(m, node);
    if (qpos.node !== 0) qpos.off = lpStart(m, qpos.node);
  } else qpos.off = next;
}

/** Moves qpos to the previous element (node 0 before the head). */
export function qlStepBack(m: Arena): void {
  const node = qpos.node;
  if (qpos.off > lpStart(m, node)) {
    qpos.off = lpPrev(m.u8, node + qpos.off) - node;
    return;
  }
  const p = nodePrev(m, node);
  qpos.node = p;
  if (p !== 0) qpos.off = lpPrev(m.u8, p + lpEnd(m, p)) - p;
}

/** Inserts an element before (or after) the element at qpos. */
export function qlInsertAt(m: Arena, q: number, after: boolean, buf: Uint8Array, s: number, n: number): void {
  const node = qpos.node;
  let off = qpos.off;
  if (after) off = lpDecode(m.u8, node + off) - node;
  const first = off === lpStart(m, node);
  if (!fits(m, node, n) && (first || off === lpEnd(m, node))) {
    // Full node: a new node at that edge keeps nodes bounded for pushes near the middle too.
    const nn = addNode(m, q, first ? nodePrev(m, node) : node, entrySize(n) * 2);
    const moved = lpInsert(m, nn, LP_FIRST, buf, s, n);
    relink(m, q, nn, moved);
  } else {
    const moved = lpInsert(m, node, off, buf, s, n);
    relink(m, q, node, moved);
  }
  m.u32[(q + 12) >>> 2]!++;
}

/** Replaces the element at qpos. */
export function qlReplaceAt(m: Arena, q: number, buf: Uint8Array, s: number, n: number): void {
  const node = qpos.node;
  const moved = lpReplace(m, node, qpos.off, buf, s, n);
  relink(m, q, node, moved);
  qpos.node = moved;
}

/** Deletes `k` elements (at most the length) from the head or the tail, whole nodes at a time. */
export function qlTrim(m: Arena, q: number, head: boolean, k: number): void {
  while (k > 0) {
    const node = head ? qlHead(m, q) : qlTail(m, q);
    const cnt = m.u32[(node + 4) >>> 2]!;
    if (cnt <= k) {
      dropNode(m, q, node);
      m.u32[(q + 12) >>> 2]! -= cnt;
      k -= cnt;
      continue;
    }
    if (head) lpDelete(m, node, lpStart(m, node), k);
    else {
      let a = node + lpStart(m, node);
      for (let i = 0; i < cnt - k; i++) a = lpDecode(m.u8, a);
      lpDelete(m, node, a - node, k);
    }
    m.u32[(q + 12) >>> 2]! -= k;
    k = 0;
  }
}
