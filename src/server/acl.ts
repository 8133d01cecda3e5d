/**
 * ACL, as Redis 7.0 has it: users (the `default` user first, whose password `requirepass`
 * sets), authentication (AUTH, HELLO AUTH), the per-command permission check, ACL LOG, the
 * `aclfile` and `user` directives, and the ACL command.
 *
 * The check costs nothing for clients whose user may run everything (the default user unless
 * it is changed): the acceptor tests one boolean per command, `conn.restricted`, which is kept
 * in step with the user whenever a client authenticates or its user changes.
 */
import { randomBytes } from 'node:crypto';
import { isAbsolute, join } from 'node:path';
import { CMD } from '../commands/ids.generated.js';
import { COMMANDS, checkArity, lookupCommand, lookupSubcommand } from '../commands/table.js';
import type { AccessControl, Acceptor, LocalHandler } from '../io/acceptor.js';
import { ST_MULTI, type Connection } from '../io/connection.js';
import type { Logger } from '../log.js';
import { ConfigError } from '../errors.js';
import type { ParsedCommand } from '../wire/resp-parser.js';
import { R_OK, type RespWriter } from '../wire/resp-writer.js';
import { isKeyword, parseI64 } from '../wire/bytes.js';
import {
  E_ACL_DELETE_DEFAULT,
  E_ACL_FILE_AND_USERS,
  E_ACL_GENPASS_BITS,
  E_ACL_NO_FILE,
  E_ACL_SAVE_FAILED,
  E_ACL_USERNAME_SPACES,
  E_NOPERM_CHANNEL,
  E_NOPERM_EXEC_CHANNEL,
  E_NOPERM_EXEC_COMMAND,
  E_NOPERM_EXEC_KEY,
  E_NOPERM_KEY,
  E_NOT_INT,
  aclCommandNotFound,
  aclSetuserError,
  aclUnknownCategory,
  aclUnmatchedParenthesis,
  aclUserNotFound,
  dryrunCommandDenied,
  dryrunDenied,
  nopermCommand,
  subcommandSyntaxError,
  wrongArityError,
} from '../wire/error-text.js';
import { ACL_OK, AclChecker, DENIED_AUTH, DENIED_CMD, DENIED_KEY, channelInList } from '../acl/check.js';
import { loadAclFile, saveAclFile } from './acl-file.js';
import { AclLog, latin1Bulk } from './acl-log.js';
import {
  RuleError,
  applyUserRule,
  describeCommandRules,
  describeUser,
  hasSpaces,
  mergeSelectorArgs,
  ruleErrorText,
  userFlags,
} from '../acl/rules.js';
import { AclUser, CATEGORIES, CATEGORY_MEMBERS, keyPatternText, type AclSelector } from '../acl/user.js';
import type { ServerConfig } from './config.js';
import { clientInfoLine } from './info.js';
import { TxnCollector, ownerOf } from './transactions.js';

/** Argument `i` of a command as a latin1 string (every byte kept). */
function latin1(cmd: ParsedCommand, i: number): string {
  return Buffer.from(cmd.buf.buffer, cmd.buf.byteOffset + cmd.argStart[i]!, cmd.argLen[i]!).toString('latin1');
}

/** The most bits ACL GENPASS makes. */
const GENPASS_MAX_BITS = 4096;

/** The users, the permission check and the ACL command of one server. */
export class Acl implements AccessControl {
  /** Users by name (latin1). */
  private users = new Map<string, AclUser>();
  /** The default user: the same object for the server's whole life (ACL LOAD copies rules into it). */
  readonly defaultUser: AclUser;
  private readonly log: AclLog;
  private readonly checker = new AclChecker();
  /** Each user's rules text for its scripts' frames, with the user version it was made at. */
  private readonly rulesText = new WeakMap<AclUser, { version: number; bytes: Buffer }>();

