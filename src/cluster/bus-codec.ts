/**
 * Redis 7.0's cluster bus messages (cluster.h's clusterMsg), byte for byte: a 2256-byte
 * header (signature "RCmb", total length, version 1, ports, type, count, epochs, offset,
 * sender name, slot bitmap, master name, ip, extension count, flags, state, message flags)
 * and a body by type. Integers are big-endian; names are 40 bytes, ips 46 (NUL padded).
 */
import { Buffer } from 'node:buffer';

export const MSG_PING = 0;
export const MSG_PONG = 1;
export const MSG_MEET = 2;
export const MSG_FAIL = 3;
export const MSG_PUBLISH = 4;
export const MSG_FAILOVER_AUTH_REQUEST = 5;
export const MSG_FAILOVER_AUTH_ACK = 6;
export const MSG_UPDATE = 7;
export const MSG_MFSTART = 8;
export const MSG_MODULE = 9;
export const MSG_PUBLISHSHARD = 10;

/** Header size (CLUSTERMSG_MIN_LEN): every message is at least this long. */
export const HEADER_LEN = 2256;
/** One gossip section (clusterMsgDataGossip). */
export const GOSSIP_LEN = 104;
const NAME_LEN = 40;
const IP_LEN = 46;
const SLOTS_BYTES = 2048;
/** Ping extension type carrying the announced hostname. */
export const EXT_HOSTNAME = 0;
/** mflags[0] bits. */
export const MFLAG_PAUSED = 1;
export const MFLAG_FORCEACK = 2;
export const MFLAG_EXT_DATA = 4;
/** Header field offsets. */
const O_TOTLEN = 4;
const O_VER = 8;
const O_PORT = 10;
const O_TYPE = 12;
const O_COUNT = 14;
const O_CUR_EPOCH = 16;
const O_CFG_EPOCH = 24;
const O_OFFSET = 32;
const O_SENDER = 40;
const O_SLOTS = 80;
const O_SLAVEOF = 2128;
const O_MYIP = 2168;
const O_EXTENSIONS = 2214;
const O_PPORT = 2246;
const O_CPORT = 2248;
const O_FLAGS = 2250;
const O_STATE = 2252;
const O_MFLAGS = 2253;

/** A node as one gossip section describes it. */
export interface Gossip {
  name: string;
  pingSent: number;
  pongReceived: number;
  ip: string;
  port: number;
  cport: number;
  flags: number;
  pport: number;
}

/** The header fields every message carries about its sender. */
export interface BusHeader {
  type: number;
  port: number;
  pport: number;
  cport: number;
  currentEpoch: number;
  configEpoch: number;
  offset: number;
  sender: string;
  /** The sender's slot bitmap (2048 bytes). */
  slots: Uint8Array;
  /** The sender's master, null when it is a master. */
  replicaOf: string | null;
  myip: string;
  flags: number;
  /** 0: the sender sees the cluster ok, 1: failing. */
  state: number;
  mflags: number;
}

/** A decoded message: the header plus the body fields its type has. */
export interface BusMessage extends BusHeader {
  gossip: Gossip[];
  hostname: string | null;
  /** FAIL: the failed node. UPDATE: the node whose slots changed. */
  about: string;
  /** UPDATE: that node's config epoch and slots. */
  aboutEpoch: number;
  aboutSlots: Uint8Array | null;
  /** PUBLISH / PUBLISHSHARD. */
  channel: Buffer | null;
  message: Buffer | null;
}

const ZERO_NAME = Buffer.alloc(NAME_LEN);

function readName(b: Buffer, o: number): string {
  return b.toString('latin1', o, o + NAME_LEN);
}

function readCString(b: Buffer, o: number, max: number): string {
  let e = o;
  while (e < o + max && b[e] !== 0) e++;
  return b.toString('latin1', o, e);
}

function writeFixed(b: Buffer, o: number, s: string, max: number): void {
  b.fill(0, o, o + max);
  b.write(s.slice(0, max), o, 'latin1');
}

/**
 * Length a message's type and counts say it must have (Redis's clusterIsValidPacket), or -1
 * when the fields it needs lie beyond `len` bytes.
 */
function expectedLength(b: Buffer, len: number): number {
  const type = b.readUInt16BE(O_TYPE);
  const count = b.readUInt16BE(O_COUNT);
  switch (type) {
    case MSG_PING:
    case MSG_PONG:
    case MSG_MEET: {
      let n = HEADER_LEN + count * GOSSIP_LEN;
      const ext = b.readUInt16BE(O_EXTENSIONS);
      for (let i = 0; i < ext; i++) {
        if (n + 8 > len) return -1;
        const l = b.readUInt32BE(n);
        if (l < 8) return -1;
        n += l;
      }
      return n;
    }
    case MSG_FAIL:
      return HEADER_LEN + NAME_LEN;
    case MSG_PUBLISH:
    case MSG_PUBLISHSHARD:
      if (HEADER_LEN + 8 > len) return -1;
      return HEADER_LEN + 8 + b.readUInt32BE(HEADER_LEN) + b.readUInt32BE(HEADER_LEN + 4);
    case MSG_UPDATE:
      return HEADER_LEN + 8 + NAME_LEN + SLOTS_BYTES;
    case MSG_MODULE:
      if (HEADER_LEN + 12 > len) return -1;
      return HEADER_LEN + 13 + b.readUInt32BE(HEADER_LEN + 8);
    default:
      return HEADER_LEN;
  }
}

