/**
 * Commands the acceptor answers without a shard: connection state (PING, HELLO, AUTH,
 * SELECT, CLIENT…), server introspection (COMMAND, INFO, CONFIG, TIME) and SHUTDOWN.
 */
import { performance } from 'node:perf_hooks';
import { CMD } from '../commands/ids.generated.js';
import { readFileSync } from 'node:fs';
import {
  COMMANDS,
  commandCountReply,
  commandDocsReply,
  commandGetKeysAndFlagsReply,
  commandGetKeysReply,
  commandInfoReply,
  commandListReply,
  type CommandListFilter,
} from '../commands/table.js';
import type { Acceptor, LocalHandler } from '../io/acceptor.js';
import { ST_SUBSCRIBED, type Connection } from '../io/connection.js';
import type { ParsedCommand } from '../wire/resp-parser.js';
import { R_OK, R_PONG } from '../wire/resp-writer.js';
import {
  E_AUTH_NO_PASSWORD,
  E_CLIENT_ID,
  E_CLIENT_ID_NOT_POSITIVE,
  E_CLIENT_LIB,
  E_CLIENT_NAME,
  E_DB_RANGE,
  E_HELLO_NOAUTH,
  E_NOPROTO,
  E_NOT_INT,
  E_NO_CLIENT,
  E_NO_SHUTDOWN,
  E_PROTO_NOT_INT,
  E_SYNTAX,
  E_WRONGPASS,
  configSetFailed,
  helloOptionError,
  noSuchUser,
  unknownClientType,
  unknownConfigOption,
  unknownSubcommand,
  unrecognizedOption,
  wrongArityError,
} from '../wire/error-text.js';
import { isKeyword, parseSafeInt, globMatch } from '../wire/bytes.js';
import { REDIS_COMPAT_VERSION } from '../version.js';
import { clientInfoLine, infoText, resetStats } from './info.js';
import { SHARD_IMPLEMENTS } from '../shards/command-set.js';
import type { ServerConfig } from './config.js';
import type { Acl } from './acl.js';
import { ownerOf } from './transactions.js';

/** CLIENT LIST/KILL TYPE class: master for a replica's link to its master, replica for a replica's link, pubsub while subscribed, else normal. */
function clientType(c: Connection): string {
  if (c.master) return 'master';
  if (c.replica) return 'replica';
  return (c.state & ST_SUBSCRIBED) !== 0 ? 'pubsub' : 'normal';
}

/** A TYPE argument as clientType spells it (Redis accepts slave for replica). */
function typeName(t: string): string {
  return t === 'slave' ? 'replica' : t;
}

/** Argument `i` as bytes (a copy-free view). */
function arg(cmd: ParsedCommand, i: number): Buffer {
  return Buffer.from(cmd.buf.buffer, cmd.buf.byteOffset + cmd.argStart[i]!, cmd.argLen[i]!);
}

/** Argument `i` as text (rare paths only). */
function str(cmd: ParsedCommand, i: number): string {
  return arg(cmd, i).toString('utf8');
}

function is(cmd: ParsedCommand, i: number, upper: string): boolean {
  return isKeyword(cmd.buf, cmd.argStart[i]!, cmd.argLen[i]!, upper);
}

