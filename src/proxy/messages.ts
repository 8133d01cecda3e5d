/** Messages between the main thread and proxy worker threads. */
import type { ProxyConfig } from './config.js';
import type { FrontKind } from './front-choice.js';
import type { EngineStats } from '../limiter/policy.js';

/** A backend as workers know it: its slot in the shared table and its origin. */
export interface SlotUrl {
  slot: number;
  url: string;
  /** The pool's index (0: the default pool). */
  pool: number;
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
  /** The per-pool counters (breakers, retry budgets, ejections), shared by every thread. */
  poolMemory: SharedArrayBuffer;
  /** Pool names by index (0: the default pool, null). */
  poolNames: Array<string | null>;
  /** Each pool's own rate-limit bucket table by index (null: the pool has no policies). */
  poolLimiters: Array<SharedArrayBuffer | null>;
}

export type ToWorker =
  | { type: 'config'; config: ProxyConfig; poolNames: Array<string | null> }
  | { type: 'backends'; backends: SlotUrl[] }
  | { type: 'stats'; id: number }
  | { type: 'shutdown'; deadlineMs: number };

export type FromWorker =
  | { type: 'listening'; port: number }
  | { type: 'listen-failed'; reason: string }
  | {
      type: 'stats';
      id: number;
      histograms: Array<{ slot: number; data: string }>;
      limiter: EngineStats | null;
      /** Each pool's own policies' figures, by pool index. */
      poolLimiters: Array<{ pool: number; stats: EngineStats }>;
    }
  | { type: 'stopped'; inflight: number };
