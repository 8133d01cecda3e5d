/** Stream commands (Redis's t_stream.c): entries, trimming, reads (blocking too) and consumer groups. */
import type { Ctx, Handler } from './context.js';
import type { RespWriter } from '../wire/resp-writer.js';
import { R_OK } from '../wire/resp-writer.js';
import { T_STREAM } from './record.js';
import { ENC_STREAM, createCollection, lookupTyped, valPtr, wrongArgs } from './value.js';
import { blockOn, serving, signalStream } from './blocking.js';
import { notifyStream } from './notify.js';
import { dtConfig } from './dt-config.js';
import { E_GROUP_GONE, E_NOT_INT, E_SYNTAX, subcommandSyntaxError } from '../wire/error-text.js';
import {
  ID,
  R_A,
  R_B,
  R_C,
  R_CUR,
  R_CUR2,
  R_D,
  R_TMP,
  idCmp,
  idCmpMem,
  idCopy,
  idDecr,
  idIncr,
  idIsMax,
  idIsZero,
  idLoad,
  idMs,
  idSet,
  idSetNum,
  idStore,
  parseId,
  parsed,
  replyId,
} from './stream-id.js';
import {
  StreamIter,
  cNext,
  cPel,
  cSeen,
  cSetSeen,
  createConsumer,
  createGroup,
  deleteConsumer,
  deleteGroup,
  estimateEntriesRead,
  findConsumer,
  findGroup,
  gConsumers,
  gEntriesRead,
  gLastWord,
  gNameAt,
  gNext,
  gPel,
  gSetEntriesRead,
  hasTombstonesFrom,
  lastIdWord,
  maxDelWord,
  replyConsumerName,
  replyName,
  sEntriesAdded,
  sGroupCount,
  sGroups,
  sLength,
  sNodeCount,
  sSetEntriesAdded,
  streamAppend,
  streamDelete,
  streamFirstId,
  streamHasAfter,
  streamLastLiveId,
  streamNew,
  streamTrim,
} from './stream.js';
import { tCount, tDelete, tFind, tFirst, tInsert, tLast, tNext, tRec, tSeekGE } from './id-table.js';

const E_INVALID_ID = 'ERR Invalid stream ID specified as stream command argument';
const E_XADD_SMALLER = 'ERR The ID specified in XADD is equal or smaller than the target stream top item';
const E_XADD_ZERO = 'ERR The ID specified in XADD must be greater than 0-0';
const E_EXHAUSTED = 'ERR The stream has exhausted the last possible ID, unable to add more items';
const E_MAXLEN = 'ERR The MAXLEN argument must be >= 0.';
const E_LIMIT = 'ERR The LIMIT argument must be >= 0.';
const E_LIMIT_NO_APPROX = 'ERR syntax error, LIMIT cannot be used without the special ~ option';
const E_LIMIT_NO_STRATEGY = 'ERR syntax error, LIMIT cannot be used without specifying a trimming strategy';
const E_MAXLEN_MINID = 'ERR syntax error, MAXLEN and MINID options at the same time are not compatible';
const E_START_INTERVAL = 'ERR invalid start ID for the interval';
const E_END_INTERVAL = 'ERR invalid end ID for the interval';
const E_NEED_KEY =
  'ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.';
const E_BUSYGROUP = 'BUSYGROUP Consumer Group name already exists';
const E_ENTRIESREAD = 'ERR value for ENTRIESREAD must be positive or -1';

const it = new StreamIter(R_CUR);
const it2 = new StreamIter(R_CUR2);

/** The stream header of key argument `i`: 0 when absent, -1 after replying WRONGTYPE. */
function lookupStream(c: Ctx, i: number, read: boolean): number {
  const a = lookupTyped(c, i, T_STREAM, read);
  return a <= 0 ? a : valPtr(c.store.arena, a);
}

function createStream(c: Ctx, i: number): number {
  const m = c.store.arena;
  const s = streamNew(m);
  createCollection(c.store, c.db, c.buf, c.as[i]!, c.al[i]!, T_STREAM, ENC_STREAM, s);
  return s;
}

/** Parses argument i as an id into register r; false after replying the error. */
function argId(c: Ctx, i: number, r: number, maxSeq: boolean, strict: boolean): boolean {
  if (parseId(c.buf, c.as[i]!, c.al[i]!, r, maxSeq, strict, false)) return true;
  c.out.error(E_INVALID_ID);
  return false;
}

/** A range bound with Redis's `(` exclusive form: into register r; false after replying. */
function argIntervalId(c: Ctx, i: number, r: number, end: boolean): boolean {
  const s = c.as[i]!;
  const n = c.al[i]!;
  if (n > 1 && c.buf[s] === 40) {
    if (!parseId(c.buf, s + 1, n - 1, r, end, true, false)) {
      c.out.error(E_INVALID_ID);
      return false;
    }
    if (end ? !idDecr(r) : !idIncr(r)) {
      c.out.error(end ? E_END_INTERVAL : E_START_INTERVAL);
      return false;
    }
    return true;
  }
  return argId(c, i, r, end, false);
}

/** Writes an array header before the `n` elements written since `mark` (a length known only after). */
function headerBefore(out: RespWriter, mark: number, n: number, map: boolean): void {
  const end = out.len;
  if (map) out.mapHeader(n);
  else out.arrayHeader(n);
  const h = out.len - end;
  const b = out.bytes;
  for (let i = 0; i < h; i++) headScratch[i] = b[end + i]!;
  b.copyWithin(mark + h, mark, end);
  for (let i = 0; i < h; i++) b[mark + i] = headScratch[i]!;
}

const headScratch = new Uint8Array(32);

// ---- trimming arguments (XADD, XTRIM) ----

const trim = { strategy: 0, approx: false, maxlen: 0, limit: -1, next: 0, nomk: false, idArg: 0 };
const TRIM_NONE = 0;
const TRIM_MAXLEN = 1;
const TRIM_MINID = 2;

