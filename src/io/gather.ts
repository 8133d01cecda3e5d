/**
 * Combiners for commands split across shards: each shard answers its part and the
 * combiner writes the one reply the client expects (a sum for DEL/EXISTS, OK for MSET,
 * concatenated arrays for KEYS, MGET's values back in argument order, …).
 */
import type { PendingPart } from './connection.js';
import type { RespWriter } from '../wire/resp-writer.js';
import { parseIntBytes } from '../wire/resp-parser.js';

/** End of the RESP element starting at `p` (bulk, null, integer, simple or error). */
export function elementEnd(b: Uint8Array, p: number): number {
  const cr = b.indexOf(13, p);
  const t = b[p];
  if (t === 36 /* $ */) {
    const n = parseIntBytes(b, p + 1, cr);
    return n < 0 ? cr + 2 : cr + 2 + n + 2;
  }
  return cr + 2;
}

/** Base: remembers the first error part, which then becomes the reply. */
abstract class Parts implements PendingPart {
  protected remaining: number;
  protected error: Uint8Array | null = null;
  constructor(parts: number) {
    this.remaining = parts;
  }
  add(shard: number, buf: Uint8Array, start: number, len: number): boolean {
    if (buf[start] === 45 /* - */) {
      if (this.error === null) this.error = buf.slice(start, start + len);
    } else {
      this.part(shard, buf, start, len);
    }
    return --this.remaining === 0;
  }
  finish(out: RespWriter): void {
    if (this.error !== null) out.raw(this.error, 0, this.error.length);
    else this.write(out);
  }
  protected abstract part(shard: number, buf: Uint8Array, start: number, len: number): void;
  protected abstract write(out: RespWriter): void;
}

/** Integer replies added up (DEL, UNLINK, EXISTS, TOUCH, DBSIZE). */
export class SumParts extends Parts {
  private sum = 0;
  protected part(_s: number, buf: Uint8Array, start: number, len: number): void {
    this.sum += parseIntBytes(buf, start + 1, start + len - 2);
  }
  protected write(out: RespWriter): void {
    out.int(this.sum);
  }
}

/** Every shard must answer +OK (MSET, FLUSHDB, FLUSHALL). */
export class OkParts extends Parts {
  private ok: Uint8Array | null = null;
  protected part(_s: number, buf: Uint8Array, start: number, len: number): void {
    if (this.ok === null) this.ok = buf.slice(start, start + len);
  }
  protected write(out: RespWriter): void {
    out.raw(this.ok!, 0, this.ok!.length);
  }
}

/** Arrays concatenated (KEYS). */
export class ConcatParts extends Parts {
  private count = 0;
  private bodies: Uint8Array[] = [];
  protected part(_s: number, buf: Uint8Array, start: number, len: number): void {
    const cr = buf.indexOf(13, start);
    this.count += parseIntBytes(buf, start + 1, cr);
    this.bodies.push(buf.slice(cr + 2, start + len));
  }
  protected write(out: RespWriter): void {
    out.arrayHeader(this.count);
    for (const b of this.bodies) out.raw(b, 0, b.length);
  }
}

/** One random non-null bulk among the shards' answers (RANDOMKEY). */
export class RandomParts extends Parts {
  private picks: Uint8Array[] = [];
  protected part(_s: number, buf: Uint8Array, start: number, len: number): void {
    if (buf[start + 1] !== 45 && buf[start] !== 95) this.picks.push(buf.slice(start, start + len));
  }
  protected write(out: RespWriter): void {
    if (this.picks.length === 0) out.nullBulk();
    else {
      const p = this.picks[Math.floor(Math.random() * this.picks.length)]!;
      out.raw(p, 0, p.length);
    }
  }
}

/**
 * MGET split by shard: shard s answered an array for the argument positions in
 * `positions[s]`; the elements are put back in the client's order.
 */
export class MgetParts extends Parts {
  private readonly values: Uint8Array[];
  constructor(
    parts: number,
    private readonly positions: number[][],
    total: number,
  ) {
    super(parts);
    this.values = new Array<Uint8Array>(total);
  }
  protected part(shard: number, buf: Uint8Array, start: number, _len: number): void {
    let p = buf.indexOf(13, start) + 2;
    for (const pos of this.positions[shard]!) {
      const e = elementEnd(buf, p);
      this.values[pos] = buf.slice(p, e);
      p = e;
    }
  }
  protected write(out: RespWriter): void {
    out.arrayHeader(this.values.length);
    for (const v of this.values) out.raw(v, 0, v.length);
  }
}

/** The same command run in every shard with the same outcome (SCRIPT LOAD, FUNCTION LOAD): shard 0's reply. */
export class SameParts extends Parts {
  private first: Uint8Array | null = null;
  protected part(shard: number, buf: Uint8Array, start: number, len: number): void {
    if (shard === 0 || this.first === null) this.first = buf.slice(start, start + len);
  }
  protected write(out: RespWriter): void {
    out.raw(this.first!, 0, this.first!.length);
  }
}
