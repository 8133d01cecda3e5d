/**
 * The ACL rule language of ACL SETUSER, `user` config lines and ACL files (Redis 7.0's ACLSetUser
 * and ACLSetSelector), and the way back: describing a user as rules (ACL LIST, ACL SAVE, GETUSER).
 */
import { Buffer } from 'node:buffer';
import { COMMANDS, KEY_READ, KEY_WRITE, lookupFullName } from '../commands/table.js';
import {
  AclSelector,
  type AclUser,
  CATEGORIES,
  CATEGORY_MEMBERS,
  COMMAND_TREE,
  categoryIndex,
  hashPassword,
  keyPatternText,
  setCommandBits,
} from './user.js';

/** Why a rule was refused: Redis's errno values of ACLSetUser, as codes for ruleErrorText. */
export const enum RuleError {
  None = 0,
  /** ENOENT */
  UnknownName,
  /** EINVAL */
  Syntax,
  /** EEXIST */
  KeyAfterAll,
  /** EISDIR */
  ChannelAfterAll,
  /** ENODEV */
  NoSuchPassword,
  /** EBADMSG */
  BadHash,
  /** EALREADY */
  DuplicateUser,
  /** ECHILD */
  SubcommandFirstArg,
}

/** ACLSetUserStringError: the reason text of a refused rule. */
export function ruleErrorText(e: RuleError): string {
  switch (e) {
    case RuleError.UnknownName:
      return 'Unknown command or category name in ACL';
    case RuleError.Syntax:
      return 'Syntax error';
    case RuleError.KeyAfterAll:
      return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
    case RuleError.ChannelAfterAll:
      return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels";
    case RuleError.NoSuchPassword:
      return 'The password you are trying to remove from the user does not exist';
    case RuleError.BadHash:
      return 'The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters';
    case RuleError.DuplicateUser:
      return 'Duplicate user found. A user can only be defined once in config files';
    case RuleError.SubcommandFirstArg:
      return 'Allowing first-arg of a subcommand is not supported';
    default:
      return 'Wrong format';
  }
}

/** C isspace, or NUL: what Redis refuses in user names and patterns. */
function isSpaceOrNul(c: number): boolean {
  return c === 0 || c === 32 || (c >= 9 && c <= 13);
}

/** True if a (latin1) name or pattern holds a space or NUL byte (ACLStringHasSpaces). */
export function hasSpaces(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (isSpaceOrNul(s.charCodeAt(i))) return true;
  return false;
}

const HEX_HASH = /^[0-9a-f]{64}$/;

/** Command id of a rule's command name ("get", "config|get"; any case), or -1. */
function aclCommand(name: string): number {
  return lookupFullName(Buffer.from(name, 'latin1'));
}

/** Applies one selector rule (keys, channels, commands); returns RuleError.None or why it was refused. */
export function applySelectorRule(s: AclSelector, op: string): RuleError {
  const lower = op.toLowerCase();
  if (lower === 'allkeys' || op === '~*') {
    s.allKeys = true;
    s.keys = [];
  } else if (lower === 'resetkeys') {
    s.allKeys = false;
    s.keys = [];
  } else if (lower === 'allchannels' || op === '&*') {
    s.allChannels = true;
    s.channels = [];
  } else if (lower === 'resetchannels') {
    s.allChannels = false;
    s.channels = [];
  } else if (lower === 'allcommands' || lower === '+@all') {
    s.setAllCommands(true);
  } else if (lower === 'nocommands' || lower === '-@all') {
    s.setAllCommands(false);
  } else if (op[0] === '~' || op[0] === '%') {
    return addKeyPattern(s, op);
  } else if (op[0] === '&') {
    if (s.allChannels) return RuleError.ChannelAfterAll;
    const text = op.slice(1);
    if (hasSpaces(text)) return RuleError.Syntax;
    if (!s.channels.some((c) => c.text === text)) s.channels.push({ text, bytes: Buffer.from(text, 'latin1') });
    s.allChannels = false;
  } else if ((op[0] === '+' || op[0] === '-') && op[1] === '@') {
    const cat = categoryIndex(op.slice(2));
    if (cat < 0) return RuleError.UnknownName;
    s.changeCategory(cat, op[0] === '+');
  } else if (op[0] === '+') {
    return allowCommand(s, op.slice(1));
  } else if (op[0] === '-') {
    const id = aclCommand(op.slice(1));
    if (id < 0) return RuleError.UnknownName;
    s.changeCommand(id, false);
  } else {
    return RuleError.Syntax;
  }
  return RuleError.None;
}

