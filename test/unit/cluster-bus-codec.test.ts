/** The cluster bus codec: byte layout of Redis 7.0's clusterMsg, and a real redis-server 7.0 node reading and writing it. */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BusMessage,
  GOSSIP_LEN,
  HEADER_LEN,
  MFLAG_EXT_DATA,
  MSG_FAIL,
  MSG_MEET,
  MSG_PING,
  MSG_PONG,
  MSG_PUBLISH,
  MSG_UPDATE,
  type SenderInfo,
  decodeMessage,
  encodeFail,
  encodePing,
  encodePublish,
  encodeUpdate,
  frameLength,
} from '../../src/cluster/bus-codec.js';
import { type ClusterNodeProcess, NO_REDIS_TOOLS, freePort, hasRedisTools, startClusterNode, until } from '../helpers/cluster-nodes.js';

function sender(name: string, over: Partial<SenderInfo> = {}): SenderInfo {
  const slots = new Uint8Array(2048);
  slots[0] = 0b101;
  slots[2047] = 0x80;
  return {
    port: 7001,
    pport: 0,
    cport: 17001,
    currentEpoch: 9,
    configEpoch: 4,
    offset: 12345,
    name,
    slots,
    replicaOf: null,
    myip: '',
    flags: 1,
    state: 0,
    mflags: 0,
    ...over,
  };
}

const NAME = 'b'.repeat(40);

describe('cluster bus codec', () => {
  it('writes the header fields at clusterMsg offsets, big-endian', () => {
    const b = encodePing(MSG_PING, sender(NAME, { myip: '10.0.0.7' }), [], '');
    expect(b.length).toBe(HEADER_LEN);
    expect(b.toString('latin1', 0, 4)).toBe('RCmb');
    expect(b.readUInt32BE(4)).toBe(HEADER_LEN);
    expect(b.readUInt16BE(8)).toBe(1);
    expect(b.readUInt16BE(10)).toBe(7001);
    expect(b.readUInt16BE(12)).toBe(MSG_PING);
    expect(b.readBigUInt64BE(16)).toBe(9n);
    expect(b.readBigUInt64BE(24)).toBe(4n);
    expect(b.readBigUInt64BE(32)).toBe(12345n);
    expect(b.toString('latin1', 40, 80)).toBe(NAME);
    expect(b[80]).toBe(0b101);
    expect(b[80 + 2047]).toBe(0x80);
    expect(b.subarray(2128, 2168).every((x) => x === 0)).toBe(true);
    expect(b.toString('latin1', 2168, 2176)).toBe('10.0.0.7');
    expect(b.readUInt16BE(2248)).toBe(17001);
    expect(b.readUInt16BE(2250)).toBe(1);
    expect(b[2253]! & MFLAG_EXT_DATA).toBe(MFLAG_EXT_DATA);
  });

  it('round-trips gossip sections and the hostname extension', () => {
    const gossip = [
      { name: 'c'.repeat(40), pingSent: 1, pongReceived: 1700000000, ip: '127.0.0.1', port: 7002, cport: 17002, flags: 1 | 4, pport: 0 },
      { name: 'd'.repeat(40), pingSent: 0, pongReceived: 5, ip: '::1', port: 7003, cport: 17003, flags: 2, pport: 6 },
    ];
    const b = encodePing(MSG_MEET, sender(NAME), gossip, 'node-a.example');
    // Extension: 8-byte header plus the name, its NUL and padding to 8 bytes.
    expect(b.length).toBe(HEADER_LEN + 2 * GOSSIP_LEN + 8 + 16);
    expect(b.readUInt16BE(2214)).toBe(1);
    const m = decodeMessage(b) as BusMessage;
    expect(m.type).toBe(MSG_MEET);
    expect(m.sender).toBe(NAME);
    expect(m.gossip).toEqual(gossip);
    expect(m.hostname).toBe('node-a.example');
    expect(m.replicaOf).toBeNull();
    expect(m.currentEpoch).toBe(9);
  });

  it('round-trips FAIL, UPDATE and PUBLISH bodies', () => {
    const fail = decodeMessage(encodeFail(sender(NAME), 'e'.repeat(40)))!;
    expect([fail.type, fail.about]).toEqual([MSG_FAIL, 'e'.repeat(40)]);
    const slots = new Uint8Array(2048).fill(0xff);
    const upd = decodeMessage(encodeUpdate(sender(NAME), 'f'.repeat(40), 77, slots))!;
    expect([upd.type, upd.about, upd.aboutEpoch]).toEqual([MSG_UPDATE, 'f'.repeat(40), 77]);
    expect(Buffer.from(upd.aboutSlots!).equals(Buffer.from(slots))).toBe(true);
    const pub = decodeMessage(encodePublish(MSG_PUBLISH, sender(NAME), Buffer.from('news'), Buffer.from('hello')))!;
    expect([pub.type, pub.channel!.toString(), pub.message!.toString()]).toEqual([MSG_PUBLISH, 'news', 'hello']);
  });

  it('refuses what is not a whole valid message', () => {
    const b = encodePing(MSG_PING, sender(NAME), [], '');
    expect(frameLength(b, 7)).toBe(-1);
    expect(frameLength(b, b.length)).toBe(HEADER_LEN);
    expect(frameLength(Buffer.from('GET / HTTP/1.1\r\n'), 16)).toBe(0);
    const badVersion = Buffer.from(b);
    badVersion.writeUInt16BE(2, 8);
    expect(decodeMessage(badVersion)).toBeNull();
    const badCount = Buffer.from(b);
    badCount.writeUInt16BE(3, 14);
    expect(decodeMessage(badCount)).toBeNull();
  });
});

