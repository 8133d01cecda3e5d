/**
 * Sabre's internal commands: the acceptor and the server send them to shards (cross-shard
 * moves, configuration pushes, snapshots). Their ids follow the Redis table's; clients can
 * never name them.
 */
import { COMMANDS } from './table.js';

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
  '__xwatch',
  '__xlastids',
  '__track',
  '__trackcfg',
  '__trackevict',
  '__sortelems',
  '__sortrun',
  '__sortget',
  '__sortstore',
  '__xserve',
  '__countslot',
  '__slotkeys',
] as const;
export type InternalName = (typeof INTERNAL)[number];

/** Id of an internal command (beyond the Redis table's ids). */
export function internalId(name: InternalName): number {
  return COMMANDS.length + INTERNAL.indexOf(name);
}

/** Lower-case name per id, internal ones included (error texts name the command). */
export const COMMAND_NAMES: string[] = [...COMMANDS.map((c) => c.name), ...INTERNAL];
