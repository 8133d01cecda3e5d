/** Persistence state the server keeps (LASTSAVE, BGSAVE progress, AOF status) and the INFO persistence lines Redis 7.0 prints from it. */

type Outcome = 'ok' | 'err';

/** Mutable persistence state; the owner updates it as saves and rewrites start and finish. */
export class PersistenceStatus {
  loading = false;
  /** Writes since the last successful save. */
  dirty = 0;
  /** Unix ms of the last successful save, or of start-up (what LASTSAVE reports, in seconds). */
  lastSaveMs = Date.now();
  saves = 0;
  bgsaveStartedMs = 0;
  bgsaveInProgress = false;
  lastBgsaveStatus: Outcome = 'ok';
  lastBgsaveTryMs = 0;
  lastBgsaveSeconds = -1;
  /** Dirty count when the running BGSAVE started: writes after that point stay dirty. */
  private dirtyAtBgsave = 0;
  aofEnabled = false;
  aofRewriteInProgress = false;
  aofRewriteScheduled = false;
  aofRewriteStartedMs = 0;
  aofLastRewriteSeconds = -1;
  aofLastBgrewriteStatus: Outcome = 'ok';
  aofLastWriteStatus: Outcome = 'ok';
  aofRewrites = 0;
  lastLoadKeysLoaded = 0;
  lastLoadKeysExpired = 0;

  /** A foreground SAVE completed. */
  saved(nowMs = Date.now()): void {
    this.dirty = 0;
    this.lastSaveMs = nowMs;
    this.saves++;
  }

  /** A BGSAVE begins (the snapshot point in time). */
  bgsaveStarted(nowMs = Date.now()): void {
    this.bgsaveInProgress = true;
    this.bgsaveStartedMs = nowMs;
    this.lastBgsaveTryMs = nowMs;
    this.dirtyAtBgsave = this.dirty;
  }

  /** A BGSAVE ended; on success only the writes made during it remain dirty. */
  bgsaveFinished(ok: boolean, nowMs = Date.now()): void {
    this.bgsaveInProgress = false;
    this.lastBgsaveStatus = ok ? 'ok' : 'err';
    this.lastBgsaveSeconds = Math.round((nowMs - this.bgsaveStartedMs) / 1000);
    if (ok) {
      this.dirty -= this.dirtyAtBgsave;
      this.lastSaveMs = nowMs;
      this.saves++;
    }
  }

  /** An AOF rewrite begins. */
  rewriteStarted(nowMs = Date.now()): void {
    this.aofRewriteInProgress = true;
    this.aofRewriteScheduled = false;
    this.aofRewriteStartedMs = nowMs;
  }

  /** An AOF rewrite ended. */
  rewriteFinished(ok: boolean, nowMs = Date.now()): void {
    this.aofRewriteInProgress = false;
    this.aofLastBgrewriteStatus = ok ? 'ok' : 'err';
    this.aofLastRewriteSeconds = Math.round((nowMs - this.aofRewriteStartedMs) / 1000);
    if (ok) this.aofRewrites++;
  }

  /** The `# Persistence` fields of INFO, in Redis 7.0's order (fork and copy-on-write fields are 0: Sabre does not fork). */
  infoLines(nowMs = Date.now()): string[] {
    const running = (on: boolean, since: number): number => (on ? Math.round((nowMs - since) / 1000) : -1);
    return [
      `loading:${this.loading ? 1 : 0}`,
      'async_loading:0',
      'current_cow_peak:0',
      'current_cow_size:0',
      'current_cow_size_age:0',
      'current_fork_perc:0.00',
      'current_save_keys_processed:0',
      'current_save_keys_total:0',
      `rdb_changes_since_last_save:${this.dirty}`,
      `rdb_bgsave_in_progress:${this.bgsaveInProgress ? 1 : 0}`,
      `rdb_last_save_time:${Math.floor(this.lastSaveMs / 1000)}`,
      `rdb_last_bgsave_status:${this.lastBgsaveStatus}`,
      `rdb_last_bgsave_time_sec:${this.lastBgsaveSeconds}`,
      `rdb_current_bgsave_time_sec:${running(this.bgsaveInProgress, this.bgsaveStartedMs)}`,
      `rdb_saves:${this.saves}`,
      'rdb_last_cow_size:0',
      `rdb_last_load_keys_expired:${this.lastLoadKeysExpired}`,
      `rdb_last_load_keys_loaded:${this.lastLoadKeysLoaded}`,
      `aof_enabled:${this.aofEnabled ? 1 : 0}`,
      `aof_rewrite_in_progress:${this.aofRewriteInProgress ? 1 : 0}`,
      `aof_rewrite_scheduled:${this.aofRewriteScheduled ? 1 : 0}`,
      `aof_last_rewrite_time_sec:${this.aofLastRewriteSeconds}`,
      `aof_current_rewrite_time_sec:${running(this.aofRewriteInProgress, this.aofRewriteStartedMs)}`,
      `aof_last_bgrewrite_status:${this.aofLastBgrewriteStatus}`,
      `aof_rewrites:${this.aofRewrites}`,
      'aof_rewrites_consecutive_failures:0',
      `aof_last_write_status:${this.aofLastWriteStatus}`,
      'aof_last_cow_size:0',
      'module_fork_in_progress:0',
      'module_fork_last_cow_size:0',
    ];
  }
}