/** Parses XADD's or XTRIM's options from argument 2 (minid into R_D); false after replying. */
function parseTrimArgs(c: Ctx, xadd: boolean): boolean {
  trim.strategy = TRIM_NONE;
  trim.approx = false;
  trim.limit = -1;
  trim.nomk = false;
  trim.idArg = 0;
  let limitGiven = false;
  let i = 2;
  for (; i < c.argc; i++) {
    const more = c.argc - 1 - i;
    if (xadd && c.al[i] === 1 && c.buf[c.as[i]!] === 42) {
      trim.idArg = i;
      break;
    }
    const maxlen = c.is(i, 'MAXLEN');
    if ((maxlen || c.is(i, 'MINID')) && more > 0) {
      if (trim.strategy !== TRIM_NONE && trim.strategy !== (maxlen ? TRIM_MAXLEN : TRIM_MINID)) {
        c.out.error(E_MAXLEN_MINID);
        return false;
      }
      trim.approx = false;
      if (more >= 2 && c.al[i + 1] === 1 && (c.buf[c.as[i + 1]!] === 126 || c.buf[c.as[i + 1]!] === 61)) {
        trim.approx = c.buf[c.as[i + 1]!] === 126;
        i++;
      }
      i++;
      if (maxlen) {
        const v = c.i64(i);
        if (v === null) {
          c.out.error(E_NOT_INT);
          return false;
        }
        if (v < 0) {
          c.out.error(E_MAXLEN);
          return false;
        }
        trim.maxlen = Number(v);
        trim.strategy = TRIM_MAXLEN;
      } else {
        if (!argId(c, i, R_D, false, true)) return false;
        trim.strategy = TRIM_MINID;
      }
    } else if (c.is(i, 'LIMIT') && more > 0) {
      const v = c.i64(++i);
      if (v === null) {
        c.out.error(E_NOT_INT);
        return false;
      }
      if (v < 0) {
        c.out.error(E_LIMIT);
        return false;
      }
      trim.limit = Number(v);
      limitGiven = true;
    } else if (xadd && c.is(i, 'NOMKSTREAM')) {
      trim.nomk = true;
    } else if (xadd) {
      trim.idArg = i;
      break;
    } else {
      c.out.error(E_SYNTAX);
      return false;
    }
  }
  trim.next = i;
  if (limitGiven && trim.strategy === TRIM_NONE) {
    c.out.error(E_LIMIT_NO_STRATEGY);
    return false;
  }
  if (limitGiven && !trim.approx) {
    c.out.error(E_LIMIT_NO_APPROX);
    return false;
  }
  if (!limitGiven) trim.limit = trim.approx ? 100 * dtConfig.streamNodeMaxEntries : 0;
  return true;
}

function applyTrim(c: Ctx, s: number): number {
  if (trim.strategy === TRIM_NONE) return 0;
  return streamTrim(c.store.arena, s, trim.strategy === TRIM_MINID, trim.maxlen, R_D, trim.approx, trim.limit);
}

// ---- XADD, XLEN, XDEL, XTRIM, XSETID ----

const xadd: Handler = (c) => {
  if (!parseTrimArgs(c, true)) return;
  const idArg = trim.idArg;
  const fields = c.argc - idArg - 1;
  if (idArg === 0 || fields < 2 || fields % 2 === 1) return wrongArgs(c);
  const auto = c.al[idArg] === 1 && c.buf[c.as[idArg]!] === 42;
  let seqAuto = false;
  if (!auto) {
    if (!parseId(c.buf, c.as[idArg]!, c.al[idArg]!, R_A, false, true, true)) return c.out.error(E_INVALID_ID);
    seqAuto = parsed.seqAuto;
    if (!seqAuto && idIsZero(R_A)) return c.out.error(E_XADD_ZERO);
  }
  let s = lookupStream(c, 1, false);
  if (s < 0) return;
  const m = c.store.arena;
  if (s === 0) {
    if (trim.nomk) return c.out.nullBulk();
    idSet(R_B, 0, 0, 0, 0);
  } else idLoad(R_B, m.u32, lastIdWord(s));
  if (idIsMax(R_B)) return c.out.error(E_EXHAUSTED);
  if (auto) {
    const now = Date.now();
    if (now > idMs(R_B)) idSetNum(R_A, now, 0);
    else {
      idCopy(R_A, R_B);
      idIncr(R_A);
    }
  } else if (seqAuto) {
    const o = R_A << 2;
    const b = R_B << 2;
    const cmp = ID[o] !== ID[b] ? (ID[o]! < ID[b]! ? -1 : 1) : ID[o + 1] !== ID[b + 1] ? (ID[o + 1]! < ID[b + 1]! ? -1 : 1) : 0;
    if (cmp < 0) return c.out.error(E_XADD_SMALLER);
    if (cmp === 0) {
      if (ID[b + 2] === 0xffffffff && ID[b + 3] === 0xffffffff) return c.out.error(E_XADD_SMALLER);
      idCopy(R_A, R_B);
      idIncr(R_A);
    }
  } else if (s !== 0 && idCmp(R_A, R_B) <= 0) return c.out.error(E_XADD_SMALLER);
  if (s === 0) s = createStream(c, 1);
  streamAppend(m, s, R_A, c.buf, c.as, c.al, idArg + 1, fields >>> 1, dtConfig.streamNodeMaxBytes, dtConfig.streamNodeMaxEntries);
  replyId(c.out, R_A);
  notifyStream(c, 'xadd', 1);
  if (applyTrim(c, s) > 0) notifyStream(c, 'xtrim', 1);
  signalStream(c.db, c.buf, c.as[1]!, c.al[1]!);
};

const xlen: Handler = (c) => {
  const s = lookupStream(c, 1, true);
  if (s < 0) return;
  c.out.int(s === 0 ? 0 : sLength(c.store.arena, s));
};

const xdel: Handler = (c) => {
  const s = lookupStream(c, 1, false);
  if (s < 0) return;
  for (let i = 2; i < c.argc; i++) if (!argId(c, i, R_A, false, true)) return;
  if (s === 0) return c.out.int(0);
  const m = c.store.arena;
  let n = 0;
  for (let i = 2; i < c.argc; i++) {
    parseId(c.buf, c.as[i]!, c.al[i]!, R_A, false, true, false);
    if (streamDelete(m, s, R_A)) n++;
  }
  c.out.int(n);
  if (n > 0) notifyStream(c, 'xdel', 1);
};

const xtrim: Handler = (c) => {
  const s = lookupStream(c, 1, false);
  if (s < 0) return;
  if (!parseTrimArgs(c, false)) return;
  if (trim.strategy === TRIM_NONE) return c.out.error(E_SYNTAX);
  if (s === 0) return c.out.int(0);
  const n = applyTrim(c, s);
  c.out.int(n);
  if (n > 0) notifyStream(c, 'xtrim', 1);
};

