/** The start-up message of a shard worker: the contract between the thread that spawns it and the shard. */
import type { MessagePort } from 'node:worker_threads';
import type { RingMemory } from './ring.js';

/** What the acceptor hands each shard. */
export interface ShardInit {
  id: number;
  count: number;
  req: RingMemory;
  rep: RingMemory;
  doorbell: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  /** Per-command latency histograms (layout in latency-buckets.ts). */
  latency: SharedArrayBuffer;
  /** Per-command time and error replies the shard counts (layout in frames.ts, CS_*). */
  cmdStats: SharedArrayBuffer;
  port: MessagePort;
  databases: number;
  maxBulkLen: number;
  /** Every shard's mailbox, by shard id (script-across.ts). */
  mailboxes: SharedArrayBuffer[];
  /** The acceptor's answer to a script's PUBLISH (two Int32 words, frames.ts PUB_*). */
  publish: SharedArrayBuffer;
}
