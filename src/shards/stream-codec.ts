/**
 * Persistence codec of streams: a stream's arena structures become a StreamValue (entries, ids,
 * groups, consumers, pending entries) and back, for SAVE, loading, DUMP, RESTORE and the AOF rewrite.
 */
import { registerEntryCodec } from './entry-codec.js';
import type { StreamId, StreamValue } from '../persistence/rdb-types.js';
import type { Arena } from './arena.js';
import { T_STREAM } from './record.js';
import { dtConfig } from './dt-config.js';
import { ENC_STREAM, createCollection, valPtr } from './value.js';
import { ID, R_E, R_F, R_G, R_H, idLoad, idSet } from './stream-id.js';
import { tFirst, tInsert, tNext, tRec } from './id-table.js';
import {
  StreamIter,
  cNext,
  cPel,
  cSeen,
  consumerName,
  createConsumer,
  createGroup,
  gConsumers,
  gEntriesRead,
  gLastWord,
  gNext,
  gPel,
  lastIdWord,
  maxDelWord,
  sEntriesAdded,
  sGroups,
  sSetEntriesAdded,
  streamAppend,
  streamNew,
} from './stream.js';

const it = new StreamIter(R_H);
const MASK = 0xffffffffn;

function regId(r: number): StreamId {
  const o = r << 2;
  return [(BigInt(ID[o]!) << 32n) | BigInt(ID[o + 1]!), (BigInt(ID[o + 2]!) << 32n) | BigInt(ID[o + 3]!)];
}

function memId(m: Arena, w: number): StreamId {
  idLoad(R_E, m.u32, w);
  return regId(R_E);
}

function setReg(r: number, id: StreamId): void {
  idSet(r, Number((id[0] >> 32n) & MASK), Number(id[0] & MASK), Number((id[1] >> 32n) & MASK), Number(id[1] & MASK));
}

function nameBytes(m: Arena, at: number, n: number): Uint8Array {
  return m.u8.slice(at, at + n);
}

/** The StreamValue of stream header `s` in `m`. */
function toValue(m: Arena, s: number): StreamValue {
  const entries: StreamValue['entries'] = [];
  idSet(R_F, 0, 0, 0, 0);
  idSet(R_G, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff);
  it.start(m, s, R_F, R_G, false);
  while (it.next()) {
    const fields: Uint8Array[] = [];
    it.eachField((fs, fn, vs, vn) => fields.push(m.u8.slice(fs, fs + fn), m.u8.slice(vs, vs + vn)));
    entries.push({ id: regId(R_H), fields });
  }
  const groups: StreamValue['groups'] = [];
  for (let g = sGroups(m, s); g !== 0; g = gNext(m, g)) {
    const owners = new Map<number, number>();
    const consumers: StreamValue['groups'][number]['consumers'] = [];
    for (let c = gConsumers(m, g); c !== 0; c = cNext(m, c)) {
      const [at, n] = consumerName(m, c);
      const pel: StreamId[] = [];
      const cp = cPel(m, c);
      for (let p = tFirst(m, cp); p >= 0; p = tNext(m, cp, p)) pel.push(memId(m, tRec(m, cp, p) >>> 2));
      owners.set(c, consumers.length);
      consumers.push({ name: nameBytes(m, at, n), seenTime: cSeen(m, c), pel });
    }
    const pel: StreamValue['groups'][number]['pel'] = [];
    const gp = gPel(m, g);
    for (let p = tFirst(m, gp); p >= 0; p = tNext(m, gp, p)) {
      const r = tRec(m, gp, p);
      pel.push({ id: memId(m, r >>> 2), deliveryTime: m.f64[(r + 16) >>> 3]!, deliveryCount: m.u32[(r + 24) >>> 2]! });
    }
    const nameLen = m.u32[(g + 40) >>> 2]!;
    groups.push({ name: nameBytes(m, g + 44, nameLen), lastId: memId(m, gLastWord(g)), entriesRead: gEntriesRead(m, g), pel, consumers });
  }
  return {
    type: 'stream',
    entries,
    lastId: memId(m, lastIdWord(s)),
    maxDeletedId: memId(m, maxDelWord(s)),
    entriesAdded: sEntriesAdded(m, s),
    groups,
  };
}

/** Fills the empty stream `s` from `v`. */
function fill(m: Arena, s: number, v: StreamValue, maxBytes: number, maxEntries: number): void {
  for (const e of v.entries) {
    let size = 0;
    for (const f of e.fields) size += f.length;
    const buf = new Uint8Array(size);
    const as = new Int32Array(e.fields.length);
    const al = new Int32Array(e.fields.length);
    let o = 0;
    e.fields.forEach((f, i) => {
      buf.set(f, o);
      as[i] = o;
      al[i] = f.length;
      o += f.length;
    });
    setReg(R_F, e.id);
    streamAppend(m, s, R_F, buf, as, al, 0, e.fields.length >>> 1, maxBytes, maxEntries);
  }
  setReg(R_F, v.lastId);
  m.u32.set(ID.subarray(R_F << 2, (R_F << 2) + 4), lastIdWord(s));
  setReg(R_F, v.maxDeletedId);
  m.u32.set(ID.subarray(R_F << 2, (R_F << 2) + 4), maxDelWord(s));
  sSetEntriesAdded(m, s, v.entriesAdded);
  for (const g of v.groups) {
    setReg(R_F, g.lastId);
    const ga = createGroup(m, s, g.name, 0, g.name.length, R_F, g.entriesRead);
    const byId = new Map<string, number>();
    for (const c of g.consumers) {
      const ca = createConsumer(m, ga, c.name, 0, c.name.length, c.seenTime);
      for (const id of c.pel) {
        setReg(R_F, id);
        tInsert(m, cPel(m, ca), R_F);
        byId.set(`${id[0]}-${id[1]}`, ca);
      }
    }
    for (const n of g.pel) {
      setReg(R_F, n.id);
      const r = tInsert(m, gPel(m, ga), R_F);
      m.f64[(r + 16) >>> 3] = n.deliveryTime;
      m.u32[(r + 24) >>> 2] = n.deliveryCount;
      m.u32[(r + 28) >>> 2] = byId.get(`${n.id[0]}-${n.id[1]}`) ?? 0;
    }
  }
}

registerEntryCodec(T_STREAM, 'stream', {
  toEntryValue: (m, a) => toValue(m, valPtr(m, a)),
  fromEntryValue(store, db, kb, ks, kn, value, expireAt) {
    if (value.type !== 'stream') throw new Error('stream codec given another type');
    const m = store.arena;
    const s = streamNew(m);
    fill(m, s, value, dtConfig.streamNodeMaxBytes, dtConfig.streamNodeMaxEntries);
    const a = createCollection(store, db, kb, ks, kn, T_STREAM, ENC_STREAM, s);
    return expireAt > 0 ? store.setExpire(db, a, expireAt) : a;
  },
});
