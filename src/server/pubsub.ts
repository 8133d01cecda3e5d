/**
 * Pub/sub on the acceptor: channels, glob patterns and shard channels (which behave as
 * plain channels on a standalone node), RESP2 subscribed-mode rules and RESP3 pushes.
 * PUBLISH encodes each message once per protocol and channel/pattern into a per-tick log
 * that subscribers share (each writes its span of it at flush, no per-subscriber copy).
 * A subscriber that stops reading is disconnected at the pubsub class of
 * `client-output-buffer-limit` (Redis's default: 32 MB hard, 8 MB for 60 s soft; the reply
 * flusher enforces it).
 */
import { CMD } from '../commands/ids.generated.js';
import { COMMANDS } from '../commands/table.js';
import type { Acceptor } from '../io/acceptor.js';
import { type Connection, ST_SUBSCRIBED } from '../io/connection.js';
import type { ParsedCommand } from '../wire/resp-parser.js';
import { RespWriter } from '../wire/resp-writer.js';
import { globMatch } from '../wire/bytes.js';
import { ownerOf } from './transactions.js';
import { registerInfoLines } from './info.js';
import { notInSubscribeContext } from '../wire/error-text.js';

/** Commands a RESP2 client may send while subscribed. */
const ALLOWED_SUBSCRIBED = new Set<number>([
  CMD.SUBSCRIBE,
  CMD.PSUBSCRIBE,
  CMD.SSUBSCRIBE,
  CMD.UNSUBSCRIBE,
  CMD.PUNSUBSCRIBE,
  CMD.SUNSUBSCRIBE,
  CMD.PING,
  CMD.QUIT,
  CMD.RESET,
]);

/** A subscribed pattern with its compiled bytes. */
interface Pattern {
  bytes: Buffer;
  subs: Set<Connection>;
}

type Kind = 'channel' | 'pattern' | 'shard';

function argBuf(cmd: ParsedCommand, i: number): Buffer {
  return Buffer.from(cmd.buf.buffer, cmd.buf.byteOffset + cmd.argStart[i]!, cmd.argLen[i]!);
}

/** The pub/sub registry and its commands. */
export class PubSub {
  readonly channels = new Map<string, Set<Connection>>();
  readonly patterns = new Map<string, Pattern>();
  readonly shardChannels = new Map<string, Set<Connection>>();
  /** This tick's shared message logs per protocol, and the flush they belong to. */
  private log2: RespWriter | null = null;
  private log3: RespWriter | null = null;
  private logGen = -1;
  private end2 = 0;
  private end3 = 0;

  constructor(private readonly a: Acceptor) {
    registerInfoLines(a, 'stats', () => [
      `pubsub_channels:${this.channels.size}`,
      `pubsub_patterns:${this.patterns.size}`,
      `pubsubshard_channels:${this.shardChannels.size}`,
    ]);
    const h = a.local;
    h[CMD.SUBSCRIBE] = (conn, seq, cmd) => this.subscribe(conn, seq, cmd, 'channel');
    h[CMD.PSUBSCRIBE] = (conn, seq, cmd) => this.subscribe(conn, seq, cmd, 'pattern');
    h[CMD.SSUBSCRIBE] = (conn, seq, cmd) => this.subscribe(conn, seq, cmd, 'shard');
    h[CMD.UNSUBSCRIBE] = (conn, seq, cmd) => this.unsubscribe(conn, seq, cmd, 'channel');
    h[CMD.PUNSUBSCRIBE] = (conn, seq, cmd) => this.unsubscribe(conn, seq, cmd, 'pattern');
    h[CMD.SUNSUBSCRIBE] = (conn, seq, cmd) => this.unsubscribe(conn, seq, cmd, 'shard');
    h[CMD.PUBLISH] = (conn, seq, cmd) => {
      a.startReply(conn).int(this.publish(argBuf(cmd, 1), argBuf(cmd, 2), false));
      a.replyW(conn, seq);
    };
    h[CMD.SPUBLISH] = (conn, seq, cmd) => {
      a.startReply(conn).int(this.publish(argBuf(cmd, 1), argBuf(cmd, 2), true));
      a.replyW(conn, seq);
    };
    h[CMD.PUBSUB_CHANNELS] = (conn, seq, cmd) => this.listChannels(conn, seq, cmd, this.channels);
    h[CMD.PUBSUB_SHARDCHANNELS] = (conn, seq, cmd) => this.listChannels(conn, seq, cmd, this.shardChannels);
    h[CMD.PUBSUB_NUMSUB] = (conn, seq, cmd) => this.numSub(conn, seq, cmd, this.channels);
    h[CMD.PUBSUB_SHARDNUMSUB] = (conn, seq, cmd) => this.numSub(conn, seq, cmd, this.shardChannels);
    h[CMD.PUBSUB_NUMPAT] = (conn, seq) => {
      a.startReply(conn).int(this.patterns.size);
      a.replyW(conn, seq);
    };
    const ping = h[CMD.PING]!;
    h[CMD.PING] = (conn, seq, cmd) => {
      const o = ownerOf(conn);
      if ((o.state & ST_SUBSCRIBED) === 0 || o.proto === 3 || cmd.argc > 2) return ping(conn, seq, cmd);
      const w = a.startReply(conn);
      w.arrayHeader(2);
      w.bulkString('pong');
      if (cmd.argc === 2) w.bulk(cmd.buf, cmd.argStart[1]!, cmd.argLen[1]!);
      else w.bulkString('');
      a.replyW(conn, seq);
    };
    const reset = h[CMD.RESET];
    h[CMD.RESET] = (conn, seq, cmd) => {
      this.closed(ownerOf(conn));
      reset?.(conn, seq, cmd);
    };
  }

