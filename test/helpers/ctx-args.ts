/** Loads a command's arguments into a shard Ctx, as a request frame would, for handlers run without rings. */
import type { Ctx } from '../../src/shards/context.js';

/** Sets ctx's argument buffer, starts, lengths and count from `args` (the command name first). */
export function loadArgs(ctx: Ctx, args: string[]): void {
  const bytes = args.map((a) => Buffer.from(a));
  ctx.reserve(args.length);
  ctx.buf = Buffer.concat(bytes);
  let p = 0;
  for (let i = 0; i < bytes.length; i++) {
    ctx.as[i] = p;
    ctx.al[i] = bytes[i]!.length;
    p += bytes[i]!.length;
  }
  ctx.argc = args.length;
}
