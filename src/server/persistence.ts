/**
 * The acceptor's side of persistence: SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, the `save` schedule,
 * automatic AOF rewrites and saving on shutdown. Every snapshot starts with all shards held
 * (Coordinator.exclusive), so each shard captures the same point of the command stream: SAVE packs while
 * held; BGSAVE and AOF rewrites only copy while held and walk the copies afterwards, clients served.
 */
import { join } from 'node:path';
import type { Acceptor, LocalHandler } from '../io/acceptor.js';
import type { Connection } from '../io/connection.js';
import type { Logger } from '../log.js';
import { CMD } from '../commands/ids.generated.js';
import { internalId } from '../commands/internal.js';
import { RespWriter } from '../wire/resp-writer.js';
import { isKeyword } from '../wire/bytes.js';
import { AofLog } from './aof-log.js';
import type { Propagation } from './propagation.js';
import { loadDataSet } from './data-load.js';
import {
  type AofRewriter,
  RdbEncodePool,
  SnapshotFile,
  type EncodedBlock,
  dueSavePoint,
  shouldRewriteAof,
  BGSAVE_RETRY_DELAY_MS,
  parseSaveConfig,
  saveRdbFile,
  unpackEntries,
  functionCodes,
  type PersistenceStatus,
  type RdbEntry,
  type ReplHistory,
} from '../persistence/index.js';
import { E_AOF_OFF, E_AOF_REWRITE_IN_PROGRESS, E_BGSAVE_CHILD_ACTIVE, E_BGSAVE_IN_PROGRESS, E_ERR, E_SYNTAX } from '../wire/error-text.js';
import { registerInfoSection } from './info.js';

const FUNCTION = Buffer.from('FUNCTION');
const DUMP = Buffer.from('DUMP');

/** Where a background snapshot's RDB goes: the dump file (SnapshotFile), or replica sockets for a diskless sync. */
export interface SnapshotTarget {
  /** Bytes accepted but not yet written: the walk waits on drained() when this grows. */
  readonly queuedBytes: number;
  /** The replication history at the copy's point, for the header (a replica's snapshot for its own replicas); before any record. */
  history(repl: ReplHistory): void;
  /** The function libraries (RDB FUNCTION2 records), before the first database. */
  functionRecords(records: Uint8Array): void;
  selectDb(db: number, sizes?: { keys: number; expires: number }): void;
  writeBlock(db: number, block: Uint8Array, crc?: bigint): void;
  drained(): Promise<void>;
  commit(): Promise<{ bytes: number }>;
  abort(): Promise<void>;
}

/** One shard's keys of one database, packed (entry-pack.ts), with its counts for the RESIZEDB hint. */
interface ShardPart {
  keys: number;
  expires: number;
  packed: Uint8Array;
}

/** The body of a bulk reply (`$n\r\n…\r\n`); throws with the text of an error reply. */
function bulkBody(reply: Uint8Array): Uint8Array {
  if (reply[0] !== 36) throw new Error(Buffer.from(reply).toString('latin1').slice(1).trim());
  const cr = reply.indexOf(13);
  return reply.subarray(cr + 2, reply.length - 2);
}

/** Persistence for one server; `install` adds its commands to the local handler table. */
export class ServerPersistence {
  private pool: RdbEncodePool | null = null;
  private poolCompress = true;
  private bgsaveRunning: Promise<void> | null = null;
  private bgsaveScheduled = false;
  private cron: NodeJS.Timeout | null = null;
  private aof: AofLog | null = null;
  /** SHUTDOWN SAVE / NOSAVE; null: save when save points are configured. */
  private saveOnExit: boolean | null = null;
  /** The replication history snapshots record (a replica's, so it resyncs partially after a restart); null: none. */
  replInfo: () => ReplHistory | null = () => null;
  /** The aux fields of the RDB loaded at start-up (repl-id, repl-offset…). */
  loadedAux = new Map<string, string>();

  /** `status` is what INFO persistence and LASTSAVE report; the acceptor counts writes into it. */
  constructor(
    private readonly a: Acceptor,
    private readonly status: PersistenceStatus,
    private readonly log: Logger,
    private readonly propagation: Propagation,
  ) {}

  private get rdbPath(): string {
    return join(this.a.config.get('dir'), this.a.config.get('dbfilename'));
  }