  constructor(
    private readonly a: Acceptor,
    private readonly cfg: ServerConfig,
    private readonly logger: Logger,
  ) {
    this.defaultUser = this.createDefaultUser();
    this.users.set('default', this.defaultUser);
    this.log = new AclLog(cfg.num('acllog-max-len'));
    cfg.onChange('acllog-max-len', (v) => this.log.setMaxLen(Number(v)));
    cfg.onChange('requirepass', (v) => this.setDefaultPassword(v));
    this.setDefaultPassword(cfg.get('requirepass'));
  }

  /** acl-pubsub-default is allchannels: new users and selectors start with &*. */
  private get allChannels(): boolean {
    return this.cfg.get('acl-pubsub-default') === 'allchannels';
  }

  /** Redis's default user: on, nopass, ~* &* +@all. */
  private createDefaultUser(): AclUser {
    const u = new AclUser('default', false);
    for (const rule of ['+@all', '~*', '&*', 'on', 'nopass']) applyUserRule(u, rule, false);
    return u;
  }

  /** requirepass is the default user's password ("" makes it nopass), as ACLUpdateDefaultUserPassword. */
  private setDefaultPassword(pass: string): void {
    const u = this.defaultUser;
    applyUserRule(u, 'resetpass', false);
    applyUserRule(u, pass === '' ? 'nopass' : `>${Buffer.from(pass, 'utf8').toString('latin1')}`, false);
  }

  // ---- AccessControl ----

  /** A new connection is the default user, authenticated if that needs no password. */
  connected(conn: Connection): void {
    this.becomeDefault(conn);
  }

  /** The default user is nopass: Redis's protected mode applies. */
  defaultNoPassword(): boolean {
    return this.defaultUser.nopass;
  }

  /** Redis's authRequired: the default user has a password or is off. */
  authRequired(): boolean {
    const d = this.defaultUser;
    return !d.nopass || !d.enabled;
  }

  /** The per-command check for restricted users; logs and answers a refusal. */
  check(conn: Connection, seq: number, id: number, cmd: ParsedCommand): boolean {
    const u = conn.user as AclUser;
    const r = this.checker.check(u, id, cmd);
    if (r === ACL_OK) return true;
    const at = this.checker.deniedAt;
    // Inside EXEC the commands run for a collector: the rules changed since they were queued.
    const inExec = conn instanceof TxnCollector;
    const context = inExec || (conn.state & ST_MULTI) !== 0 ? 'multi' : 'toplevel';
    const object = r === DENIED_CMD ? COMMANDS[id]!.name : latin1(cmd, at);
    this.log.add(r, context, object, u.name, clientInfoLine(ownerOf(conn)));
    if (inExec) {
      this.a.replyError(conn, seq, r === DENIED_CMD ? E_NOPERM_EXEC_COMMAND : r === DENIED_KEY ? E_NOPERM_EXEC_KEY : E_NOPERM_EXEC_CHANNEL);
    } else {
      this.a.replyError(
        conn,
        seq,
        r === DENIED_CMD ? nopermCommand(COMMANDS[id]!.name) : r === DENIED_KEY ? E_NOPERM_KEY : E_NOPERM_CHANNEL,
      );
      // A refused command inside MULTI makes EXEC fail, as any rejected command does.
      this.a.hooks.rejected(conn);
    }
    return false;
  }

  /** The connection's user's rules as ACL LIST prints them, made again only after they change. */
  scriptRules(conn: Connection): Uint8Array {
    const u = conn.user as AclUser;
    const cached = this.rulesText.get(u);
    if (cached !== undefined && cached.version === u.version) return cached.bytes;
    const bytes = Buffer.from(describeUser(u), 'latin1');
    this.rulesText.set(u, { version: u.version, bytes });
    return bytes;
  }

  // ---- authentication ----

  /** Makes a connection the default user again (new connections, RESET), authenticated if it has no password. */
  becomeDefault(conn: Connection): void {
    const d = this.defaultUser;
    conn.user = d;
    conn.authenticated = d.nopass && d.enabled;
    conn.restricted = !d.unrestricted;
  }

