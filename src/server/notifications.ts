/**
 * Keyspace notifications on the acceptor: pushes the `notify-keyspace-events` classes to
 * the shards (which then report events), and publishes each reported event on
 * `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>` as Redis does.
 */
import { CMD } from '../commands/ids.generated.js';
import type { Acceptor } from '../io/acceptor.js';
import type { RespWriter } from '../wire/resp-writer.js';
import { internalId } from '../commands/internal.js';
import { NOTIFY_GENERIC, NOTIFY_KEYEVENT, NOTIFY_KEYSPACE, parseKeyspaceEvents } from '../wire/keyspace-events.js';
import type { PubSub } from './pubsub.js';

/** Keeps the shards' event classes in step with the configuration and publishes their events. */
export class Notifications {
  private flags = 0;

  constructor(
    private readonly a: Acceptor,
    private readonly ps: PubSub,
  ) {
    a.config.onChange('notify-keyspace-events', (v) => this.apply(v));
  }

  /** Sends the configured classes once the shards run. */
  started(): void {
    this.apply(this.a.config.get('notify-keyspace-events'));
  }

  private apply(v: string): void {
    const flags = parseKeyspaceEvents(v) ?? 0;
    this.flags = flags;
    // Shards only need to report when events reach at least one kind of channel.
    const shardFlags = (flags & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)) !== 0 ? flags : 0;
    const args = [Buffer.from('__notifyflags'), Buffer.from(String(shardFlags))];
    void this.a.coordinator.callAll(0, internalId('__notifyflags'), args);
  }

  /** A keyspace event frame body from a shard: [0][db][event length][event][key]. */
  event(b: Uint8Array, s: number, len: number): void {
    const nlen = b[s + 2]!;
    this.publish(b[s + 1]!, Buffer.from(b.subarray(s + 3, s + 3 + nlen)), Buffer.from(b.subarray(s + 3 + nlen, s + len)));
  }

  /**
   * A cross-shard RENAME/COPY finished: the shards only saw its internal halves, so the
   * acceptor reports it (MSETNX's writes are reported by the shards as sets).
   */
  operationDone(id: number, args: Buffer[], db: number, reply: RespWriter): void {
    if ((this.flags & NOTIFY_GENERIC) === 0 || (this.flags & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)) === 0) return;
    const r = reply.bytes;
    const ok = r[0] === 43 || (r[0] === 58 && r[1] === 49);
    if (!ok) return;
    if (id === CMD.RENAME || id === CMD.RENAMENX) {
      this.publish(db, Buffer.from('rename_from'), args[1]!);
      this.publish(db, Buffer.from('rename_to'), args[2]!);
    } else if (id === CMD.COPY) {
      let dstDb = db;
      for (let i = 3; i + 1 < args.length; i++)
        if (args[i]!.toString('latin1').toUpperCase() === 'DB') dstDb = Number(args[i + 1]!.toString('latin1'));
      this.publish(dstDb, Buffer.from('copy_to'), args[2]!);
    }
  }

  private publish(db: number, name: Buffer, key: Buffer): void {
    if ((this.flags & NOTIFY_KEYSPACE) !== 0) this.ps.publish(Buffer.concat([Buffer.from(`__keyspace@${db}__:`), key]), name, false);
    if ((this.flags & NOTIFY_KEYEVENT) !== 0) this.ps.publish(Buffer.from(`__keyevent@${db}__:${name.toString('latin1')}`), key, false);
  }
}
