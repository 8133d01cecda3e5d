/**
 * Keeps the settings each shard holds a copy of (collection encoding thresholds, proto-max-bulk-len)
 * equal to the configuration, at start-up and on CONFIG SET. The push travels the request rings,
 * so commands sent after the CONFIG SET run under the new value.
 */
import type { Acceptor } from '../io/acceptor.js';
import { internalId } from '../commands/internal.js';

const SHARD_SETTINGS = [
  'list-max-listpack-size',
  'hash-max-listpack-entries',
  'hash-max-listpack-value',
  'set-max-intset-entries',
  'zset-max-listpack-entries',
  'zset-max-listpack-value',
  'hll-sparse-max-bytes',
  'stream-node-max-bytes',
  'stream-node-max-entries',
  'proto-max-bulk-len',
];

/** Sends each setting to every shard now and whenever CONFIG SET changes it. */
export function syncDatatypeConfig(a: Acceptor): void {
  const id = internalId('__dtconfig');
  const push = (name: string, value: string): void => {
    const args = [Buffer.from('__dtconfig'), Buffer.from(name), Buffer.from(value)];
    void a.coordinator.callAll(0, id, args);
  };
  for (const name of SHARD_SETTINGS) {
    push(name, a.config.get(name));
    a.config.onChange(name, (v) => push(name, v));
  }
}