  /**
   * AUTH and HELLO AUTH (ACLAuthenticateUser): on success the client becomes the user; a failure
   * is logged with `cmdName` (the command as typed) as its object.
   */
  authenticate(conn: Connection, userName: string, pass: Uint8Array, cmdName: string): boolean {
    const u = this.users.get(userName);
    const owner = ownerOf(conn);
    if (u?.checkPassword(pass)) {
      for (const c of owner === conn ? [conn] : [owner, conn]) {
        c.user = u;
        c.authenticated = true;
        c.restricted = !u.unrestricted;
      }
      return true;
    }
    const context = conn instanceof TxnCollector || (conn.state & ST_MULTI) !== 0 ? 'multi' : 'toplevel';
    this.log.add(DENIED_AUTH, context, cmdName, userName, clientInfoLine(owner));
    return false;
  }

  /** Every user (CONFIG REWRITE writes them as `user` lines). */
  allUsers(): Iterable<AclUser> {
    return this.users.values();
  }

  /** A user by name (CLIENT KILL USER). */
  user(name: string): AclUser | undefined {
    return this.users.get(name);
  }

  // ---- start-up ----

  /** The aclfile setting resolved against dir (Redis runs in dir, so relative names are there). */
  private aclPath(): string {
    const f = this.cfg.get('aclfile');
    return isAbsolute(f) ? f : join(this.cfg.get('dir'), f);
  }

  /** Loads the `user` directives and the aclfile before clients connect (ACLLoadUsersAtStartup). */
  loadAtStartup(): void {
    const declared = this.cfg.users;
    if (this.cfg.get('aclfile') !== '' && declared.length > 0) throw new ConfigError(E_ACL_FILE_AND_USERS);
    // Checked before any user is made, as Redis checks the directives while reading its config.
    const seen = new Set<string>();
    const parsed: [name: string, rules: string[], origin: string][] = [];
    for (const d of declared) {
      const [name, ...args] = d.args as [string, ...string[]];
      if (seen.has(name))
        throw new ConfigError(`${d.origin}: Error in user declaration '${name}': ${ruleErrorText(RuleError.DuplicateUser)}`);
      seen.add(name);
      if (hasSpaces(name)) throw new ConfigError(`${d.origin}: Spaces not allowed in ACL usernames`);
      const rules = mergeSelectorArgs(args);
      if (!Array.isArray(rules))
        throw new ConfigError(`${d.origin}: Unmatched parenthesis in acl selector starting at '${args[rules.unmatched]}'`);
      parsed.push([name, rules, d.origin]);
    }
    for (const [name, rules, origin] of parsed) {
      let u = this.users.get(name);
      if (u === undefined) {
        u = new AclUser(name, this.allChannels);
        this.users.set(name, u);
      } else {
        applyUserRule(u, 'reset', this.allChannels);
      }
      for (const rule of rules) {
        const e = applyUserRule(u, rule, this.allChannels);
        if (e !== RuleError.None) throw new ConfigError(`${origin}: Error in user declaration '${rule}': ${ruleErrorText(e)}`);
      }
      if (!u.enabled) {
        this.logger.info(
          `The user '${name}' is disabled (there is no 'on' modifier in the user description). Make sure this is not a configuration error.`,
        );
      }
    }
    if (this.cfg.get('aclfile') !== '') {
      const err = this.loadFile(null);
      if (err !== null) throw new ConfigError(`Aborting startup because of ACL errors: ${err}`);
    }
  }

  /**
   * ACL LOAD: replaces every user with the file's, all or nothing. The default user keeps its
   * identity (its rules are copied); clients of every other old user are disconnected, the
   * caller's after its reply. Returns the error text, or null.
   */
  private loadFile(caller: Connection | null): string | null {
    const r = loadAclFile(this.aclPath(), this.cfg.get('aclfile'), this.allChannels);
    if ('error' in r) return r.error;
    const old = this.users;
    this.defaultUser.copyFrom(r.users.get('default') ?? this.createDefaultUser());
    r.users.set('default', this.defaultUser);
    this.users = r.users;
    for (const u of old.values()) if (u !== this.defaultUser) this.disconnect(u, caller);
    this.refreshClients(this.defaultUser);
    return null;
  }

  // ---- clients of changed users ----