/** Total length of the message at the start of `b` once 8 bytes are there; -1 while fewer; 0 when it is no bus message. */
export function frameLength(b: Buffer, len: number): number {
  if (len < 8) return -1;
  if (b[0] !== 0x52 || b[1] !== 0x43 || b[2] !== 0x6d || b[3] !== 0x62) return 0;
  const total = b.readUInt32BE(O_TOTLEN);
  return total < HEADER_LEN ? 0 : total;
}

/** Decodes one whole message; null when it is malformed (wrong version or lengths), which Redis drops. */
export function decodeMessage(b: Buffer): BusMessage | null {
  if (b.length < HEADER_LEN || b.readUInt16BE(O_VER) !== 1) return null;
  if (expectedLength(b, b.length) !== b.length) return null;
  const type = b.readUInt16BE(O_TYPE);
  const slaveof = b.subarray(O_SLAVEOF, O_SLAVEOF + NAME_LEN);
  const m: BusMessage = {
    type,
    port: b.readUInt16BE(O_PORT),
    pport: b.readUInt16BE(O_PPORT),
    cport: b.readUInt16BE(O_CPORT),
    currentEpoch: Number(b.readBigUInt64BE(O_CUR_EPOCH)),
    configEpoch: Number(b.readBigUInt64BE(O_CFG_EPOCH)),
    offset: Number(b.readBigUInt64BE(O_OFFSET)),
    sender: readName(b, O_SENDER),
    slots: b.subarray(O_SLOTS, O_SLOTS + SLOTS_BYTES),
    replicaOf: slaveof.equals(ZERO_NAME) ? null : slaveof.toString('latin1'),
    myip: readCString(b, O_MYIP, IP_LEN),
    flags: b.readUInt16BE(O_FLAGS),
    state: b[O_STATE]!,
    mflags: b[O_MFLAGS]!,
    gossip: [],
    hostname: null,
    about: '',
    aboutEpoch: 0,
    aboutSlots: null,
    channel: null,
    message: null,
  };
  if (type === MSG_PING || type === MSG_PONG || type === MSG_MEET) {
    const count = b.readUInt16BE(O_COUNT);
    let o = HEADER_LEN;
    for (let i = 0; i < count; i++, o += GOSSIP_LEN) {
      m.gossip.push({
        name: readName(b, o),
        pingSent: b.readUInt32BE(o + 40),
        pongReceived: b.readUInt32BE(o + 44),
        ip: readCString(b, o + 48, IP_LEN),
        port: b.readUInt16BE(o + 94),
        cport: b.readUInt16BE(o + 96),
        flags: b.readUInt16BE(o + 98),
        pport: b.readUInt16BE(o + 100),
      });
    }
    const ext = b.readUInt16BE(O_EXTENSIONS);
    for (let i = 0; i < ext; i++) {
      const l = b.readUInt32BE(o);
      if (b.readUInt16BE(o + 4) === EXT_HOSTNAME) m.hostname = readCString(b, o + 8, l - 8);
      o += l;
    }
  } else if (type === MSG_FAIL) m.about = readName(b, HEADER_LEN);
  else if (type === MSG_UPDATE) {
    m.aboutEpoch = Number(b.readBigUInt64BE(HEADER_LEN));
    m.about = readName(b, HEADER_LEN + 8);
    m.aboutSlots = b.subarray(HEADER_LEN + 8 + NAME_LEN, HEADER_LEN + 8 + NAME_LEN + SLOTS_BYTES);
  } else if (type === MSG_PUBLISH || type === MSG_PUBLISHSHARD) {
    const cl = b.readUInt32BE(HEADER_LEN);
    const ml = b.readUInt32BE(HEADER_LEN + 4);
    m.channel = b.subarray(HEADER_LEN + 8, HEADER_LEN + 8 + cl);
    m.message = b.subarray(HEADER_LEN + 8 + cl, HEADER_LEN + 8 + cl + ml);
  }
  return m;
}

/** What the sender writes about itself in every header. */
export interface SenderInfo {
  port: number;
  pport: number;
  cport: number;
  currentEpoch: number;
  configEpoch: number;
  offset: number;
  name: string;
  slots: Uint8Array;
  replicaOf: string | null;
  /** The announced ip ('' lets the receiver use the connection's address). */
  myip: string;
  flags: number;
  state: number;
  mflags: number;
}

