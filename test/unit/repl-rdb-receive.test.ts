/**
 * The replica's reading of a full sync: the RDB framing in both of Redis's forms (`$<len>` and the
 * diskless `$EOF:<mark>`), keepalive newlines before the header, reads cut anywhere, the stream
 * bytes that follow; and the handshake's line reader.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { LineReader, handshake } from '../../src/server/repl-handshake.js';
import { RdbHeaderError, RdbReceiver } from '../../src/server/repl-rdb-receive.js';

/** Feeds `wire` cut at the given sizes (cycled); returns the payload written, where the payload ended in the last push, and the stream after it. */
function receive(wire: Buffer, cuts: number[]): { payload: Buffer; rest: Buffer; r: RdbReceiver } {
  const parts: Buffer[] = [];
  const r = new RdbReceiver((c) => parts.push(Buffer.from(c)));
  let pos = 0;
  let i = 0;
  let rest = Buffer.alloc(0);
  while (pos < wire.length) {
    const n = Math.min(cuts[i++ % cuts.length]!, wire.length - pos);
    const chunk = wire.subarray(pos, pos + n);
    pos += n;
    if (r.done) {
      rest = Buffer.concat([rest, chunk]);
      continue;
    }
    const end = r.push(chunk);
    if (end !== -1) rest = Buffer.from(chunk.subarray(end));
  }
  return { payload: Buffer.concat(parts), rest, r };
}

const STREAM = Buffer.from('*1\r\n$4\r\nPING\r\n');

describe('RdbReceiver', () => {
  const payload = randomBytes(5000);

  it('reads the $<len> form with keepalive newlines before it, whatever the cuts', () => {
    const wire = Buffer.concat([Buffer.from('\n\n\n$5000\r\n'), payload, STREAM]);
    for (const cuts of [[wire.length], [1], [3, 7], [13, 1, 4096], [4099]]) {
      const { payload: got, rest, r } = receive(wire, cuts);
      expect(got.equals(payload)).toBe(true);
      expect(rest.equals(STREAM)).toBe(true);
      expect(r.size).toBe(5000);
      expect(r.read).toBe(5000);
      expect(r.done).toBe(true);
    }
  });

  it('reads the diskless $EOF:<mark> form, the mark cut across reads', () => {
    const mark = randomBytes(20).toString('hex');
    const wire = Buffer.concat([Buffer.from(`\n$EOF:${mark}\r\n`), payload, Buffer.from(mark), STREAM]);
    for (const cuts of [[wire.length], [1], [39], [41], [17, 40, 2], [5000], [5020, 30]]) {
      const { payload: got, rest, r } = receive(wire, cuts);
      expect(got.length).toBe(payload.length);
      expect(got.equals(payload)).toBe(true);
      expect(rest.equals(STREAM)).toBe(true);
      // Redis reports the EOF form's size as 0.
      expect(r.size).toBe(0);
      expect(r.read).toBe(5000);
    }
  });

  it('handles an empty payload and a payload shorter than the mark', () => {
    const mark = 'a'.repeat(40);
    expect(receive(Buffer.from(`$EOF:${mark}\r\n${mark}`), [1]).payload.length).toBe(0);
    const short = receive(Buffer.from(`$EOF:${mark}\r\nxyz${mark}`), [2]);
    expect(short.payload.toString()).toBe('xyz');
    expect(receive(Buffer.from('$0\r\n'), [1]).r.done).toBe(true);
  });

  it('refuses an error line or a bad header', () => {
    expect(() => new RdbReceiver(() => {}).push(Buffer.from('\n-ERR no\r\n'))).toThrow(RdbHeaderError);
    expect(() => new RdbReceiver(() => {}).push(Buffer.from('$-3\r\n'))).toThrow(RdbHeaderError);
    expect(() => new RdbReceiver(() => {}).push(Buffer.from('$EOF:short\r\n'))).toThrow(RdbHeaderError);
  });
});

describe('replica handshake', () => {
  it('sends Redis 7.0 commands in order and parses +FULLRESYNC after keepalive newlines', async () => {
    const lines = new LineReader();
    const sent: string[] = [];
    const answers = [
      '-NOAUTH Authentication required.\r\n',
      '+OK\r\n',
      '+OK\r\n',
      '+OK\r\n',
      '+OK\r\n',
      `\n\n+FULLRESYNC ${'b'.repeat(40)} 17\r\n$3\r\n`,
    ];
    const send = (b: Buffer): void => {
      sent.push(b.toString());
      const a = answers.shift()!;
      // Cut in two, as a network may.
      setImmediate(() => {
        lines.push(Buffer.from(a.slice(0, 3)));
        setImmediate(() => lines.push(Buffer.from(a.slice(3))));
      });
    };
    const r = await handshake(send, lines, {
      masteruser: 'repl',
      masterauth: 'pw',
      port: 7000,
      ip: '10.0.0.1',
      psync: null,
    });
    expect(r).toEqual({ kind: 'full', replid: 'b'.repeat(40), offset: 17 });
    expect(sent.map((s) => s.split('\r\n').filter((x, i) => i % 2 === 0 && x !== '' && i > 0))).toEqual([
      ['PING'],
      ['AUTH', 'repl', 'pw'],
      ['REPLCONF', 'listening-port', '7000'],
      ['REPLCONF', 'ip-address', '10.0.0.1'],
      ['REPLCONF', 'capa', 'eof', 'capa', 'psync2'],
      ['PSYNC', '?', '-1'],
    ]);
    expect(lines.rest().toString()).toBe('$3\r\n');
  });

  it('continues a cached history and reads +CONTINUE with a new id', async () => {
    const lines = new LineReader();
    const sent: string[] = [];
    const answers = ['+PONG\r\n', '+OK\r\n', '+OK\r\n', `+CONTINUE ${'c'.repeat(40)}\r\n*1\r\n`];
    const send = (b: Buffer): void => {
      sent.push(b.toString());
      const a = answers.shift()!;
      setImmediate(() => lines.push(Buffer.from(a)));
    };
    const r = await handshake(send, lines, {
      masteruser: '',
      masterauth: '',
      port: 1,
      ip: '',
      psync: { replid: 'a'.repeat(40), offset: 101 },
    });
    expect(r).toEqual({ kind: 'continue', replid: 'c'.repeat(40) });
    expect(sent[3]).toBe(`*3\r\n$5\r\nPSYNC\r\n$40\r\n${'a'.repeat(40)}\r\n$3\r\n101\r\n`);
    expect(lines.rest().toString()).toBe('*1\r\n');
  });

  it('fails on a refused AUTH', async () => {
    const lines = new LineReader();
    const answers = ['+PONG\r\n', '-WRONGPASS invalid username-password pair or user is disabled.\r\n'];
    const send = (): void => {
      const a = answers.shift()!;
      setImmediate(() => lines.push(Buffer.from(a)));
    };
    await expect(handshake(send, lines, { masteruser: '', masterauth: 'x', port: 1, ip: '', psync: null })).rejects.toThrow(
      /Unable to AUTH/,
    );
  });
});
