#!/usr/bin/env node
// A deliberately tiny RESP server (Map-backed; PING/SET/GET/INCR/MSET/DBSIZE/INFO) used only to
// validate the harness's Node-specific paths (--gc-trace parsing, CPU/RSS of a Node process)
// before Sabre runs:  SABRE_CMD='node native-bench/lib/toy-server.mjs {port}'. It is not Sabre.
import net from 'node:net';

const port = Number(process.argv[2]);
const db = new Map();

/** Execute one command (array of strings) and return its RESP reply. */
function execute([name = '', ...args]) {
  switch (name.toUpperCase()) {
    case 'PING':
      return '+PONG\r\n';
    case 'SET':
      db.set(args[0], args[1]);
      return '+OK\r\n';
    case 'GET': {
      const v = db.get(args[0]);
      return v === undefined ? '$-1\r\n' : `$${Buffer.byteLength(v)}\r\n${v}\r\n`;
    }
    case 'INCR': {
      const n = Number(db.get(args[0]) ?? 0) + 1;
      db.set(args[0], String(n));
      return `:${n}\r\n`;
    }
    case 'MSET':
      for (let i = 0; i + 1 < args.length; i += 2) db.set(args[i], args[i + 1]);
      return '+OK\r\n';
    case 'DBSIZE':
      return `:${db.size}\r\n`;
    case 'INFO': {
      const s = `# Memory\r\nused_memory:${process.memoryUsage().heapUsed}\r\n`;
      return `$${s.length}\r\n${s}\r\n`;
    }
    default:
      return `-ERR unknown command '${name}'\r\n`;
  }
}

/** Parse as many complete commands (multibulk or inline) as buf holds; returns [commands, rest]. */
function parse(buf) {
  const cmds = [];
  let pos = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', pos);
    if (eol < 0) break;
    if (buf[pos] !== 0x2a /* '*' */) {
      cmds.push(buf.toString('latin1', pos, eol).split(' '));
      pos = eol + 2;
      continue;
    }
    const n = Number(buf.toString('latin1', pos + 1, eol));
    const args = [];
    let p = eol + 2;
    for (let i = 0; i < n; i++) {
      const e = buf.indexOf('\r\n', p);
      if (e < 0) break;
      const len = Number(buf.toString('latin1', p + 1, e));
      if (e + 2 + len + 2 > buf.length) break;
      args.push(buf.toString('latin1', e + 2, e + 2 + len));
      p = e + 2 + len + 2;
    }
    if (args.length < n) break;
    cmds.push(args);
    pos = p;
  }
  return [cmds, buf.subarray(pos)];
}

net
  .createServer((sock) => {
    let pending = Buffer.alloc(0);
    sock.on('data', (d) => {
      const [cmds, rest] = parse(pending.length ? Buffer.concat([pending, d]) : d);
      pending = Buffer.from(rest);
      if (cmds.length) sock.write(cmds.map(execute).join(''), 'latin1');
    });
    sock.on('error', () => {});
  })
  .listen(port, '127.0.0.1');