/** Builds the local handler table for an acceptor. `shutdown` stops the whole server; `acl` authenticates and runs ACL. */
export function installLocalCommands(a: Acceptor, cfg: ServerConfig, shutdown: () => void, acl: Acl): void {
  const h: (LocalHandler | undefined)[] = [];

  /** AUTH [user] pass and HELLO AUTH: null, or the error (the form without a user is the default user's). */
  const checkAuth = (conn: Connection, cmd: ParsedCommand, user: number, pass: number): string | null => {
    if (user < 0 && acl.defaultUser.nopass) return E_AUTH_NO_PASSWORD;
    const name = user < 0 ? 'default' : arg(cmd, user).toString('latin1');
    return acl.authenticate(conn, name, arg(cmd, pass), arg(cmd, 0).toString('latin1')) ? null : E_WRONGPASS;
  };

  h[CMD.PING] = (conn, seq, cmd) => {
    if (cmd.argc > 2) return a.replyError(conn, seq, wrongArityError('ping'));
    if (cmd.argc === 1) return a.replyConst(conn, seq, R_PONG);
    a.startReply(conn).bulk(cmd.buf, cmd.argStart[1]!, cmd.argLen[1]!);
    a.replyW(conn, seq);
  };

  h[CMD.ECHO] = (conn, seq, cmd) => {
    a.startReply(conn).bulk(cmd.buf, cmd.argStart[1]!, cmd.argLen[1]!);
    a.replyW(conn, seq);
  };

  h[CMD.AUTH] = (conn, seq, cmd) => {
    const err = cmd.argc === 2 ? checkAuth(conn, cmd, -1, 1) : cmd.argc === 3 ? checkAuth(conn, cmd, 1, 2) : E_SYNTAX;
    if (err !== null) a.replyError(conn, seq, err);
    else a.replyConst(conn, seq, R_OK);
  };

  h[CMD.HELLO] = (conn, seq, cmd) => {
    let proto = conn.proto as number;
    let i = 1;
    if (cmd.argc >= 2) {
      const v = parseSafeInt(cmd.buf, cmd.argStart[1]!, cmd.argLen[1]!);
      if (v === null) return a.replyError(conn, seq, E_PROTO_NOT_INT);
      if (v < 2 || v > 3) return a.replyError(conn, seq, E_NOPROTO);
      proto = v;
      i = 2;
    }
    let name: string | null = null;
    for (; i < cmd.argc; i++) {
      const more = cmd.argc - i - 1;
      if (is(cmd, i, 'AUTH') && more >= 2) {
        const err = checkAuth(conn, cmd, i + 1, i + 2);
        if (err !== null) return a.replyError(conn, seq, err);
        i += 2;
      } else if (is(cmd, i, 'SETNAME') && more >= 1) {
        name = str(cmd, ++i);
        if (/[\s]/.test(name)) return a.replyError(conn, seq, E_CLIENT_NAME);
      } else {
        return a.replyError(conn, seq, helloOptionError(str(cmd, i)));
      }
    }
    if (!conn.authenticated) return a.replyError(conn, seq, E_HELLO_NOAUTH);
    if (name !== null) conn.name = name;
    conn.proto = proto as 2 | 3;
    conn.out.proto = conn.proto;
    const w = a.startReply(conn);
    w.mapHeader(7);
    w.bulkString('server');
    w.bulkString('redis');
    w.bulkString('version');
    w.bulkString(REDIS_COMPAT_VERSION);
    w.bulkString('proto');
    w.int(proto);
    w.bulkString('id');
    w.int(conn.id);
    w.bulkString('mode');
    w.bulkString('standalone');
    w.bulkString('role');
    w.bulkString('master');
    w.bulkString('modules');
    w.arrayHeader(0);
    a.replyW(conn, seq);
  };

  h[CMD.QUIT] = (conn, seq) => {
    a.replyConst(conn, seq, R_OK);
    conn.closeAfterReplies = true;
  };

  h[CMD.RESET] = (conn, seq) => {
    conn.db = 0;
    conn.proto = 2;
    conn.out.proto = 2;
    conn.name = '';
    acl.becomeDefault(ownerOf(conn));
    a.startReply(conn).simple('RESET');
    a.replyW(conn, seq);
  };

  h[CMD.SELECT] = (conn, seq, cmd) => {
    const db = parseSafeInt(cmd.buf, cmd.argStart[1]!, cmd.argLen[1]!);
    if (db === null) return a.replyError(conn, seq, E_NOT_INT);
    if (db < 0 || db >= cfg.num('databases')) return a.replyError(conn, seq, E_DB_RANGE);
    conn.db = db;
    a.replyConst(conn, seq, R_OK);
  };

  h[CMD.TIME] = (conn, seq) => {
    const us = BigInt(Date.now()) * 1000n + BigInt(Math.floor((performance.now() % 1) * 1000));
    const w = a.startReply(conn);
    w.arrayHeader(2);
    w.bulkString(String(us / 1000000n));
    w.bulkString(String(us % 1000000n));
    a.replyW(conn, seq);
  };

  h[CMD.SHUTDOWN] = (conn, seq, cmd) => {
    for (let i = 1; i < cmd.argc; i++) {
      if (!is(cmd, i, 'NOSAVE') && !is(cmd, i, 'SAVE') && !is(cmd, i, 'NOW') && !is(cmd, i, 'FORCE') && !is(cmd, i, 'ABORT')) {
        return a.replyError(conn, seq, E_SYNTAX);
      }
      if (is(cmd, i, 'ABORT')) return a.replyError(conn, seq, E_NO_SHUTDOWN);
    }
    shutdown();
  };

  // ---- COMMAND ----
  const namesFrom = (cmd: ParsedCommand, from: number): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (let i = from; i < cmd.argc; i++) out.push(arg(cmd, i));
    return out;
  };
  h[CMD.COMMAND] = (conn, seq) => a.replyConst(conn, seq, commandInfoReply(null, conn.proto));
  h[CMD.COMMAND_COUNT] = (conn, seq) => a.replyConst(conn, seq, commandCountReply());
  h[CMD.COMMAND_INFO] = (conn, seq, cmd) => a.replyConst(conn, seq, commandInfoReply(cmd.argc > 2 ? namesFrom(cmd, 2) : null, conn.proto));
  h[CMD.COMMAND_DOCS] = (conn, seq, cmd) => a.replyConst(conn, seq, commandDocsReply(cmd.argc > 2 ? namesFrom(cmd, 2) : null, conn.proto));
  h[CMD.COMMAND_GETKEYS] = (conn, seq, cmd) => a.replyConst(conn, seq, commandGetKeysReply(namesFrom(cmd, 2), conn.proto));
  h[CMD.COMMAND_GETKEYSANDFLAGS] = (conn, seq, cmd) => a.replyConst(conn, seq, commandGetKeysAndFlagsReply(namesFrom(cmd, 2), conn.proto));
  h[CMD.COMMAND_LIST] = (conn, seq, cmd) => {
    let filter: CommandListFilter | null = null;
    if (cmd.argc === 5 && is(cmd, 2, 'FILTERBY')) {
      const v = str(cmd, 4);
      if (is(cmd, 3, 'MODULE')) filter = { module: v };
      else if (is(cmd, 3, 'ACLCAT')) filter = { aclcat: v };
      else if (is(cmd, 3, 'PATTERN')) filter = { pattern: v };
    }
    if (cmd.argc !== 2 && filter === null) return a.replyError(conn, seq, E_SYNTAX);
    a.replyConst(conn, seq, commandListReply(filter, conn.proto));
  };

  // ---- CONFIG ----
  h[CMD.CONFIG_GET] = (conn, seq, cmd) => {
    const found = new Map<string, string>();
    for (let i = 2; i < cmd.argc; i++) {
      const pat = arg(cmd, i);
      // A plain name is answered as given (an alias by its alias); a pattern lists names and aliases.
      if (!/[*?[]/.test(pat.toString('latin1'))) {
        const name = str(cmd, i);
        if (cfg.has(name) && !found.has(name)) found.set(name, cfg.get(name));
        continue;
      }
      for (const name of cfg.names()) {
        const nb = Buffer.from(name);
        if (globMatch(pat, 0, pat.length, nb, 0, nb.length, true)) found.set(name, cfg.get(name));
      }
    }
    const w = a.startReply(conn);
    w.mapHeader(found.size);
    for (const [k, v] of found) {
      w.bulkString(k);
      w.bulkString(v);
    }
    a.replyW(conn, seq);
  };
  h[CMD.CONFIG_SET] = (conn, seq, cmd) => {
    if ((cmd.argc & 1) !== 0) return a.replyError(conn, seq, wrongArityError('config|set'));
    for (let i = 2; i < cmd.argc; i += 2) {
      const name = str(cmd, i);
      if (!cfg.has(name)) return a.replyError(conn, seq, unknownConfigOption(name));
    }
    const pairs: [string, string][] = [];
    for (let i = 2; i < cmd.argc; i += 2) pairs.push([str(cmd, i), str(cmd, i + 1)]);
    const allow = cfg.get('enable-protected-configs');
    const err = cfg.setAll(pairs, allow === 'yes' || (allow === 'local' && conn.local));
    if (err !== null) return a.replyError(conn, seq, configSetFailed(err[0], err[1]));
    a.replyConst(conn, seq, R_OK);
  };
  h[CMD.CONFIG_RESETSTAT] = (conn, seq) => {
    resetStats(a);
    a.replyConst(conn, seq, R_OK);
  };

  // ---- INFO ----
  h[CMD.INFO] = (conn, seq, cmd) => {
    const sections: string[] = [];
    for (let i = 1; i < cmd.argc; i++) sections.push(str(cmd, i).toLowerCase());
    a.startReply(conn).verbatim(infoText(a, sections));
    a.replyW(conn, seq);
  };

  // ---- CLIENT ----
  h[CMD.CLIENT] = (conn, seq, cmd) => {
    // Reached only for subcommands the Redis 7.0 table lacks: SETINFO arrived in 7.2 and clients send it.
    if (!is(cmd, 1, 'SETINFO')) return a.replyErrorLatin1(conn, seq, unknownSubcommand(arg(cmd, 1).toString('latin1'), 'CLIENT'));
    if (cmd.argc !== 4) return a.replyError(conn, seq, wrongArityError('client|setinfo'));
    const v = str(cmd, 3);
    if (/[\s]/.test(v)) return a.replyError(conn, seq, E_CLIENT_LIB);
    if (is(cmd, 2, 'LIB-NAME')) conn.libName = v;
    else if (is(cmd, 2, 'LIB-VER')) conn.libVer = v;
    else return a.replyError(conn, seq, unrecognizedOption(str(cmd, 2)));
    a.replyConst(conn, seq, R_OK);
  };
  h[CMD.CLIENT_ID] = (conn, seq) => {
    a.startReply(conn).int(conn.id);
    a.replyW(conn, seq);
  };
  h[CMD.CLIENT_SETNAME] = (conn, seq, cmd) => {
    const name = str(cmd, 2);
    if (/[^\x21-\x7e]/.test(name)) return a.replyError(conn, seq, E_CLIENT_NAME);
    conn.name = name;
    a.replyConst(conn, seq, R_OK);
  };
  h[CMD.CLIENT_GETNAME] = (conn, seq) => {
    const w = a.startReply(conn);
    if (conn.name === '') w.nullBulk();
    else w.bulkString(conn.name);
    a.replyW(conn, seq);
  };
  h[CMD.CLIENT_INFO] = (conn, seq) => {
    a.startReply(conn).verbatim(`${clientInfoLine(conn)}\n`);
    a.replyW(conn, seq);
  };
  h[CMD.CLIENT_LIST] = (conn, seq, cmd) => {
    let ids: Set<number> | null = null;
    let type: string | null = null;
    if (cmd.argc >= 4 && is(cmd, 2, 'ID')) {
      ids = new Set();
      for (let i = 3; i < cmd.argc; i++) {
        const v = parseSafeInt(cmd.buf, cmd.argStart[i]!, cmd.argLen[i]!);
        if (v === null || v <= 0) return a.replyError(conn, seq, E_CLIENT_ID);
        ids.add(v);
      }
    } else if (cmd.argc === 4 && is(cmd, 2, 'TYPE')) {
      const t = str(cmd, 3).toLowerCase();
      if (!['normal', 'master', 'replica', 'slave', 'pubsub'].includes(t)) return a.replyError(conn, seq, unknownClientType(t));
      type = typeName(t);
    } else if (cmd.argc !== 2) {
      return a.replyError(conn, seq, E_SYNTAX);
    }
    let text = '';
    for (const c of a.conns.values()) {
      if (ids !== null && !ids.has(c.id)) continue;
      if (type !== null && type !== clientType(c)) continue;
      text += `${clientInfoLine(c)}\n`;
    }
    a.startReply(conn).verbatim(text);
    a.replyW(conn, seq);
  };
  h[CMD.CLIENT_KILL] = (conn, seq, cmd) => {
    // Inside EXEC the caller is the client behind the transaction (Sentinel's MULTI … CLIENT KILL TYPE normal … EXEC).
    const me = ownerOf(conn);
    if (cmd.argc === 3) {
      const target = str(cmd, 2);
      const victim = [...a.conns.values()].find((c) => c.addr === target);
      if (victim === undefined) return a.replyError(conn, seq, E_NO_CLIENT);
      a.replyConst(conn, seq, R_OK);
      if (victim === me) me.closeAfterReplies = true;
      else a.kill(victim);
      return;
    }
    if ((cmd.argc & 1) !== 0) return a.replyError(conn, seq, E_SYNTAX);
    let id = -1;
    let addr: string | null = null;
    let laddr: string | null = null;
    let skipMe = true;
    let type: string | null = null;
    let user: Connection['user'] | null = null;
    for (let i = 2; i < cmd.argc; i += 2) {
      const v = str(cmd, i + 1);
      if (is(cmd, i, 'ID')) {
        const n = parseSafeInt(cmd.buf, cmd.argStart[i + 1]!, cmd.argLen[i + 1]!);
        if (n === null || n <= 0) return a.replyError(conn, seq, E_CLIENT_ID_NOT_POSITIVE);
        id = n;
      } else if (is(cmd, i, 'ADDR')) addr = v;
      else if (is(cmd, i, 'LADDR')) laddr = v;
      else if (is(cmd, i, 'SKIPME')) {
        if (v.toLowerCase() === 'yes') skipMe = true;
        else if (v.toLowerCase() === 'no') skipMe = false;
        else return a.replyError(conn, seq, E_SYNTAX);
      } else if (is(cmd, i, 'USER')) {
        user = acl.user(arg(cmd, i + 1).toString('latin1')) ?? null;
        if (user === null) return a.replyErrorLatin1(conn, seq, noSuchUser(arg(cmd, i + 1).toString('latin1')));
      } else if (is(cmd, i, 'TYPE')) {
        if (!['normal', 'master', 'replica', 'slave', 'pubsub'].includes(v.toLowerCase()))
          return a.replyError(conn, seq, unknownClientType(v));
        type = typeName(v.toLowerCase());
      } else return a.replyError(conn, seq, E_SYNTAX);
    }
    let killed = 0;
    for (const c of [...a.conns.values()]) {
      if (id !== -1 && c.id !== id) continue;
      if (type !== null && type !== clientType(c)) continue;
      if (addr !== null && c.addr !== addr) continue;
      if (laddr !== null && c.laddr !== laddr) continue;
      if (user !== null && c.user !== user) continue;
      if (c === me && skipMe) continue;
      killed++;
      if (c === me) me.closeAfterReplies = true;
      else a.kill(c);
    }
    a.startReply(conn).int(killed);
    a.replyW(conn, seq);
  };

  acl.install(h);
  installHelp(a, h);
  a.local = h;
}

const HELP_TEXTS = JSON.parse(readFileSync(new URL('../../data/redis-help.json', import.meta.url), 'utf8')) as Record<string, string[]>;

/**
 * X HELP with Redis's own text (recorded by scripts/dump-redis-help.mjs), for containers with a subcommand Sabre runs;
 * the server calls it again once every module has installed its commands.
 */
export function installHelp(a: Acceptor, h: (LocalHandler | undefined)[]): void {
  for (const spec of COMMANDS) {
    const lines = HELP_TEXTS[spec.name];
    const help = spec.subcommands?.find((s) => s.name === `${spec.name}|help`);
    if (lines === undefined || help === undefined) continue;
    if (!spec.subcommands!.some((s) => s !== help && (h[s.id] !== undefined || SHARD_IMPLEMENTS[s.id]))) continue;
    const reply = Buffer.from(`*${lines.length}\r\n${lines.map((l) => `+${l}\r\n`).join('')}`, 'utf8');
    h[help.id] = (conn, seq) => a.replyConst(conn, seq, reply);
  }
}
