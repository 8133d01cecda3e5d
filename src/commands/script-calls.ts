/** The commands that run a script or a function: what acceptor and shards treat alike for client tracking. */
import { CMD } from './ids.generated.js';

/** EVAL, EVALSHA, FCALL and their read-only forms. */
export const SCRIPT_CALLS: ReadonlySet<number> = new Set([CMD.EVAL, CMD.EVALSHA, CMD.EVAL_RO, CMD.EVALSHA_RO, CMD.FCALL, CMD.FCALL_RO]);
