/**
 * A stream in the arena (Redis's t_stream.c design, in Sabre's own bytes): a header, an
 * id-table index of nodes keyed by each node's master id, and nodes packing entries as
 * Redis's listpacks do: a master field list taken from the node's first entry, then per
 * entry a flags byte, the ms and seq deltas from the master id, and either the values alone
 * (SAMEFIELDS: the fields equal the master's) or a field count and field/value pairs. All
 * integers are LEB128 varints; strings are a varint length and the bytes. XDEL marks an entry
 * deleted; a node goes when its last live entry does.
 *
 * Header (64 bytes): 0 u8 mark  4 u32 index  8 u32 groups  12 u32 group count  16 f64 length
 *   24 f64 entries added  32 last id  48 max deleted id
 * Node: 0 u8 mark  4 u32 capacity  8 u32 used  12 u32 live  16 u32 entries  20 u32 master fields
 *   24 master id  40 u32 master bytes  48… master fields, then entries
 */
import type { Arena } from './arena.js';
import type { RespWriter } from '../wire/resp-writer.js';
import { INTERNAL_MARK } from './listpack.js';
import { ID, R_TMP3, idCmp, idCmpMem, idCopy, idIncr, idIsZero, idLoad, idSet, idStore, replyId } from './stream-id.js';
import {
  tAfterDelete,
  tBytes,
  tCount,
  tDeleteAt,
  tFirst,
  tFree,
  tInsert,
  tLast,
  tNew,
  tNext,
  tPrev,
  tRec,
  tSeekGE,
  tSeekLE,
} from './id-table.js';

export const SH = 64;
const NH = 48;
/** Index records: the node's master id, then its address. */
const IDX_REC = 24;
export const F_DELETED = 1;
const F_SAME = 2;
const TWO32 = 4294967296;
/** Deltas and sequences a node stores must stay exact in a double. */
const DELTA_LIMIT = 2 ** 48;

// ---- varints ----

/** Value of the varint readVar decoded last. */
let VAR = 0;

function readVar(u8: Uint8Array, p: number): number {
  let b = u8[p++]!;
  if (b < 0x80) {
    VAR = b;
    return p;
  }
  let v = b & 0x7f;
  let mul = 128;
  for (;;) {
    b = u8[p++]!;
    v += (b & 0x7f) * mul;
    if (b < 0x80) break;
    mul *= 128;
  }
  VAR = v;
  return p;
}

function varSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeVar(u8: Uint8Array, p: number, v: number): number {
  while (v >= 128) {
    u8[p++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  u8[p++] = v;
  return p;
}

/** Skips a length-prefixed string at p. */
function skipStr(u8: Uint8Array, p: number): number {
  p = readVar(u8, p);
  return p + VAR;
}

// ---- header ----

/** A new empty stream; returns its header. */
export function streamNew(m: Arena): number {
  const idx = tNew(m, IDX_REC);
  const s = m.alloc(SH);
  m.u8.fill(0, s, s + SH);
  m.u8[s] = INTERNAL_MARK;
  m.u32[(s + 4) >>> 2] = idx;
  return s;
}

/** Live entries. */
export function sLength(m: Arena, s: number): number {
  return m.f64[(s + 16) >>> 3]!;
}

/** Entries ever added. */
export function sEntriesAdded(m: Arena, s: number): number {
  return m.f64[(s + 24) >>> 3]!;
}

/** Sets the entries-added counter. */
export function sSetEntriesAdded(m: Arena, s: number, v: number): void {
  m.f64[(s + 24) >>> 3] = v;
}

/** Arena word of the last id. */
export function lastIdWord(s: number): number {
  return (s + 32) >>> 2;
}

/** Arena word of the max deleted id. */
export function maxDelWord(s: number): number {
  return (s + 48) >>> 2;
}

/** Index table of the stream's nodes. */
export function sIndex(m: Arena, s: number): number {
  return m.u32[(s + 4) >>> 2]!;
}

/** First consumer group (0 for none). */
export function sGroups(m: Arena, s: number): number {
  return m.u32[(s + 8) >>> 2]!;
}

/** Number of consumer groups. */
export function sGroupCount(m: Arena, s: number): number {
  return m.u32[(s + 12) >>> 2]!;
}

/** Number of nodes. */
export function sNodeCount(m: Arena, s: number): number {
  return tCount(m, sIndex(m, s));
}

// ---- nodes ----

function nodeOfRec(m: Arena, rec: number): number {
  return m.u32[(rec + 16) >>> 2]!;
}

function newNode(m: Arena, cap: number): number {
  const n = m.alloc(NH + cap);
  m.u8.fill(0, n, n + NH);
  m.u8[n] = INTERNAL_MARK;
  m.u32[(n + 4) >>> 2] = m.blockSize(NH + cap) - NH;
  return n;
}

function freeNode(m: Arena, n: number): void {
  m.free(n, NH + m.u32[(n + 4) >>> 2]!);
}

/** Bytes the stream's entries take (nodes and index). */
function nodesBytes(m: Arena, s: number): number {
  const t = sIndex(m, s);
  let b = tBytes(m, t);
  for (let p = tFirst(m, t); p >= 0; p = tNext(m, t, p)) b += NH + m.u32[(nodeOfRec(m, tRec(m, t, p)) + 4) >>> 2]!;
  return b;
}

/**
 * Appends an entry with id register r and field/value pairs buf[as[i]] (i = from, from+1, …,
 * `pairs` of them). Node limits: `maxBytes` and `maxEntries` (0: none). Updates length, last id
 * and entries added.
 */
export function streamAppend(
  m: Arena,
  s: number,
  r: number,
  buf: Uint8Array,
  as: Int32Array,
  al: Int32Array,
  from: number,
  pairs: number,
  maxBytes: number,
  maxEntries: number,
): void {
  const t = sIndex(m, s);
  const lp = tLast(m, t);
  let node = lp >= 0 ? nodeOfRec(m, tRec(m, t, lp)) : 0;
  let same = false;
  let msDelta = 0;
  let seqDelta = 0;
  const o = r << 2;
  let size = 0;
  if (node !== 0) {
    const u32 = m.u32;
    const w = (node + 24) >>> 2;
    const dHi = ID[o]! - u32[w]!;
    msDelta = dHi * TWO32 + (ID[o + 1]! - u32[w + 1]!);
    const mSeqHi = u32[w + 2]!;
    if (msDelta >= DELTA_LIMIT || mSeqHi >= 0x10000 || ID[o + 2]! >= 0x10000) node = 0;
    else seqDelta = ID[o + 2]! * TWO32 + ID[o + 3]! - (mSeqHi * TWO32 + u32[w + 3]!);
  }
  if (node !== 0) {
    same = sameFields(m, node, buf, as, al, from, pairs);
    size = entryBytes(al, from, pairs, same, msDelta, seqDelta);
    const used = m.u32[(node + 8) >>> 2]!;
    const total = m.u32[(node + 16) >>> 2]!;
    if ((maxBytes > 0 && NH + used + size > maxBytes) || (maxEntries > 0 && total >= maxEntries)) node = 0;
  }
  if (node === 0) {
    if (lp >= 0) shrinkNode(m, t, nodeOfRec(m, tRec(m, t, lp)));
    msDelta = 0;
    seqDelta = 0;
    same = true;
    let mb = varSize(pairs);
    for (let i = 0; i < pairs; i++) mb += varSize(al[from + 2 * i]!) + al[from + 2 * i]!;
    size = entryBytes(al, from, pairs, true, 0, 0);
    const cap = Math.max(mb + size, Math.min(maxBytes > 0 ? maxBytes - NH : 4096, (mb + size) * 4));
    node = newNode(m, cap);
    const u8 = m.u8;
    let p = writeVar(u8, node + NH, pairs);
    for (let i = 0; i < pairs; i++) p = writeStr(u8, p, buf, as[from + 2 * i]!, al[from + 2 * i]!);
    const w = node >>> 2;
    m.u32[w + 2] = mb;
    m.u32[w + 5] = pairs;
    m.u32[w + 10] = mb;
    idStore(r, m.u32, (node + 24) >>> 2);
    const rec = tInsert(m, t, r);
    m.u32[(rec + 16) >>> 2] = node;
  }
  let used = m.u32[(node + 8) >>> 2]!;
  if (used + size > m.u32[(node + 4) >>> 2]!) node = growNode(m, t, node, used + size);
  const u8 = m.u8;
  let p = node + NH + used;
  u8[p++] = same ? F_SAME : 0;
  p = writeVar(u8, p, msDelta);
  p = writeVar(u8, p, seqDelta >= 0 ? seqDelta * 2 : -seqDelta * 2 - 1);
  if (same) {
    for (let i = 0; i < pairs; i++) p = writeStr(u8, p, buf, as[from + 2 * i + 1]!, al[from + 2 * i + 1]!);
  } else {
    p = writeVar(u8, p, pairs);
    for (let i = 0; i < 2 * pairs; i++) p = writeStr(u8, p, buf, as[from + i]!, al[from + i]!);
  }
  used += size;
  const w = node >>> 2;
  m.u32[w + 2] = used;
  m.u32[w + 3]!++;
  m.u32[w + 4]!++;
  m.f64[(s + 16) >>> 3]!++;
  m.f64[(s + 24) >>> 3]!++;
  idStore(r, m.u32, lastIdWord(s));
}

function writeStr(u8: Uint8Array, p: number, src: Uint8Array, s: number, n: number): number {
  p = writeVar(u8, p, n);
  if (n < 32) for (let i = 0; i < n; i++) u8[p + i] = src[s + i]!;
  else u8.set(src.subarray(s, s + n), p);
  return p + n;
}

function entryBytes(al: Int32Array, from: number, pairs: number, same: boolean, msDelta: number, seqDelta: number): number {
  let n = 1 + varSize(msDelta) + varSize(seqDelta >= 0 ? seqDelta * 2 : -seqDelta * 2 - 1);
  if (same) {
    for (let i = 0; i < pairs; i++) n += varSize(al[from + 2 * i + 1]!) + al[from + 2 * i + 1]!;
  } else {
    n += varSize(pairs);
    for (let i = 0; i < 2 * pairs; i++) n += varSize(al[from + i]!) + al[from + i]!;
  }
  return n;
}

function sameFields(m: Arena, node: number, buf: Uint8Array, as: Int32Array, al: Int32Array, from: number, pairs: number): boolean {
  if (m.u32[(node + 20) >>> 2] !== pairs) return false;
  const u8 = m.u8;
  let p = readVar(u8, node + NH);
  for (let i = 0; i < pairs; i++) {
    p = readVar(u8, p);
    const n = VAR;
    if (n !== al[from + 2 * i]) return false;
    const s = as[from + 2 * i]!;
    for (let j = 0; j < n; j++) if (u8[p + j] !== buf[s + j]) return false;
    p += n;
  }
  return true;
}

/** Gives a full node's spare capacity back (it takes no more entries). */
function shrinkNode(m: Arena, t: number, node: number): void {
  const used = m.u32[(node + 8) >>> 2]!;
  const cap = m.u32[(node + 4) >>> 2]!;
  if (m.sameClass(NH + cap, NH + used)) return;
  const n = m.alloc(NH + used);
  m.u8.copyWithin(n, node, node + NH + used);
  m.u32[(n + 4) >>> 2] = used;
  freeNode(m, node);
  relink(m, t, n);
}

/** Points the index record of node n (just moved) at its new address. */
function relink(m: Arena, t: number, n: number): void {
  idLoad(R_TMP3, m.u32, (n + 24) >>> 2);
  m.u32[(tRec(m, t, tSeekLE(m, t, R_TMP3)) + 16) >>> 2] = n;
}

/** Moves a node into a bigger block, fixing its index record; returns the new address. */
function growNode(m: Arena, t: number, node: number, need: number): number {
  const cap = m.u32[(node + 4) >>> 2]!;
  const n = newNode(m, Math.max(need, cap * 2));
  const ncap = m.u32[(n + 4) >>> 2]!;
  m.u8.copyWithin(n, node, node + NH + m.u32[(node + 8) >>> 2]!);
  m.u32[(n + 4) >>> 2] = ncap;
  freeNode(m, node);
  relink(m, t, n);
  return n;
}

// ---- iteration ----

/**
 * Walks a stream's live entries between two id registers, forwards or backwards. next() loads
 * the entry's id into register `cur` and its fields into flags/nf/fp for writeEntry.
 */
export class StreamIter {
  m!: Arena;
  s = 0;
  t = 0;
  pos = -1;
  node = 0;
  /** Forward: address of the next entry to decode; backward: index into offs. */
  p = 0;
  end = 0;
  rev = false;
  lo = 0;
  hi = 0;
  offs = new Int32Array(256);
  oi = 0;
  /** The current entry: its address, flags, field count and first field/value byte. */
  e = 0;
  flags = 0;
  nf = 0;
  fp = 0;
  constructor(readonly cur: number) {}

  /** Starts over stream `s` for ids in [register lo, register hi]. */
  start(m: Arena, s: number, lo: number, hi: number, rev: boolean): void {
    this.m = m;
    this.s = s;
    this.t = sIndex(m, s);
    this.lo = lo;
    this.hi = hi;
    this.rev = rev;
    this.node = 0;
    if (rev) this.pos = tSeekLE(m, this.t, hi);
    else {
      this.pos = tSeekLE(m, this.t, lo);
      if (this.pos < 0) this.pos = tFirst(m, this.t);
    }
    if (this.pos >= 0) this.enter();
  }

  private enter(): void {
    const m = this.m;
    this.node = nodeOfRec(m, tRec(m, this.t, this.pos));
    const n = this.node;
    const start = n + NH + m.u32[(n + 40) >>> 2]!;
    const end = n + NH + m.u32[(n + 8) >>> 2]!;
    if (!this.rev) {
      this.p = start;
      this.end = end;
      return;
    }
    const total = m.u32[(n + 16) >>> 2]!;
    if (this.offs.length < total) this.offs = new Int32Array(total * 2);
    let k = 0;
    for (let a = start; a < end; a = this.skipEntry(a)) this.offs[k++] = a - n;
    this.oi = k;
  }

  /** Address after the entry at a (decodes it into e/flags/nf/fp and register cur). */
  private skipEntry(a: number): number {
    const m = this.m;
    const u8 = m.u8;
    const n = this.node;
    this.e = a;
    const flags = u8[a]!;
    this.flags = flags;
    let p = readVar(u8, a + 1);
    const msDelta = VAR;
    p = readVar(u8, p);
    const z = VAR;
    const seqDelta = z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    const c = this.cur << 2;
    const w = (n + 24) >>> 2;
    const u32 = m.u32;
    if (msDelta === 0) {
      ID[c] = u32[w]!;
      ID[c + 1] = u32[w + 1]!;
    } else {
      const lo = u32[w + 1]! + (msDelta % TWO32);
      const carry = lo >= TWO32 ? 1 : 0;
      ID[c + 1] = lo - carry * TWO32;
      ID[c] = u32[w]! + Math.floor(msDelta / TWO32) + carry;
    }
    if (seqDelta === 0) {
      ID[c + 2] = u32[w + 2]!;
      ID[c + 3] = u32[w + 3]!;
    } else {
      const seq = u32[w + 2]! * TWO32 + u32[w + 3]! + seqDelta;
      ID[c + 2] = Math.floor(seq / TWO32);
      ID[c + 3] = seq >>> 0;
    }
    let nf: number;
    if ((flags & F_SAME) !== 0) nf = m.u32[(n + 20) >>> 2]!;
    else {
      p = readVar(u8, p);
      nf = VAR;
    }
    this.nf = nf;
    this.fp = p;
    const k = (flags & F_SAME) !== 0 ? nf : 2 * nf;
    for (let i = 0; i < k; i++) p = skipStr(u8, p);
    return p;
  }

  /** Moves to the next live entry in range; false at the end. */
  next(): boolean {
    const m = this.m;
    while (this.pos >= 0) {
      if (!this.rev) {
        while (this.p < this.end) {
          this.p = this.skipEntry(this.p);
          if (idCmp(this.cur, this.hi) > 0) {
            this.pos = -1;
            return false;
          }
          if ((this.flags & F_DELETED) === 0 && idCmp(this.cur, this.lo) >= 0) return true;
        }
        this.pos = tNext(m, this.t, this.pos);
      } else {
        while (this.oi > 0) {
          this.skipEntry(this.node + this.offs[--this.oi]!);
          if (idCmp(this.cur, this.lo) < 0) {
            this.pos = -1;
            return false;
          }
          if ((this.flags & F_DELETED) === 0 && idCmp(this.cur, this.hi) <= 0) return true;
        }
        this.pos = tPrev(m, this.t, this.pos);
      }
      if (this.pos >= 0) this.enter();
    }
    return false;
  }

  /** Marks the current entry deleted (the iterator may go on); updates the node and stream counts. */
  deleteCurrent(): void {
    const m = this.m;
    m.u8[this.e] = this.flags | F_DELETED;
    this.flags |= F_DELETED;
    const n = this.node;
    m.f64[(this.s + 16) >>> 3]!--;
    if (--m.u32[(n + 12) >>> 2]! === 0) {
      // The node's last live entry: drop the node, and go on from its neighbour.
      const pos = this.pos;
      tDeleteAt(m, this.t, pos);
      freeNode(m, n);
      this.oi = 0;
      this.p = this.end = 0;
      this.pos = this.rev ? tPrev(m, this.t, pos) : tAfterDelete(m, this.t, pos);
      if (this.pos >= 0) this.enter();
    }
  }

  /** Writes the current entry as Redis replies it: [id, [field, value, …]]. */
  writeEntry(out: RespWriter): void {
    out.arrayHeader(2);
    replyId(out, this.cur);
    this.writeFields(out);
  }

  /** Writes the current entry's field/value array. */
  writeFields(out: RespWriter): void {
    const m = this.m;
    const u8 = m.u8;
    const nf = this.nf;
    out.arrayHeader(nf * 2);
    let p = this.fp;
    if ((this.flags & F_SAME) !== 0) {
      let f = readVar(u8, this.node + NH);
      for (let i = 0; i < nf; i++) {
        f = readVar(u8, f);
        out.bulk(u8, f, VAR);
        f += VAR;
        p = readVar(u8, p);
        out.bulk(u8, p, VAR);
        p += VAR;
      }
    } else {
      for (let i = 0; i < 2 * nf; i++) {
        p = readVar(u8, p);
        out.bulk(u8, p, VAR);
        p += VAR;
      }
    }
  }

  /** Calls fn(fieldAddr, fieldLen, valueAddr, valueLen) for each field of the current entry. */
  eachField(fn: (fs: number, fn: number, vs: number, vn: number) => void): void {
    const u8 = this.m.u8;
    let p = this.fp;
    let f = 0;
    const same = (this.flags & F_SAME) !== 0;
    if (same) f = readVar(u8, this.node + NH);
    for (let i = 0; i < this.nf; i++) {
      let fs: number;
      let fl: number;
      if (same) {
        f = readVar(u8, f);
        fs = f;
        fl = VAR;
        f += VAR;
      } else {
        p = readVar(u8, p);
        fs = p;
        fl = VAR;
        p += VAR;
      }
      p = readVar(u8, p);
      fn(fs, fl, p, VAR);
      p += VAR;
    }
  }
}

const it = new StreamIter(R_TMP3);

/** First live entry id into register r; false when the stream is empty. */
export function streamFirstId(m: Arena, s: number, r: number): boolean {
  idSet(R_TMP3 + 1, 0, 0, 0, 0);
  idSet(R_TMP3 + 2, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff);
  it.start(m, s, R_TMP3 + 1, R_TMP3 + 2, false);
  if (!it.next()) {
    idSet(r, 0, 0, 0, 0);
    return false;
  }
  idCopy(r, R_TMP3);
  return true;
}

/** Last live entry id into register r; false when the stream is empty. */
export function streamLastLiveId(m: Arena, s: number, r: number): boolean {
  idSet(R_TMP3 + 1, 0, 0, 0, 0);
  idSet(R_TMP3 + 2, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff);
  it.start(m, s, R_TMP3 + 1, R_TMP3 + 2, true);
  if (!it.next()) {
    idSet(r, 0, 0, 0, 0);
    return false;
  }
  idCopy(r, R_TMP3);
  return true;
}

/**
 * Whether a live entry with an id above register r exists: what XREAD and XREADGROUP `>` decide on. Nothing was ever
 * added above the stream's last id, so that answers most calls; else a forward walk from r stops at the first live
 * entry (the last live id, which Redis compares instead, costs a walk of the whole last node here).
 */
export function streamHasAfter(m: Arena, s: number, r: number): boolean {
  if (idCmpMem(r, m.u32, lastIdWord(s)) >= 0) return false;
  idCopy(R_TMP3 + 1, r);
  idIncr(R_TMP3 + 1);
  idSet(R_TMP3 + 2, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff);
  it.start(m, s, R_TMP3 + 1, R_TMP3 + 2, false);
  return it.next();
}

/** Deletes the entry with id register r; false when it is not there. Updates max deleted id. */
export function streamDelete(m: Arena, s: number, r: number): boolean {
  it.start(m, s, r, r, false);
  if (!it.next()) return false;
  it.deleteCurrent();
  if (idCmpMem(r, m.u32, maxDelWord(s)) > 0) idStore(r, m.u32, maxDelWord(s));
  return true;
}

/**
 * Trims stream `s`: MAXLEN keeps at most `maxlen` entries, MINID (minid true) drops entries
 * below register r. Approximate trims only drop whole nodes, at most `limit` entries (0: no
 * limit). Returns the number of entries dropped.
 */
export function streamTrim(m: Arena, s: number, minid: boolean, maxlen: number, r: number, approx: boolean, limit: number): number {
  const t = sIndex(m, s);
  let removed = 0;
  for (;;) {
    const len = sLength(m, s);
    if (!minid && len <= maxlen) break;
    const pos = tFirst(m, t);
    if (pos < 0) break;
    const node = nodeOfRec(m, tRec(m, t, pos));
    const live = m.u32[(node + 12) >>> 2]!;
    const total = m.u32[(node + 16) >>> 2]!;
    let whole: boolean;
    if (minid) {
      // The whole node goes when its last entry is below the min id.
      idLoad(R_TMP3 + 3, m.u32, (node + 24) >>> 2);
      whole = lastIdOfNode(m, node, R_TMP3 + 3) && idCmp(R_TMP3 + 3, r) < 0;
    } else whole = len - live >= maxlen;
    if (whole) {
      if (limit > 0 && removed + total > limit) break;
      tDeleteAt(m, t, pos);
      freeNode(m, node);
      m.f64[(s + 16) >>> 3] = len - live;
      removed += live;
      continue;
    }
    if (approx) break;
    // Mark entries deleted from the front of the first node until the condition holds.
    idSet(R_TMP3 + 1, 0, 0, 0, 0);
    idSet(R_TMP3 + 2, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff);
    it.start(m, s, R_TMP3 + 1, R_TMP3 + 2, false);
    while (it.next()) {
      if (minid ? idCmp(R_TMP3, r) >= 0 : sLength(m, s) <= maxlen) break;
      it.deleteCurrent();
      removed++;
    }
    break;
  }
  return removed;
}

/** Loads the id of the last entry (live or not) of `node` into register r (which holds its master id). */
function lastIdOfNode(m: Arena, node: number, r: number): boolean {
  const u8 = m.u8;
  const end = node + NH + m.u32[(node + 8) >>> 2]!;
  let a = node + NH + m.u32[(node + 40) >>> 2]!;
  let msDelta = 0;
  let seqDelta = 0;
  const nMaster = m.u32[(node + 20) >>> 2]!;
  while (a < end) {
    const flags = u8[a]!;
    let p = readVar(u8, a + 1);
    msDelta = VAR;
    p = readVar(u8, p);
    seqDelta = VAR % 2 === 0 ? VAR / 2 : -(VAR + 1) / 2;
    let k: number;
    if ((flags & F_SAME) !== 0) k = nMaster;
    else {
      p = readVar(u8, p);
      k = 2 * VAR;
    }
    for (let i = 0; i < k; i++) p = skipStr(u8, p);
    a = p;
  }
  const o = r << 2;
  if (msDelta !== 0) {
    const lo = ID[o + 1]! + (msDelta % TWO32);
    const carry = lo >= TWO32 ? 1 : 0;
    ID[o + 1] = lo - carry * TWO32;
    ID[o] = ID[o]! + Math.floor(msDelta / TWO32) + carry;
  }
  if (seqDelta !== 0) {
    const seq = ID[o + 2]! * TWO32 + ID[o + 3]! + seqDelta;
    ID[o + 2] = Math.floor(seq / TWO32);
    ID[o + 3] = seq >>> 0;
  }
  return true;
}

// ---- consumer groups ----
//
// Group:    0 u8 mark  4 u32 next  8 u32 PEL  12 u32 consumers  16 f64 entries read (-1: unknown)
//           24 last delivered id  40 u32 name length  44… name
// Consumer: 0 u8 mark  4 u32 next  8 u32 PEL  12 u32 name length  16 f64 seen time  24… name
// Group PEL records (32 bytes): id, f64 delivery time, u32 delivery count, u32 consumer.
// Consumer PEL records (16 bytes): id.

export const NACK_REC = 32;
const CPEL_REC = 16;

/** Address of the group named buf[s, s+n), or 0. */
export function findGroup(m: Arena, st: number, buf: Uint8Array, s: number, n: number): number {
  for (let g = sGroups(m, st); g !== 0; g = m.u32[(g + 4) >>> 2]!) if (nameIs(m, g + 40, buf, s, n)) return g;
  return 0;
}

function nameIs(m: Arena, at: number, buf: Uint8Array, s: number, n: number): boolean {
  if (m.u32[at >>> 2] !== n) return false;
  const u8 = m.u8;
  const p = at + 4;
  for (let i = 0; i < n; i++) if (u8[p + i] !== buf[s + i]) return false;
  return true;
}

/** Byte order of two names (for the sorted group and consumer lists). */
function nameCmp(m: Arena, at: number, buf: Uint8Array, s: number, n: number): number {
  const u8 = m.u8;
  const len = m.u32[at >>> 2]!;
  const k = Math.min(len, n);
  for (let i = 0; i < k; i++) {
    const d = u8[at + 4 + i]! - buf[s + i]!;
    if (d !== 0) return d;
  }
  return len - n;
}

/** Creates group buf[s, s+n) with last id register r; returns it. */
export function createGroup(m: Arena, st: number, buf: Uint8Array, s: number, n: number, r: number, entriesRead: number): number {
  const pel = tNew(m, NACK_REC);
  const g = m.alloc(44 + n);
  m.u8.fill(0, g, g + 44);
  m.u8[g] = INTERNAL_MARK;
  m.u32[(g + 8) >>> 2] = pel;
  m.f64[(g + 16) >>> 3] = entriesRead;
  idStore(r, m.u32, (g + 24) >>> 2);
  m.u32[(g + 40) >>> 2] = n;
  m.u8.set(buf.subarray(s, s + n), g + 44);
  linkSorted(m, st + 8, g, 40, buf, s, n);
  m.u32[(st + 12) >>> 2]!++;
  return g;
}

/** Links block `b` into the name-sorted list whose head word is at `headAt` (names at b + nameAt). */
function linkSorted(m: Arena, headAt: number, b: number, nameAt: number, buf: Uint8Array, s: number, n: number): void {
  let prevAt = headAt;
  for (let x = m.u32[headAt >>> 2]!; x !== 0; x = m.u32[(x + 4) >>> 2]!) {
    if (nameCmp(m, x + nameAt, buf, s, n) > 0) break;
    prevAt = x + 4;
  }
  m.u32[(b + 4) >>> 2] = m.u32[prevAt >>> 2]!;
  m.u32[prevAt >>> 2] = b;
}

/** Unlinks block `b` from the list whose head word is at `headAt`. */
function unlink(m: Arena, headAt: number, b: number): void {
  let prevAt = headAt;
  for (let x = m.u32[headAt >>> 2]!; x !== 0; x = m.u32[(x + 4) >>> 2]!) {
    if (x === b) {
      m.u32[prevAt >>> 2] = m.u32[(x + 4) >>> 2]!;
      return;
    }
    prevAt = x + 4;
  }
}

/** Group fields. */
export function gPel(m: Arena, g: number): number {
  return m.u32[(g + 8) >>> 2]!;
}
/** First consumer of a group. */
export function gConsumers(m: Arena, g: number): number {
  return m.u32[(g + 12) >>> 2]!;
}
/** Arena word of a group's last delivered id. */
export function gLastWord(g: number): number {
  return (g + 24) >>> 2;
}
/** A group's entries-read counter (-1: unknown). */
export function gEntriesRead(m: Arena, g: number): number {
  return m.f64[(g + 16) >>> 3]!;
}
/** Sets a group's entries-read counter. */
export function gSetEntriesRead(m: Arena, g: number, v: number): void {
  m.f64[(g + 16) >>> 3] = v;
}
/** Next group in the stream. */
export function gNext(m: Arena, g: number): number {
  return m.u32[(g + 4) >>> 2]!;
}
/** Writes a group's or consumer's name as a bulk string (at = address of its length word). */
export function replyName(m: Arena, out: RespWriter, at: number): void {
  out.bulk(m.u8, at + 4, m.u32[at >>> 2]!);
}
/** Address of a group's name length word. */
export function gNameAt(g: number): number {
  return g + 40;
}
/** A consumer's PEL. */
export function cPel(m: Arena, c: number): number {
  return m.u32[(c + 8) >>> 2]!;
}
/** Next consumer of the group. */
export function cNext(m: Arena, c: number): number {
  return m.u32[(c + 4) >>> 2]!;
}
/** A consumer's seen time (ms). */
export function cSeen(m: Arena, c: number): number {
  return m.f64[(c + 16) >>> 3]!;
}
/** Sets a consumer's seen time. */
export function cSetSeen(m: Arena, c: number, t: number): void {
  m.f64[(c + 16) >>> 3] = t;
}

/** The consumer named buf[s, s+n) of group g, or 0. */
export function findConsumer(m: Arena, g: number, buf: Uint8Array, s: number, n: number): number {
  for (let c = gConsumers(m, g); c !== 0; c = cNext(m, c)) if (consumerNameCmp(m, c, buf, s, n) === 0) return c;
  return 0;
}

/** Creates consumer buf[s, s+n) in group g; returns it. */
export function createConsumer(m: Arena, g: number, buf: Uint8Array, s: number, n: number, now: number): number {
  const pel = tNew(m, CPEL_REC);
  const c = m.alloc(24 + n);
  m.u8.fill(0, c, c + 24);
  m.u8[c] = INTERNAL_MARK;
  m.u32[(c + 8) >>> 2] = pel;
  m.u32[(c + 12) >>> 2] = n;
  m.f64[(c + 16) >>> 3] = now;
  m.u8.set(buf.subarray(s, s + n), c + 16 + 8);
  linkSortedConsumer(m, g, c, buf, s, n);
  return c;
}

function linkSortedConsumer(m: Arena, g: number, c: number, buf: Uint8Array, s: number, n: number): void {
  // Consumer names sit at c + 24 with their length at c + 12: compare through a shifted view.
  let prevAt = g + 12;
  for (let x = m.u32[prevAt >>> 2]!; x !== 0; x = m.u32[(x + 4) >>> 2]!) {
    if (consumerNameCmp(m, x, buf, s, n) > 0) break;
    prevAt = x + 4;
  }
  m.u32[(c + 4) >>> 2] = m.u32[prevAt >>> 2]!;
  m.u32[prevAt >>> 2] = c;
}

function consumerNameCmp(m: Arena, x: number, buf: Uint8Array, s: number, n: number): number {
  const u8 = m.u8;
  const len = m.u32[(x + 12) >>> 2]!;
  const k = Math.min(len, n);
  for (let i = 0; i < k; i++) {
    const d = u8[x + 24 + i]! - buf[s + i]!;
    if (d !== 0) return d;
  }
  return len - n;
}

/** Writes a consumer's name as a bulk string. */
export function replyConsumerName(m: Arena, out: RespWriter, c: number): void {
  out.bulk(m.u8, c + 24, m.u32[(c + 12) >>> 2]!);
}

/** Bytes of a consumer's name and where they start. */
export function consumerName(m: Arena, c: number): [number, number] {
  return [c + 24, m.u32[(c + 12) >>> 2]!];
}

/** Deletes consumer c of group g, dropping its pending entries from the group; returns how many it had. */
export function deleteConsumer(m: Arena, g: number, c: number): number {
  const cp = cPel(m, c);
  const gp = gPel(m, g);
  const n = tCount(m, cp);
  for (let p = tFirst(m, cp); p >= 0; p = tNext(m, cp, p)) {
    idLoad(R_TMP3, m.u32, tRec(m, cp, p) >>> 2);
    const q = tSeekGE(m, gp, R_TMP3);
    if (q >= 0 && idCmpMem(R_TMP3, m.u32, tRec(m, gp, q) >>> 2) === 0) tDeleteAt(m, gp, q);
  }
  unlink(m, g + 12, c);
  tFree(m, cp);
  m.free(c, 24 + m.u32[(c + 12) >>> 2]!);
  return n;
}

/** Deletes group g of stream st. */
export function deleteGroup(m: Arena, st: number, g: number): void {
  unlink(m, st + 8, g);
  m.u32[(st + 12) >>> 2]!--;
  freeGroup(m, g);
}

function freeGroup(m: Arena, g: number): void {
  for (let c = gConsumers(m, g); c !== 0; ) {
    const next = cNext(m, c);
    tFree(m, cPel(m, c));
    m.free(c, 24 + m.u32[(c + 12) >>> 2]!);
    c = next;
  }
  tFree(m, gPel(m, g));
  m.free(g, 44 + m.u32[(g + 40) >>> 2]!);
}

/** Frees a whole stream. */
export function streamFree(m: Arena, s: number): void {
  const t = sIndex(m, s);
  for (let p = tFirst(m, t); p >= 0; p = tNext(m, t, p)) freeNode(m, nodeOfRec(m, tRec(m, t, p)));
  tFree(m, t);
  for (let g = sGroups(m, s); g !== 0; ) {
    const next = gNext(m, g);
    freeGroup(m, g);
    g = next;
  }
  m.free(s, SH);
}

/** Bytes the stream occupies in the arena (MEMORY USAGE). */
export function streamBytes(m: Arena, s: number): number {
  let b = m.blockSize(SH) + nodesBytes(m, s);
  for (let g = sGroups(m, s); g !== 0; g = gNext(m, g)) {
    b += m.blockSize(44 + m.u32[(g + 40) >>> 2]!) + tBytes(m, gPel(m, g));
    for (let c = gConsumers(m, g); c !== 0; c = cNext(m, c)) b += m.blockSize(24 + m.u32[(c + 12) >>> 2]!) + tBytes(m, cPel(m, c));
  }
  return b;
}

/** Whether the stream has deleted entries at or after register r (Redis's streamRangeHasTombstones from r to the end). */
export function hasTombstonesFrom(m: Arena, s: number, r: number, firstReg: number): boolean {
  const md = maxDelWord(s);
  if (sLength(m, s) === 0 || (m.u32[md]! | m.u32[md + 1]! | m.u32[md + 2]! | m.u32[md + 3]!) === 0) return false;
  streamFirstId(m, s, firstReg);
  if (idCmpMem(firstReg, m.u32, md) > 0) return false;
  return idCmpMem(r, m.u32, md) <= 0;
}

/**
 * Redis's streamEstimateDistanceFromFirstEverEntry: the entries-read counter an id stands for,
 * or -1 when it cannot be known. Uses registers firstReg and firstReg + 1.
 */
export function estimateEntriesRead(m: Arena, s: number, r: number, firstReg: number): number {
  const added = sEntriesAdded(m, s);
  if (added === 0) return 0;
  const lw = lastIdWord(s);
  const cmpLast = idCmpMem(r, m.u32, lw);
  if (sLength(m, s) === 0 && cmpLast < 1) return added;
  if (cmpLast === 0) return added;
  if (cmpLast > 0) return -1;
  streamFirstId(m, s, firstReg);
  const cmpFirst = idCmp(r, firstReg);
  idLoad(firstReg + 1, m.u32, maxDelWord(s));
  if (idIsZero(firstReg + 1) || idCmp(firstReg + 1, firstReg) < 0) {
    if (cmpFirst < 0) return added - sLength(m, s);
    if (cmpFirst === 0) return added - sLength(m, s) + 1;
  }
  return -1;
}

/** Deep copy of a stream (COPY); returns the new header. */
export function streamCopy(m: Arena, s: number): number {
  const d = streamNew(m);
  const di = sIndex(m, d);
  m.u8.copyWithin(d + 8, s + 8, s + SH);
  m.u32[(d + 8) >>> 2] = 0;
  m.u32[(d + 12) >>> 2] = 0;
  const t = sIndex(m, s);
  for (let p = tFirst(m, t); p >= 0; p = tNext(m, t, p)) {
    const node = nodeOfRec(m, tRec(m, t, p));
    const size = NH + m.u32[(node + 4) >>> 2]!;
    const n = m.alloc(size);
    m.u8.copyWithin(n, node, node + NH + m.u32[(node + 8) >>> 2]!);
    idLoad(R_TMP3, m.u32, (n + 24) >>> 2);
    const rec = tInsert(m, di, R_TMP3);
    m.u32[(rec + 16) >>> 2] = n;
  }
  const names: number[] = [];
  for (let g = sGroups(m, s); g !== 0; g = gNext(m, g)) names.push(g);
  for (const g of names) {
    const nameLen = m.u32[(g + 40) >>> 2]!;
    const name = m.u8.slice(g + 44, g + 44 + nameLen);
    idLoad(R_TMP3, m.u32, gLastWord(g));
    const ng = createGroup(m, d, name, 0, nameLen, R_TMP3, gEntriesRead(m, g));
    const map = new Map<number, number>();
    const cs: number[] = [];
    for (let c = gConsumers(m, g); c !== 0; c = cNext(m, c)) cs.push(c);
    for (const c of cs) {
      const cn = m.u8.slice(c + 24, c + 24 + m.u32[(c + 12) >>> 2]!);
      const nc = createConsumer(m, ng, cn, 0, cn.length, cSeen(m, c));
      map.set(c, nc);
      const cp = cPel(m, c);
      for (let p = tFirst(m, cp); p >= 0; p = tNext(m, cp, p)) {
        idLoad(R_TMP3, m.u32, tRec(m, cp, p) >>> 2);
        tInsert(m, cPel(m, nc), R_TMP3);
      }
    }
    const gp = gPel(m, g);
    for (let p = tFirst(m, gp); p >= 0; p = tNext(m, gp, p)) {
      const rec = tRec(m, gp, p);
      idLoad(R_TMP3, m.u32, rec >>> 2);
      const time = m.f64[(rec + 16) >>> 3]!;
      const count = m.u32[(rec + 24) >>> 2]!;
      const owner = m.u32[(rec + 28) >>> 2]!;
      const nr = tInsert(m, gPel(m, ng), R_TMP3);
      m.f64[(nr + 16) >>> 3] = time;
      m.u32[(nr + 24) >>> 2] = count;
      m.u32[(nr + 28) >>> 2] = map.get(owner) ?? 0;
    }
  }
  return d;
}
