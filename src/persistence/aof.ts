/** The append-only file API in one import: appender, replay reader, rewrite, Redis 7 manifests (see aof-reader.ts for the file format). */
export { AofAppender, shouldRewriteAof, type AppendFsync } from './aof-appender.js';
export { readAof, readAofFile, type AofRecord, type AofSummary } from './aof-reader.js';
export { AofRewriter, commandsForEntry } from './aof-rewrite.js';
export { encodeCommand } from '../wire/resp-command.js';
export { aofReplayOrder, parseAofManifest, type ManifestFile } from './aof-manifest.js';