  /** Adds SAVE, BGSAVE and LASTSAVE to the acceptor's local commands, INFO's persistence section, and starts the save schedule. */
  install(h: (LocalHandler | undefined)[]): void {
    registerInfoSection(this.a, 'persistence', () => this.status.infoLines());
    const reply = (conn: Connection, seq: number, fill: (w: RespWriter) => void): void => {
      const w = new RespWriter(64);
      w.proto = conn.proto;
      fill(w);
      if (!conn.closed && conn.deliver(seq, w.bytes, 0, w.len)) this.a.markDirty(conn);
      this.a.scheduleTick();
    };
    h[CMD.SAVE] = (conn, seq) => {
      if (this.bgsaveRunning !== null) return this.a.replyError(conn, seq, E_BGSAVE_IN_PROGRESS);
      this.save().then(
        () => reply(conn, seq, (w) => w.simple('OK')),
        (err: unknown) => {
          this.log.error('SAVE failed', { error: String(err) });
          reply(conn, seq, (w) => w.error(E_ERR));
        },
      );
    };
    h[CMD.BGSAVE] = (conn, seq, cmd) => {
      const schedule = cmd.argc > 1 && isKeyword(cmd.buf, cmd.argStart[1]!, cmd.argLen[1]!, 'SCHEDULE');
      if (cmd.argc > 2 || (cmd.argc === 2 && !schedule)) return this.a.replyError(conn, seq, E_SYNTAX);
      if (this.bgsaveRunning !== null || this.status.aofRewriteInProgress) {
        if (!schedule) {
          return this.a.replyError(conn, seq, this.bgsaveRunning !== null ? E_BGSAVE_IN_PROGRESS : E_BGSAVE_CHILD_ACTIVE);
        }
        this.bgsaveScheduled = true;
        return reply(conn, seq, (w) => w.simple('Background saving scheduled'));
      }
      this.bgsave();
      reply(conn, seq, (w) => w.simple('Background saving started'));
    };
    h[CMD.BGREWRITEAOF] = (conn, seq) => {
      if (this.aof === null) return this.a.replyError(conn, seq, E_AOF_OFF);
      if (this.status.aofRewriteInProgress) return this.a.replyError(conn, seq, E_AOF_REWRITE_IN_PROGRESS);
      // One walk over the shards' copies at a time: after a running BGSAVE, as Redis schedules it.
      if (this.bgsaveRunning !== null) {
        this.status.aofRewriteScheduled = true;
        return reply(conn, seq, (w) => w.simple('Background append only file rewriting scheduled'));
      }
      this.rewriteAof().catch((err: unknown) => this.log.error('AOF rewrite failed', { error: String(err) }));
      reply(conn, seq, (w) => w.simple('Background append only file rewriting started'));
    };
    h[CMD.LASTSAVE] = (conn, seq) => reply(conn, seq, (w) => w.int(Math.floor(this.status.lastSaveMs / 1000)));
    // Like Redis, SHUTDOWN (and SIGTERM) saves when save points are set; SAVE / NOSAVE override that.
    const shutdown = h[CMD.SHUTDOWN];
    if (shutdown !== undefined) {
      h[CMD.SHUTDOWN] = (conn, seq, cmd) => {
        for (let i = 1; i < cmd.argc; i++) {
          if (isKeyword(cmd.buf, cmd.argStart[i]!, cmd.argLen[i]!, 'NOSAVE')) this.saveOnExit = false;
          else if (isKeyword(cmd.buf, cmd.argStart[i]!, cmd.argLen[i]!, 'SAVE')) this.saveOnExit = true;
        }
        shutdown(conn, seq, cmd);
      };
    }
    this.a.config.onChange('appendonly', (v) => this.switchAof(v === 'yes'));
    this.cron = setInterval(() => this.saveCron(), 100);
    this.cron.unref();
  }

  /**
   * CONFIG SET appendonly: on, the file starts over from a rewrite of the data set (after a running
   * BGSAVE), writes from now on going to it, as Redis's startAppendOnly; off, it is flushed and closed.
   */
  private switchAof(on: boolean): void {
    if (on === (this.aof !== null)) return;
    if (on) {
      this.aof = new AofLog(this.a.config);
      this.propagation.setAof(this.aof);
      this.status.aofEnabled = true;
      this.log.info('AOF enabled: rewriting it from the data set');
      if (this.bgsaveRunning !== null || this.status.aofRewriteInProgress) this.status.aofRewriteScheduled = true;
      else this.rewriteAof().catch((err: unknown) => this.log.error('AOF rewrite failed', { error: String(err) }));
      return;
    }
    this.propagation.setAof(null);
    this.aof!.close();
    this.aof = null;
    this.status.aofEnabled = false;
    this.status.aofRewriteScheduled = false;
    this.log.info('AOF disabled');
  }

