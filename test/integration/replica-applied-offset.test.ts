/**
 * A replica's offset after a lost link covers every command of the stream that ran, so PSYNC asks
 * for nothing twice: a scripted master (a TCP server speaking the protocol, which keeps the whole
 * stream and continues from whatever offset PSYNC names, as Redis does) sends a batch of INCRs
 * bigger than the master client's in-flight cap, so the replica parses most of them after the read
 * that brought them; once all ran, CLIENT KILL TYPE master cuts the link, and the replica must
 * continue from the end of the batch, its counter equal to the INCRs sent. A link cut inside a
 * transaction drops its queued commands: the replica continues from its MULTI.
 */
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';
import { replInfo } from '../helpers/replication.js';
import { waitFor } from '../helpers/sentinel.js';

/** INCRs per batch: far past the master client's in-flight cap (32 at first), so most are parsed after their read. */
const BATCH = 5000;
const INCR = Buffer.from('*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n');

/** One connection of the replica to the scripted master. */
interface Link {
  socket: net.Socket;
  /** The history and offset its PSYNC asked for (the next byte wanted); -1 before PSYNC. */
  psyncId: string;
  psync: number;
  /** The highest REPLCONF ACK offset it sent. */
  acked: number;
  closed: Promise<void>;
}

/**
 * A master that answers the handshake, continues history `replid` from any offset PSYNC names
 * (`base`: the offset before its first byte) and sends what `append` adds to the live link.
 */
class ScriptedMaster {
  readonly links: Link[] = [];
  private stream = Buffer.alloc(0);
  private readonly server = net.createServer((s) => this.serve(s));

  constructor(
    private readonly replid: string,
    private readonly base: number,
  ) {}

  /** The offset of the last byte produced. */
  get end(): number {
    return this.base + this.stream.length;
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as net.AddressInfo).port)));
  }

  /** Produces `bytes`: kept for PSYNC, sent to the current link. */
  append(bytes: Buffer): void {
    this.stream = Buffer.concat([this.stream, bytes]);
    const l = this.links.at(-1);
    if (l !== undefined && l.psync !== -1 && !l.socket.destroyed) l.socket.write(bytes);
  }

  close(): Promise<void> {
    for (const l of this.links) l.socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: net.Socket): void {
    let text = '';
    const link: Link = {
      socket,
      psyncId: '',
      psync: -1,
      acked: -1,
      closed: new Promise((resolve) => socket.once('close', () => resolve())),
    };
    this.links.push(link);
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      for (;;) {
        const cmd = takeCommand(text);
        if (cmd === null) return;
        text = text.slice(cmd.used);
        const name = cmd.args[0]!.toUpperCase();
        if (name === 'PING') socket.write('+PONG\r\n');
        else if (name === 'REPLCONF' && cmd.args[1]!.toUpperCase() === 'ACK') link.acked = Math.max(link.acked, Number(cmd.args[2]));
        else if (name === 'REPLCONF') socket.write('+OK\r\n');
        else if (name === 'PSYNC') {
          link.psyncId = cmd.args[1]!;
          link.psync = Number(cmd.args[2]);
          socket.write(`+CONTINUE ${this.replid}\r\n`);
          socket.write(this.stream.subarray(link.psync - 1 - this.base));
        }
      }
    });
  }
}

/** The first complete RESP command of `text` and the characters it used; null when it is not all there. */
function takeCommand(text: string): { args: string[]; used: number } | null {
  let p = 0;
  const line = (): string | null => {
    const e = text.indexOf('\r\n', p);
    if (e === -1) return null;
    const l = text.slice(p, e);
    p = e + 2;
    return l;
  };
  const head = line();
  if (head === null) return null;
  const args: string[] = [];
  for (let n = Number(head.slice(1)); n > 0; n--) {
    const len = line();
    if (len === null || text.length < p + Number(len.slice(1)) + 2) return null;
    args.push(text.slice(p, p + Number(len.slice(1))));
    p += Number(len.slice(1)) + 2;
  }
  return { args, used: p };
}

describe('replica offset after a lost link', () => {
  let server: TestServer | null = null;
  let master: ScriptedMaster | null = null;
  const clients: Redis[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await master?.close();
    await server?.stop();
    master = null;
    server = null;
  });

  /** A Sabre replica (two shards) of a scripted master, its stream running. */
  async function follow(): Promise<{ rc: Redis; m: ScriptedMaster; replid: string }> {
    server = await startServer(['--shards', '2']);
    const rc = new Redis({ port: server.port, host: '127.0.0.1' });
    clients.push(rc);
    const own = await replInfo(rc);
    // The replica continues its own history (REPLICAOF on a master offers it), which the scripted master claims.
    const m = new ScriptedMaster(own.master_replid!, Number(own.master_repl_offset));
    master = m;
    await rc.call('REPLICAOF', '127.0.0.1', String(await m.listen()));
    await waitFor('the first PSYNC', async () => m.links.at(-1)?.psync === m.end + 1, 20_000, 20);
    return { rc, m, replid: own.master_replid! };
  }

  /** Cuts the replica's link to `m` with CLIENT KILL TYPE master; resolves with its next link, once it sent PSYNC. */
  async function cutLink(rc: Redis, m: ScriptedMaster): Promise<Link> {
    const cut = m.links.at(-1)!;
    await rc.client('KILL', 'TYPE', 'master');
    await cut.closed;
    await waitFor('the replica to come back', async () => m.links.at(-1) !== cut && m.links.at(-1)!.psync !== -1, 20_000, 20);
    return m.links.at(-1)!;
  }

  it('counts the commands parsed after their read: PSYNC continues after them, none runs twice', async () => {
    const { rc, m, replid } = await follow();
    // A second ACK tick between the last parse and the cut would count them anyway: such a round shows nothing, so rounds go on until two did.
    let shown = 0;
    let sent = 0;
    for (let round = 0; round < 10 && shown < 2; round++) {
      const cut = m.links.at(-1)!;
      m.append(Buffer.concat(Array.from({ length: BATCH }, () => INCR)));
      sent += BATCH;
      await waitFor('the batch to run', async () => (await rc.get('k')) === String(sent), 60_000, 5);
      const next = await cutLink(rc, m);
      if (cut.acked < m.end) shown++;
      expect(next.psyncId).toBe(replid);
      expect(next.psync).toBe(m.end + 1);
    }
    expect(shown).toBeGreaterThan(0);
    // Whatever PSYNC asked for again has been resent and run by now: the replica acknowledged the end.
    await waitFor('the replica to acknowledge the whole stream', async () => m.links.at(-1)!.acked === m.end, 20_000, 20);
    expect(await rc.get('k')).toBe(String(sent));
  }, 120_000);

  it('counts a transaction once EXEC ran it: cut inside MULTI, PSYNC continues from the MULTI', async () => {
    const { rc, m } = await follow();
    const before = m.end;
    m.append(Buffer.from('*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n'));
    await waitFor(
      'the INCR to be queued',
      async () => ((await rc.client('LIST', 'TYPE', 'master')) as string).includes(' multi=1 '),
      20_000,
      20,
    );
    const next = await cutLink(rc, m);
    // The queued INCR went with the link: the MULTI and it come again.
    expect(next.psync).toBe(before + 1);
    m.append(Buffer.from('*1\r\n$4\r\nEXEC\r\n'));
    await waitFor('the replica to acknowledge the whole stream', async () => m.links.at(-1)!.acked === m.end, 20_000, 20);
    expect(await rc.get('k')).toBe('1');
  }, 60_000);
});
