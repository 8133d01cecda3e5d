/**
 * Commands whose answer follows from what this server is: a standalone master without cluster
 * support, replicas, modules, latency-event sampling or jemalloc. Each answers as Redis 7.0 does
 * in that situation: CLUSTER/ASKING/READONLY/READWRITE refuse,
 * REPLCONF takes a replica's handshake options, MODULE lists none and loads none, the latency
 * monitor has no samples, MEMORY MALLOC-STATS has no allocator statistics.
 */
import { CMD } from '../commands/ids.generated.js';
import { COMMANDS } from '../commands/table.js';
import type { Acceptor, LocalHandler } from '../io/acceptor.js';
import type { Connection } from '../io/connection.js';
import type { ParsedCommand } from '../wire/resp-parser.js';
import { R_OK, R_EMPTY_ARRAY } from '../wire/resp-writer.js';
import { isKeyword, parseI64 } from '../wire/bytes.js';
import {
  E_CLUSTER_DISABLED,
  E_MODULE_LOAD,
  E_MODULE_UNLOAD,
  E_NOT_INT,
  E_SYNTAX,
  latencyNoSamples,
  replconfBadOption,
  replconfIpTooLong,
  replconfBadFilter,
  E_RDB_ONLY_RANGE,
} from '../wire/error-text.js';

/** What LATENCY DOCTOR says while the latency monitor is off (Redis's text). */
const LATENCY_DISABLED =
  "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n";
/** Redis's NET_HOST_STR_LEN: REPLCONF ip-address must be shorter. */
const NET_HOST_STR_LEN = 256;

function is(cmd: ParsedCommand, i: number, upper: string): boolean {
  return isKeyword(cmd.buf, cmd.argStart[i]!, cmd.argLen[i]!, upper);
}

function text(cmd: ParsedCommand, i: number): string {
  return Buffer.from(cmd.buf.subarray(cmd.argStart[i]!, cmd.argStart[i]! + cmd.argLen[i]!)).toString('latin1');
}

/** Who hears a replica's REPLCONF options and acknowledgements (the master side, repl-master.ts). */
export interface ReplconfListener {
  /** `listening-port`, `ip-address` or `capa` (name lower-cased) from a replica's handshake. */
  option(conn: Connection, name: string, value: string): void;
  /** REPLCONF ACK <offset> from a replica. */
  ack(conn: Connection, offset: number): void;
}

/** REPLCONF as Redis answers it, telling `listener` (when there is one) what replicas say. */
export function replconfHandler(a: Acceptor, listener: ReplconfListener | null): LocalHandler {
  return (conn, seq, cmd) => {
    if (cmd.argc % 2 === 0) return a.replyError(conn, seq, E_SYNTAX);
    for (let j = 1; j < cmd.argc; j += 2) {
      if (is(cmd, j, 'LISTENING-PORT')) {
        if (parseI64(cmd.buf, cmd.argStart[j + 1]!, cmd.argLen[j + 1]!) === null) return a.replyError(conn, seq, E_NOT_INT);
        listener?.option(conn, 'listening-port', text(cmd, j + 1));
      } else if (is(cmd, j, 'IP-ADDRESS')) {
        if (cmd.argLen[j + 1]! >= NET_HOST_STR_LEN) return a.replyError(conn, seq, replconfIpTooLong(cmd.argLen[j + 1]!));
        listener?.option(conn, 'ip-address', text(cmd, j + 1));
      } else if (is(cmd, j, 'CAPA')) {
        listener?.option(conn, 'capa', text(cmd, j + 1).toLowerCase());
      } else if (is(cmd, j, 'ACK') || is(cmd, j, 'GETACK')) {
        // Only a replica or its master send these, and they get no reply.
        if (listener !== null && is(cmd, j, 'ACK')) {
          const offset = parseI64(cmd.buf, cmd.argStart[j + 1]!, cmd.argLen[j + 1]!);
          if (offset !== null) listener.ack(conn, Number(offset));
        }
        conn.silence(seq);
        return a.replyConst(conn, seq, R_OK);
      } else if (is(cmd, j, 'RDB-FILTER-ONLY')) {
        // redis-cli --replica asks for everything with "": the only filter Sabre's snapshots know.
        const filters = text(cmd, j + 1)
          .trim()
          .split(/\s+/)
          .filter(Boolean);
        if (filters.length > 0) return a.replyError(conn, seq, replconfBadFilter(filters[0]!));
      } else if (is(cmd, j, 'RDB-ONLY')) {
        const v = parseI64(cmd.buf, cmd.argStart[j + 1]!, cmd.argLen[j + 1]!);
        if (v === null) return a.replyError(conn, seq, E_NOT_INT);
        if (v !== 0 && v !== 1) return a.replyError(conn, seq, E_RDB_ONLY_RANGE);
      } else return a.replyError(conn, seq, replconfBadOption(text(cmd, j)));
    }
    a.replyConst(conn, seq, R_OK);
  };
}

/** Installs the commands above on the acceptor. */
export function installStandaloneCommands(a: Acceptor): void {
  const h = a.local;
  const refuse = (conn: Parameters<NonNullable<(typeof h)[number]>>[0], seq: number): void => a.replyError(conn, seq, E_CLUSTER_DISABLED);
  for (const id of [CMD.ASKING, CMD.READONLY, CMD.READWRITE]) h[id] = refuse;
  for (const sub of COMMANDS[CMD.CLUSTER]!.subcommands!) h[sub.id] = refuse;

  h[CMD.REPLCONF] = replconfHandler(a, null);

  h[CMD.MODULE_LIST] = (conn, seq) => a.replyConst(conn, seq, R_EMPTY_ARRAY);
  h[CMD.MODULE_LOAD] = (conn, seq) => a.replyError(conn, seq, E_MODULE_LOAD);
  h[CMD.MODULE_LOADEX] = (conn, seq) => a.replyError(conn, seq, E_MODULE_LOAD);
  h[CMD.MODULE_UNLOAD] = (conn, seq) => a.replyError(conn, seq, E_MODULE_UNLOAD);

  h[CMD.LATENCY_LATEST] = (conn, seq) => a.replyConst(conn, seq, R_EMPTY_ARRAY);
  h[CMD.LATENCY_HISTORY] = (conn, seq) => a.replyConst(conn, seq, R_EMPTY_ARRAY);
  h[CMD.LATENCY_RESET] = (conn, seq) => {
    a.startReply(conn).int(0);
    a.replyW(conn, seq);
  };
  h[CMD.LATENCY_GRAPH] = (conn, seq, cmd) => a.replyError(conn, seq, latencyNoSamples(text(cmd, 2)));
  h[CMD.LATENCY_DOCTOR] = (conn, seq) => {
    a.startReply(conn).verbatim(LATENCY_DISABLED);
    a.replyW(conn, seq);
  };

  h[CMD.MEMORY_PURGE] = (conn, seq) => a.replyConst(conn, seq, R_OK);
  h[CMD.MEMORY_MALLOC_STATS] = (conn, seq) => {
    a.startReply(conn).verbatim('Stats not supported for the current allocator');
    a.replyW(conn, seq);
  };
}
