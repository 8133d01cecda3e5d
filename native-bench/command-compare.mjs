// Compares Sabre's COMMAND replies (dist/commands/table.js) with a real Redis 7.0 server.
// Usage: node native-bench/command-compare.mjs [unix-socket-path | port]  (default: starts redis-server itself).
// test/unit/command-table.test.ts calls compareWithRedis() with the TypeScript sources instead of dist/
// (T is the command table module plus wrongArityError from the wire layer's error texts).
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Parses one RESP value at off; returns [value, nextOff] or null when incomplete. Values keep their type. */
function parse(b, off) {
  const nl = b.indexOf('\r\n', off);
  if (nl < 0) return null;
  const t = String.fromCharCode(b[off]);
  const line = b.toString('latin1', off + 1, nl);
  let p = nl + 2;
  if (t === '$') {
    const n = Number(line);
    if (n < 0) return [{ t: 'nil' }, p];
    if (b.length < p + n + 2) return null;
    return [{ t, v: b.toString('latin1', p, p + n) }, p + n + 2];
  }
  if (t === '*' || t === '~' || t === '%') {
    const n = Number(line) * (t === '%' ? 2 : 1);
    if (n < 0) return [{ t: 'nil' }, p];
    const v = [];
    for (let i = 0; i < n; i++) {
      const r = parse(b, p);
      if (!r) return null;
      v.push(r[0]);
      p = r[1];
    }
    return [{ t, v }, p];
  }
  return [{ t: t === '_' ? 'nil' : t, v: line }, p];
}

/** Sorts subcommand lists, whose order follows Redis's randomly seeded dict. */
function normalize(x, kind) {
  if (!x || !Array.isArray(x.v)) return x;
  if (kind === 'info' && x.t === '*' && x.v.length === 10 && x.v[0].t === '$') {
    const subs = x.v[9];
    subs.v = subs.v.map((s) => normalize(s, 'info')).sort((a, b) => (a.v[0].v < b.v[0].v ? -1 : 1));
    return x;
  }
  if (kind === 'docs') {
    const flat = x.t === '%' || x.t === '*';
    for (let i = 0; flat && i + 1 < x.v.length; i += 2) {
      if (x.v[i].v === 'subcommands') {
        const m = x.v[i + 1];
        const ps = [];
        for (let j = 0; j < m.v.length; j += 2) ps.push([m.v[j], normalize(m.v[j + 1], 'docs')]);
        ps.sort((a, b) => (a[0].v < b[0].v ? -1 : 1));
        m.v = ps.flat();
      }
    }
    return x;
  }
  return x;
}

const enc = (a) =>
  Buffer.concat([
    Buffer.from(`*${a.length}\r\n`),
    ...a.flatMap((x) => [Buffer.from(`$${Buffer.byteLength(x)}\r\n`), Buffer.from(x), Buffer.from('\r\n')]),
  ]);

async function session(addr, resp, requests) {
  const s = typeof addr === 'number' ? net.connect(addr, '127.0.0.1') : net.connect(addr);
  await new Promise((r, j) => {
    s.once('connect', r);
    s.once('error', j);
  });
  const replies = [];
  let buf = Buffer.alloc(0);
  const total = requests.length + (resp === 3 ? 1 : 0);
  const done = new Promise((resolve) => {
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      let off = 0;
      for (;;) {
        const r = parse(buf, off);
        if (!r) break;
        replies.push(buf.subarray(off, r[1]));
        off = r[1];
      }
      buf = buf.subarray(off);
      if (replies.length === total) resolve();
    });
  });
  s.write(Buffer.concat([...(resp === 3 ? [enc(['HELLO', '3'])] : []), ...requests.map(enc)]));
  await done;
  s.end();
  return resp === 3 ? replies.slice(1) : replies;
}

