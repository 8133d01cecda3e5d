/**
 * Client-side caching on the acceptor: CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO, and
 * the invalidation messages, as Redis 7.0 sends them.
 *
 * Which keys a client read lives in the shards (src/shards/tracking.ts): every key has one shard,
 * which sees its writes, expiry and eviction. A tracked read's frames carry FLAG_TRACK and the shard
 * registers its keys as it runs it (a transaction's reads, whose frames name the collector, send
 * `__track` frames right behind them instead); the shards report changed tracked keys (with the ids of
 * their readers), flushes, and — while BCAST clients exist — every changed key, which is matched
 * here against the BCAST prefixes and sent once per prefix when the reports of a wake-up are in,
 * like Redis's per-event-loop broadcast.
 *
 * Delivery follows Redis: RESP3 clients get `>2 invalidate [keys]` pushes (a null for a flush);
 * with REDIRECT the message goes to that client instead, as a push if it speaks RESP3, or as a
 * `__redis__:invalidate` Pub/Sub message if it is subscribed; a redirect client that has gone
 * makes the next invalidation a `tracking-redir-broken` push to a RESP3 client. A message caused
 * by the client's own running command follows that command's reply (Redis's pending keys); one
 * caused before it ran (eviction) precedes it.
 */
import { CMD } from '../commands/ids.generated.js';
import { COMMANDS, extractKeys } from '../commands/table.js';
import { internalId } from '../commands/internal.js';
import type { Acceptor } from '../io/acceptor.js';
import {
  type ClientTracking,
  type Connection,
  ST_SUBSCRIBED,
  TRACK_BCAST,
  TRACK_BROKEN_REDIRECT,
  TRACK_NOLOOP,
  TRACK_OPTIN,
  TRACK_OPTOUT,
} from '../io/connection.js';
import type { ParsedCommand } from '../wire/resp-parser.js';
import { R_OK } from '../wire/resp-writer.js';
import { isKeyword, parseI64 } from '../wire/bytes.js';
import * as F from '../wire/frames.js';
import {
  E_CACHING_NO,
  E_CACHING_NOT_TRACKING,
  E_CACHING_YES,
  E_NOT_INT,
  E_SYNTAX,
  E_TRACKING_BCAST_SWITCH,
  E_TRACKING_NO_REDIRECT_CLIENT,
  E_TRACKING_ONE_REDIRECT,
  E_TRACKING_OPTIN_OPTOUT,
  E_TRACKING_OPTS_BCAST,
  E_TRACKING_OPTS_SWITCH,
  E_TRACKING_PREFIX_NEEDS_BCAST,
  prefixOverlapsExisting,
  prefixOverlapsProvided,
} from '../wire/error-text.js';
import { ownerOf } from './transactions.js';
import { registerInfoLines } from './info.js';

/** A BCAST prefix: its clients and the keys under it changed since the last broadcast (key → modifier id). */
interface Prefix {
  bytes: Buffer;
  clients: Set<Connection>;
  keys: Map<string, number>;
}

const INVALIDATE_PUSH = Buffer.from('>2\r\n$10\r\ninvalidate\r\n');
const INVALIDATE_MESSAGE = Buffer.from('*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n');
const NULL3 = Buffer.from('_\r\n');
const TRACK_HEAD = Buffer.from('__track');
const NULL2 = Buffer.from('$-1\r\n');
/** Where a message goes in a connection's output (otherwise: right behind the reply with that sequence number). */
const AT_ONCE = -2;
const BEHIND_PENDING = -1;

function arg(cmd: ParsedCommand, i: number): Buffer {
  return Buffer.from(cmd.buf.buffer, cmd.buf.byteOffset + cmd.argStart[i]!, cmd.argLen[i]!);
}

function is(cmd: ParsedCommand, i: number, upper: string): boolean {
  return isKeyword(cmd.buf, cmd.argStart[i]!, cmd.argLen[i]!, upper);
}

function u32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

/** Redis's stringCheckPrefix: one string starts with the other. */
function overlaps(a: string, b: string): boolean {
  const n = Math.min(a.length, b.length);
  return a.slice(0, n) === b.slice(0, n);
}

