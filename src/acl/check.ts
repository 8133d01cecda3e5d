/**
 * The permission check of Redis 7.0 (ACLCheckAllUserCommandPerm): a command is allowed when one of
 * the user's selectors allows the command (or its first argument), every key it names with the
 * access the key spec needs (%R~ for keys it reads, %W~ for keys it writes), and every channel
 * of PUBLISH/SUBSCRIBE (PSUBSCRIBE's patterns must equal an allowed pattern).
 */
import { CMD } from '../commands/ids.generated.js';
import { COMMANDS, F_NO_AUTH, extractKeyAccess } from '../commands/table.js';
import { bytesEqual, globMatch, isKeyword } from '../wire/bytes.js';
import type { AclSelector, AclUser, ChannelPattern } from './user.js';

/** Check results, ordered as Redis ranks them when it picks the error to report (ACL_DENIED_*). */
export const ACL_OK = 0;
export const DENIED_CMD = 1;
export const DENIED_KEY = 2;
export const DENIED_AUTH = 3;
export const DENIED_CHANNEL = 4;

/** The arguments of a command being checked: spans of one buffer. */
export interface CheckArgs {
  buf: Uint8Array;
  argStart: Int32Array;
  argLen: Int32Array;
  argc: number;
}

/** How a command names channels: not at all, the first argument, or every argument (literally for patterns). */
const enum Channels {
  None,
  First,
  All,
  AllPatterns,
}

function channelsOf(id: number): Channels {
  switch (id) {
    case CMD.PUBLISH:
    case CMD.SPUBLISH:
      return Channels.First;
    case CMD.SUBSCRIBE:
    case CMD.SSUBSCRIBE:
      return Channels.All;
    case CMD.PSUBSCRIBE:
      return Channels.AllPatterns;
    default:
      return Channels.None;
  }
}

/** Commands that name keys: a key spec that is not `not_key` (SORT and MIGRATE have theirs). */
const HAS_KEYS = COMMANDS.map((c) => c.keySpecs.some((k) => !k.notKey));

/** Checks commands against users; reuses its key scratch arrays, so one per acceptor. */
export class AclChecker {
  /** Argument index of the key or channel the last refusal was about. */
  deniedAt = 0;
  private keyIdx = new Int32Array(64);
  private keyAccess = new Uint8Array(64);
  /** Keys of the command being checked, extracted once for all selectors (-1: not yet). */
  private nKeys = -1;

  /** ACL_OK, or the most relevant refusal over all selectors (then `deniedAt` says which argument). */
  check(u: AclUser, id: number, a: CheckArgs): number {
    let relevant = DENIED_CMD;
    let lastIdx = 0;
    this.nKeys = -1;
    for (const s of u.selectors) {
      const r = this.checkSelector(s, id, a);
      if (r === ACL_OK) return ACL_OK;
      if (r > relevant || (r === relevant && this.deniedAt > lastIdx)) {
        relevant = r;
        lastIdx = this.deniedAt;
      }
    }
    this.deniedAt = lastIdx;
    return relevant;
  }

  private checkSelector(s: AclSelector, id: number, a: CheckArgs): number {
    this.deniedAt = 0;
    const spec = COMMANDS[id]!;
    if (!s.allCommands && (spec.flags & F_NO_AUTH) === 0 && s.bits[id] === 0) {
      const allowed = s.firstArgs?.get(id);
      const at = spec.container === null ? 1 : 2;
      if (allowed === undefined || a.argc < 2 || at >= a.argc) return DENIED_CMD;
      if (!allowed.some((arg) => isKeyword(a.buf, a.argStart[at]!, a.argLen[at]!, asciiUpper(arg)))) return DENIED_CMD;
    }
    if (!s.allKeys && HAS_KEYS[id]) {
      if (this.nKeys < 0) {
        if (this.keyIdx.length < a.argc) {
          this.keyIdx = new Int32Array(a.argc * 2);
          this.keyAccess = new Uint8Array(a.argc * 2);
        }
        // A key count that is not a number finds no keys: the command itself refuses such arguments.
        this.nKeys = Math.max(0, extractKeyAccess(spec, a.buf, a.argStart, a.argLen, a.argc, this.keyIdx, this.keyAccess));
      }
      for (let k = 0; k < this.nKeys; k++) {
        const i = this.keyIdx[k]!;
        if (!keyAllowed(s, a.buf, a.argStart[i]!, a.argLen[i]!, this.keyAccess[k]!)) {
          this.deniedAt = i;
          return DENIED_KEY;
        }
      }
    }
    if (!s.allChannels) {
      const kind = channelsOf(id);
      if (kind !== Channels.None) {
        const last = kind === Channels.First ? 2 : a.argc;
        for (let i = 1; i < last; i++) {
          if (!channelAllowed(s, a.buf, a.argStart[i]!, a.argLen[i]!, kind === Channels.AllPatterns)) {
            this.deniedAt = i;
            return DENIED_CHANNEL;
          }
        }
      }
    }
    return ACL_OK;
  }
}

/** A key pattern of the selector matches the key and grants the access it needs. */
function keyAllowed(s: AclSelector, buf: Uint8Array, start: number, len: number, access: number): boolean {
  if (s.allKeys) return true;
  for (const p of s.keys) {
    if ((p.flags & access) !== access) continue;
    if (globMatch(p.bytes, 0, p.bytes.length, buf, start, len)) return true;
  }
  return false;
}

/** A channel pattern of the selector matches the channel (or, for a subscribed pattern, equals it). */
function channelAllowed(s: AclSelector, buf: Uint8Array, start: number, len: number, literal: boolean): boolean {
  return s.allChannels || channelInList(s.channels, buf, start, len, literal);
}

/** One of the patterns matches the channel (globbing), or equals it (`literal`, for a subscribed pattern). */
export function channelInList(list: readonly ChannelPattern[], buf: Uint8Array, start: number, len: number, literal: boolean): boolean {
  for (const c of list) {
    const b = c.bytes;
    if (literal ? bytesEqual(b, 0, b.length, buf, start, len) : globMatch(b, 0, b.length, buf, start, len)) return true;
  }
  return false;
}

/** Upper-cases a-z only, as strcasecmp folds (a first argument compared with isKeyword). */
function asciiUpper(s: string): string {
  return s.replace(/[a-z]/g, (c) => c.toUpperCase());
}
