/**
 * Persistence entry points for the server and shards. Everything speaks RdbEntry (one key: db, key, expiry, value).
 *
 * - Load at start-up: loadAtStartup(config, { entry, command }) picks the AOF or the RDB, skips expired keys
 *   and cuts a truncated AOF tail; on RdbError the server exits with its message before serving, so a bad
 *   file never yields a half-loaded server.
 * - SAVE: saveRdbFile(path, entries). BGSAVE: SnapshotFile.create(path), shards pack entries (EntryPacker)
 *   into chunks, RdbEncodePool.encodePacked(chunk) off-thread, writeBlock(db, block, crc) in order, commit().
 * - AOF: AofAppender.append(db, argv) per write, flush() once per event-loop turn before replying;
 *   BGREWRITEAOF: startRewrite(), AofRewriter.add(entry) for a point-in-time set of entries, completeRewrite().
 * - DUMP/RESTORE: encodeDumpPayload(value) / decodeDumpPayload(payload).
 */
export type { RdbEntry, RdbValue } from './rdb-types.js';
export { RdbError, type RdbErrorCode } from './rdb-error.js';
export { RdbWriter, encodeEntries, type RdbSink, type RdbWriterOptions, type ReplHistory } from './rdb-writer.js';
export { readRdb, readRdbFile, functionCodes, type RdbRecord, type RdbSummary } from './rdb-reader.js';
export { encodeDumpPayload, decodeDumpPayload } from './dump-payload.js';
export { saveRdbFile, SnapshotFile, type DbSizes } from './snapshot-file.js';
export { EntryPacker, packEntries, unpackEntries } from './entry-pack.js';
export { RdbEncodePool, type EncodedBlock } from './rdb-pool.js';
export { AofAppender, AofRewriter, readAof, readAofFile, shouldRewriteAof, commandsForEntry, encodeCommand } from './aof.js';
export type { AppendFsync, AofRecord, AofSummary } from './aof.js';
export { parseSaveConfig, formatSaveConfig, dueSavePoint, BGSAVE_RETRY_DELAY_MS, type SavePoint, type SaveState } from './save-schedule.js';
export { PersistenceStatus } from './persistence-status.js';
export { loadAtStartup, type LoadSink, type StartupLoadOptions, type StartupLoadResult } from './startup-load.js';