  /** RESP2 subscribed mode: rejects commands other than the allowed ones (true if rejected). */
  gate(conn: Connection, seq: number, id: number): boolean {
    if (conn.proto === 3 || ALLOWED_SUBSCRIBED.has(id)) return false;
    this.a.replyError(conn, seq, notInSubscribeContext(COMMANDS[id]!.name));
    return true;
  }

  /** Drops every subscription of a closing (or RESET) connection. */
  closed(conn: Connection): void {
    for (const ch of conn.subs) this.drop(this.channels, ch, conn);
    for (const ch of conn.ssubs) this.drop(this.shardChannels, ch, conn);
    for (const p of conn.psubs) {
      const e = this.patterns.get(p);
      if (e === undefined) continue;
      e.subs.delete(conn);
      if (e.subs.size === 0) this.patterns.delete(p);
    }
    conn.subs.clear();
    conn.psubs.clear();
    conn.ssubs.clear();
    conn.state &= ~ST_SUBSCRIBED;
  }

  private drop(map: Map<string, Set<Connection>>, name: string, conn: Connection): void {
    const set = map.get(name);
    if (set === undefined) return;
    set.delete(conn);
    if (set.size === 0) map.delete(name);
  }

  private mine(conn: Connection, kind: Kind): Set<string> {
    return kind === 'channel' ? conn.subs : kind === 'pattern' ? conn.psubs : conn.ssubs;
  }

  private count(conn: Connection, kind: Kind): number {
    return kind === 'shard' ? conn.ssubs.size : conn.subs.size + conn.psubs.size;
  }

  private updateState(conn: Connection): void {
    if (conn.subs.size + conn.psubs.size + conn.ssubs.size > 0) conn.state |= ST_SUBSCRIBED;
    else conn.state &= ~ST_SUBSCRIBED;
  }

  /** One confirmation (or unsubscribe) record: [kind, name, count]. */
  private confirm(w: RespWriter, verb: string, name: string | null, count: number): void {
    w.pushHeader(3);
    w.bulkString(verb);
    if (name === null) w.nullBulk();
    else {
      const b = Buffer.from(name, 'latin1');
      w.bulk(b, 0, b.length);
    }
    w.int(count);
  }

  private subscribe(conn: Connection, seq: number, cmd: ParsedCommand, kind: Kind): void {
    const o = ownerOf(conn);
    const mine = this.mine(o, kind);
    const w = this.a.startReply(conn);
    for (let i = 1; i < cmd.argc; i++) {
      const name = argBuf(cmd, i).toString('latin1');
      if (!mine.has(name)) {
        mine.add(name);
        if (kind === 'pattern') {
          let e = this.patterns.get(name);
          if (e === undefined) this.patterns.set(name, (e = { bytes: Buffer.from(name, 'latin1'), subs: new Set() }));
          e.subs.add(o);
        } else {
          const map = kind === 'channel' ? this.channels : this.shardChannels;
          let set = map.get(name);
          if (set === undefined) map.set(name, (set = new Set()));
          set.add(o);
        }
      }
      this.confirm(w, kind === 'channel' ? 'subscribe' : kind === 'pattern' ? 'psubscribe' : 'ssubscribe', name, this.count(o, kind));
    }
    this.updateState(o);
    this.a.replyW(conn, seq);
  }

  private unsubscribe(conn: Connection, seq: number, cmd: ParsedCommand, kind: Kind): void {
    const o = ownerOf(conn);
    const mine = this.mine(o, kind);
    const verb = kind === 'channel' ? 'unsubscribe' : kind === 'pattern' ? 'punsubscribe' : 'sunsubscribe';
    const names: string[] = [];
    if (cmd.argc > 1) for (let i = 1; i < cmd.argc; i++) names.push(argBuf(cmd, i).toString('latin1'));
    else names.push(...mine);
    const w = this.a.startReply(conn);
    for (const name of names) {
      if (mine.delete(name)) {
        if (kind === 'pattern') {
          const e = this.patterns.get(name)!;
          e.subs.delete(o);
          if (e.subs.size === 0) this.patterns.delete(name);
        } else this.drop(kind === 'channel' ? this.channels : this.shardChannels, name, o);
      }
      this.confirm(w, verb, name, this.count(o, kind));
    }
    if (names.length === 0) this.confirm(w, verb, null, this.count(o, kind));
    this.updateState(o);
    this.a.replyW(conn, seq);
  }