/** Collects whole bus messages from a socket. */
function reader(s: net.Socket, onMessage: (m: BusMessage, raw: Buffer) => void): void {
  let buf = Buffer.alloc(0);
  s.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const len = frameLength(buf, buf.length);
      if (len <= 0 || buf.length < len) return;
      const raw = buf.subarray(0, len);
      buf = buf.subarray(len);
      onMessage(decodeMessage(raw)!, raw);
    }
  });
  s.on('error', () => {});
}

describe.skipIf(!hasRedisTools)(`cluster bus against redis-server 7.0 (${NO_REDIS_TOOLS} to run)`, () => {
  let dir: string;
  let node: ClusterNodeProcess;
  let id: string;
  const sockets: net.Socket[] = [];
  const servers: net.Server[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-bus-'));
    node = await startClusterNode('redis', dir, ['--cluster-announce-hostname', 'real-redis']);
    id = (await node.client().cluster('MYID')) as string;
  }, 90_000);

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    for (const s of servers) s.close();
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A fake node's bus listener that answers every PING/MEET with a PONG from `name`, recording what came. */
  async function fakeNode(name: string, got: BusMessage[]): Promise<number> {
    const port = await freePort();
    const srv = net.createServer((s) => {
      sockets.push(s);
      reader(s, (m) => {
        got.push(m);
        if (m.type === MSG_PING || m.type === MSG_MEET)
          s.write(
            encodePing(
              MSG_PONG,
              sender(name, { port: 7999, cport: port, configEpoch: 0, currentEpoch: 0, slots: new Uint8Array(2048) }),
              [],
              'fake',
            ),
          );
      });
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', () => r()));
    return port;
  }

  it("decodes a real node's MEET and PING, and the real node accepts our PONG", async () => {
    const got: BusMessage[] = [];
    const name = '1'.repeat(40);
    const bus = await fakeNode(name, got);
    await node.client().cluster('MEET', '127.0.0.1', '7999', String(bus));
    await until(() => got.some((m) => m.type === MSG_PING), 'a PING after the MEET');
    const meet = got[0]!;
    expect(meet.type).toBe(MSG_MEET);
    expect(meet.sender).toBe(id);
    expect(meet.port).toBe(node.port);
    expect(meet.cport).toBe(node.busPort);
    expect(meet.hostname).toBe('real-redis');
    expect(meet.mflags & MFLAG_EXT_DATA).toBe(MFLAG_EXT_DATA);
    expect(meet.flags & 1).toBe(1);
    await until(
      async () => ((await node.client().cluster('NODES')) as string).includes(`${name} 127.0.0.1:7999@${bus},fake master`),
      'the real node to know our node',
    );
  });

  it('a real node accepts our MEET, connects back and completes the handshake', async () => {
    const got: BusMessage[] = [];
    const name = '2'.repeat(40);
    const bus = await fakeNode(name, got);
    const replies: BusMessage[] = [];
    const s = net.connect({ port: node.busPort, host: '127.0.0.1' });
    sockets.push(s);
    reader(s, (m) => replies.push(m));
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.write(
      encodePing(MSG_MEET, sender(name, { port: 7998, cport: bus, configEpoch: 0, currentEpoch: 0, slots: new Uint8Array(2048) }), [], ''),
    );
    await until(() => replies.length > 0, 'the PONG to our MEET');
    expect(replies[0]!.type).toBe(MSG_PONG);
    expect(replies[0]!.sender).toBe(id);
    // The real node opens its own link to our bus port and pings there.
    await until(() => got.some((m) => m.type === MSG_PING && m.sender === id), 'a PING on the link it opened');
    await until(
      async () => ((await node.client().cluster('NODES')) as string).includes(`${name} 127.0.0.1:7998@${bus},fake master`),
      'the handshake to complete',
    );
  });
});
