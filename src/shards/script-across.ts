/**
 * A script whose keys live on several shards: the acceptor holds every shard, tells each shard
 * but the executing one to serve its mailbox (`__xserve`), and runs the script in the first key's
 * shard. There, redis.call on a key another shard owns is forwarded synchronously through that
 * shard's mailbox (a SharedArrayBuffer: request bytes in, reply bytes out, Atomics.wait/notify),
 * so the script stays atomic: every shard is either running it or waiting on it. When the script
 * ends, the executing shard tells every mailbox to stop serving.
 */
import { Ctx, type ShardLimits } from './context.js';
import type { Store } from './store.js';
import { RespWriter } from '../wire/resp-writer.js';
import { COMMAND_NAMES } from '../commands/internal.js';
import { countRanCall } from './script-stats.js';
import { E_XSHARD_REPLY_TOO_LARGE } from '../wire/error-text.js';

/** Mailbox states (word 0 of its control words). */
const IDLE = 0;
const REQUEST = 1;
const REPLY = 2;
const END = 3;
/** Control words: state, payload length, command id, db, RESP version, argc. */
const W_STATE = 0;
const W_LEN = 1;
const W_CMD = 2;
const W_DB = 3;
const W_PROTO = 4;
const W_ARGC = 5;
const HEADER = 64;

interface Mailbox {
  ctl: Int32Array;
  data: Uint8Array;
}

let boxes: Mailbox[] = [];
let self = 0;

/** Attaches this shard (`id`) to every shard's mailbox. */
export function attachMailboxes(id: number, sabs: readonly SharedArrayBuffer[]): void {
  self = id;
  boxes = sabs.map((sab) => ({ ctl: new Int32Array(sab, 0, HEADER >>> 2), data: new Uint8Array(sab, HEADER) }));
}

/** True while this shard runs a script with every shard serving it. */
export const across = { active: false };

let replyBuf = new Uint8Array(1024);

/**
 * Runs command `cmd` (arguments [as[i], as[i] + al[i]) of `buf`) in shard `shard` and returns its
 * RESP reply, valid until the next call; null when the request does not fit the mailbox.
 */
export function callShard(
  shard: number,
  cmd: number,
  db: number,
  proto: number,
  buf: Uint8Array,
  as: Int32Array,
  al: Int32Array,
  argc: number,
): Uint8Array | null {
  const box = boxes[shard]!;
  const d = box.data;
  let size = 0;
  for (let i = 0; i < argc; i++) size += 4 + al[i]!;
  if (size > d.length) return null;
  const dv = new DataView(d.buffer, d.byteOffset, d.length);
  let p = 0;
  for (let i = 0; i < argc; i++) {
    dv.setUint32(p, al[i]!, true);
    d.set(buf.subarray(as[i]!, as[i]! + al[i]!), p + 4);
    p += 4 + al[i]!;
  }
  const ctl = box.ctl;
  ctl[W_LEN] = size;
  ctl[W_CMD] = cmd;
  ctl[W_DB] = db;
  ctl[W_PROTO] = proto;
  ctl[W_ARGC] = argc;
  Atomics.store(ctl, W_STATE, REQUEST);
  Atomics.notify(ctl, W_STATE);
  while (Atomics.load(ctl, W_STATE) === REQUEST) Atomics.wait(ctl, W_STATE, REQUEST);
  const len = ctl[W_LEN]!;
  if (replyBuf.length < len) replyBuf = new Uint8Array(Math.max(len, replyBuf.length * 2, 1024));
  replyBuf.set(d.subarray(0, len));
  Atomics.store(ctl, W_STATE, IDLE);
  return replyBuf.subarray(0, len);
}

/** Tells every other shard's mailbox that the script ended. */
export function endAcross(): void {
  for (let s = 0; s < boxes.length; s++) {
    if (s === self) continue;
    const ctl = boxes[s]!.ctl;
    Atomics.store(ctl, W_STATE, END);
    Atomics.notify(ctl, W_STATE);
  }
}

let serveCtx: Ctx | null = null;
let serveArgs = new Uint8Array(1024);

/**
 * Serves this shard's mailbox until the executing shard ends the script: each request runs
 * through `run` as the shard runs any command (watch, notifications, tracking, eviction).
 */
export function serveMailbox(store: Store, limits: ShardLimits, run: (c: Ctx, cmd: number) => void): void {
  const box = boxes[self]!;
  const ctl = box.ctl;
  const d = box.data;
  if (serveCtx === null) {
    serveCtx = new Ctx(store, new RespWriter(1024), limits);
    serveCtx.script = true;
  }
  const c = serveCtx;
  for (;;) {
    const st = Atomics.load(ctl, W_STATE);
    if (st === END) break;
    if (st !== REQUEST) {
      Atomics.wait(ctl, W_STATE, st);
      continue;
    }
    const size = ctl[W_LEN]!;
    const argc = ctl[W_ARGC]!;
    const cmd = ctl[W_CMD]!;
    if (serveArgs.length < size) serveArgs = new Uint8Array(Math.max(size, serveArgs.length * 2));
    serveArgs.set(d.subarray(0, size));
    const dv = new DataView(serveArgs.buffer, 0, size);
    c.reserve(argc);
    let p = 0;
    for (let i = 0; i < argc; i++) {
      const l = dv.getUint32(p, true);
      c.as[i] = p + 4;
      c.al[i] = l;
      p += 4 + l;
    }
    c.buf = serveArgs;
    c.argc = argc;
    c.db = ctl[W_DB]!;
    c.name = COMMAND_NAMES[cmd]!;
    c.cmd = cmd;
    c.conn = 0;
    c.seq = 0;
    c.noBlock = true;
    c.logEffects = false;
    const out = c.out;
    out.len = 0;
    out.proto = ctl[W_PROTO] === 3 ? 3 : 2;
    run(c, cmd);
    countRanCall(cmd, c);
    c.deferred = false;
    if (out.len > d.length) {
      out.len = 0;
      out.error(E_XSHARD_REPLY_TOO_LARGE);
    }
    d.set(out.bytes.subarray(0, out.len));
    ctl[W_LEN] = out.len;
    Atomics.store(ctl, W_STATE, REPLY);
    Atomics.notify(ctl, W_STATE);
  }
  Atomics.store(ctl, W_STATE, IDLE);
}