/** `~pattern`, `%R~pattern`, `%W~pattern`, `%RW~pattern`: a pattern merges its permissions into an equal one. */
function addKeyPattern(s: AclSelector, op: string): RuleError {
  if (s.allKeys) return RuleError.KeyAfterAll;
  let flags = 0;
  let offset = 1;
  if (op[0] === '%') {
    for (; offset < op.length; offset++) {
      const c = op[offset]!.toUpperCase();
      if (c === 'R' && (flags & KEY_READ) === 0) flags |= KEY_READ;
      else if (c === 'W' && (flags & KEY_WRITE) === 0) flags |= KEY_WRITE;
      else if (op[offset] === '~') {
        offset++;
        break;
      } else return RuleError.Syntax;
    }
    // Redis would store "%~p" with no permission at all (and crash describing it): refuse it instead.
    if (flags === 0) return RuleError.Syntax;
  } else {
    flags = KEY_READ | KEY_WRITE;
  }
  const text = op.slice(offset);
  if (hasSpaces(text)) return RuleError.Syntax;
  const same = s.keys.find((k) => k.text === text);
  if (same !== undefined) same.flags |= flags;
  else s.keys.push({ text, bytes: Buffer.from(text, 'latin1'), flags });
  s.allKeys = false;
  return RuleError.None;
}

/** `+cmd`, `+cmd|sub`, or `+cmd|firstarg` for a command without subcommands. */
function allowCommand(s: AclSelector, name: string): RuleError {
  const bar = name.lastIndexOf('|');
  if (bar < 0) {
    const id = aclCommand(name);
    if (id < 0) return RuleError.UnknownName;
    s.changeCommand(id, true);
    return RuleError.None;
  }
  const base = aclCommand(name.slice(0, bar));
  if (base < 0) return RuleError.UnknownName;
  const spec = COMMANDS[base]!;
  if (spec.container !== null) return RuleError.SubcommandFirstArg;
  const arg = name.slice(bar + 1);
  if (arg === '') return RuleError.Syntax;
  if (spec.subcommands !== null) {
    const id = aclCommand(name);
    if (id < 0) return RuleError.UnknownName;
    s.changeCommand(id, true);
  } else {
    s.addFirstArg(base, arg);
  }
  return RuleError.None;
}

/** Applies one user rule (ACLSetUser); `allChannels` is acl-pubsub-default for `reset` and new selectors. */
export function applyUserRule(u: AclUser, op: string, allChannels: boolean): RuleError {
  const e = userRule(u, op, allChannels);
  u.refresh();
  return e;
}

