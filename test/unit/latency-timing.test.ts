/**
 * Which calls a shard times (src/shards/latency.ts): every call under latency tracking or a slow-log threshold of
 * 0; under a positive threshold not the `fast` commands, and from 1 ms on not the calls whose cost their argument
 * count bounds (PFCOUNT of one key) while hll-sparse-max-bytes keeps sparse HLLs small.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../src/shards/store.js';
import { Ctx } from '../../src/shards/context.js';
import { RespWriter } from '../../src/wire/resp-writer.js';
import { latencyCommands, untimedArgc } from '../../src/shards/latency.js';
import { dtConfigCommands } from '../../src/shards/dt-config.js';
import { CMD } from '../../src/commands/ids.generated.js';
import { loadArgs } from '../helpers/ctx-args.js';

const ctx = new Ctx(new Store(1, 1 << 20), new RespWriter(), { maxBulkLen: 1 << 20 });

/** Runs an internal handler with these arguments and returns its reply. */
function run(handler: (c: Ctx) => void, args: string[]): string {
  loadArgs(ctx, args);
  ctx.out.len = 0;
  handler(ctx);
  return Buffer.from(ctx.out.bytes.subarray(0, ctx.out.len)).toString();
}

const configure = (track: boolean, slowUs: number): string =>
  run(latencyCommands.__latencycfg!, ['__latencycfg', track ? '1' : '0', String(slowUs)]);
const sparseMax = (bytes: number): string => run(dtConfigCommands.__dtconfig!, ['__dtconfig', 'hll-sparse-max-bytes', String(bytes)]);
/** Whether a call of `cmd` with `argc` arguments (its name included) is timed. */
const timed = (cmd: number, argc: number): boolean => argc > untimedArgc[cmd]!;

describe('shard command timing', () => {
  afterEach(() => {
    sparseMax(3000);
    configure(false, -1);
  });

  it('times nothing with the slow log off and latency tracking off', () => {
    expect(configure(false, -1)).toBe('+OK\r\n');
    for (const cmd of [CMD.GET, CMD.PFCOUNT, CMD.SORT]) expect(timed(cmd, 2)).toBe(false);
  });

  it('times every call under latency tracking or a threshold of 0', () => {
    for (const [track, slow] of [
      [true, 10_000],
      [false, 0],
    ] as const) {
      configure(track, slow);
      for (const cmd of [CMD.GET, CMD.SET, CMD.PFCOUNT, CMD.PFADD, CMD.SORT]) expect(timed(cmd, 2)).toBe(true);
    }
  });

  it('leaves fast commands untimed under a positive threshold, and bounded HLL calls from 1 ms on', () => {
    configure(false, 500);
    expect(timed(CMD.GET, 2)).toBe(false);
    expect(timed(CMD.SORT, 2)).toBe(true);
    expect(timed(CMD.PFCOUNT, 2)).toBe(true);
    configure(false, 10_000);
    expect(timed(CMD.GET, 2)).toBe(false);
    expect(timed(CMD.SORT, 2)).toBe(true);
    expect(timed(CMD.PFCOUNT, 2)).toBe(false);
    // A union of several HLLs costs in proportion to their number.
    expect(timed(CMD.PFCOUNT, 3)).toBe(true);
  });

  it('times HLL calls again when hll-sparse-max-bytes allows big sparse HLLs', () => {
    configure(false, 10_000);
    expect(sparseMax(1_000_000)).toBe('+OK\r\n');
    expect(timed(CMD.PFCOUNT, 2)).toBe(true);
    sparseMax(3000);
    expect(timed(CMD.PFCOUNT, 2)).toBe(false);
  });
});