  /** Keeps `restricted` of the user's clients in step with its rules. */
  private refreshClients(u: AclUser): void {
    for (const c of this.a.conns.values()) if (c.user === u) c.restricted = !u.unrestricted;
  }

  /** Disconnects the clients of a deleted user (ACLFreeUserAndKillClients); `caller` closes after its reply. */
  private disconnect(u: AclUser, caller: Connection | null): void {
    for (const c of [...this.a.conns.values()]) {
      if (c.user !== u) continue;
      // Defensive, as Redis: should a bug keep the client, it is an unauthenticated default user.
      this.becomeDefault(c);
      c.authenticated = false;
      if (c === caller) c.closeAfterReplies = true;
      else this.a.kill(c);
    }
  }

  /**
   * After SETUSER, disconnects subscribers of the user whose subscriptions the new channel rules
   * no longer allow (ACLKillPubsubClientsIfNeeded).
   */
  private killRevokedSubscribers(next: AclUser, prev: AclUser): void {
    if (next.selectors.some((s) => s.allChannels)) return;
    const allowedChannels = next.selectors.flatMap((s) => s.channels);
    // Only the old patterns matter when none had all channels: a superset of them revokes nothing.
    const hadAll = prev.selectors.some((s) => s.allChannels);
    if (!hadAll && prev.selectors.every((s) => s.channels.every((c) => allowedChannels.some((n) => n.text === c.text)))) return;
    const ok = (name: string, literal: boolean): boolean => {
      const b = Buffer.from(name, 'latin1');
      return channelInList(allowedChannels, b, 0, b.length, literal);
    };
    for (const c of [...this.a.conns.values()]) {
      if (c.user !== prev || c.subs.size + c.psubs.size + c.ssubs.size === 0) continue;
      let allowed = true;
      for (const p of c.psubs) if (!ok(p, true)) allowed = false;
      for (const ch of c.subs) if (!ok(ch, false)) allowed = false;
      for (const ch of c.ssubs) if (!ok(ch, false)) allowed = false;
      if (!allowed) this.a.kill(c);
    }
  }

  // ---- the ACL command ----

