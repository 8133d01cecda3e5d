/**
 * maxclients fitted to the open-files limit, as Redis's adjustOpenFilesLimit does at start-up:
 * clients past the limit would otherwise be closed without a word, and SAVE or an AOF rewrite
 * would fail with EMFILE. Node raises its soft limit to the hard limit when it starts and offers
 * no setrlimit, so the limit read here is the most the process can have; Sabre lowers maxclients
 * to fit it and says so with Redis's log lines.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ServerConfig } from './config.js';

/** Redis's CONFIG_MIN_RESERVED_FDS: descriptors kept beyond the clients for files, pool threads and module loads. */
export const MIN_RESERVED_FDS = 32;

/** The soft open-files limit from /proc/self/limits, or null where it cannot be read (not Linux) or is unlimited. */
export function openFilesLimit(): number | null {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return null;
  }
  const m = /^Max open files\s+(\d+)\s/m.exec(text);
  return m === null ? null : Number(m[1]);
}

/** Descriptors the process holds now (all threads), or 0 where /proc/self/fd cannot be listed. */
function openDescriptors(): number {
  try {
    // The listing includes the descriptor of the directory being read.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return 0;
  }
}

/**
 * Lowers maxclients at start-up so that the clients, the descriptors the process holds now, the
 * `listeners` about to open and MIN_RESERVED_FDS fit under the limit, and keeps CONFIG SET
 * maxclients within it. Throws ConfigError when not even one client would fit (Redis exits too).
 */
export function fitMaxclients(cfg: ServerConfig, log: Logger, listeners: number): void {
  const limit = openFilesLimit();
  if (limit === null) return;
  const reserved = openDescriptors() + listeners + MIN_RESERVED_FDS;
  const warn = (requested: number, current: number): number => {
    const fitted = Math.max(1, current - reserved);
    log.warn(`You requested maxclients of ${requested} requiring at least ${requested + reserved} max file descriptors.`);
    // What setrlimit answers a process that may not raise its hard limit (and Node cannot call it at all).
    log.warn(`Server can't set maximum open files to ${requested + reserved} because of OS error: Operation not permitted.`);
    log.warn(
      `Current maximum open files is ${current}. maxclients has been reduced to ${fitted} to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.`,
    );
    return fitted;
  };
  const requested = cfg.num('maxclients');
  if (requested + reserved > limit) {
    if (limit <= reserved) {
      throw new ConfigError(
        `Your current 'ulimit -n' of ${limit} is not enough for the server to start. Please increase your open file limit to at least ${requested + reserved}. Exiting.`,
      );
    }
    cfg.override('maxclients', String(warn(requested, limit)));
  }
  cfg.guard('maxclients', (v) => {
    const n = Number(v);
    const current = openFilesLimit() ?? limit;
    if (n + reserved <= current) return null;
    return `The operating system is not able to handle the specified number of clients, try with ${warn(n, current)}`;
  });
}
