/** The commands that run or change scripts and functions: what acceptor, shards and loading treat alike. */
import { CMD } from './ids.generated.js';

/** Commands that change the scripts or function libraries, which every shard holds: each runs on every shard. */
export const TO_EVERY_SHARD: ReadonlySet<number> = new Set([
  CMD.SCRIPT_LOAD,
  CMD.SCRIPT_FLUSH,
  CMD.FUNCTION_LOAD,
  CMD.FUNCTION_DELETE,
  CMD.FUNCTION_FLUSH,
  CMD.FUNCTION_RESTORE,
]);

/** EVAL, EVALSHA, FCALL and their read-only forms. */
export const SCRIPT_CALLS: ReadonlySet<number> = new Set([CMD.EVAL, CMD.EVALSHA, CMD.EVAL_RO, CMD.EVALSHA_RO, CMD.FCALL, CMD.FCALL_RO]);