  /** Installs ACL's subcommands into a handler table. */
  install(h: (LocalHandler | undefined)[]): void {
    const a = this.a;
    h[CMD.ACL_SETUSER] = (conn, seq, cmd) => this.setUser(conn, seq, cmd);
    h[CMD.ACL_DELUSER] = (conn, seq, cmd) => {
      for (let i = 2; i < cmd.argc; i++) if (latin1(cmd, i) === 'default') return a.replyError(conn, seq, E_ACL_DELETE_DEFAULT);
      let deleted = 0;
      const doomed: AclUser[] = [];
      for (let i = 2; i < cmd.argc; i++) {
        const u = this.users.get(latin1(cmd, i));
        if (u === undefined) continue;
        this.users.delete(u.name);
        doomed.push(u);
        deleted++;
      }
      a.startReply(conn).int(deleted);
      a.replyW(conn, seq);
      for (const u of doomed) this.disconnect(u, ownerOf(conn));
    };
    h[CMD.ACL_GETUSER] = (conn, seq, cmd) => {
      const u = this.users.get(latin1(cmd, 2));
      const w = a.startReply(conn);
      if (u === undefined) w.nullBulk();
      else this.writeUser(w, u);
      a.replyW(conn, seq);
    };
    h[CMD.ACL_LIST] = (conn, seq) => {
      const w = a.startReply(conn);
      const users = this.sortedUsers();
      w.arrayHeader(users.length);
      for (const u of users) latin1Bulk(w, `user ${u.name} ${describeUser(u)}`);
      a.replyW(conn, seq);
    };
    h[CMD.ACL_USERS] = (conn, seq) => {
      const w = a.startReply(conn);
      const users = this.sortedUsers();
      w.arrayHeader(users.length);
      for (const u of users) latin1Bulk(w, u.name);
      a.replyW(conn, seq);
    };
    h[CMD.ACL_WHOAMI] = (conn, seq) => {
      latin1Bulk(a.startReply(conn), ownerOf(conn).user.name);
      a.replyW(conn, seq);
    };
    h[CMD.ACL_CAT] = (conn, seq, cmd) => {
      if (cmd.argc > 3) return a.replyErrorLatin1(conn, seq, subcommandSyntaxError(latin1(cmd, 1), 'ACL'));
      const w = a.startReply(conn);
      if (cmd.argc === 2) {
        w.arrayHeader(CATEGORIES.length);
        for (const c of CATEGORIES) w.bulkString(c);
      } else {
        const name = latin1(cmd, 2);
        const cat = (CATEGORIES as readonly string[]).indexOf(name.toLowerCase());
        if (cat < 0) return a.replyErrorLatin1(conn, seq, aclUnknownCategory(name));
        const members = CATEGORY_MEMBERS[cat]!;
        w.arrayHeader(members.length);
        for (const id of members) w.bulkString(COMMANDS[id]!.name);
      }
      a.replyW(conn, seq);
    };
    h[CMD.ACL_GENPASS] = (conn, seq, cmd) => {
      if (cmd.argc > 3) return a.replyErrorLatin1(conn, seq, subcommandSyntaxError(latin1(cmd, 1), 'ACL'));
      let bits = 256;
      if (cmd.argc === 3) {
        const v = parseI64(cmd.buf, cmd.argStart[2]!, cmd.argLen[2]!);
        if (v === null) return a.replyError(conn, seq, E_NOT_INT);
        bits = typeof v === 'bigint' ? (v > 0n ? GENPASS_MAX_BITS + 1 : -1) : v;
      }
      if (bits <= 0 || bits > GENPASS_MAX_BITS) return a.replyError(conn, seq, E_ACL_GENPASS_BITS);
      const chars = (bits + 3) >> 2;
      a.startReply(conn).bulkString(
        randomBytes((chars + 1) >> 1)
          .toString('hex')
          .slice(0, chars),
      );
      a.replyW(conn, seq);
    };
    h[CMD.ACL_LOG] = (conn, seq, cmd) => {
      if (cmd.argc > 3) return a.replyErrorLatin1(conn, seq, subcommandSyntaxError(latin1(cmd, 1), 'ACL'));
      let count = 10;
      if (cmd.argc === 3) {
        if (isKeyword(cmd.buf, cmd.argStart[2]!, cmd.argLen[2]!, 'RESET')) {
          this.log.reset();
          return a.replyConst(conn, seq, R_OK);
        }
        const v = parseI64(cmd.buf, cmd.argStart[2]!, cmd.argLen[2]!);
        if (v === null) return a.replyError(conn, seq, E_NOT_INT);
        count = typeof v === 'bigint' ? (v > 0n ? Number.MAX_SAFE_INTEGER : 0) : v;
      }
      this.log.write(a.startReply(conn), count);
      a.replyW(conn, seq);
    };
    h[CMD.ACL_DRYRUN] = (conn, seq, cmd) => this.dryRun(conn, seq, cmd);
    h[CMD.ACL_SAVE] = (conn, seq) => {
      if (this.cfg.get('aclfile') === '') return a.replyError(conn, seq, E_ACL_NO_FILE);
      const err = saveAclFile(this.aclPath(), this.users.values());
      if (err !== null) {
        this.logger.warn('Writing ACL file for ACL SAVE failed', { error: err.message });
        return a.replyError(conn, seq, E_ACL_SAVE_FAILED);
      }
      a.replyConst(conn, seq, R_OK);
    };
    h[CMD.ACL_LOAD] = (conn, seq) => {
      if (this.cfg.get('aclfile') === '') return a.replyError(conn, seq, E_ACL_NO_FILE);
      const err = this.loadFile(ownerOf(conn));
      if (err !== null) a.replyErrorLatin1(conn, seq, `ERR ${err}`);
      else a.replyConst(conn, seq, R_OK);
    };
  }

  /** Users in name order (Redis keeps them in a radix tree). */
  private sortedUsers(): AclUser[] {
    return [...this.users.values()].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  }

