/**
 * The commands shards execute, by id: Redis's own ids from the command table, then
 * Sabre's internal commands (cross-shard moves) after them. Imported by both the
 * acceptor (to route) and the shard workers (to execute).
 */
import { COMMANDS } from '../commands/table.js';
import { INTERNAL } from '../commands/internal.js';
import type { Handler } from './context.js';
import { stringCommands } from './t_string.js';
import { keyCommands } from './t_keys.js';
import { cellCommands } from './t_cell.js';
import { watchCommands } from './watch.js';
import { notifyCommands } from './notify.js';
import { trackingCommands } from './tracking.js';
import { latencyCommands } from './latency.js';
import { introspectCommands } from './t_introspect.js';
import { hashCommands } from './t_hash.js';
import { setCommands } from './t_set.js';
import { listCommands } from './t_list.js';
import { zsetCommands } from './t_zset.js';
import { blockingCommands } from './blocking.js';
import { dtConfigCommands } from './dt-config.js';
import { persistCommands } from './t_persist.js';
import { geoCommands } from './t_geo.js';
import { sortCommands } from './t_sort.js';
import { bitmapCommands } from './t_bitmap.js';
import { hllCommands } from './t_hll.js';
import { streamCommands } from './t_stream.js';
import { scriptCommands } from './t_script.js';
import { functionCommands } from './t_function.js';
import { clusterCommands } from './t_cluster.js';

const families: Record<string, Handler>[] = [
  stringCommands,
  keyCommands,
  hashCommands,
  setCommands,
  listCommands,
  zsetCommands,
  blockingCommands,
  cellCommands,
  watchCommands,
  notifyCommands,
  trackingCommands,
  latencyCommands,
  introspectCommands,
  dtConfigCommands,
  persistCommands,
  geoCommands,
  sortCommands,
  bitmapCommands,
  hllCommands,
  streamCommands,
  scriptCommands,
  functionCommands,
  clusterCommands,
];

function findHandler(name: string): Handler | undefined {
  for (const f of families) {
    const h = f[name];
    if (h !== undefined) return h;
  }
  return undefined;
}

/** Handler per command id (undefined where shards do not run it). */
export function buildHandlerTable(): (Handler | undefined)[] {
  const table: (Handler | undefined)[] = COMMANDS.map((c) => findHandler(c.name));
  for (const name of INTERNAL) table.push(findHandler(name));
  return table;
}

/** Whether a shard implements command `id` (the acceptor answers "unknown command" otherwise). */
export const SHARD_IMPLEMENTS: boolean[] = buildHandlerTable().map((h) => h !== undefined);
