/**
 * Reply runs (frames.ts KIND_RUN): a shard sends a pipeline's consecutive replies as one frame. The bytes a
 * client gets are the same as reply by reply, whatever sits between them: errors, silenced replies, replies
 * too big for a run, transactions, an AOF waiting on every write, MONITOR, keys on several shards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rawClient } from '../helpers/raw-client.js';
import { startServer } from '../helpers/server.js';

const BIG = 'x'.repeat(10_000);
const bulk = (s: string): string => `$${s.length}\r\n${s}\r\n`;

/** One pipeline as inline lines, and the exact bytes Redis answers it with. */
function pipeline(): { lines: string[]; expected: string } {
  const lines: string[] = [];
  let expected = '';
  const add = (line: string, reply: string): void => {
    lines.push(line);
    expected += reply;
  };
  add('SET k v', '+OK\r\n');
  // More than one run holds (256 replies).
  for (let i = 0; i < 300; i++) add('GET k', bulk('v'));
  add(`SET big ${BIG}`, '+OK\r\n');
  add('GET k', bulk('v'));
  // Larger than a run's 8 KB: a frame of its own between runs.
  add('GET big', bulk(BIG));
  add('GET k', bulk('v'));
  add('INCR k', '-ERR value is not an integer or out of range\r\n');
  add('GET k', bulk('v'));
  add('CLIENT REPLY SKIP', '');
  add('GET k', '');
  add('GET k', bulk('v'));
  add('MULTI', '+OK\r\n');
  add('GET k', '+QUEUED\r\n');
  add('INCR c', '+QUEUED\r\n');
  add('EXEC', `*2\r\n${bulk('v')}:1\r\n`);
  for (let i = 2; i <= 101; i++) add('INCR c', `:${i}\r\n`);
  // Keys on other shards, interleaved with this one's.
  for (let i = 0; i < 50; i++) add(`INCR n${i}`, ':1\r\n');
  add('DEL big', ':1\r\n');
  add('ECHO end-of-pipeline', bulk('end-of-pipeline'));
  return { lines, expected };
}

/** Sends the pipeline in one write and checks every byte of the answer, then the error counted once. */
async function check(port: number): Promise<void> {
  const { lines, expected } = pipeline();
  const c = await rawClient(port);
  try {
    c.send(...lines);
    await c.waitFor(bulk('end-of-pipeline'));
    expect(c.received()).toBe(expected);
    c.send('INFO errorstats');
    await c.waitFor('errorstat_ERR:count=1\r\n');
  } finally {
    c.close();
  }
}

describe('reply runs', () => {
  for (const shards of ['1', '3']) {
    it(`answer a mixed pipeline byte for byte (${shards} shard${shards === '1' ? '' : 's'})`, async () => {
      const srv = await startServer(['--shards', shards]);
      try {
        await check(srv.port);
      } finally {
        expect(await srv.stop()).toBe(0);
      }
    });
  }

  it('count pipelined writes that changed nothing out of rdb_changes_since_last_save', async () => {
    const srv = await startServer(['--shards', '2']);
    const c = await rawClient(srv.port);
    try {
      // One change each for the first PFADD and SETBIT; the 600 repeats change nothing (Redis's dirty counter).
      const lines = ['PFADD h a', 'SETBIT f 3 1'];
      for (let i = 0; i < 300; i++) lines.push('PFADD h a', 'SETBIT f 3 1');
      lines.push('INCR n', 'ECHO end-of-pipeline');
      c.send(...lines);
      await c.waitFor(bulk('end-of-pipeline'));
      expect(c.received()).toBe(`:1\r\n:0\r\n${':0\r\n:1\r\n'.repeat(300)}:1\r\n${bulk('end-of-pipeline')}`);
      c.send('INFO persistence');
      await c.waitFor('rdb_changes_since_last_save:3\r\n');
    } finally {
      c.close();
      expect(await srv.stop()).toBe(0);
    }
  });

  it('answer the same with an AOF logging every write, and MONITOR sees each command', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sabre-runs-'));
    const srv = await startServer(['--shards', '2', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always']);
    const mon = await rawClient(srv.port);
    try {
      mon.send('MONITOR');
      await mon.waitFor('+OK\r\n');
      await check(srv.port);
      await mon.waitFor('"ECHO" "end-of-pipeline"');
      expect(mon.received().match(/"GET" "k"/g)!.length).toBe(306);
    } finally {
      mon.close();
      expect(await srv.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