  /** ACL SETUSER: all rules are tried on a copy first, so a bad one changes nothing. */
  private setUser(conn: Connection, seq: number, cmd: ParsedCommand): void {
    const a = this.a;
    const name = latin1(cmd, 2);
    if (hasSpaces(name)) return a.replyError(conn, seq, E_ACL_USERNAME_SPACES);
    const args: string[] = [];
    for (let i = 3; i < cmd.argc; i++) args.push(latin1(cmd, i));
    const rules = mergeSelectorArgs(args);
    if (!Array.isArray(rules)) return a.replyErrorLatin1(conn, seq, aclUnmatchedParenthesis(args[rules.unmatched]!));
    const existing = this.users.get(name);
    const staged = new AclUser(name, this.allChannels);
    if (existing !== undefined) staged.copyFrom(existing);
    for (const rule of rules) {
      const e = applyUserRule(staged, rule, this.allChannels);
      if (e !== RuleError.None) return a.replyErrorLatin1(conn, seq, aclSetuserError(rule, ruleErrorText(e)));
    }
    if (existing !== undefined) {
      this.killRevokedSubscribers(staged, existing);
      existing.copyFrom(staged);
      this.refreshClients(existing);
    } else {
      this.users.set(name, staged);
    }
    a.replyConst(conn, seq, R_OK);
  }

  /** ACL GETUSER's map: flags, passwords, the root selector's commands/keys/channels, then the other selectors. */
  private writeUser(w: RespWriter, u: AclUser): void {
    w.mapHeader(6);
    w.bulkString('flags');
    const flags = userFlags(u);
    w.setHeader(flags.length);
    for (const f of flags) w.bulkString(f);
    w.bulkString('passwords');
    w.arrayHeader(u.passwords.length);
    for (const p of u.passwords) w.bulkString(p);
    writeSelector(w, u.rootSelector);
    w.bulkString('selectors');
    w.arrayHeader(u.selectors.length - 1);
    for (let i = 1; i < u.selectors.length; i++) {
      w.mapHeader(3);
      writeSelector(w, u.selectors[i]!);
    }
  }

  /** ACL DRYRUN user command args...: OK, or why the user may not run it (as a bulk string). */
  private dryRun(conn: Connection, seq: number, cmd: ParsedCommand): void {
    const a = this.a;
    const name = latin1(cmd, 2);
    const u = this.users.get(name);
    if (u === undefined) return a.replyErrorLatin1(conn, seq, aclUserNotFound(name));
    let id = lookupCommand(cmd.buf, cmd.argStart[3]!, cmd.argLen[3]!);
    if (id >= 0 && COMMANDS[id]!.subcommands !== null && cmd.argc > 4) id = lookupSubcommand(id, cmd.buf, cmd.argStart[4]!, cmd.argLen[4]!);
    if (id < 0) return a.replyErrorLatin1(conn, seq, aclCommandNotFound(latin1(cmd, 3)));
    const spec = COMMANDS[id]!;
    const argc = cmd.argc - 3;
    if (!checkArity(spec, argc)) return a.replyError(conn, seq, wrongArityError(spec.name));
    const args = { buf: cmd.buf, argStart: cmd.argStart.subarray(3), argLen: cmd.argLen.subarray(3), argc };
    const r = this.checker.check(u, id, args);
    if (r === ACL_OK) return a.replyConst(conn, seq, R_OK);
    const w = a.startReply(conn);
    if (r === DENIED_CMD) w.bulkString(dryrunCommandDenied(spec.name));
    else latin1Bulk(w, dryrunDenied(r === DENIED_KEY ? 'key' : 'channel', latin1(cmd, this.checker.deniedAt + 3)));
    a.replyW(conn, seq);
  }
}

/** One selector's commands, keys and channels as ACL GETUSER shows them. */
function writeSelector(w: RespWriter, s: AclSelector): void {
  w.bulkString('commands');
  w.bulkString(describeCommandRules(s));
  w.bulkString('keys');
  latin1Bulk(w, s.allKeys ? '~*' : s.keys.map(keyPatternText).join(' '));
  w.bulkString('channels');
  latin1Bulk(w, s.allChannels ? '&*' : s.channels.map((c) => `&${c.text}`).join(' '));
}
