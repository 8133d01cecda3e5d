/**
 * ACL users and selectors as Redis 7.0 keeps them: a user has flags, SHA-256 password hashes and
 * a list of selectors (the first is the root selector, the rules given outside parentheses); a
 * selector has a bit per command id, optional allowed first arguments, key patterns with read/write
 * permissions and channel patterns. Names, patterns and arguments are latin1 strings, so every byte
 * a client sent round-trips unchanged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { COMMANDS, F_MODULE, KEY_READ, KEY_WRITE, type CommandSpec } from '../commands/table.js';
import { ACL_CATEGORIES } from '../commands/ids.generated.js';

/** Redis's ACL categories, in acl.c's order (ACL CAT lists them so; describing a user tries them so). */
export const CATEGORIES = ACL_CATEGORIES;

/** Every command with its subcommands right after it, as Redis walks its command table for ACL work. */
export const COMMAND_TREE: readonly CommandSpec[] = COMMANDS.filter((c) => c.container === null).flatMap((c) => [
  c,
  ...(c.subcommands ?? []),
]);

/**
 * Command ids of each category, in tree order. Module commands (Sabre's own, such as CL.THROTTLE)
 * belong to none, as Redis leaves module commands out of +@category and ACL CAT.
 */
export const CATEGORY_MEMBERS: readonly (readonly number[])[] = CATEGORIES.map((cat) =>
  COMMAND_TREE.filter((c) => (c.flags & F_MODULE) === 0 && c.aclCategories.includes(`@${cat}`)).map((c) => c.id),
);

/** Index of a category name in CATEGORIES (any case), or -1. */
export function categoryIndex(name: string): number {
  return (CATEGORIES as readonly string[]).indexOf(name.toLowerCase());
}

/** Sets command `id`'s bit, and its subcommands' bits (allowing or blocking a container covers its subcommands). */
export function setCommandBits(bits: Uint8Array, id: number, allow: boolean): void {
  const v = allow ? 1 : 0;
  bits[id] = v;
  const subs = COMMANDS[id]!.subcommands;
  if (subs !== null) for (const s of subs) bits[s.id] = v;
}

/** A key pattern (`~p`, `%R~p`, `%W~p`) and the access it grants. */
export interface KeyPattern {
  readonly text: string;
  readonly bytes: Buffer;
  /** KEY_READ | KEY_WRITE. */
  flags: number;
}

/** A channel pattern (`&p`). */
export interface ChannelPattern {
  readonly text: string;
  readonly bytes: Buffer;
}

/** One set of permissions: the root selector of a user, or one given in parentheses. */
export class AclSelector {
  /** +@all (allcommands) is in force and no command has been taken away since. */
  allCommands = false;
  /** +@all was the last word on commands: commands added in future would be allowed (the "future" bit of Redis). */
  future = false;
  allKeys = false;
  allChannels: boolean;
  /** One byte per command id: 1 if allowed. */
  readonly bits = new Uint8Array(COMMANDS.length);
  /** Per command id, first arguments allowed although the command is not (`+select|0`); null when none. */
  firstArgs: Map<number, string[]> | null = null;
  keys: KeyPattern[] = [];
  channels: ChannelPattern[] = [];

  /** A selector without permissions; `allChannels` follows acl-pubsub-default. */
  constructor(
    readonly root: boolean,
    allChannels: boolean,
  ) {
    this.allChannels = allChannels;
  }

  /** A deep copy. */
  clone(): AclSelector {
    const s = new AclSelector(this.root, this.allChannels);
    s.allCommands = this.allCommands;
    s.future = this.future;
    s.allKeys = this.allKeys;
    s.bits.set(this.bits);
    if (this.firstArgs !== null) s.firstArgs = new Map([...this.firstArgs].map(([id, args]) => [id, [...args]]));
    s.keys = this.keys.map((k) => ({ ...k }));
    s.channels = [...this.channels];
    return s;
  }

  /** Allows or blocks one command (and its subcommands), dropping its allowed first arguments. */
  changeCommand(id: number, allow: boolean): void {
    setCommandBits(this.bits, id, allow);
    this.firstArgs?.delete(id);
    if (!allow) this.allCommands = false;
  }

  /** Allows or blocks every command of a category. */
  changeCategory(cat: number, allow: boolean): void {
    for (const id of CATEGORY_MEMBERS[cat]!) this.changeCommand(id, allow);
  }

  /** +@all (true) or -@all (false). */
  setAllCommands(allow: boolean): void {
    this.bits.fill(allow ? 1 : 0);
    this.allCommands = allow;
    this.future = allow;
    this.firstArgs = null;
  }

  /** Adds an allowed first argument of a blocked command (compared without case, kept as given). */
  addFirstArg(id: number, arg: string): void {
    this.firstArgs ??= new Map();
    const list = this.firstArgs.get(id);
    if (list === undefined) this.firstArgs.set(id, [arg]);
    else if (!list.some((a) => a.toLowerCase() === arg.toLowerCase())) list.push(arg);
  }
}

/** The text of a key pattern as ACL LIST and GETUSER show it. */
export function keyPatternText(k: KeyPattern): string {
  const prefix = k.flags === (KEY_READ | KEY_WRITE) ? '~' : k.flags === KEY_READ ? '%R~' : '%W~';
  return prefix + k.text;
}

/** The SHA-256 hex digest Redis stores for a password (its bytes given as a latin1 string or a Buffer). */
export function hashPassword(pass: string | Uint8Array): string {
  return createHash('sha256')
    .update(typeof pass === 'string' ? Buffer.from(pass, 'latin1') : pass)
    .digest('hex');
}

/** A user: flags, password hashes and selectors (the root one first). */
export class AclUser {
  enabled = false;
  nopass = false;
  /** skip-sanitize-payload / sanitize-payload (shown by ACL LIST; RESTORE payloads are always checked here). */
  skipSanitize = false;
  sanitize = false;
  passwords: string[] = [];
  selectors: AclSelector[];
  /** Some selector allows every command, key and channel: connections as this user skip the per-command check. */
  unrestricted = false;
  /** Counts changes (refresh), so what is derived from the rules can tell it is stale. */
  version = 0;

  /** A new user: off, no passwords, no permissions (`allChannels` from acl-pubsub-default). */
  constructor(
    readonly name: string,
    allChannels: boolean,
  ) {
    this.selectors = [new AclSelector(true, allChannels)];
  }

  /** The root selector (the rules given outside parentheses). */
  get rootSelector(): AclSelector {
    return this.selectors[0]!;
  }

  /** Takes `src`'s flags, passwords and selectors (the name stays). */
  copyFrom(src: AclUser): void {
    this.enabled = src.enabled;
    this.nopass = src.nopass;
    this.skipSanitize = src.skipSanitize;
    this.sanitize = src.sanitize;
    this.passwords = [...src.passwords];
    this.selectors = src.selectors.map((s) => s.clone());
    this.refresh();
  }

  /** Recomputes `unrestricted` after a change, and counts it. */
  refresh(): void {
    this.version++;
    this.unrestricted = this.selectors.some((s) => s.allCommands && s.allKeys && s.allChannels);
  }

  /** ACLCheckUserCredentials: an enabled user whose password matches (or who needs none). */
  checkPassword(pass: Uint8Array): boolean {
    if (!this.enabled) return false;
    if (this.nopass) return true;
    const h = Buffer.from(hashPassword(pass), 'latin1');
    let ok = false;
    // Compare against every hash in constant time, so the reply time says nothing about which was close.
    for (const p of this.passwords) if (timingSafeEqual(h, Buffer.from(p, 'latin1'))) ok = true;
    return ok;
  }
}