  /** Runs a BGSAVE when a `save <seconds> <changes>` point is due (Redis's serverCron rule). */
  private saveCron(): void {
    const aof = this.aof;
    const cfg = this.a.config;
    // Shards hold one copy at a time: a BGSAVE and an AOF rewrite never overlap.
    if (this.bgsaveRunning !== null || this.status.aofRewriteInProgress) return;
    if (
      aof !== null &&
      (this.status.aofRewriteScheduled ||
        // After a failed rewrite, wait as Redis does before trying again on growth alone.
        ((this.status.aofLastBgrewriteStatus === 'ok' || Date.now() - this.status.aofRewriteStartedMs > BGSAVE_RETRY_DELAY_MS) &&
          shouldRewriteAof(aof.size, aof.baseSize, cfg.num('auto-aof-rewrite-percentage'), cfg.num('auto-aof-rewrite-min-size'))))
    ) {
      if (!this.status.aofRewriteScheduled) this.log.info('Starting automatic rewriting of AOF', { size: aof.size, base: aof.baseSize });
      this.rewriteAof().catch((err: unknown) => this.log.error('AOF rewrite failed', { error: String(err) }));
      return;
    }
    if (this.bgsaveScheduled) {
      this.bgsaveScheduled = false;
      this.bgsave();
      return;
    }
    const points = parseSaveConfig(this.a.config.get('save')) ?? [];
    const s = this.status;
    const now = Date.now();
    const due = dueSavePoint(
      points,
      { dirty: s.dirty, lastSaveMs: s.lastSaveMs, lastBgsaveTryMs: s.lastBgsaveTryMs, lastBgsaveOk: s.lastBgsaveStatus === 'ok' },
      now,
    );
    if (due === null) return;
    this.log.info(`${due.changes} changes in ${due.seconds} seconds. Saving...`);
    this.bgsave();
  }

  /**
   * The function libraries as RDB FUNCTION2 records (the body of shard 0's FUNCTION DUMP: every shard
   * holds the same libraries); called with the shards held, so they match the snapshot's point.
   */
  private async functionRecords(): Promise<Uint8Array> {
    const payload = bulkBody(await this.a.coordinator.call(0, 0, CMD.FUNCTION_DUMP, [FUNCTION, DUMP]));
    // The payload ends with the RDB version (2 bytes) and a CRC-64 (8).
    return payload.slice(0, payload.length - 10);
  }

  /** Asks every shard for every database while all shards are held: one point-in-time set of parts, by db, and the function libraries; `atPoint` runs at that point. */
  private snapshot(atPoint: () => void = () => undefined): Promise<{ parts: ShardPart[][]; functions: Uint8Array }> {
    const a = this.a;
    const id = internalId('__snapshot');
    return a.coordinator.exclusive(async () => {
      const functions = await this.functionRecords();
      const out: ShardPart[][] = [];
      for (let db = 0; db < a.config.num('databases'); db++) {
        const arg = Buffer.from(String(db));
        const replies = await a.coordinator.callAll(db, id, [Buffer.from('__snapshot'), arg]);
        out.push(
          replies.map((r) => {
            const body = bulkBody(r);
            const dv = new DataView(body.buffer, body.byteOffset, 8);
            return { keys: dv.getUint32(0, true), expires: dv.getUint32(4, true), packed: body.subarray(8) };
          }),
        );
      }
      // With the shards held, nothing has run since the copies were taken.
      atPoint();
      return { parts: out, functions };
    });
  }

  private sizes(parts: ShardPart[][]): (db: number) => { keys: number; expires: number } | undefined {
    return (db) => ({ keys: parts[db]!.reduce((n, p) => n + p.keys, 0), expires: parts[db]!.reduce((n, p) => n + p.expires, 0) });
  }

  /** SAVE: a point-in-time snapshot written synchronously (the server answers nothing else meanwhile, as Redis). */
  async save(): Promise<void> {
    // The history is read with the shards held, at the copy's own point: read after it, a stream
    // command applied meanwhile would be counted in the offset but missing from the file.
    let repl: ReplHistory | null = null;
    const { parts, functions } = await this.snapshot(() => (repl = this.replInfo()));
    function* entries(): Generator<RdbEntry> {
      for (const dbParts of parts) for (const p of dbParts) yield* unpackEntries(p.packed);
    }
    const sizes = this.sizes(parts);
    saveRdbFile(this.rdbPath, entries(), {
      compress: this.a.config.get('rdbcompression') === 'yes',
      repl: repl ?? undefined,
      dbSizes: (db) => (sizes(db)!.keys > 0 ? sizes(db) : undefined),
      functions,
    });
    this.status.saved();
    this.log.info('DB saved on disk');
  }

