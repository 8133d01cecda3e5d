/** The `save <seconds> <changes> ...` schedule: parsing the config value and Redis's serverCron rule for when to BGSAVE. */

/** One `<seconds> <changes>` pair. */
export interface SavePoint {
  seconds: number;
  changes: number;
}

/** Redis waits this long before retrying a failed BGSAVE (CONFIG_BGSAVE_RETRY_DELAY). */
export const BGSAVE_RETRY_DELAY_MS = 5000;

/** Parses the `save` config value ("3600 1 300 100 60 10000", or "" for none); null when malformed. */
export function parseSaveConfig(value: string): SavePoint[] | null {
  const parts = value
    .trim()
    .split(/\s+/)
    .filter((p) => p !== '');
  if (parts.length % 2 !== 0) return null;
  const out: SavePoint[] = [];
  for (let i = 0; i < parts.length; i += 2) {
    const seconds = Number(parts[i]);
    const changes = Number(parts[i + 1]);
    if (!Number.isSafeInteger(seconds) || !Number.isSafeInteger(changes) || seconds < 1 || changes < 0) return null;
    out.push({ seconds, changes });
  }
  return out;
}

/** Formats a schedule back as CONFIG GET shows it. */
export function formatSaveConfig(points: readonly SavePoint[]): string {
  return points.map((p) => `${p.seconds} ${p.changes}`).join(' ');
}

/** What the cron check needs to know. */
export interface SaveState {
  /** Writes since the last successful save (rdb_changes_since_last_save). */
  dirty: number;
  lastSaveMs: number;
  lastBgsaveTryMs: number;
  lastBgsaveOk: boolean;
}

/** The save point that calls for a BGSAVE now, or null: enough changes, enough time, and not inside the retry delay after a failure. */
export function dueSavePoint(points: readonly SavePoint[], s: SaveState, nowMs: number): SavePoint | null {
  const mayTry = s.lastBgsaveOk || nowMs - s.lastBgsaveTryMs > BGSAVE_RETRY_DELAY_MS;
  if (!mayTry) return null;
  for (const p of points) {
    if (s.dirty >= p.changes && nowMs - s.lastSaveMs > p.seconds * 1000) return p;
  }
  return null;
}