const xsetid: Handler = (c) => {
  if (!argId(c, 2, R_A, false, true)) return;
  let added = -1;
  idSet(R_B, 0, 0, 0, 0);
  for (let i = 3; i < c.argc; i += 2) {
    const more = i + 1 < c.argc;
    if (c.is(i, 'ENTRIESADDED') && more) {
      const v = c.int(i + 1);
      if (v === null) return c.out.error(E_NOT_INT);
      if (v < 0) return c.out.error('ERR entries_added must be positive');
      added = v;
    } else if (c.is(i, 'MAXDELETEDID') && more) {
      if (!argId(c, i + 1, R_B, false, true)) return;
      if (idCmp(R_A, R_B) < 0) return c.out.error('ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id');
    } else return c.out.error(E_SYNTAX);
  }
  const s = lookupStream(c, 1, false);
  if (s < 0) return;
  if (s === 0) return c.out.error('ERR no such key');
  const m = c.store.arena;
  if (idCmpMem(R_A, m.u32, maxDelWord(s)) < 0)
    return c.out.error('ERR The ID specified in XSETID is smaller than current max_deleted_entry_id');
  if (sLength(m, s) > 0) {
    streamLastLiveId(m, s, R_C);
    if (idCmp(R_A, R_C) < 0) return c.out.error('ERR The ID specified in XSETID is smaller than the target stream top item');
    if (added !== -1 && sLength(m, s) > added)
      return c.out.error('ERR The entries_added specified in XSETID is smaller than the target stream length');
  }
  idStore(R_A, m.u32, lastIdWord(s));
  if (added !== -1) sSetEntriesAdded(m, s, added);
  if (!idIsZero(R_B)) idStore(R_B, m.u32, maxDelWord(s));
  c.out.constant(R_OK);
  notifyStream(c, 'xsetid', 1);
};

// ---- XRANGE, XREVRANGE ----

/** Replies the entries of stream s in [R_A, R_B] (reversed when rev), at most count (0: all); returns how many. */
function replyRange(c: Ctx, s: number, lo: number, hi: number, rev: boolean, count: number): number {
  const out = c.out;
  const mark = out.len;
  let n = 0;
  if (s !== 0) {
    it.start(c.store.arena, s, lo, hi, rev);
    while ((count === 0 || n < count) && it.next()) {
      it.writeEntry(out);
      n++;
    }
  }
  headerBefore(out, mark, n, false);
  return n;
}

function rangeGeneric(c: Ctx, rev: boolean): void {
  if (!argIntervalId(c, rev ? 3 : 2, R_A, false) || !argIntervalId(c, rev ? 2 : 3, R_B, true)) return;
  let count = -1;
  for (let i = 4; i < c.argc; i++) {
    if (c.is(i, 'COUNT') && i + 1 < c.argc) {
      const v = c.i64(++i);
      if (v === null) return c.out.error(E_NOT_INT);
      count = v < 0 ? 0 : Number(v);
    } else return c.out.error(E_SYNTAX);
  }
  const s = lookupStream(c, 1, true);
  if (s < 0) return;
  if (count === 0) return c.out.nullArray();
  if (idCmp(R_A, R_B) > 0 || s === 0) return c.out.arrayHeader(0);
  replyRange(c, s, R_A, R_B, rev, count < 0 ? 0 : count);
}

const xrange: Handler = (c) => rangeGeneric(c, false);
const xrevrange: Handler = (c) => rangeGeneric(c, true);

// ---- XREAD, XREADGROUP ----

/** Ids each stream of a read starts after (4 words each), saved with a blocked read. */
let gts = new Uint32Array(64);
/** A word of the largest id (`>` is read as it; `+` is it). */
const MAX_ID = 0xffffffff;

