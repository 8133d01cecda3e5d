/**
 * The commands shards execute, by id: Redis's own ids from the command table, then
 * Sabre's internal commands (cross-shard moves) after them. Imported by both the
 * acceptor (to route) and the shard workers (to execute).
 */
import { COMMANDS } from '../commands/table.js';
import type { Handler } from './context.js';
import { stringCommands } from './t_string.js';
import { keyCommands } from './t_keys.js';
import { cellCommands } from './t_cell.js';
import { watchCommands } from './watch.js';
import { notifyCommands } from './notify.js';
import { latencyCommands } from './latency.js';
import { introspectCommands } from './t_introspect.js';
import { hashCommands } from './t_hash.js';
import { setCommands } from './t_set.js';
import { listCommands } from './t_list.js';
import { zsetCommands } from './t_zset.js';
import { blockingCommands } from './blocking.js';
import { dtConfigCommands } from './dt-config.js';
import { persistCommands } from './t_persist.js';

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
  latencyCommands,
  introspectCommands,
  dtConfigCommands,
  persistCommands,
];

/** Internal commands the acceptor sends to shards; never reachable by clients. */
export const INTERNAL = [
  '__dump',
  '__restore',
  '__shutdown',
  '__unblock',
  '__watch',
  '__watchcheck',
  '__unwatch',
  '__notifyflags',
  '__latencycfg',
  '__latencyreset',
  '__debugobject',
  '__sleep',
  '__dtconfig',
  '__bwatch',
  '__snapshot',
  '__load',
  '__bgsnap',
] as const;
export type InternalName = (typeof INTERNAL)[number];

/** Id of an internal command (beyond the Redis table's ids). */
export function internalId(name: InternalName): number {
  return COMMANDS.length + INTERNAL.indexOf(name);
}

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

/** Lower-case name per id, internal ones included (error texts name the command). */
export const COMMAND_NAMES: string[] = [...COMMANDS.map((c) => c.name), ...INTERNAL];

/** Whether a shard implements command `id` (the acceptor answers "unknown command" otherwise). */
export const SHARD_IMPLEMENTS: boolean[] = buildHandlerTable().map((h) => h !== undefined);
