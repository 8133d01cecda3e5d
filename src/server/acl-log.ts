/**
 * ACL LOG: the security log of refused commands, keys, channels and failed AUTHs, newest first.
 * As in Redis, an event like one of the last ten entries (same reason, context, object and user,
 * within 60 s) bumps that entry's count and moves it to the front instead of adding a new one.
 */
import type { RespWriter } from '../wire/resp-writer.js';
import { DENIED_AUTH, DENIED_CHANNEL, DENIED_CMD, DENIED_KEY } from '../acl/check.js';

/** Where the refusal happened: a command on its own, or one inside MULTI/EXEC. */
export type AclLogContext = 'toplevel' | 'multi';

/** One ACL LOG entry. */
interface Entry {
  count: number;
  reason: number;
  context: AclLogContext;
  /** The command, key or channel (latin1), or the command name typed for a failed AUTH. */
  object: string;
  username: string;
  /** When it last happened (ms). */
  time: number;
  /** CLIENT INFO of the client it last happened to. */
  clientInfo: string;
}

/** Events closer in time than this may be grouped into one entry (ACL_LOG_GROUPING_MAX_TIME_DELTA). */
const GROUPING_MS = 60_000;
/** How many recent entries are compared with a new event. */
const GROUPING_SCAN = 10;

function reasonText(reason: number): string {
  switch (reason) {
    case DENIED_CMD:
      return 'command';
    case DENIED_KEY:
      return 'key';
    case DENIED_CHANNEL:
      return 'channel';
    case DENIED_AUTH:
      return 'auth';
    default:
      return 'unknown';
  }
}

/** The entries, newest first, bounded by acllog-max-len. */
export class AclLog {
  private entries: Entry[] = [];

  constructor(private maxLen: number) {}

  /** acllog-max-len changed: the log is trimmed at the next event, as Redis does. */
  setMaxLen(n: number): void {
    this.maxLen = n;
  }

  /** Records an event (grouped with a recent similar one when there is one). */
  add(reason: number, context: AclLogContext, object: string, username: string, clientInfo: string): void {
    const now = Date.now();
    const scan = Math.min(GROUPING_SCAN, this.entries.length);
    for (let i = 0; i < scan; i++) {
      const e = this.entries[i]!;
      if (
        e.reason === reason &&
        e.context === context &&
        Math.abs(e.time - now) <= GROUPING_MS &&
        e.object === object &&
        e.username === username
      ) {
        e.count++;
        e.time = now;
        e.clientInfo = clientInfo;
        this.entries.splice(i, 1);
        this.entries.unshift(e);
        return;
      }
    }
    this.entries.unshift({ count: 1, reason, context, object, username, time: now, clientInfo });
    if (this.entries.length > this.maxLen) this.entries.length = this.maxLen;
  }

  /** ACL LOG RESET. */
  reset(): void {
    this.entries = [];
  }

  /** ACL LOG [count]: up to `count` entries as maps of Redis's seven fields. */
  write(w: RespWriter, count: number): void {
    const n = Math.max(0, Math.min(count, this.entries.length));
    const now = Date.now();
    w.arrayHeader(n);
    for (let i = 0; i < n; i++) {
      const e = this.entries[i]!;
      w.mapHeader(7);
      w.bulkString('count');
      w.int(e.count);
      w.bulkString('reason');
      w.bulkString(reasonText(e.reason));
      w.bulkString('context');
      w.bulkString(e.context);
      w.bulkString('object');
      latin1Bulk(w, e.object);
      w.bulkString('username');
      latin1Bulk(w, e.username);
      w.bulkString('age-seconds');
      w.double((now - e.time) / 1000);
      w.bulkString('client-info');
      w.bulkString(e.clientInfo);
    }
  }
}

/** A bulk string of a latin1 string's bytes (names and patterns as the client sent them). */
export function latin1Bulk(w: RespWriter, s: string): void {
  const b = Buffer.from(s, 'latin1');
  w.bulk(b, 0, b.length);
}