/** A message of `bodyLen` body bytes with the header filled in. */
function withHeader(type: number, s: SenderInfo, bodyLen: number, count = 0, extensions = 0): Buffer {
  const b = Buffer.alloc(HEADER_LEN + bodyLen);
  b.write('RCmb', 0, 'latin1');
  b.writeUInt32BE(b.length, O_TOTLEN);
  b.writeUInt16BE(1, O_VER);
  b.writeUInt16BE(s.port, O_PORT);
  b.writeUInt16BE(type, O_TYPE);
  b.writeUInt16BE(count, O_COUNT);
  b.writeBigUInt64BE(BigInt(s.currentEpoch), O_CUR_EPOCH);
  b.writeBigUInt64BE(BigInt(s.configEpoch), O_CFG_EPOCH);
  b.writeBigUInt64BE(BigInt(s.offset), O_OFFSET);
  writeFixed(b, O_SENDER, s.name, NAME_LEN);
  b.set(s.slots.subarray(0, SLOTS_BYTES), O_SLOTS);
  if (s.replicaOf !== null) writeFixed(b, O_SLAVEOF, s.replicaOf, NAME_LEN);
  writeFixed(b, O_MYIP, s.myip, IP_LEN);
  b.writeUInt16BE(extensions, O_EXTENSIONS);
  b.writeUInt16BE(s.pport, O_PPORT);
  b.writeUInt16BE(s.cport, O_CPORT);
  b.writeUInt16BE(s.flags, O_FLAGS);
  b[O_STATE] = s.state;
  b[O_MFLAGS] = s.mflags;
  return b;
}

/** A message that is only a header: FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK, MFSTART. */
export function encodeHeaderOnly(type: number, s: SenderInfo): Buffer {
  return withHeader(type, s, 0);
}

/** Bytes of the hostname extension (header, name, NUL, padding to 8). */
function hostnameExtLength(hostname: string): number {
  return 8 + ((Buffer.byteLength(hostname, 'latin1') + 1 + 7) & ~7);
}

/** PING, PONG or MEET with gossip sections and, when set, the hostname extension. */
export function encodePing(type: number, s: SenderInfo, gossip: readonly Gossip[], hostname: string): Buffer {
  const extLen = hostname !== '' ? hostnameExtLength(hostname) : 0;
  const b = withHeader(type, s, gossip.length * GOSSIP_LEN + extLen, gossip.length, extLen > 0 ? 1 : 0);
  // Tells the receiver this node understands ping extensions (Redis 7.0 always sets it).
  b[O_MFLAGS] = b[O_MFLAGS]! | MFLAG_EXT_DATA;
  let o = HEADER_LEN;
  for (const g of gossip) {
    writeFixed(b, o, g.name, NAME_LEN);
    b.writeUInt32BE(g.pingSent >>> 0, o + 40);
    b.writeUInt32BE(g.pongReceived >>> 0, o + 44);
    writeFixed(b, o + 48, g.ip, IP_LEN);
    b.writeUInt16BE(g.port, o + 94);
    b.writeUInt16BE(g.cport, o + 96);
    b.writeUInt16BE(g.flags, o + 98);
    b.writeUInt16BE(g.pport, o + 100);
    o += GOSSIP_LEN;
  }
  if (extLen > 0) {
    b.writeUInt32BE(extLen, o);
    b.writeUInt16BE(EXT_HOSTNAME, o + 4);
    b.write(hostname, o + 8, 'latin1');
  }
  return b;
}

/** FAIL about `name`. */
export function encodeFail(s: SenderInfo, name: string): Buffer {
  const b = withHeader(MSG_FAIL, s, NAME_LEN);
  writeFixed(b, HEADER_LEN, name, NAME_LEN);
  return b;
}

/** UPDATE: `name` owns `slots` at `configEpoch`. */
export function encodeUpdate(s: SenderInfo, name: string, configEpoch: number, slots: Uint8Array): Buffer {
  const b = withHeader(MSG_UPDATE, s, 8 + NAME_LEN + SLOTS_BYTES);
  b.writeBigUInt64BE(BigInt(configEpoch), HEADER_LEN);
  writeFixed(b, HEADER_LEN + 8, name, NAME_LEN);
  b.set(slots.subarray(0, SLOTS_BYTES), HEADER_LEN + 8 + NAME_LEN);
  return b;
}

/** PUBLISH (or PUBLISHSHARD) of `message` on `channel`. */
export function encodePublish(type: number, s: SenderInfo, channel: Uint8Array, message: Uint8Array): Buffer {
  const b = withHeader(type, s, 8 + channel.length + message.length);
  b.writeUInt32BE(channel.length, HEADER_LEN);
  b.writeUInt32BE(message.length, HEADER_LEN + 4);
  b.set(channel, HEADER_LEN + 8);
  b.set(message, HEADER_LEN + 8 + channel.length);
  return b;
}