/** Compares the replies of table module T with a real Redis; starts redis-server when addr is not given. */
export async function compareWithRedis(T, addr, log = console.log) {
  let child = null;
  let dir = null;
  if (!addr) {
    dir = mkdtempSync(join(tmpdir(), 'sabre-cmdcmp-'));
    addr = join(dir, 'redis.sock');
    child = spawn('redis-server', ['--port', '0', '--unixsocket', addr, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      try {
        await session(addr, 2, [['PING']]);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } else if (/^\d+$/.test(addr)) addr = Number(addr);
  try {
    const cases = [];
    // Sabre's own commands (CL.THROTTLE…) are absent from a plain Redis: compare the rest, and drop them from Sabre's full lists.
    const sabreOnly = (name) => T.COMMANDS.some((c) => c.name === name && c.docs.since === '0.1.0' && c.docs.group === 'module');
    for (const c of T.COMMANDS.filter((x) => !sabreOnly(x.name))) {
      for (const resp of [2, 3]) {
        cases.push({ resp, kind: 'info', args: ['COMMAND', 'INFO', c.name], ours: T.commandInfoReply([Buffer.from(c.name)], resp) });
        cases.push({ resp, kind: 'docs', args: ['COMMAND', 'DOCS', c.name], ours: T.commandDocsReply([Buffer.from(c.name)], resp) });
      }
    }
    for (const resp of [2, 3]) {
      cases.push({
        resp,
        kind: 'info',
        args: ['COMMAND', 'INFO', 'nosuch', 'GET', 'Client|List'],
        ours: T.commandInfoReply(
          ['nosuch', 'GET', 'Client|List'].map((x) => Buffer.from(x)),
          resp,
        ),
      });
      cases.push({
        resp,
        kind: 'docs',
        args: ['COMMAND', 'DOCS', 'nosuch', 'SET'],
        ours: T.commandDocsReply(
          ['nosuch', 'SET'].map((x) => Buffer.from(x)),
          resp,
        ),
      });
    }
    for (const resp of [2, 3]) {
      cases.push({ resp, kind: 'infoall', args: ['COMMAND', 'INFO'], ours: T.commandInfoReply(null, resp) });
      cases.push({ resp, kind: 'infoall', args: ['COMMAND'], ours: T.commandInfoReply(null, resp) });
      cases.push({ resp, kind: 'docsall', args: ['COMMAND', 'DOCS'], ours: T.commandDocsReply(null, resp) });
    }
    const sabreCount = T.COMMANDS.filter((x) => sabreOnly(x.name)).length;
    cases.push({
      resp: 2,
      kind: 'raw',
      args: ['COMMAND', 'COUNT'],
      ours: Buffer.from(`:${Number(T.commandCountReply().toString().slice(1)) - sabreCount}\r\n`),
    });
    for (const f of [null, { aclcat: 'read' }, { aclcat: 'nope' }, { pattern: 'CLIENT|*' }, { pattern: '*[a-c]?t' }, { module: 'x' }]) {
      const args = ['COMMAND', 'LIST'];
      if (f) args.push('FILTERBY', Object.keys(f)[0].toUpperCase(), Object.values(f)[0]);
      cases.push({ resp: 2, kind: 'set', args, ours: T.commandListReply(f, 2) });
    }
    const getkeys = [
      ['get', 'k'],
      ['mset', 'a', '1', 'b', '2'],
      ['del', 'a', 'b', 'c'],
      ['zunionstore', 'd', '2', 'a', 'b', 'WEIGHTS', '1', '2'],
      ['lmpop', '2', 'a', 'b', 'LEFT'],
      ['blmpop', '0', '2', 'a', 'b', 'LEFT'],
      ['eval', 's', '2', 'a', 'b', 'x'],
      ['eval', 's', '0'],
      ['xread', 'COUNT', '2', 'STREAMS', 'a', 'b', '0', '0'],
      ['sort', 'k', 'BY', 'x', 'LIMIT', '0', '1', 'GET', 'y', 'STORE', 'd'],
      ['sort', 'k'],
      ['sort_ro', 'k', 'BY', 'x'],
      ['object', 'encoding', 'k'],
      ['migrate', 'h', '1', 'k', '0', '10'],
      ['migrate', 'h', '1', '', '0', '10', 'COPY', 'AUTH', 'keys', 'KEYS', 'a', 'b'],
      ['georadius', 'k', '0', '0', '1', 'km', 'STORE', 'd'],
      ['georadius', 'k', '0', '0', '1', 'km', 'STOREDIST', 'd'],
      ['ping', 'x'],
      ['nosuch', 'x'],
      ['get', 'a', 'b'],
      ['zunionstore', 'd', 'x', 'a'],
      ['zunionstore', 'd', '3', 'a'],
      ['eval', 's', '-1'],
      ['client', 'list'],
      ['memory', 'usage', 'k'],
      ['xreadgroup', 'GROUP', 'g', 'c', 'STREAMS', 'a', '>'],
      ['bitfield', 'k', 'GET', 'u8', '0'],
      ['sintercard', '2', 'a', 'b', 'LIMIT', '1'],
      ['fcall', 'f', '1', 'a'],
      ['set', 'k', 'v'],
      ['georadius', 'k', '0', '0', '1', 'km', 'STORE'],
      ['xread', 'STREAMS', 'a', 'b', '0'],
      ['eval', 's', '01', 'a'],
      ['eval', 's', '+1', 'a'],
      ['lmpop', '99999999999999999999', 'a', 'LEFT'],
      ['sort', 'k', 'STORE'],
      ['sort', 'k', 'LIMIT', 'STORE', 'x', 'STORE', 'd1', 'STORE', 'd2'],
      ['xadd', 'k', '*', 'f', 'v'],
      ['mget', 'a'],
      ['zinterstore', 'd', '1', 'a', 'b'],
      ['sintercard', '1', 'a', 'LIMIT', '5'],
    ];
    for (const g of getkeys)
      cases.push({
        resp: 2,
        kind: 'raw',
        args: ['COMMAND', 'GETKEYS', ...g],
        ours: T.commandGetKeysReply(
          g.map((x) => Buffer.from(x)),
          2,
        ),
      });
    const errs = [
      ['nosuchcmd', 'a', 'b'],
      ['x'.repeat(200), 'y'.repeat(100), 'z'.repeat(100)],
      ['CLIENT', 'nosuch'],
      ['get'],
      ['client', 'kill'],
      ['Client', 'NoSuch\r\nx', 'y'],
      ['a\u0000b', 'c\nd'],
    ];
    for (const e of errs) {
      const bufs = e.map((x) => Buffer.from(x));
      const buf = Buffer.concat(bufs);
      const st = new Int32Array(e.length);
      const ln = new Int32Array(e.length);
      for (let i = 0, o = 0; i < e.length; i++) {
        st[i] = o;
        ln[i] = bufs[i].length;
        o += bufs[i].length;
      }
      const id = T.lookupCommand(buf, st[0], ln[0]);
      let text;
      if (id < 0) text = T.unknownCommandError(buf, st, ln, e.length);
      else if (T.COMMANDS[id].subcommands && e.length > 1) {
        const sub = T.lookupSubcommand(id, buf, st[1], ln[1]);
        text =
          sub < 0
            ? T.unknownSubcommandError(buf, st, ln)
            : T.checkArity(T.COMMANDS[sub], e.length)
              ? 'OK'
              : T.wrongArityError(T.COMMANDS[sub].name);
      } else text = T.checkArity(T.COMMANDS[id], e.length) ? 'OK' : T.wrongArityError(T.COMMANDS[id].name);
      cases.push({ resp: 2, kind: 'raw', args: e, ours: Buffer.from(`-${text}\r\n`, 'latin1') });
    }

    let failures = 0;
    for (const resp of [2, 3]) {
      const mine = cases.filter((c) => c.resp === resp);
      const theirs = await session(
        addr,
        resp,
        mine.map((c) => c.args),
      );
      mine.forEach((c, i) => {
        let a = theirs[i];
        let b = c.ours;
        if (c.kind === 'info' || c.kind === 'docs') {
          const na = normalize(parse(a, 0)[0], c.kind);
          const nb = normalize(parse(b, 0)[0], c.kind);
          if (c.kind === 'info') {
            for (let j = 0; j < na.v.length; j++) if (normalize(na.v[j], 'info')) normalize(nb.v[j], 'info');
          } else
            for (let j = 1; j < na.v.length; j += 2) {
              normalize(na.v[j], 'docs');
              normalize(nb.v[j], 'docs');
            }
          a = JSON.stringify(na);
          b = JSON.stringify(nb);
        } else if (c.kind === 'infoall') {
          const [na, nb] = [a, b].map((x) => {
            const t = parse(x, 0)[0];
            t.v = t.v
              .filter((e) => !sabreOnly(e.v[0].v))
              .map((e) => normalize(e, 'info'))
              .sort((p, q) => (p.v[0].v < q.v[0].v ? -1 : 1));
            return JSON.stringify(t);
          });
          a = na;
          b = nb;
        } else if (c.kind === 'docsall') {
          const [na, nb] = [a, b].map((x) => {
            const t = parse(x, 0)[0];
            const ps = [];
            for (let j = 0; j < t.v.length; j += 2) if (!sabreOnly(t.v[j].v)) ps.push([t.v[j], normalize(t.v[j + 1], 'docs')]);
            t.v = ps.sort((p, q) => (p[0].v < q[0].v ? -1 : 1)).flat();
            return JSON.stringify(t);
          });
          a = na;
          b = nb;
        } else if (c.kind === 'set') {
          a = JSON.stringify(
            parse(a, 0)[0]
              .v.map((x) => x.v)
              .sort(),
          );
          b = JSON.stringify(
            parse(b, 0)[0]
              .v.map((x) => x.v)
              .filter((n) => !sabreOnly(n))
              .sort(),
          );
        } else {
          a = a.toString('latin1');
          b = b.toString('latin1');
        }
        if (a !== b) {
          failures++;
          let d = 0;
          while (d < a.length && a[d] === b[d]) d++;
          const from = Math.max(0, d - 150);
          if (failures <= 25)
            log(
              `MISMATCH resp${resp} ${c.args.join(' ').slice(0, 80)}\n  redis: ${a.slice(from, d + 150)}\n  sabre: ${b.slice(from, d + 150)}`,
            );
        }
      });
    }
    return { cases: cases.length, failures };
  } finally {
    if (child) {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const T = { ...(await import('../dist/commands/table.js')), ...(await import('../dist/wire/error-text.js')) };
  const { cases, failures } = await compareWithRedis(T, process.argv[2]);
  console.log(`${cases} cases, ${failures} mismatches`);
  process.exitCode = failures ? 1 : 0;
}
