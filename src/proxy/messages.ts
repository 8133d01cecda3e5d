/** Messages between the main thread and proxy worker threads. */
import type { ProxyConfig } from './config.js';

/** A backend as workers know it: its slot in the shared table and its origin. */
export interface SlotUrl {
  slot: number;
  url: string;
}

/** Data a worker thread starts with (workerData). */
export interface WorkerInit {
  index: number;
  memory: SharedArrayBuffer;
  config: ProxyConfig;
  backends: SlotUrl[];
  /** What serves clients: uWS.js, or node:http (chosen in the config, or where no native uWS loads). */
  front: 'uws' | 'node';
  /** node:http front only: bind with SO_REUSEPORT (Node >= 22.12). */
  reusePort: boolean;
  /** The rate limiter's bucket table, shared by every thread so a limit holds across them (null: no limits). */
  limiterMemory: SharedArrayBuffer | null;
}

export type ToWorker =
  | { type: 'config'; config: ProxyConfig }
  | { type: 'backends'; backends: SlotUrl[] }
  | { type: 'stats'; id: number }
  | { type: 'shutdown'; deadlineMs: number };

export type FromWorker =
  | { type: 'listening'; port: number }
  | { type: 'listen-failed'; reason: string }
  | { type: 'stats'; id: number; histograms: Array<{ slot: number; data: string }> }
  | { type: 'stopped'; inflight: number };