  /** Delivers a message to the channel's subscribers and matching patterns; returns how many received it. */
  publish(channel: Buffer, message: Buffer, shard: boolean): number {
    const name = channel.toString('latin1');
    let n = 0;
    const subs = (shard ? this.shardChannels : this.channels).get(name);
    if (subs !== undefined) n += this.fanOut(subs, shard ? 'smessage' : 'message', null, channel, message);
    if (!shard && this.patterns.size !== 0) {
      for (const e of this.patterns.values()) {
        if (globMatch(e.bytes, 0, e.bytes.length, channel, 0, channel.length))
          n += this.fanOut(e.subs, 'pmessage', e.bytes, channel, message);
      }
    }
    return n;
  }

  /**
   * Encodes the message at most once per protocol into this tick's shared log. A
   * subscriber with no other output this tick just extends its span of the log (all
   * subscribers of a channel then share one buffer at flush); others get a copy in `out`.
   */
  private fanOut(subs: Set<Connection>, verb: string, pattern: Buffer | null, channel: Buffer, message: Buffer): number {
    if (this.logGen !== this.a.replies.flushes) {
      // Spans of the previous log may still be queued in sockets: never write into it again.
      this.logGen = this.a.replies.flushes;
      this.log2 = null;
      this.log3 = null;
    }
    let s2 = -1;
    let s3 = -1;
    for (const c of subs) {
      if (c.closed) continue;
      const log = c.proto === 3 ? (this.log3 ??= this.newLog(3)) : (this.log2 ??= this.newLog(2));
      let start: number;
      if (c.proto === 3) start = s3 === -1 ? (s3 = this.encode(log, verb, pattern, channel, message)) : s3;
      else start = s2 === -1 ? (s2 = this.encode(log, verb, pattern, channel, message)) : s2;
      const end = c.proto === 3 ? this.end3 : this.end2;
      if (c.nextWrite !== c.nextSeq) {
        // Replies are pending (e.g. SUBSCRIBE's own, behind a shard command): the message goes after them.
        c.deferPush(log.bytes.slice(start, end));
        continue;
      }
      if (c.out.len === 0 && c.share === null) {
        c.share = log;
        c.shareStart = start;
        c.shareEnd = end;
      } else if (c.out.len === 0 && c.share === log && c.shareEnd === start) {
        c.shareEnd = end;
      } else {
        c.out.raw(log.bytes, start, end - start);
      }
      this.a.markDirty(c);
    }
    return subs.size;
  }

  private newLog(proto: 2 | 3): RespWriter {
    const w = new RespWriter(8192);
    w.proto = proto;
    return w;
  }

  /** Appends the encoded message to `log`; returns its start (its end is left in end2/end3). */
  private encode(log: RespWriter, verb: string, pattern: Buffer | null, channel: Buffer, message: Buffer): number {
    const start = log.len;
    log.pushHeader(pattern === null ? 3 : 4);
    log.bulkString(verb);
    if (pattern !== null) log.bulk(pattern, 0, pattern.length);
    log.bulk(channel, 0, channel.length);
    log.bulk(message, 0, message.length);
    if (log.proto === 3) this.end3 = log.len;
    else this.end2 = log.len;
    return start;
  }

  private listChannels(conn: Connection, seq: number, cmd: ParsedCommand, map: Map<string, Set<Connection>>): void {
    const pat = cmd.argc > 2 ? argBuf(cmd, 2) : null;
    const found: Buffer[] = [];
    for (const name of map.keys()) {
      const b = Buffer.from(name, 'latin1');
      if (pat === null || globMatch(pat, 0, pat.length, b, 0, b.length)) found.push(b);
    }
    const w = this.a.startReply(conn);
    w.arrayHeader(found.length);
    for (const b of found) w.bulk(b, 0, b.length);
    this.a.replyW(conn, seq);
  }

  private numSub(conn: Connection, seq: number, cmd: ParsedCommand, map: Map<string, Set<Connection>>): void {
    const w = this.a.startReply(conn);
    w.arrayHeader((cmd.argc - 2) * 2);
    for (let i = 2; i < cmd.argc; i++) {
      const b = argBuf(cmd, i);
      w.bulk(b, 0, b.length);
      w.int(map.get(b.toString('latin1'))?.size ?? 0);
    }
    this.a.replyW(conn, seq);
  }
}
