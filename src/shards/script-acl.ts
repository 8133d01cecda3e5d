/**
 * The ACL user a script runs as, and Redis's check of every command it calls (scriptVerifyACL,
 * redis.acl_check_cmd). A restricted client's script frame carries its user's rules as a last
 * argument (FLAG_ACL); the shard parses each distinct rule text once. Unrestricted users send no
 * rules and their scripts are not checked, as the acceptor does not check their commands either.
 */
import { AclChecker, ACL_OK, DENIED_CMD, DENIED_KEY, type CheckArgs } from '../acl/check.js';
import { applyUserRule, mergeSelectorArgs } from '../acl/rules.js';
import { AclUser } from '../acl/user.js';
import type { Ctx } from './context.js';

/** Parsed users by rule text; a handful in practice (one per restricted user and version of its rules). */
const users = new Map<string, AclUser>();
const MAX_USERS = 64;
const checker = new AclChecker();
const args: CheckArgs = { buf: new Uint8Array(0), argStart: new Int32Array(0), argLen: new Int32Array(0), argc: 0 };
/** The user of the script frame being run; null for an unrestricted one. */
let current: AclUser | null = null;

/** The user whose rules are bytes [s, s + n) of `buf` runs the next script (until clearScriptUser). */
export function setScriptUser(buf: Uint8Array, s: number, n: number): void {
  const text = Buffer.from(buf.buffer, buf.byteOffset + s, n).toString('latin1');
  let u = users.get(text);
  if (u === undefined) {
    u = parseRules(text);
    if (users.size >= MAX_USERS) users.clear();
    users.set(text, u);
  }
  current = u;
}

/** The script frame is done: later frames run unchecked unless they carry rules. */
export function clearScriptUser(): void {
  current = null;
}

/** A user from describeUser's text; rules it cannot apply leave it with less, never more. */
function parseRules(text: string): AclUser {
  const u = new AclUser('script', false);
  const rules = mergeSelectorArgs(text.split(' '));
  if (Array.isArray(rules)) for (const r of rules) applyUserRule(u, r, false);
  return u;
}

/** Whether the script's user may run command `id` with the arguments in `c` (true for an unrestricted user). */
export function scriptUserAllows(id: number, c: Ctx): boolean {
  return current === null || check(id, c) === ACL_OK;
}

/** The error text of Redis's scriptVerifyACL when the script's user may not run command `id`, else null. */
export function scriptAclDenied(id: number, c: Ctx): string | null {
  if (current === null) return null;
  const r = check(id, c);
  if (r === ACL_OK) return null;
  if (r === DENIED_CMD) return "The user executing the script can't run this command or subcommand";
  if (r === DENIED_KEY) return "The user executing the script can't access at least one of the keys mentioned in the command arguments";
  return "The user executing the script can't publish to the channel mentioned in the command";
}

function check(id: number, c: Ctx): number {
  args.buf = c.buf;
  args.argStart = c.as;
  args.argLen = c.al;
  args.argc = c.argc;
  return checker.check(current!, id, args);
}
