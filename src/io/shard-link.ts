/**
 * The acceptor's handle on one shard worker: encodes request frames into its ring (or an
 * overflow queue when the ring is full, or the MessagePort for frames too big for it),
 * publishes once per tick, and reads reply frames back.
 */
import { Worker, MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { LITTLE_ENDIAN, RingReader, RingWriter, createRingMemory, writeU32 } from '../wire/ring.js';
import * as F from '../wire/frames.js';
import { copyBytes } from '../wire/bytes.js';
import type { ShardInit } from '../wire/shard-init.js';
import { COMMAND_NAMES } from '../commands/internal.js';
import { LAT_BUCKETS } from '../wire/latency-buckets.js';
import type { ShardPort } from './coordinator.js';
import { dropped } from '../reclaim.js';

/** Options the acceptor passes when starting a shard. */
export interface ShardLinkOptions {
  id: number;
  count: number;
  doorbell: SharedArrayBuffer;
  databases: number;
  maxBulkLen: number;
  ringBytes: number;
  /** Every shard's mailbox for scripts across shards. */
  mailboxes: SharedArrayBuffer[];
  /** The shard worker's entry module (the server names it: io/ does not reach into shards/). */
  workerUrl: URL;
}

/** A frame that could not go to the ring yet; `big` ones travel over the port. */
interface Overflow {
  bytes: Uint8Array;
  big: boolean;
}

/** Fills the overflow slots already moved to the ring, so their bytes can be collected. */
const EMPTY_OVERFLOW: Overflow = { bytes: new Uint8Array(0), big: false };

/** Acceptor-side end of one shard. */
export class ShardLink implements ShardPort {
  readonly id: number;
  readonly worker: Worker;
  readonly req: RingWriter;
  readonly rep: RingReader;
  readonly port: MessagePort;
  readonly stats: Float64Array;
  /** Per-command latency histograms the shard fills (src/shards/latency.ts layout). */
  readonly latency: Float64Array;
  /** Per-command time and failed calls the shard counts (frames.ts CS_* layout). */
  readonly cmdStats: Float64Array;
  /** Where the acceptor answers a script's PUBLISH (frames.ts PUB_*). */
  readonly publishAnswer: Int32Array;
  /** Frames were committed since the last publish. */
  dirty = false;
  /** Settles once the shard finished starting (its Lua VM loaded) and serves its ring. */
  readonly ready: Promise<void>;
  /** The shard thread's kernel id once it is ready (0 off Linux). */
  tid = 0;
  /** Frames waiting for ring space: overflow[overflowHead..] (a head index, since shift() on a long array copies it). */
  private overflow: Overflow[] = [];
  private overflowHead = 0;
  private overflowBytes = 0;
  /** Frame being built: its payload start in the ring, or -1 if it is built in `spill`. */
  private framePos = -1;
  private frameLen = 0;
  private spill: Uint8Array | null = null;

  constructor(opts: ShardLinkOptions, onExit: (id: number, code: number) => void) {
    this.id = opts.id;
    const reqMem = createRingMemory(opts.ringBytes);
    const repMem = createRingMemory(opts.ringBytes);
    const statsSab = new SharedArrayBuffer(F.STATS_SLOTS * 8);
    const latencySab = new SharedArrayBuffer(COMMAND_NAMES.length * LAT_BUCKETS * 8);
    const cmdStatsSab = new SharedArrayBuffer(COMMAND_NAMES.length * F.CS_SLOTS * 8);
    const publishSab = new SharedArrayBuffer(8);
    this.publishAnswer = new Int32Array(publishSab);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const init: ShardInit = {
      id: opts.id,
      count: opts.count,
      req: reqMem,
      rep: repMem,
      doorbell: opts.doorbell,
      stats: statsSab,
      latency: latencySab,
      cmdStats: cmdStatsSab,
      port: port2,
      databases: opts.databases,
      maxBulkLen: opts.maxBulkLen,
      mailboxes: opts.mailboxes,
      publish: publishSab,
    };
    this.worker = new Worker(opts.workerUrl, {
      workerData: init,
      transferList: [port2],
      name: `shard-${opts.id}`,
    });
    this.worker.on('exit', (code) => onExit(this.id, code));
    this.ready = new Promise((resolve) => {
      this.worker.once('message', (m: { tid?: unknown }) => {
        if (typeof m?.tid === 'number') this.tid = m.tid;
        resolve();
      });
      this.worker.once('exit', () => resolve());
    });
    this.req = new RingWriter(reqMem);
    this.rep = new RingReader(repMem);
    this.stats = new Float64Array(statsSab);
    this.latency = new Float64Array(latencySab);
    this.cmdStats = new Float64Array(cmdStatsSab);
  }

  /**
   * Starts a request frame whose payload is `payloadLen` bytes and writes its header.
   * Returns the buffer to write arguments into and the offset of the first argument.
   */
  begin(conn: number, seq: number, cmd: number, db: number, flags: number, argc: number, payloadLen: number): Uint8Array {
    let buf: Uint8Array;
    let p: number;
    const big = payloadLen > this.req.maxPayload;
    if (!big && this.overflowBytes === 0 && (p = this.req.reserve(payloadLen)) !== -1) {
      buf = this.req.buf;
      this.framePos = p;
    } else {
      this.spill = new Uint8Array(payloadLen);
      buf = this.spill;
      p = 0;
      this.framePos = -1;
    }
    this.frameLen = payloadLen;
    if (LITTLE_ENDIAN && buf === this.req.buf) {
      // The header as four words: conn, seq, then cmd (u16) + db + flags, then argc.
      const u = this.req.u32;
      const w = p >>> 2;
      u[w] = conn;
      u[w + 1] = seq;
      u[w + 2] = (cmd & 0xffff) | ((db & 0xff) << 16) | ((flags & 0xff) << 24);
      u[w + 3] = argc;
      this.cursor = p + F.REQ_ARGS;
      return buf;
    }
    writeU32(buf, p + F.REQ_CONN, conn);
    writeU32(buf, p + F.REQ_SEQ, seq);
    buf[p + F.REQ_CMD] = cmd & 0xff;
    buf[p + F.REQ_CMD + 1] = cmd >>> 8;
    buf[p + F.REQ_DB] = db;
    buf[p + F.REQ_FLAGS] = flags | (big ? F.FLAG_BIG : 0);
    writeU32(buf, p + F.REQ_ARGC, argc);
    this.cursor = p + F.REQ_ARGS;
    return buf;
  }

  /** Write position inside the frame being built. */
  cursor = 0;

  /** Appends one argument to the frame being built. */
  arg(buf: Uint8Array, src: Uint8Array, start: number, len: number): void {
    const p = this.cursor;
    writeU32(buf, p, len);
    copyBytes(buf, p + 4, src, start, len);
    this.cursor = p + 4 + len;
  }

  /** Completes the frame started by begin(). */
  end(): void {
    if (this.framePos !== -1) {
      this.req.commit(this.framePos, this.frameLen);
      this.dirty = true;
      return;
    }
    const bytes = this.spill!;
    this.spill = null;
    this.overflow.push({ bytes, big: bytes.length > this.req.maxPayload });
    this.overflowBytes += bytes.length;
    this.flushOverflow();
  }

  /** Bytes waiting in the overflow queue (the acceptor pauses reading when this grows). */
  get backlog(): number {
    return this.overflowBytes;
  }

  /** Moves queued frames into the ring as space allows. */
  flushOverflow(): void {
    const q = this.overflow;
    while (this.overflowHead < q.length) {
      const f = q[this.overflowHead]!;
      // Read before a big frame's buffer is transferred (which empties it).
      const n = f.bytes.length;
      if (f.big) {
        const p = this.req.reserve(F.REQ_ARGS);
        if (p === -1) return;
        this.req.buf.set(f.bytes.subarray(0, F.REQ_ARGS), p);
        this.req.buf[p + F.REQ_FLAGS] = this.req.buf[p + F.REQ_FLAGS]! | F.FLAG_BIG;
        const ab = f.bytes.buffer as ArrayBuffer;
        this.port.postMessage(ab, [ab]);
        // The input it was copied from is garbage now.
        dropped(n);
        this.req.commit(p, F.REQ_ARGS);
      } else {
        const p = this.req.reserve(f.bytes.length);
        if (p === -1) return;
        this.req.buf.set(f.bytes, p);
        this.req.commit(p, f.bytes.length);
      }
      q[this.overflowHead++] = EMPTY_OVERFLOW;
      this.overflowBytes -= n;
      this.dirty = true;
    }
    this.overflow = [];
    this.overflowHead = 0;
  }

  /** Makes this tick's frames visible and wakes the shard if it sleeps. */
  publish(): void {
    if (this.overflowBytes > 0) this.flushOverflow();
    if (!this.dirty) return;
    this.dirty = false;
    if (this.req.publish()) this.req.notify();
  }

  /** Sends an argument-less control frame (shutdown) and publishes it at once. */
  control(cmd: number): void {
    this.begin(0, 0, cmd, 0, 0, 0, F.REQ_ARGS);
    this.end();
    this.publish();
  }

  /** Takes the payload of a KIND_BIG reply frame from the port. */
  takeBigReply(): Uint8Array {
    const msg = receiveMessageOnPort(this.port);
    if (msg === undefined) throw new Error(`shard ${this.id}: large reply missing from the port`);
    return new Uint8Array(msg.message as ArrayBuffer);
  }
}
