/** Keeps the shards' collection encoding thresholds equal to the configuration, at start-up and on CONFIG SET. */
import type { Acceptor } from '../io/acceptor.js';
import { internalId } from '../commands/internal.js';

const THRESHOLDS = [
  'list-max-listpack-size',
  'hash-max-listpack-entries',
  'hash-max-listpack-value',
  'set-max-intset-entries',
  'zset-max-listpack-entries',
  'zset-max-listpack-value',
];

/** Sends each threshold to every shard now and whenever CONFIG SET changes it. */
export function syncDatatypeConfig(a: Acceptor): void {
  const id = internalId('__dtconfig');
  const push = (name: string, value: string): void => {
    const args = [Buffer.from('__dtconfig'), Buffer.from(name), Buffer.from(value)];
    void a.coordinator.callAll(0, id, args);
  };
  for (const name of THRESHOLDS) {
    push(name, a.config.get(name));
    a.config.onChange(name, (v) => push(name, v));
  }
}