function readGeneric(c: Ctx, group: boolean): void {
  let count = 0;
  let timeoutMs = -1;
  let streamsArg = 0;
  let nStreams = 0;
  let groupArg = 0;
  let noack = false;
  for (let i = 1; i < c.argc; i++) {
    const more = c.argc - i - 1;
    if (c.is(i, 'BLOCK') && more > 0) {
      // Redis refuses BLOCK in scripts outright (in MULTI it just does not block).
      if (c.script) return c.out.error(`ERR ${c.str(0)} command is not allowed with BLOCK option from scripts`);
      i++;
      const ms = parseXTimeout(c, i);
      if (ms === -2) return;
      timeoutMs = ms;
    } else if (c.is(i, 'COUNT') && more > 0) {
      const v = c.i64(++i);
      if (v === null) return c.out.error(E_NOT_INT);
      count = v < 0 ? 0 : Number(v);
    } else if (c.is(i, 'STREAMS') && more > 0) {
      streamsArg = i + 1;
      const left = c.argc - streamsArg;
      if (left % 2 !== 0) {
        return c.out.error("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
      }
      nStreams = left / 2;
      break;
    } else if (c.is(i, 'GROUP') && more >= 2) {
      if (!group) return c.out.error('ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.');
      groupArg = i + 1;
      i += 2;
    } else if (c.is(i, 'NOACK')) {
      if (!group) return c.out.error('ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.');
      noack = true;
    } else return c.out.error(E_SYNTAX);
  }
  if (streamsArg === 0) return c.out.error(E_SYNTAX);
  if (group && groupArg === 0) return c.out.error('ERR Missing GROUP option for XREADGROUP');
  if (gts.length < nStreams * 4) gts = new Uint32Array(nStreams * 8);
  const m = c.store.arena;
  const waiter = serving.active ? serving.extra : null;
  for (let k = 0; k < nStreams; k++) {
    const ki = streamsArg + k;
    const ii = ki + nStreams;
    const s = lookupStream(c, ki, true);
    if (s < 0) return;
    if (group) {
      if (s === 0 || findGroup(m, s, c.buf, c.as[groupArg]!, c.al[groupArg]!) === 0) {
        if (serving.active) return c.out.error(E_GROUP_GONE);
        return c.out.error(`NOGROUP No such key '${c.str(ki)}' or consumer group '${c.str(groupArg)}' in XREADGROUP with GROUP option`);
      }
    }
    const w = k * 4;
    if (waiter !== null && waiter.length >= w + 4) {
      gts.set(waiter.subarray(w, w + 4), w);
      continue;
    }
    if (c.al[ii] === 1 && c.buf[c.as[ii]!] === 36) {
      if (group) {
        return c.out.error(
          'ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.',
        );
      }
      if (s !== 0) gts.set(m.u32.subarray(lastIdWord(s), lastIdWord(s) + 4), w);
      else gts.fill(0, w, w + 4);
      continue;
    }
    if (c.al[ii] === 1 && c.buf[c.as[ii]!] === 62) {
      if (!group)
        return c.out.error('ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.');
      gts.fill(MAX_ID, w, w + 4);
      continue;
    }
    if (!argId(c, ii, R_A, false, true)) return;
    gts.set(ID.subarray(R_A << 2, (R_A << 2) + 4), w);
  }
  const out = c.out;
  const mark = out.len;
  let served = 0;
  const now = Date.now();
  for (let k = 0; k < nStreams; k++) {
    const ki = streamsArg + k;
    const s = lookupStream(c, ki, true);
    if (s <= 0) continue;
    const w = k * 4;
    for (let j = 0; j < 4; j++) ID[(R_B << 2) + j] = gts[w + j]!;
    let g = 0;
    let history = false;
    let sync = false;
    if (group) {
      g = findGroup(m, s, c.buf, c.as[groupArg]!, c.al[groupArg]!);
      if (!idIsMax(R_B)) {
        sync = true;
        history = true;
      } else if (sLength(m, s) > 0) {
        idLoad(R_C, m.u32, gLastWord(g));
        if (streamHasAfter(m, s, R_C)) {
          sync = true;
          idCopy(R_B, R_C);
        }
      }
    } else sync = sLength(m, s) > 0 && streamHasAfter(m, s, R_B);
    if (!sync) continue;
    served++;
    if (out.proto === 2) out.arrayHeader(2);
    out.bulk(c.buf, c.as[ki]!, c.al[ki]!);
    idCopy(R_A, R_B);
    idIncr(R_A);
    if (!group) {
      idSet(R_C, MAX_ID, MAX_ID, MAX_ID, MAX_ID);
      replyRange(c, s, R_A, R_C, false, count);
      continue;
    }
    const cs = c.as[groupArg + 1]!;
    const cn = c.al[groupArg + 1]!;
    let consumer = findConsumer(m, g, c.buf, cs, cn);
    if (consumer === 0) {
      consumer = createConsumer(m, g, c.buf, cs, cn, now);
      notifyStream(c, 'xgroup-createconsumer', ki);
    }
    cSetSeen(m, consumer, now);
    if (history) replyHistory(c, s, g, consumer, count, now);
    else replyNew(c, s, g, consumer, count, noack, now);
  }
  if (served > 0) {
    headerBefore(out, mark, served, out.proto === 3);
    return;
  }
  if (timeoutMs >= 0) {
    if (serving.active) {
      serving.missed = true;
      return;
    }
    if (c.noBlock) return out.nullArray();
    blockOn(c, streamsArg, streamsArg + nStreams - 1, timeoutMs, T_STREAM, group ? null : gts.slice(0, nStreams * 4), group);
    return;
  }
  out.nullArray();
}

/** BLOCK's milliseconds: -2 after replying the error. */
function parseXTimeout(c: Ctx, i: number): number {
  const v = c.i64(i);
  if (v === null || typeof v === 'bigint') {
    c.out.error('ERR timeout is not an integer or out of range');
    return -2;
  }
  if (v < 0) {
    c.out.error('ERR timeout is negative');
    return -2;
  }
  return v;
}

/** XREADGROUP `>`: entries after R_A - 1 (R_A is the first to give), added to the PEL unless noack. */
function replyNew(c: Ctx, s: number, g: number, consumer: number, count: number, noack: boolean, now: number): void {
  const m = c.store.arena;
  const out = c.out;
  const mark = out.len;
  let n = 0;
  idSet(R_C, MAX_ID, MAX_ID, MAX_ID, MAX_ID);
  it.start(m, s, R_A, R_C, false);
  while ((count === 0 || n < count) && it.next()) {
    it.writeEntry(out);
    n++;
    if (idCmpMem(R_CUR, m.u32, gLastWord(g)) > 0) {
      const er = gEntriesRead(m, g);
      if (er !== -1 && !hasTombstonesFrom(m, s, R_CUR, R_TMP)) gSetEntriesRead(m, g, er + 1);
      else if (sEntriesAdded(m, s) !== 0) gSetEntriesRead(m, g, estimateEntriesRead(m, s, R_CUR, R_TMP));
      idStore(R_CUR, m.u32, gLastWord(g));
    }
    if (noack) continue;
    const gp = gPel(m, g);
    let rec = tFind(m, gp, R_CUR);
    if (rec !== 0) {
      const old = m.u32[(rec + 28) >>> 2]!;
      if (old !== 0 && old !== consumer) tDelete(m, cPel(m, old), R_CUR);
    } else rec = tInsert(m, gp, R_CUR);
    m.f64[(rec + 16) >>> 3] = now;
    m.u32[(rec + 24) >>> 2] = 1;
    m.u32[(rec + 28) >>> 2] = consumer;
    const cp = cPel(m, consumer);
    if (tFind(m, cp, R_CUR) === 0) tInsert(m, cp, R_CUR);
  }
  headerBefore(out, mark, n, false);
}

/** XREADGROUP with an id: the consumer's own pending entries from R_A on (deleted ones as [id, nil]). */
function replyHistory(c: Ctx, s: number, g: number, consumer: number, count: number, now: number): void {
  const m = c.store.arena;
  const out = c.out;
  const cp = cPel(m, consumer);
  const gp = gPel(m, g);
  const mark = out.len;
  let n = 0;
  for (let p = tSeekGE(m, cp, R_A); p >= 0 && (count === 0 || n < count); p = tNext(m, cp, p)) {
    idLoad(R_C, m.u32, tRec(m, cp, p) >>> 2);
    it2.start(m, s, R_C, R_C, false);
    if (it2.next()) it2.writeEntry(out);
    else {
      out.arrayHeader(2);
      replyId(out, R_C);
      out.nullArray();
    }
    n++;
    const rec = tFind(m, gp, R_C);
    if (rec !== 0) {
      m.f64[(rec + 16) >>> 3] = now;
      m.u32[(rec + 24) >>> 2]!++;
    }
  }
  headerBefore(out, mark, n, false);
}

const xread: Handler = (c) => readGeneric(c, false);
const xreadgroup: Handler = (c) => readGeneric(c, true);

// ---- XGROUP ----

/** Common XGROUP prelude: the stream (0 absent, -1 replied) for key argument 2. */
function groupStream(c: Ctx): number {
  return lookupStream(c, 2, false);
}

function noGroup(c: Ctx): void {
  c.out.error(`NOGROUP No such consumer group '${c.str(3)}' for key name '${c.str(2)}'`);
}

const xgroupCreate: Handler = (c) => {
  let mkstream = false;
  let entriesRead = -1;
  for (let i = 5; i < c.argc; i++) {
    if (c.is(i, 'MKSTREAM')) mkstream = true;
    else if (c.is(i, 'ENTRIESREAD') && i + 1 < c.argc) {
      const v = c.int(++i);
      if (v === null) return c.out.error(E_NOT_INT);
      if (v < 0 && v !== -1) return c.out.error(E_ENTRIESREAD);
      entriesRead = v;
    } else return c.out.error(subcommandSyntaxError(c.str(1), 'XGROUP'));
  }
  let s = groupStream(c);
  if (s < 0) return;
  if (s === 0 && !mkstream) return c.out.error(E_NEED_KEY);
  const m = c.store.arena;
  if (c.al[4] === 1 && c.buf[c.as[4]!] === 36) {
    if (s !== 0) idLoad(R_A, m.u32, lastIdWord(s));
    else idSet(R_A, 0, 0, 0, 0);
  } else if (!argId(c, 4, R_A, false, true)) return;
  if (s !== 0 && findGroup(m, s, c.buf, c.as[3]!, c.al[3]!) !== 0) return c.out.error(E_BUSYGROUP);
  if (s === 0) s = createStream(c, 2);
  createGroup(m, s, c.buf, c.as[3]!, c.al[3]!, R_A, entriesRead);
  c.out.constant(R_OK);
  notifyStream(c, 'xgroup-create', 2);
};

const xgroupSetid: Handler = (c) => {
  const s = groupStream(c);
  if (s < 0) return;
  if (s === 0) return c.out.error(E_NEED_KEY);
  const m = c.store.arena;
  const g = findGroup(m, s, c.buf, c.as[3]!, c.al[3]!);
  if (g === 0) return noGroup(c);
  if (c.argc !== 5 && c.argc !== 7) return c.out.error(subcommandSyntaxError(c.str(1), 'XGROUP'));
  if (c.al[4] === 1 && c.buf[c.as[4]!] === 36) idLoad(R_A, m.u32, lastIdWord(s));
  else if (!argId(c, 4, R_A, false, false)) return;
  let entriesRead = -1;
  if (c.argc === 7) {
    if (!c.is(5, 'ENTRIESREAD')) return c.out.error(subcommandSyntaxError(c.str(1), 'XGROUP'));
    const v = c.int(6);
    if (v === null) return c.out.error(E_NOT_INT);
    if (v < 0 && v !== -1) return c.out.error(E_ENTRIESREAD);
    entriesRead = v;
  }
  idStore(R_A, m.u32, gLastWord(g));
  gSetEntriesRead(m, g, entriesRead);
  c.out.constant(R_OK);
  notifyStream(c, 'xgroup-setid', 2);
};

const xgroupDestroy: Handler = (c) => {
  const s = groupStream(c);
  if (s < 0) return;
  if (s === 0) return c.out.error(E_NEED_KEY);
  const m = c.store.arena;
  const g = findGroup(m, s, c.buf, c.as[3]!, c.al[3]!);
  if (g === 0) return c.out.int(0);
  deleteGroup(m, s, g);
  c.out.int(1);
  notifyStream(c, 'xgroup-destroy', 2);
  // Its blocked readers fail with NOGROUP.
  signalStream(c.db, c.buf, c.as[2]!, c.al[2]!);
};

const xgroupCreateConsumer: Handler = (c) => {
  const s = groupStream(c);
  if (s < 0) return;
  if (s === 0) return c.out.error(E_NEED_KEY);
  const m = c.store.arena;
  const g = findGroup(m, s, c.buf, c.as[3]!, c.al[3]!);
  if (g === 0) return noGroup(c);
  if (findConsumer(m, g, c.buf, c.as[4]!, c.al[4]!) !== 0) return c.out.int(0);
  createConsumer(m, g, c.buf, c.as[4]!, c.al[4]!, Date.now());
  c.out.int(1);
  notifyStream(c, 'xgroup-createconsumer', 2);
};

const xgroupDelConsumer: Handler = (c) => {
  const s = groupStream(c);
  if (s < 0) return;
  if (s === 0) return c.out.error(E_NEED_KEY);
  const m = c.store.arena;
  const g = findGroup(m, s, c.buf, c.as[3]!, c.al[3]!);
  if (g === 0) return noGroup(c);
  const con = findConsumer(m, g, c.buf, c.as[4]!, c.al[4]!);
  if (con === 0) return c.out.int(0);
  c.out.int(deleteConsumer(m, g, con));
  notifyStream(c, 'xgroup-delconsumer', 2);
};

// ---- XACK, XPENDING, XCLAIM, XAUTOCLAIM ----

/** Drops id register r from group g's PEL and its consumer's; true when it was pending. */
function ackId(c: Ctx, g: number, r: number): boolean {
  const m = c.store.arena;
  const gp = gPel(m, g);
  const rec = tFind(m, gp, r);
  if (rec === 0) return false;
  const owner = m.u32[(rec + 28) >>> 2]!;
  tDelete(m, gp, r);
  if (owner !== 0) tDelete(m, cPel(m, owner), r);
  return true;
}

const xack: Handler = (c) => {
  const s = lookupStream(c, 1, true);
  if (s < 0) return;
  const m = c.store.arena;
  const g = s === 0 ? 0 : findGroup(m, s, c.buf, c.as[2]!, c.al[2]!);
  for (let i = 3; i < c.argc; i++) if (!argId(c, i, R_A, false, true)) return;
  if (g === 0) return c.out.int(0);
  let n = 0;
  for (let i = 3; i < c.argc; i++) {
    parseId(c.buf, c.as[i]!, c.al[i]!, R_A, false, true, false);
    if (ackId(c, g, R_A)) n++;
  }
  c.out.int(n);
};

function noKeyOrGroup(c: Ctx, groupArg: number): void {
  c.out.error(`NOGROUP No such key '${c.str(1)}' or consumer group '${c.str(groupArg)}'`);
}

const xpending: Handler = (c) => {
  if (c.argc !== 3 && (c.argc < 6 || c.argc > 9)) return c.out.error(E_SYNTAX);
  let minIdle = 0;
  let count = 0;
  let consumerArg = 0;
  if (c.argc >= 6) {
    let at = 3;
    if (c.is(3, 'IDLE')) {
      const v = c.i64(4);
      if (v === null) return c.out.error(E_NOT_INT);
      if (c.argc < 8) return c.out.error(E_SYNTAX);
      minIdle = Number(v);
      at += 2;
    }
    const v = c.i64(at + 2);
    if (v === null) return c.out.error(E_NOT_INT);
    count = v < 0 ? 0 : Number(v);
    if (!argIntervalId(c, at, R_A, false) || !argIntervalId(c, at + 1, R_B, true)) return;
    if (at + 3 < c.argc) consumerArg = at + 3;
  }
  const s = lookupStream(c, 1, true);
  if (s < 0) return;
  const m = c.store.arena;
  const g = s === 0 ? 0 : findGroup(m, s, c.buf, c.as[2]!, c.al[2]!);
  if (g === 0) return noKeyOrGroup(c, 2);
  const gp = gPel(m, g);
  const out = c.out;
  if (c.argc === 3) {
    const n = tCount(m, gp);
    out.arrayHeader(4);
    out.int(n);
    if (n === 0) {
      out.nullBulk();
      out.nullBulk();
      out.nullArray();
      return;
    }
    idLoad(R_A, m.u32, tRec(m, gp, tFirst(m, gp)) >>> 2);
    replyId(out, R_A);
    idLoad(R_A, m.u32, tRec(m, gp, tLast(m, gp)) >>> 2);
    replyId(out, R_A);
    const mark = out.len;
    let k = 0;
    for (let con = gConsumers(m, g); con !== 0; con = cNext(m, con)) {
      const pn = tCount(m, cPel(m, con));
      if (pn === 0) continue;
      out.arrayHeader(2);
      replyConsumerName(m, out, con);
      out.bulkInt(pn);
      k++;
    }
    headerBefore(out, mark, k, false);
    return;
  }
  let pel = gp;
  if (consumerArg !== 0) {
    const con = findConsumer(m, g, c.buf, c.as[consumerArg]!, c.al[consumerArg]!);
    if (con === 0) return out.arrayHeader(0);
    pel = cPel(m, con);
  }
  const now = Date.now();
  const mark = out.len;
  let n = 0;
  for (let p = tSeekGE(m, pel, R_A); p >= 0 && count > 0; p = tNext(m, pel, p)) {
    const r = tRec(m, pel, p);
    if (idCmpMem(R_B, m.u32, r >>> 2) < 0) break;
    idLoad(R_C, m.u32, r >>> 2);
    const nack = pel === gp ? r : tFind(m, gp, R_C);
    if (nack === 0) continue;
    const idle = Math.max(0, now - m.f64[(nack + 16) >>> 3]!);
    if (minIdle > 0 && idle < minIdle) continue;
    out.arrayHeader(4);
    replyId(out, R_C);
    replyConsumerName(m, out, m.u32[(nack + 28) >>> 2]!);
    out.int(idle);
    out.int(m.u32[(nack + 24) >>> 2]!);
    n++;
    count--;
  }
  headerBefore(out, mark, n, false);
};

/** Whether the stream holds a live entry with id register r. */
function entryExists(c: Ctx, s: number, r: number): boolean {
  it2.start(c.store.arena, s, r, r, false);
  return it2.next();
}

/** Gives pending record `rec` (id register r) to consumer `to`. */
function moveNack(c: Ctx, rec: number, r: number, to: number): void {
  const m = c.store.arena;
  const old = m.u32[(rec + 28) >>> 2]!;
  if (old === to) return;
  if (old !== 0) tDelete(m, cPel(m, old), r);
  m.u32[(rec + 28) >>> 2] = to;
  if (tFind(m, cPel(m, to), r) === 0) tInsert(m, cPel(m, to), r);
}

const xclaim: Handler = (c) => {
  const s = lookupStream(c, 1, true);
  if (s < 0) return;
  const m = c.store.arena;
  const g = s === 0 ? 0 : findGroup(m, s, c.buf, c.as[2]!, c.al[2]!);
  if (g === 0) return noKeyOrGroup(c, 2);
  const mi = c.i64(4);
  if (mi === null) return c.out.error('ERR Invalid min-idle-time argument for XCLAIM');
  const minIdle = Math.max(0, Number(mi));
  let j = 5;
  while (j < c.argc && parseId(c.buf, c.as[j]!, c.al[j]!, R_A, false, true, false)) j++;
  const lastIdArg = j - 1;
  const now = Date.now();
  let force = false;
  let justid = false;
  let delivery = -1;
  let retry = -1;
  idSet(R_B, 0, 0, 0, 0);
  for (; j < c.argc; j++) {
    const more = j + 1 < c.argc;
    if (c.is(j, 'FORCE')) force = true;
    else if (c.is(j, 'JUSTID')) justid = true;
    else if (c.is(j, 'IDLE') && more) {
      const v = c.i64(++j);
      if (v === null) return c.out.error('ERR Invalid IDLE option argument for XCLAIM');
      delivery = now - Number(v);
    } else if (c.is(j, 'TIME') && more) {
      const v = c.i64(++j);
      if (v === null) return c.out.error('ERR Invalid TIME option argument for XCLAIM');
      delivery = Number(v);
    } else if (c.is(j, 'RETRYCOUNT') && more) {
      const v = c.i64(++j);
      if (v === null) return c.out.error('ERR Invalid RETRYCOUNT option argument for XCLAIM');
      retry = Number(v);
    } else if (c.is(j, 'LASTID') && more) {
      if (!argId(c, ++j, R_B, false, true)) return;
    } else return c.out.error(`ERR Unrecognized XCLAIM option '${c.str(j)}'`);
  }
  if (idCmpMem(R_B, m.u32, gLastWord(g)) > 0) idStore(R_B, m.u32, gLastWord(g));
  if (delivery !== -1) {
    if (delivery < 0 || delivery > now) delivery = now;
  } else delivery = now;
  let consumer = findConsumer(m, g, c.buf, c.as[3]!, c.al[3]!);
  if (consumer === 0) {
    consumer = createConsumer(m, g, c.buf, c.as[3]!, c.al[3]!, now);
    notifyStream(c, 'xgroup-createconsumer', 1);
  }
  cSetSeen(m, consumer, now);
  const out = c.out;
  const mark = out.len;
  let n = 0;
  for (let i = 5; i <= lastIdArg; i++) {
    parseId(c.buf, c.as[i]!, c.al[i]!, R_A, false, true, false);
    const gp = gPel(m, g);
    let rec = tFind(m, gp, R_A);
    if (rec === 0 && force && entryExists(c, s, R_A)) {
      rec = tInsert(m, gp, R_A);
    }
    if (rec === 0) continue;
    const owner = m.u32[(rec + 28) >>> 2]!;
    if (owner !== 0 && minIdle > 0 && now - m.f64[(rec + 16) >>> 3]! < minIdle) continue;
    if (!entryExists(c, s, R_A)) {
      ackId(c, g, R_A);
      continue;
    }
    rec = tFind(m, gPel(m, g), R_A);
    moveNack(c, rec, R_A, consumer);
    rec = tFind(m, gPel(m, g), R_A);
    m.f64[(rec + 16) >>> 3] = delivery;
    if (retry >= 0) m.u32[(rec + 24) >>> 2] = retry;
    else if (!justid) m.u32[(rec + 24) >>> 2]!++;
    if (justid) replyId(out, R_A);
    else {
      it2.start(m, s, R_A, R_A, false);
      if (it2.next()) it2.writeEntry(out);
      else out.nullBulk();
    }
    n++;
  }
  headerBefore(out, mark, n, false);
};

const xautoclaim: Handler = (c) => {
  const mi = c.i64(4);
  if (mi === null) return c.out.error('ERR Invalid min-idle-time argument for XAUTOCLAIM');
  const minIdle = Math.max(0, Number(mi));
  if (!argIntervalId(c, 5, R_A, false)) return;
  let count = 100;
  let justid = false;
  for (let j = 6; j < c.argc; j++) {
    if (c.is(j, 'COUNT') && j + 1 < c.argc) {
      const v = c.i64(++j);
      if (v === null || v < 1 || v > 922337203685477580n) return c.out.error('ERR COUNT must be > 0');
      count = Number(v);
    } else if (c.is(j, 'JUSTID')) justid = true;
    else return c.out.error(E_SYNTAX);
  }
  const s = lookupStream(c, 1, true);
  if (s < 0) return;
  const m = c.store.arena;
  const g = s === 0 ? 0 : findGroup(m, s, c.buf, c.as[2]!, c.al[2]!);
  if (g === 0) return noKeyOrGroup(c, 2);
  const now = Date.now();
  let consumer = findConsumer(m, g, c.buf, c.as[3]!, c.al[3]!);
  if (consumer === 0) {
    consumer = createConsumer(m, g, c.buf, c.as[3]!, c.al[3]!, now);
    notifyStream(c, 'xgroup-createconsumer', 1);
  }
  cSetSeen(m, consumer, now);
  const out = c.out;
  out.arrayHeader(3);
  const cursorMark = out.len;
  const mark = out.len;
  let n = 0;
  let attempts = count * 10;
  const deleted: number[] = [];
  let p = tSeekGE(m, gPel(m, g), R_A);
  let done = p < 0;
  while (attempts-- > 0 && count > 0 && !done) {
    const gp = gPel(m, g);
    const rec = tRec(m, gp, p);
    idLoad(R_C, m.u32, rec >>> 2);
    if (!entryExists(c, s, R_C)) {
      deleted.push(ID[R_C << 2]!, ID[(R_C << 2) + 1]!, ID[(R_C << 2) + 2]!, ID[(R_C << 2) + 3]!);
      ackId(c, g, R_C);
      count--;
      p = tSeekGE(m, gPel(m, g), R_C);
      done = p < 0;
      continue;
    }
    if (minIdle > 0 && now - m.f64[(rec + 16) >>> 3]! < minIdle) {
      p = tNext(m, gp, p);
      done = p < 0;
      continue;
    }
    moveNack(c, rec, R_C, consumer);
    const r2 = tFind(m, gPel(m, g), R_C);
    m.f64[(r2 + 16) >>> 3] = now;
    if (!justid) m.u32[(r2 + 24) >>> 2]!++;
    if (justid) replyId(out, R_C);
    else {
      it2.start(m, s, R_C, R_C, false);
      it2.next();
      it2.writeEntry(out);
    }
    n++;
    count--;
    p = tSeekGE(m, gPel(m, g), R_C);
    if (p >= 0) p = tNext(m, gPel(m, g), p);
    done = p < 0;
  }
  headerBefore(out, mark, n, false);
  // The cursor: the next pending entry, or 0-0 at the end.
  const body = out.bytes.slice(mark, out.len);
  out.len = cursorMark;
  if (done) idSet(R_D, 0, 0, 0, 0);
  else idLoad(R_D, m.u32, tRec(m, gPel(m, g), p) >>> 2);
  replyId(out, R_D);
  out.ensure(body.length);
  out.bytes.set(body, out.len);
  out.len += body.length;
  out.arrayHeader(deleted.length / 4);
  for (let i = 0; i < deleted.length; i += 4) {
    idSet(R_D, deleted[i]!, deleted[i + 1]!, deleted[i + 2]!, deleted[i + 3]!);
    replyId(out, R_D);
  }
};

// ---- XINFO ----

function lagOf(c: Ctx, s: number, g: number): number | null {
  const m = c.store.arena;
  const added = sEntriesAdded(m, s);
  if (added === 0) return 0;
  const er = gEntriesRead(m, g);
  idLoad(R_A, m.u32, gLastWord(g));
  if (er !== -1 && !hasTombstonesFrom(m, s, R_A, R_TMP)) return added - er;
  const est = estimateEntriesRead(m, s, R_A, R_TMP);
  return est === -1 ? null : added - est;
}

function replyNullableInt(out: RespWriter, v: number | null): void {
  if (v === null) out.nullBulk();
  else out.int(v);
}

const xinfoStream: Handler = (c) => {
  let full = false;
  let count = 10;
  if (c.argc > 3) {
    if (!c.is(3, 'FULL') || (c.argc !== 4 && (c.argc !== 6 || !c.is(4, 'COUNT')))) {
      return c.out.error(subcommandSyntaxError('stream', 'XINFO'));
    }
    full = true;
    if (c.argc === 6) {
      const v = c.i64(5);
      if (v === null) return c.out.error(E_NOT_INT);
      count = v < 0 ? 0 : Number(v);
    }
  }
  const s = lookupStream(c, 2, true);
  if (s < 0) return;
  if (s === 0) return c.out.error('ERR no such key');
  const m = c.store.arena;
  const out = c.out;
  out.mapHeader(full ? 9 : 10);
  out.bulkString('length');
  out.int(sLength(m, s));
  out.bulkString('radix-tree-keys');
  out.int(sNodeCount(m, s));
  out.bulkString('radix-tree-nodes');
  out.int(radixNodes(sNodeCount(m, s)));
  out.bulkString('last-generated-id');
  idLoad(R_A, m.u32, lastIdWord(s));
  replyId(out, R_A);
  out.bulkString('max-deleted-entry-id');
  idLoad(R_A, m.u32, maxDelWord(s));
  replyId(out, R_A);
  out.bulkString('entries-added');
  out.int(sEntriesAdded(m, s));
  out.bulkString('recorded-first-entry-id');
  streamFirstId(m, s, R_A);
  replyId(out, R_A);
  idSet(R_A, 0, 0, 0, 0);
  idSet(R_B, MAX_ID, MAX_ID, MAX_ID, MAX_ID);
  if (!full) {
    out.bulkString('groups');
    out.int(sGroupCount(m, s));
    out.bulkString('first-entry');
    it.start(m, s, R_A, R_B, false);
    if (it.next()) it.writeEntry(out);
    else out.nullBulk();
    out.bulkString('last-entry');
    it.start(m, s, R_A, R_B, true);
    if (it.next()) it.writeEntry(out);
    else out.nullBulk();
    return;
  }
  out.bulkString('entries');
  replyRange(c, s, R_A, R_B, false, count);
  out.bulkString('groups');
  out.arrayHeader(sGroupCount(m, s));
  for (let g = sGroups(m, s); g !== 0; g = gNext(m, g)) {
    out.mapHeader(7);
    out.bulkString('name');
    replyName(m, out, gNameAt(g));
    out.bulkString('last-delivered-id');
    idLoad(R_C, m.u32, gLastWord(g));
    replyId(out, R_C);
    out.bulkString('entries-read');
    const er = gEntriesRead(m, g);
    replyNullableInt(out, er === -1 ? null : er);
    out.bulkString('lag');
    replyNullableInt(out, lagOf(c, s, g));
    const gp = gPel(m, g);
    out.bulkString('pel-count');
    out.int(tCount(m, gp));
    out.bulkString('pending');
    let mark = out.len;
    let n = 0;
    for (let p = tFirst(m, gp); p >= 0 && (count === 0 || n < count); p = tNext(m, gp, p)) {
      const r = tRec(m, gp, p);
      out.arrayHeader(4);
      idLoad(R_C, m.u32, r >>> 2);
      replyId(out, R_C);
      replyConsumerName(m, out, m.u32[(r + 28) >>> 2]!);
      out.int(m.f64[(r + 16) >>> 3]!);
      out.int(m.u32[(r + 24) >>> 2]!);
      n++;
    }
    headerBefore(out, mark, n, false);
    out.bulkString('consumers');
    let k = 0;
    for (let con = gConsumers(m, g); con !== 0; con = cNext(m, con)) k++;
    out.arrayHeader(k);
    for (let con = gConsumers(m, g); con !== 0; con = cNext(m, con)) {
      const cp = cPel(m, con);
      out.mapHeader(4);
      out.bulkString('name');
      replyConsumerName(m, out, con);
      out.bulkString('seen-time');
      out.int(cSeen(m, con));
      out.bulkString('pel-count');
      out.int(tCount(m, cp));
      out.bulkString('pending');
      mark = out.len;
      n = 0;
      for (let p = tFirst(m, cp); p >= 0 && (count === 0 || n < count); p = tNext(m, cp, p)) {
        idLoad(R_C, m.u32, tRec(m, cp, p) >>> 2);
        const nack = tFind(m, gp, R_C);
        out.arrayHeader(3);
        replyId(out, R_C);
        out.int(nack === 0 ? 0 : m.f64[(nack + 16) >>> 3]!);
        out.int(nack === 0 ? 0 : m.u32[(nack + 24) >>> 2]!);
        n++;
      }
      headerBefore(out, mark, n, false);
    }
  }
};

/** Redis reports its radix tree's node count; for ids appended in order it is close to this. */
function radixNodes(keys: number): number {
  return keys + 1;
}

const xinfoGroups: Handler = (c) => {
  const s = lookupStream(c, 2, true);
  if (s < 0) return;
  if (s === 0) return c.out.error('ERR no such key');
  const m = c.store.arena;
  const out = c.out;
  out.arrayHeader(sGroupCount(m, s));
  for (let g = sGroups(m, s); g !== 0; g = gNext(m, g)) {
    out.mapHeader(6);
    out.bulkString('name');
    replyName(m, out, gNameAt(g));
    out.bulkString('consumers');
    let k = 0;
    for (let con = gConsumers(m, g); con !== 0; con = cNext(m, con)) k++;
    out.int(k);
    out.bulkString('pending');
    out.int(tCount(m, gPel(m, g)));
    out.bulkString('last-delivered-id');
    idLoad(R_C, m.u32, gLastWord(g));
    replyId(out, R_C);
    out.bulkString('entries-read');
    const er = gEntriesRead(m, g);
    replyNullableInt(out, er === -1 ? null : er);
    out.bulkString('lag');
    replyNullableInt(out, lagOf(c, s, g));
  }
};

const xinfoConsumers: Handler = (c) => {
  const s = lookupStream(c, 2, true);
  if (s < 0) return;
  if (s === 0) return c.out.error('ERR no such key');
  const m = c.store.arena;
  const g = findGroup(m, s, c.buf, c.as[3]!, c.al[3]!);
  if (g === 0) return c.out.error(`NOGROUP No such consumer group '${c.str(3)}' for key name '${c.str(2)}'`);
  const out = c.out;
  let k = 0;
  for (let con = gConsumers(m, g); con !== 0; con = cNext(m, con)) k++;
  out.arrayHeader(k);
  const now = Date.now();
  for (let con = gConsumers(m, g); con !== 0; con = cNext(m, con)) {
    out.mapHeader(3);
    out.bulkString('name');
    replyConsumerName(m, out, con);
    out.bulkString('pending');
    out.int(tCount(m, cPel(m, con)));
    out.bulkString('idle');
    out.int(Math.max(0, now - cSeen(m, con)));
  }
};

// ---- reads across shards (the acceptor's coordinator drives them) ----

/**
 * Internal: `__xwatch group n key… id…` replies :1 once one of the streams (all in this shard) has
 * entries after its id, or (with a group name) after the group's last delivered entry, or lost its
 * group; at once if one does. It reads nothing: the coordinator then retries the real read.
 * Cancel with __unblock.
 */
const xwatch: Handler = (c) => {
  const group = c.al[1]! > 0;
  const n = c.int(2) ?? 0;
  const m = c.store.arena;
  for (let k = 0; k < n; k++) {
    const s = lookupStream(c, 3 + k, true);
    if (s < 0) {
      c.out.len = 0;
      if (group) return c.out.int(1);
      continue;
    }
    if (group) {
      const g = s === 0 ? 0 : findGroup(m, s, c.buf, c.as[1]!, c.al[1]!);
      if (g === 0) return c.out.int(1);
      idLoad(R_C, m.u32, gLastWord(g));
      if (sLength(m, s) > 0 && streamHasAfter(m, s, R_C)) return c.out.int(1);
    } else if (s !== 0) {
      if (!parseId(c.buf, c.as[3 + n + k]!, c.al[3 + n + k]!, R_A, false, true, false)) return c.out.error(E_INVALID_ID);
      if (idCmpMem(R_A, m.u32, lastIdWord(s)) < 0) return c.out.int(1);
    }
  }
  blockOn(c, 3, 2 + n, 0, T_STREAM, null, group);
};

/** Internal: `__xlastids key…` replies each stream's last generated id (0-0 for a missing key), to resolve XREAD's `$`. */
const xlastids: Handler = (c) => {
  const m = c.store.arena;
  c.out.arrayHeader(c.argc - 1);
  for (let i = 1; i < c.argc; i++) {
    const a = c.lookupRead(i);
    if (a !== 0 && m.u8[a] === T_STREAM) idLoad(R_A, m.u32, lastIdWord(valPtr(m, a)));
    else idSet(R_A, 0, 0, 0, 0);
    replyId(c.out, R_A);
  }
};

/** Handlers by lower-case command name. */
export const streamCommands: Record<string, Handler> = {
  xadd,
  xlen,
  xdel,
  xtrim,
  xsetid,
  xrange,
  xrevrange,
  xread,
  xreadgroup,
  xack,
  xpending,
  xclaim,
  xautoclaim,
  'xgroup|create': xgroupCreate,
  'xgroup|setid': xgroupSetid,
  'xgroup|destroy': xgroupDestroy,
  'xgroup|createconsumer': xgroupCreateConsumer,
  'xgroup|delconsumer': xgroupDelConsumer,
  'xinfo|stream': xinfoStream,
  'xinfo|groups': xinfoGroups,
  'xinfo|consumers': xinfoConsumers,
  __xwatch: xwatch,
  __xlastids: xlastids,
};