/** The array of keys (or the null of a flush, in the tracking client's protocol) that ends an invalidation message. */
function keysPayload(keys: Buffer[] | null, trackerProto: number): Buffer {
  if (keys === null) return trackerProto === 3 ? NULL3 : NULL2;
  const parts: Buffer[] = [Buffer.from(`*${keys.length}\r\n`)];
  for (const k of keys) parts.push(Buffer.from(`$${k.length}\r\n`), k, Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** CLIENT TRACKING and the invalidation messages. */
export class Tracking {
  /** Connections with tracking on. */
  private readonly clients = new Set<Connection>();
  private bcastClients = 0;
  private readonly prefixes = new Map<string, Prefix>();
  /** What the shards were last told: [clients tracking, BCAST clients], as 0/1. */
  private shardClients = 0;
  private shardBcast = 0;
  private broadcastQueued = false;
  private evicting = false;
  private limitTimer: NodeJS.Timeout | null = null;
  private keyIdx = new Int32Array(64);
  private readonly trackId = internalId('__track');
  private readonly noop = (): void => {};

  constructor(private readonly a: Acceptor) {
    const h = a.local;
    h[CMD.CLIENT_TRACKING] = (conn, seq, cmd) => this.trackingCommand(conn, seq, cmd);
    h[CMD.CLIENT_CACHING] = (conn, seq, cmd) => this.caching(conn, seq, cmd);
    h[CMD.CLIENT_GETREDIR] = (conn, seq) => {
      const t = ownerOf(conn).tracking;
      a.startReply(conn).int(t === null ? -1 : t.redirect);
      a.replyW(conn, seq);
    };
    h[CMD.CLIENT_TRACKINGINFO] = (conn, seq) => this.info(conn, seq);
    const reset = h[CMD.RESET];
    h[CMD.RESET] = (conn, seq, cmd) => {
      this.disable(ownerOf(conn));
      reset?.(conn, seq, cmd);
    };
    a.tracksRead = (conn, seq) => this.tracksRead(conn, seq);
    a.onRead = (conn, _seq, id, cmd) => this.read(conn, id, cmd);
    registerInfoLines(a, 'stats', () => [
      `tracking_total_keys:${this.sum(F.ST_TRACKING_KEYS)}`,
      `tracking_total_items:${this.sum(F.ST_TRACKING_ITEMS)}`,
      `tracking_total_prefixes:${this.prefixes.size}`,
    ]);
    a.config.onChange('tracking-table-max-keys', () => this.limitTable());
  }

  private sum(slot: number): number {
    let s = 0;
    for (const link of this.a.shards) s += link.stats[slot]!;
    return s;
  }

  // ---- commands ----

  private trackingCommand(conn: Connection, seq: number, cmd: ParsedCommand): void {
    const a = this.a;
    const o = ownerOf(conn);
    let redirect = 0;
    let options = 0;
    const prefixes: string[] = [];
    for (let j = 3; j < cmd.argc; j++) {
      const more = j < cmd.argc - 1;
      if (is(cmd, j, 'REDIRECT') && more) {
        j++;
        if (redirect !== 0) return a.replyError(conn, seq, E_TRACKING_ONE_REDIRECT);
        const v = parseI64(cmd.buf, cmd.argStart[j]!, cmd.argLen[j]!);
        if (v === null) return a.replyError(conn, seq, E_NOT_INT);
        if (typeof v !== 'number' || !a.conns.has(v)) return a.replyError(conn, seq, E_TRACKING_NO_REDIRECT_CLIENT);
        redirect = v;
      } else if (is(cmd, j, 'BCAST')) options |= TRACK_BCAST;
      else if (is(cmd, j, 'OPTIN')) options |= TRACK_OPTIN;
      else if (is(cmd, j, 'OPTOUT')) options |= TRACK_OPTOUT;
      else if (is(cmd, j, 'NOLOOP')) options |= TRACK_NOLOOP;
      else if (is(cmd, j, 'PREFIX') && more) prefixes.push(arg(cmd, ++j).toString('latin1'));
      else return a.replyError(conn, seq, E_SYNTAX);
    }
    if (is(cmd, 2, 'OFF')) {
      this.disable(o);
      return a.replyConst(conn, seq, R_OK);
    }
    if (!is(cmd, 2, 'ON')) return a.replyError(conn, seq, E_SYNTAX);
    const t = o.tracking;
    if ((options & TRACK_BCAST) === 0 && prefixes.length > 0) return a.replyError(conn, seq, E_TRACKING_PREFIX_NEEDS_BCAST);
    if (t !== null && (t.flags & TRACK_BCAST) !== (options & TRACK_BCAST)) return a.replyError(conn, seq, E_TRACKING_BCAST_SWITCH);
    if ((options & TRACK_BCAST) !== 0 && (options & (TRACK_OPTIN | TRACK_OPTOUT)) !== 0)
      return a.replyError(conn, seq, E_TRACKING_OPTS_BCAST);
    if ((options & TRACK_OPTIN) !== 0 && (options & TRACK_OPTOUT) !== 0) return a.replyError(conn, seq, E_TRACKING_OPTIN_OPTOUT);
    if (
      t !== null &&
      (((options & TRACK_OPTIN) !== 0 && (t.flags & TRACK_OPTOUT) !== 0) ||
        ((options & TRACK_OPTOUT) !== 0 && (t.flags & TRACK_OPTIN) !== 0))
    )
      return a.replyError(conn, seq, E_TRACKING_OPTS_SWITCH);
    if ((options & TRACK_BCAST) !== 0) {
      const err = this.prefixCollision(t, prefixes);
      if (err !== null) return a.replyErrorLatin1(conn, seq, err);
    }
    this.enable(o, redirect, options, prefixes);
    a.replyConst(conn, seq, R_OK);
  }

  /** Redis's checkPrefixCollisionsOrReply: the error for overlapping prefixes, or null. */
  private prefixCollision(t: ClientTracking | null, prefixes: string[]): string | null {
    for (let i = 0; i < prefixes.length; i++) {
      const p = prefixes[i]!;
      if (t !== null) for (const old of t.prefixes) if (overlaps(old, p)) return prefixOverlapsExisting(p, old);
      for (let j = i + 1; j < prefixes.length; j++) if (overlaps(p, prefixes[j]!)) return prefixOverlapsProvided(p, prefixes[j]!);
    }
    return null;
  }

  private caching(conn: Connection, seq: number, cmd: ParsedCommand): void {
    const a = this.a;
    const t = ownerOf(conn).tracking;
    if (t === null) return a.replyError(conn, seq, E_CACHING_NOT_TRACKING);
    if (is(cmd, 2, 'YES')) {
      if ((t.flags & TRACK_OPTIN) === 0) return a.replyError(conn, seq, E_CACHING_YES);
    } else if (is(cmd, 2, 'NO')) {
      if ((t.flags & TRACK_OPTOUT) === 0) return a.replyError(conn, seq, E_CACHING_NO);
    } else return a.replyError(conn, seq, E_SYNTAX);
    // It applies to the next command only (inside a transaction: the next queued one).
    t.cachingBy = conn;
    t.cachingSeq = seq;
    a.replyConst(conn, seq, R_OK);
  }

  /** CLIENT CACHING was given for command `seq` of `conn`. */
  private cachingGiven(t: ClientTracking, conn: Connection, seq: number): boolean {
    return t.cachingBy === conn && t.cachingSeq + 1 === seq;
  }

  private info(conn: Connection, seq: number): void {
    const t = ownerOf(conn).tracking;
    const flags: string[] = [t === null ? 'off' : 'on'];
    if (t !== null) {
      const given = this.cachingGiven(t, conn, seq);
      if ((t.flags & TRACK_BCAST) !== 0) flags.push('bcast');
      if ((t.flags & TRACK_OPTIN) !== 0) flags.push(...(given ? ['optin', 'caching-yes'] : ['optin']));
      if ((t.flags & TRACK_OPTOUT) !== 0) flags.push(...(given ? ['optout', 'caching-no'] : ['optout']));
      if ((t.flags & TRACK_NOLOOP) !== 0) flags.push('noloop');
      if ((t.flags & TRACK_BROKEN_REDIRECT) !== 0) flags.push('broken_redirect');
    }
    const w = this.a.startReply(conn);
    w.mapHeader(3);
    w.bulkString('flags');
    w.setHeader(flags.length);
    for (const f of flags) w.bulkString(f);
    w.bulkString('redirect');
    w.int(t === null ? -1 : t.redirect);
    w.bulkString('prefixes');
    const prefixes = t === null ? [] : [...t.prefixes];
    w.arrayHeader(prefixes.length);
    for (const p of prefixes) {
      const b = Buffer.from(p, 'latin1');
      w.bulk(b, 0, b.length);
    }
    this.a.replyW(conn, seq);
  }

  // ---- client state ----

  /** Redis's enableTracking: (re)sets the options; BCAST prefixes add to those the client has. */
  private enable(conn: Connection, redirect: number, options: number, prefixes: string[]): void {
    let t = conn.tracking;
    if (t === null) {
      t = { flags: 0, redirect: 0, prefixes: new Set(), cachingBy: null, cachingSeq: -2 };
      conn.tracking = t;
      this.clients.add(conn);
    } else if ((t.flags & TRACK_BCAST) === 0) this.a.trackingReaders--;
    else this.bcastClients--;
    t.flags = options & (TRACK_BCAST | TRACK_OPTIN | TRACK_OPTOUT | TRACK_NOLOOP);
    t.redirect = redirect;
    if ((options & TRACK_BCAST) !== 0) {
      this.bcastClients++;
      if (prefixes.length === 0) prefixes.push('');
      for (const p of prefixes) {
        let e = this.prefixes.get(p);
        if (e === undefined) this.prefixes.set(p, (e = { bytes: Buffer.from(p, 'latin1'), clients: new Set(), keys: new Map() }));
        e.clients.add(conn);
        t.prefixes.add(p);
      }
    } else this.a.trackingReaders++;
    this.tellShards();
  }

  /** Redis's disableTracking: keys the client read stay in the tables until they change (their messages are then dropped). */
  private disable(conn: Connection): void {
    const t = conn.tracking;
    if (t === null) return;
    for (const p of t.prefixes) {
      const e = this.prefixes.get(p);
      if (e === undefined) continue;
      e.clients.delete(conn);
      if (e.clients.size === 0) this.prefixes.delete(p);
    }
    if ((t.flags & TRACK_BCAST) !== 0) this.bcastClients--;
    else this.a.trackingReaders--;
    conn.tracking = null;
    this.clients.delete(conn);
    this.tellShards();
  }

  /** The connection closed. */
  closed(conn: Connection): void {
    this.disable(conn);
  }

  /** Tells the shards whether anyone tracks (flushes are then reported) and whether BCAST needs every change. */
  private tellShards(): void {
    this.a.trackingClients = this.clients.size;
    // Redis checks the table's size every event loop; the shards' counts are read here ten times a second while anyone tracks.
    if (this.clients.size > 0 && this.limitTimer === null) (this.limitTimer = setInterval(() => this.limitTable(), 100)).unref();
    else if (this.clients.size === 0 && this.limitTimer !== null) {
      clearInterval(this.limitTimer);
      this.limitTimer = null;
    }
    const clients = this.clients.size > 0 ? 1 : 0;
    const bcast = this.bcastClients > 0 ? 1 : 0;
    if (clients === this.shardClients && bcast === this.shardBcast) return;
    this.shardClients = clients;
    this.shardBcast = bcast;
    const args = [Buffer.from('__trackcfg'), Buffer.from(String(clients)), Buffer.from(String(bcast))];
    void this.a.coordinator.callAll(0, internalId('__trackcfg'), args);
  }

  // ---- reads ----

  /** Whether read `seq` of `conn` registers its keys: the client tracks in the default mode, and OPTIN/OPTOUT allow it. */
  private tracksRead(conn: Connection, seq: number): boolean {
    const t = ownerOf(conn).tracking;
    if (t === null || (t.flags & TRACK_BCAST) !== 0) return false;
    if ((t.flags & (TRACK_OPTIN | TRACK_OPTOUT)) === 0) return true;
    const given = this.cachingGiven(t, conn, seq);
    return (t.flags & TRACK_OPTIN) !== 0 ? given : !given;
  }

  /** A tracked read whose frames could not carry FLAG_TRACK (a transaction's, or one run by the coordinator): `__track` frames register its keys. */
  private read(conn: Connection, id: number, cmd: ParsedCommand): void {
    if (this.keyIdx.length < cmd.argc) this.keyIdx = new Int32Array(cmd.argc * 2);
    const nk = extractKeys(COMMANDS[id]!, cmd.buf, cmd.argStart, cmd.argLen, cmd.argc, this.keyIdx);
    if (nk <= 0) return;
    const c = this.a.coordinator;
    const idArg = Buffer.from(String(ownerOf(conn).id));
    const head = TRACK_HEAD;
    // Sent now, right behind the read in each shard's ring: no write can land between them.
    if (nk === 1) {
      const k = arg(cmd, this.keyIdx[0]!);
      c.send(this.a.nShards === 1 ? 0 : c.shardOfKey(k), 0, this.trackId, [head, idArg, k], this.noop);
      return;
    }
    const byShard = new Map<number, Uint8Array[]>();
    for (let i = 0; i < nk; i++) {
      const k = arg(cmd, this.keyIdx[i]!);
      const s = this.a.nShards === 1 ? 0 : c.shardOfKey(k);
      let list = byShard.get(s);
      if (list === undefined) byShard.set(s, (list = [head, idArg]));
      list.push(k);
    }
    for (const [s, args] of byShard) c.send(s, 0, this.trackId, args, this.noop);
  }

  // ---- reports from the shards ----

  /** The client a connection id acts for (a transaction's collector acts for its client); null if none. */
  private ownerById(id: number): Connection | null {
    const c = this.a.conns.get(id) ?? this.a.sinks.get(id);
    return c === undefined ? null : ownerOf(c);
  }

  /**
   * Where a message for `target` goes in its output: right behind the reply to `seq` when its own
   * command `seq` (on connection id `currentId`) caused it, behind all its pending replies when its
   * transaction did, else now (AT_ONCE).
   */
  private placeFor(target: Connection, current: Connection | null, currentId: number, seq: number, during: boolean): number {
    if (!during || target !== current) return AT_ONCE;
    return this.a.conns.get(currentId) === target ? seq : BEHIND_PENDING;
  }

  /** A tracking report frame body (src/shards/tracking.ts). */
  event(b: Uint8Array, s: number, len: number): void {
    const kind = b[s + 1]!;
    const during = b[s + 2] === F.PHASE_DURING;
    const currentId = u32(b, s + 4);
    const seq = u32(b, s + 8);
    const current = this.ownerById(currentId);
    if (kind === F.TRACK_FLUSH) {
      for (const t of this.clients) this.send(t, null, this.placeFor(t, current, currentId, seq, during));
      return;
    }
    if (kind !== F.TRACK_KEY) return;
    const n = u32(b, s + 16);
    const keyStart = s + 20 + 4 * n;
    let key: Buffer | null = null;
    for (let i = 0; i < n; i++) {
      const target = this.a.conns.get(u32(b, s + 20 + 4 * i));
      const t = target?.tracking;
      // Keys read before tracking was turned off, or before a switch to BCAST, are dropped here, as in Redis.
      if (t == null || (t.flags & TRACK_BCAST) !== 0) continue;
      if ((t.flags & TRACK_NOLOOP) !== 0 && target === current) continue;
      key ??= Buffer.from(b.subarray(keyStart, s + len));
      this.send(target!, [key], this.placeFor(target!, current, currentId, seq, during));
    }
    if (b[s + 3] === 1 && this.prefixes.size !== 0) {
      const modifier = this.ownerById(u32(b, s + 12))?.id ?? 0;
      const kb = b.subarray(keyStart, s + len);
      let name: string | null = null;
      for (const p of this.prefixes.values()) {
        if (p.bytes.length > kb.length || !p.bytes.equals(kb.subarray(0, p.bytes.length))) continue;
        name ??= Buffer.from(kb).toString('latin1');
        p.keys.set(name, modifier);
      }
      if (name !== null && !this.broadcastQueued) {
        this.broadcastQueued = true;
        // After every report of this wake-up is in (the acceptor drains all shards first).
        queueMicrotask(() => this.broadcast());
      }
    }
  }

  /** Redis's trackingBroadcastInvalidationMessages: per prefix, one message with its changed keys to each of its clients. */
  private broadcast(): void {
    this.broadcastQueued = false;
    for (const p of this.prefixes.values()) {
      if (p.keys.size === 0) continue;
      const names = [...p.keys.keys()].sort();
      for (const c of p.clients) {
        const t = c.tracking;
        if (t === null) continue;
        let own = false;
        const keys: Buffer[] = [];
        for (const k of names) {
          const mine = p.keys.get(k) === c.id;
          own ||= mine;
          if (!mine || (t.flags & TRACK_NOLOOP) === 0) keys.push(Buffer.from(k, 'latin1'));
        }
        // Sent once the wake-up's replies are in: a client's own changes follow its pending replies.
        if (keys.length > 0) this.send(c, keys, own ? BEHIND_PENDING : AT_ONCE);
      }
      p.keys.clear();
    }
    this.a.scheduleTick();
  }

  /**
   * Redis's sendTrackingMessage: the invalidation of `keys` (null: everything, a flush) for the
   * tracking client `c`, to it or its redirect client; `place` (see placeFor) applies to c itself.
   */
  private send(c: Connection, keys: Buffer[] | null, place: number): void {
    const t = c.tracking!;
    let to = c;
    if (t.redirect !== 0) {
      const r = this.a.conns.get(t.redirect);
      if (r === undefined || r.closed) {
        t.flags |= TRACK_BROKEN_REDIRECT;
        if (c.proto === 3) {
          const id = String(t.redirect);
          this.deliver(c, Buffer.from(`>2\r\n$21\r\ntracking-redir-broken\r\n:${id}\r\n`), place);
        }
        return;
      }
      to = r;
    }
    let head: Buffer;
    if (to.proto === 3) head = INVALIDATE_PUSH;
    else if (to !== c && (to.state & ST_SUBSCRIBED) !== 0) head = INVALIDATE_MESSAGE;
    else return;
    this.deliver(to, Buffer.concat([head, keysPayload(keys, c.proto)]), to === c ? place : AT_ONCE);
  }

  /** Writes a message to a connection at `place` (see placeFor). */
  private deliver(to: Connection, msg: Buffer, place: number): void {
    if (to.closed) return;
    if (place >= 0) to.pushAfter(place, msg);
    else if (place === BEHIND_PENDING && !to.idle) {
      to.deferPush(msg);
      return;
    } else to.out.raw(msg, 0, msg.length);
    this.a.markDirty(to);
  }

  // ---- tracking-table-max-keys ----

  /** Over tracking-table-max-keys: the shards drop their oldest keys (invalidating them) until the total fits. */
  private limitTable(): void {
    const max = this.a.config.num('tracking-table-max-keys');
    if (max === 0 || this.evicting) return;
    let excess = this.sum(F.ST_TRACKING_KEYS) - max;
    if (excess <= 0) return;
    this.evicting = true;
    const calls: Promise<Uint8Array>[] = [];
    const id = internalId('__trackevict');
    for (let s = 0; s < this.a.shards.length && excess > 0; s++) {
      const n = Math.min(excess, this.a.shards[s]!.stats[F.ST_TRACKING_KEYS]!);
      if (n <= 0) continue;
      excess -= n;
      calls.push(this.a.coordinator.call(s, 0, id, [Buffer.from('__trackevict'), Buffer.from(String(n))]));
    }
    void Promise.all(calls).then(() => {
      this.evicting = false;
      this.a.scheduleTick();
    });
  }
}