function userRule(u: AclUser, op: string, allChannels: boolean): RuleError {
  if (op === '') return RuleError.None;
  const lower = op.toLowerCase();
  switch (lower) {
    case 'on':
      u.enabled = true;
      return RuleError.None;
    case 'off':
      u.enabled = false;
      return RuleError.None;
    case 'skip-sanitize-payload':
      u.skipSanitize = true;
      u.sanitize = false;
      return RuleError.None;
    case 'sanitize-payload':
      u.skipSanitize = false;
      u.sanitize = true;
      return RuleError.None;
    case 'nopass':
      u.nopass = true;
      u.passwords = [];
      return RuleError.None;
    case 'resetpass':
      u.nopass = false;
      u.passwords = [];
      return RuleError.None;
    case 'clearselectors':
      u.selectors.length = 1;
      return RuleError.None;
    case 'reset':
      u.nopass = false;
      u.passwords = [];
      u.selectors = [new AclSelector(true, allChannels)];
      u.enabled = false;
      u.skipSanitize = false;
      u.sanitize = true;
      return RuleError.None;
  }
  const c = op[0];
  if (c === '>' || c === '#') {
    let hash: string;
    if (c === '>') hash = hashPassword(op.slice(1));
    else {
      hash = op.slice(1);
      if (!HEX_HASH.test(hash)) return RuleError.BadHash;
    }
    if (!u.passwords.includes(hash)) u.passwords.push(hash);
    u.nopass = false;
    return RuleError.None;
  }
  if (c === '<' || c === '!') {
    let hash: string;
    if (c === '<') hash = hashPassword(op.slice(1));
    else {
      hash = op.slice(1);
      if (!HEX_HASH.test(hash)) return RuleError.BadHash;
    }
    const i = u.passwords.indexOf(hash);
    if (i < 0) return RuleError.NoSuchPassword;
    u.passwords.splice(i, 1);
    return RuleError.None;
  }
  if (c === '(' && op.endsWith(')')) {
    const s = new AclSelector(false, allChannels);
    // Unbalanced quotes inside make an empty rule list, as sdssplitargs failing does in Redis.
    for (const rule of splitArgs(op.slice(1, -1)) ?? []) {
      const e = applySelectorRule(s, rule);
      if (e !== RuleError.None) return e;
    }
    u.selectors.push(s);
    return RuleError.None;
  }
  return applySelectorRule(u.rootSelector, op);
}

/**
 * Joins selectors spread over several arguments ("(+get", "~k)") into one (ACLMergeSelectorArguments).
 * Returns the rules, or the index of the argument whose parenthesis is never closed.
 */
export function mergeSelectorArgs(args: readonly string[]): string[] | { unmatched: number } {
  const out: string[] = [];
  let open = -1;
  let selector = '';
  for (let j = 0; j < args.length; j++) {
    const op = args[j]!;
    if (open === -1 && op[0] === '(' && !op.endsWith(')')) {
      selector = op;
      open = j;
      continue;
    }
    if (open !== -1) {
      selector += ` ${op}`;
      if (op.endsWith(')')) {
        out.push(selector);
        open = -1;
      }
      continue;
    }
    out.push(op);
  }
  return open === -1 ? out : { unmatched: open };
}

/**
 * Splits a line into arguments as Redis's sdssplitargs: blanks separate, "double quotes" take
 * \n \r \t \b \a \xHH and \<char> escapes, 'single quotes' take \'; a closing quote must be
 * followed by a blank. Null for unbalanced quotes. Strings are latin1 (one char per byte).
 */
export function splitArgs(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  const blank = (k: number): boolean => k < n && isSpaceOrNul(line.charCodeAt(k)) && line.charCodeAt(k) !== 0;
  for (;;) {
    while (blank(i)) i++;
    if (i >= n) return out;
    let cur = '';
    let inDq = false;
    let inSq = false;
    for (;;) {
      if (inDq) {
        if (i >= n) return null;
        const ch = line[i]!;
        if (ch === '\\' && line[i + 1] === 'x' && isHex(line[i + 2]) && isHex(line[i + 3])) {
          cur += String.fromCharCode(Number.parseInt(line.slice(i + 2, i + 4), 16));
          i += 3;
        } else if (ch === '\\' && i + 1 < n) {
          const e = line[++i]!;
          cur += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : e === 'b' ? '\b' : e === 'a' ? '\x07' : e;
        } else if (ch === '"') {
          if (i + 1 < n && !blank(i + 1)) return null;
          i++;
          break;
        } else cur += ch;
        i++;
      } else if (inSq) {
        if (i >= n) return null;
        const ch = line[i]!;
        if (ch === '\\' && line[i + 1] === "'") {
          cur += "'";
          i += 2;
        } else if (ch === "'") {
          if (i + 1 < n && !blank(i + 1)) return null;
          i++;
          break;
        } else {
          cur += ch;
          i++;
        }
      } else {
        if (i >= n || blank(i)) break;
        const ch = line[i]!;
        if (ch === '"') inDq = true;
        else if (ch === "'") inSq = true;
        else cur += ch;
        i++;
      }
    }
    out.push(cur);
  }
}