  /** BGSAVE: the snapshot pause, then encoding in the piscina pool and an asynchronous write; clients are served meanwhile. */
  bgsave(): void {
    const s = this.status;
    s.bgsaveStarted();
    this.log.info('Background saving started');
    this.bgsaveRunning = this.writeBackground().then(
      (bytes) => {
        s.bgsaveFinished(true);
        this.log.info('Background saving terminated with success', { bytes });
      },
      (err: unknown) => {
        s.bgsaveFinished(false);
        this.log.error('Background saving error', { error: String(err) });
      },
    );
    void this.bgsaveRunning.finally(() => (this.bgsaveRunning = null));
  }

  /** The encode pool, warmed before the snapshot point so thread start-up never competes with it; restarted when rdbcompression changed. */
  private async encodePool(compress: boolean): Promise<RdbEncodePool> {
    if (this.pool === null || this.poolCompress !== compress) {
      void this.pool?.close();
      const pool = new RdbEncodePool({ threads: 2, compress });
      this.pool = pool;
      this.poolCompress = compress;
      await Promise.all([pool.encodePacked(new Uint8Array(0)), pool.encodePacked(new Uint8Array(0))]);
    }
    return this.pool;
  }

  /**
   * Takes a point-in-time copy in every shard (`atPoint` runs at that same point, with the function
   * libraries as FUNCTION2 records; the copy is the only pause clients see), then walks it without
   * holding anything: `visitDb` for each database with keys, then `visitChunk` for its packed slices,
   * shard by shard, in order.
   */
  private async walkCopies(
    atPoint: (functions: Uint8Array) => void,
    visitDb: (db: number, sizes: { keys: number; expires: number }) => Promise<void> | void,
    visitChunk: (db: number, packed: Uint8Array) => Promise<void> | void,
  ): Promise<void> {
    const a = this.a;
    const id = internalId('__bgsnap');
    const name = Buffer.from('__bgsnap');
    const begun = await a.coordinator.exclusive(async () => {
      const replies = await a.coordinator.callAll(0, id, [name, Buffer.from('begin')]);
      // Every write that ran before the point is in the AOF by now (its reply came ahead of its
      // shard's begin), and with the shards held none has run after it.
      atPoint(await this.functionRecords());
      return replies;
    });
    try {
      const counts = begun.map((r) => {
        const b = bulkBody(r);
        return new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
      });
      for (let db = 0; db < a.config.num('databases'); db++) {
        const keys = counts.reduce((n, c) => n + c[db * 2]!, 0);
        if (keys === 0) continue;
        await visitDb(db, { keys, expires: counts.reduce((n, c) => n + c[db * 2 + 1]!, 0) });
        const dbArg = Buffer.from(String(db));
        for (let s = 0; s < a.shards.length; s++) {
          if (counts[s]![db * 2] === 0) continue;
          for (;;) {
            const chunk = bulkBody(await a.coordinator.call(s, db, id, [name, Buffer.from('next'), dbArg]));
            if (chunk.length === 0) break;
            await visitChunk(db, chunk);
          }
        }
      }
    } finally {
      await a.coordinator.callAll(0, id, [name, Buffer.from('end')]);
    }
  }

  /**
   * A snapshot for replicas (repl-master.ts): the same point-in-time copy as BGSAVE, `atPoint` running at
   * that point. With a `target` (a diskless sync) the RDB goes there; without one it is a BGSAVE to
   * dbfilename, whose path comes back for the replicas to read. Waits for a BGSAVE or AOF rewrite in
   * progress first (the shards hold one copy at a time).
   */
  async replicationSnapshot(atPoint: () => void, target: SnapshotTarget | null): Promise<string> {
    while (this.bgsaveRunning !== null || this.status.aofRewriteInProgress) {
      await (this.bgsaveRunning ?? new Promise((r) => setTimeout(r, 50)));
    }
    const s = this.status;
    const toDisk = target === null;
    if (toDisk) {
      s.bgsaveStarted();
      this.log.info('Starting BGSAVE for SYNC with target: disk');
    } else this.log.info('Starting BGSAVE for SYNC with target: replicas sockets');
    let failure: unknown = null;
    const run = this.writeBackground(atPoint, target, true).then(
      (bytes) => {
        if (toDisk) s.bgsaveFinished(true);
        this.log.info('Background RDB transfer terminated with success', { bytes });
      },
      (err: unknown) => {
        failure = err ?? new Error('snapshot failed');
        if (toDisk) s.bgsaveFinished(false);
        this.log.warn('Background RDB for replication failed', { error: String(err) });
      },
    );
    this.bgsaveRunning = run;
    void run.finally(() => (this.bgsaveRunning = null));
    await run;
    if (failure !== null) throw failure;
    return this.rdbPath;
  }

