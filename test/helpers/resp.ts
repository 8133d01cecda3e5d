/** A tiny raw RESP client over node:net, for exact reply comparison (errors become { err }). */
import { connect, type Socket } from 'node:net';

export type Reply =
  | string
  | number
  | null
  | { err: string }
  | Reply[]
  | { map: [Reply, Reply][] }
  | { double: string }
  | { set: Reply[] }
  | { bool: boolean }
  | { verb: string };

/** Encodes a command as a RESP multibulk. */
export function encode(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a, 'utf8') : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Parses one reply at `pos`; returns [value, next] or null when incomplete. */
export function parseReply(b: Buffer, pos: number): [Reply, number] | null {
  if (pos >= b.length) return null;
  const lf = b.indexOf('\r\n', pos);
  if (lf === -1) return null;
  const t = String.fromCharCode(b[pos]!);
  const line = b.toString('latin1', pos + 1, lf);
  const next = lf + 2;
  switch (t) {
    case '+':
      return [line, next];
    case '-':
      return [{ err: b.toString('utf8', pos + 1, lf) }, next];
    case ':':
      return [Number(line), next];
    case '_':
      return [null, next];
    case ',':
      return [{ double: line }, next];
    case '#':
      return [{ bool: line === 't' }, next];
    case '$':
    case '=': {
      const n = Number(line);
      if (n < 0) return [null, next];
      if (b.length < next + n + 2) return null;
      const s = b.toString('utf8', next, next + n);
      return [t === '=' ? { verb: s } : s, next + n + 2];
    }
    case '*':
    case '~':
    case '>':
    case '%': {
      const n = Number(line);
      if (n < 0) return [null, next];
      const count = t === '%' ? n * 2 : n;
      const items: Reply[] = [];
      let p = next;
      for (let i = 0; i < count; i++) {
        const r = parseReply(b, p);
        if (!r) return null;
        items.push(r[0]);
        p = r[1];
      }
      if (t === '%') {
        const map: [Reply, Reply][] = [];
        for (let i = 0; i < items.length; i += 2) map.push([items[i]!, items[i + 1]!]);
        return [{ map }, p];
      }
      if (t === '~') return [{ set: items }, p];
      return [items, p];
    }
    default:
      throw new Error(`bad reply type ${JSON.stringify(t)} in ${JSON.stringify(b.toString('latin1', pos, pos + 40))}`);
  }
}

/** A connection that sends commands and resolves replies in order. */
export class RespConn {
  private buf: Buffer = Buffer.alloc(0);
  private waiters: ((r: Reply) => void)[] = [];
  closed = false;
  private closeWaiters: (() => void)[] = [];
  constructor(readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      let r: [Reply, number] | null;
      while (this.waiters.length && (r = parseReply(this.buf, 0))) {
        this.buf = this.buf.subarray(r[1]);
        this.waiters.shift()!(r[0]);
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.closeWaiters) w();
      for (const w of this.waiters) w({ err: '<connection closed>' });
      this.waiters = [];
    });
  }
  static open(port: number): Promise<RespConn> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1' }, () => resolve(new RespConn(s)));
      s.once('error', reject);
    });
  }
  /** Sends raw bytes and waits for `n` replies. */
  raw(bytes: Buffer | string, n = 1): Promise<Reply[]> {
    const out: Promise<Reply>[] = [];
    for (let i = 0; i < n; i++) out.push(new Promise((res) => this.waiters.push(res)));
    this.sock.write(bytes);
    // a reply may already be buffered
    this.sock.emit('data', Buffer.alloc(0));
    return Promise.all(out);
  }
  async call(...args: (string | number | Buffer)[]): Promise<Reply> {
    const [r] = await this.raw(encode(args.map((a) => (typeof a === 'number' ? String(a) : a))));
    return r!;
  }
  /** Resolves when the server closes the connection (or after `ms`, with false). */
  waitClose(ms = 2000): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((res) => {
      const t = setTimeout(() => res(false), ms);
      this.closeWaiters.push(() => {
        clearTimeout(t);
        res(true);
      });
    });
  }
  close(): void {
    this.sock.destroy();
  }
}
