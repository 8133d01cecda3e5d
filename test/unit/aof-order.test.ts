import { describe, expect, it } from 'vitest';
import { AofOrder, type AofEntry, type AofSink } from '../../src/io/aof-order.js';
import { encodeCommand, encodeParsed, parsedSize } from '../../src/wire/resp-command.js';
import { ParsedCommand, parseCommand } from '../../src/wire/resp-parser.js';
import { CMD } from '../../src/commands/ids.generated.js';

const LIMITS = { maxBulkLen: 512 * 1024 * 1024, authenticated: true };
const OK = Buffer.from('+OK\r\n');
const ERR = Buffer.from('-ERR no\r\n');

/** Parses one command given as words (the parser's own buffer is overwritten by the next, as a connection's is). */
function parsed(cmd: ParsedCommand, scratch: Buffer, ...words: string[]): ParsedCommand {
  const bytes = encodeCommand(words);
  bytes.copy(scratch);
  parseCommand(scratch, 0, bytes.length, cmd, LIMITS);
  return cmd;
}

/**
 * A sink that logs each committed command as its words, like the AOF would, and keeps argv for the
 * commands it is told to. Like the replication stream, it keeps the views commitEncoded gives it
 * and reads them only when it settles: bytes reused before that would show.
 */
class Recorder implements AofSink {
  private readonly done: string[] = [];
  private readonly views: [number, Uint8Array, number, number][] = [];
  constructor(private readonly argvIds: Set<number> = new Set()) {}
  get logged(): string[] {
    this.settle();
    return this.done;
  }
  capture(db: number, id: number, cmd: ParsedCommand): AofEntry {
    const argv: Uint8Array[] = [];
    for (let i = 0; i < cmd.argc; i++) argv.push(Buffer.from(cmd.buf.subarray(cmd.argStart[i]!, cmd.argStart[i]! + cmd.argLen[i]!)));
    return { db, id, argv, resp: null };
  }
  byArgv(id: number): boolean {
    return this.argvIds.has(id);
  }
  commit(e: AofEntry, reply: Uint8Array, s: number): void {
    this.settle();
    if (reply[s] === 45) return;
    const words = e.resp !== null ? wordsOf(e.resp) : e.argv.map((a) => Buffer.from(a).toString());
    this.done.push(`${e.db} ${words.join(' ')}`);
  }
  commitEncoded(db: number, b: Uint8Array, start: number, len: number): void {
    this.views.push([db, b, start, len]);
  }
  settle(): void {
    for (const [db, b, start, len] of this.views.splice(0)) this.done.push(`${db} ${wordsOf(b.subarray(start, start + len)).join(' ')}`);
  }
  flush(): void {
    this.settle();
  }
}

/** The words of one RESP-encoded command. */
function wordsOf(b: Uint8Array): string[] {
  const cmd = new ParsedCommand();
  parseCommand(b, 0, b.length, cmd, LIMITS);
  return Array.from({ length: cmd.argc }, (_, i) =>
    Buffer.from(b.subarray(cmd.argStart[i]!, cmd.argStart[i]! + cmd.argLen[i]!)).toString(),
  );
}

describe('AofOrder', () => {
  it('encodes a parsed command as encodeCommand does', () => {
    const cmd = parsed(new ParsedCommand(), Buffer.alloc(1024), 'SET', 'key', 'x'.repeat(300));
    const out = Buffer.alloc(parsedSize(cmd));
    expect(encodeParsed(out, 0, cmd)).toBe(out.length);
    expect(out.equals(encodeCommand(['SET', 'key', 'x'.repeat(300)]))).toBe(true);
  });

  it('logs whole commands in reply order, leaves out failed ones and dropped ones, across connections', () => {
    const order = new AofOrder();
    const sink = new Recorder();
    order.sink = sink;
    const cmd = new ParsedCommand();
    const scratch = Buffer.alloc(64);
    for (let seq = 1; seq <= 4; seq++) {
      order.dispatched(7, seq, true, 0, CMD.SET, parsed(cmd, scratch, 'SET', `a${seq}`, `v${seq}`));
      order.dispatched(8, seq, true, 3, CMD.SET, parsed(cmd, scratch, 'SET', `b${seq}`, `w${seq}`));
    }
    order.replied(8, 2, 0, OK, 0, OK.length);
    order.replied(7, 1, 0, OK, 0, OK.length);
    order.replied(7, 3, 0, ERR, 0, ERR.length);
    order.drop(8, 1);
    order.replied(7, 2, 0, OK, 0, OK.length);
    order.replied(8, 1, 0, OK, 0, OK.length);
    order.replied(7, 4, 0, OK, 0, OK.length);
    // Connection 7 has nothing waiting now: its next command reuses its bytes from the start.
    order.dispatched(7, 5, true, 0, CMD.SET, parsed(cmd, scratch, 'SET', 'a5', 'v5'));
    order.replied(8, 4, 0, OK, 0, OK.length);
    order.replied(8, 3, 0, OK, 0, OK.length);
    order.replied(7, 5, 0, OK, 0, OK.length);
    expect(sink.logged).toEqual(['3 SET b2 w2', '0 SET a1 v1', '0 SET a2 v2', '0 SET a4 v4', '3 SET b4 w4', '3 SET b3 w3', '0 SET a5 v5']);
  });

  it('keeps commands its sink needs as arguments, and many in flight past its byte limit, each intact', () => {
    const order = new AofOrder();
    const sink = new Recorder(new Set([CMD.EXPIRE]));
    order.sink = sink;
    const cmd = new ParsedCommand();
    const scratch = Buffer.alloc(4096);
    const big = 'v'.repeat(3000);
    const n = 200; // 200 × ~3 KB: past the 256 KB a connection's bytes grow to, and past the ring's first size
    for (let seq = 1; seq <= n; seq++) {
      if (seq % 50 === 0) order.dispatched(1, seq, true, 0, CMD.EXPIRE, parsed(cmd, scratch, 'EXPIRE', `k${seq}`, '10'));
      else order.dispatched(1, seq, true, 0, CMD.SET, parsed(cmd, scratch, 'SET', `k${seq}`, `${seq}${big}`));
    }
    for (let seq = n; seq >= 1; seq--) order.replied(1, seq, 0, OK, 0, OK.length);
    const want = Array.from({ length: n }, (_, i) => n - i).map((seq) =>
      seq % 50 === 0 ? `0 EXPIRE k${seq} 10` : `0 SET k${seq} ${seq}${big}`,
    );
    expect(sink.logged).toEqual(want);
  });
});