function isHex(c: string | undefined): boolean {
  return c !== undefined && /[0-9a-fA-F]/.test(c);
}

// ---- describing ----

/** How many commands of category `cat` are allowed (on) and blocked (off) in `bits`. */
function countCategory(bits: Uint8Array, cat: number): [on: number, off: number] {
  let on = 0;
  let off = 0;
  for (const id of CATEGORY_MEMBERS[cat]!) {
    if (bits[id] === 1) on++;
    else off++;
  }
  return [on, off];
}

/** Sets the bits of a whole category, as +@cat / -@cat would. */
function setCategoryBits(bits: Uint8Array, cat: number, allow: boolean): void {
  for (const id of CATEGORY_MEMBERS[cat]!) setCommandBits(bits, id, allow);
}

/**
 * The command rules that rebuild a selector's command bits (ACLDescribeSelectorCommandRules): +@all
 * or -@all, then greedily the category that best fits what is left, then single commands (and the
 * allowed first arguments) for the remaining differences.
 */
export function describeCommandRules(s: AclSelector): string {
  const additive = !s.future;
  const rules: string[] = [additive ? '-@all' : '+@all'];
  const fake = new Uint8Array(s.bits.length).fill(additive ? 0 : 1);
  const temp = Uint8Array.from(s.bits);
  const applied = new Uint8Array(CATEGORIES.length);
  for (;;) {
    let best = -1;
    let minDiff = Number.MAX_SAFE_INTEGER;
    let maxSame = 0;
    for (let j = 0; j < CATEGORIES.length; j++) {
      if (applied[j] === 1) continue;
      const [on, off] = countCategory(temp, j);
      const diff = additive ? off : on;
      const same = additive ? on : off;
      if (same > diff && (diff < minDiff || (diff === minDiff && same > maxSame))) {
        best = j;
        minDiff = diff;
        maxSame = same;
      }
    }
    if (best === -1) break;
    setCategoryBits(fake, best, additive);
    setCategoryBits(temp, best, !additive);
    rules.push(`${additive ? '+' : '-'}@${CATEGORIES[best]}`);
    applied[best] = 1;
  }
  for (const c of COMMAND_TREE) {
    const userBit = s.bits[c.id]!;
    if (userBit !== fake[c.id]) {
      rules.push(`${userBit === 1 ? '+' : '-'}${c.name}`);
      setCommandBits(fake, c.id, userBit === 1);
    }
    if (userBit === 0) for (const arg of s.firstArgs?.get(c.id) ?? []) rules.push(`+${c.name}|${arg}`);
  }
  return rules.join(' ');
}

/** ACLDescribeSelector: keys, channels, then command rules. */
export function describeSelector(s: AclSelector): string {
  const parts: string[] = [];
  if (s.allKeys) parts.push('~*');
  else for (const k of s.keys) parts.push(keyPatternText(k));
  if (s.allChannels) parts.push('&*');
  else {
    parts.push('resetchannels');
    for (const c of s.channels) parts.push(`&${c.text}`);
  }
  parts.push(describeCommandRules(s));
  return parts.join(' ');
}

/** ACLDescribeUser: flags, password hashes, the root selector, then the other selectors in parentheses. */
export function describeUser(u: AclUser): string {
  let res = '';
  if (u.enabled) res += 'on ';
  else res += 'off ';
  if (u.nopass) res += 'nopass ';
  if (u.skipSanitize) res += 'skip-sanitize-payload ';
  if (u.sanitize) res += 'sanitize-payload ';
  for (const p of u.passwords) res += `#${p} `;
  res += describeSelector(u.rootSelector);
  for (let i = 1; i < u.selectors.length; i++) res += ` (${describeSelector(u.selectors[i]!)})`;
  return res;
}

/** A user's flags as ACL GETUSER lists them. */
export function userFlags(u: AclUser): string[] {
  const f = [u.enabled ? 'on' : 'off'];
  if (u.nopass) f.push('nopass');
  if (u.skipSanitize) f.push('skip-sanitize-payload');
  if (u.sanitize) f.push('sanitize-payload');
  return f;
}