  /**
   * A point-in-time copy to dbfilename or `target`. `forReplicas`: the header names a replica's history
   * as of the copy's point, so its own replicas know the database its master's stream has selected. A
   * BGSAVE file names none (a replica restarted from one syncs fully; SAVE and shutdown record it).
   */
  private async writeBackground(
    atPoint: () => void = () => undefined,
    target: SnapshotTarget | null = null,
    forReplicas = false,
  ): Promise<number> {
    const compress = this.a.config.get('rdbcompression') === 'yes';
    const pool = await this.encodePool(compress);
    const file = target ?? (await SnapshotFile.create(this.rdbPath, { compress }));
    let committing = false;
    try {
      // Slices are encoded in the pool a few at a time and written in the order they were taken.
      const queue: { db: number; encoded: Promise<EncodedBlock> }[] = [];
      const writeOldest = async (): Promise<void> => {
        const next = queue.shift()!;
        const { block, crc } = await next.encoded;
        file.writeBlock(next.db, block, crc);
        if (file.queuedBytes > 8 << 20) await file.drained();
      };
      await this.walkCopies(
        (functions) => {
          atPoint();
          const repl = forReplicas ? this.replInfo() : null;
          if (repl !== null) file.history(repl);
          file.functionRecords(functions);
        },
        async (db, sizes) => {
          while (queue.length > 0) await writeOldest();
          file.selectDb(db, sizes);
        },
        async (db, packed) => {
          queue.push({ db, encoded: pool.encodePacked(packed) });
          if (queue.length >= 4) await writeOldest();
        },
      );
      while (queue.length > 0) await writeOldest();
      committing = true;
      return (await file.commit()).bytes;
    } catch (e) {
      // commit() cleans up after itself; before it the temp file is ours to drop.
      if (!committing) await file.abort();
      throw e;
    }
  }

  /** Loads the data set before the server listens (a bad file throws DataLoadError), then opens the AOF when appendonly is on. */
  async load(): Promise<void> {
    this.status.loading = true;
    try {
      const result = await loadDataSet(this.a, this.log);
      this.loadedAux = result.aux;
      this.status.lastLoadKeysLoaded = result.keysLoaded;
      this.status.lastLoadKeysExpired = result.keysExpired;
    } finally {
      this.status.loading = false;
    }
    if (this.a.config.get('appendonly') === 'yes') {
      this.aof = new AofLog(this.a.config);
      this.propagation.setAof(this.aof);
      this.status.aofEnabled = true;
    }
  }

  /** BGREWRITEAOF: the same point-in-time copies as BGSAVE; writes after that point are captured and appended to the new file. */
  async rewriteAof(): Promise<void> {
    const aof = this.aof;
    if (aof === null) throw new Error('appendonly is off');
    this.status.rewriteStarted();
    let rewriter: AofRewriter | null = null;
    try {
      await this.walkCopies(
        (functions) => {
          rewriter = aof.beginRewrite();
          for (const code of functionCodes(functions)) rewriter.addFunction(code);
        },
        () => undefined,
        (_db, packed) => {
          for (const e of unpackEntries(packed)) rewriter!.add(e);
        },
      );
      // CONFIG SET appendonly no (or off and on again) while it ran: this file is not the AOF any more.
      if (this.aof !== aof) throw new Error('appendonly was switched during the rewrite');
      aof.completeRewrite(rewriter!);
      this.status.rewriteFinished(true);
      this.log.info('Background AOF rewrite finished successfully');
    } catch (e) {
      if (rewriter !== null) aof.abortRewrite(rewriter);
      this.status.rewriteFinished(false);
      throw e;
    }
  }

  /** Waits for a running BGSAVE, saves when shutting down calls for it (never after a failed start: that would overwrite the file that failed to load), and stops the encode pool, the schedule and the AOF. */
  async close(mayRunSave = true): Promise<void> {
    if (this.cron !== null) clearInterval(this.cron);
    await this.bgsaveRunning;
    if (mayRunSave && (this.saveOnExit ?? (parseSaveConfig(this.a.config.get('save')) ?? []).length > 0)) {
      await this.save().catch((err: unknown) => this.log.error('saving on shutdown failed', { error: String(err) }));
    }
    await this.pool?.close();
    this.propagation.setAof(null);
    this.aof?.close();
  }
}
