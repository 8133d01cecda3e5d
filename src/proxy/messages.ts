/** Messages between the main thread and proxy worker threads. */
import type { ProxyConfig } from './config.js';
import type { FrontKind } from './front-choice.js';

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
  /** What serves clients (front-choice.ts). */
  front: FrontKind;
  /** node:http and net fronts: bind with SO_REUSEPORT (Node >= 22.12). */
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
