#!/usr/bin/env node
// Lists the commands and subcommands of Redis's COMMAND LIST that a server answers with "unknown
// command" / "unknown subcommand", and those of them real Redis knows: what Sabre still lacks.
// Each name is sent with enough placeholder arguments to pass its arity (from data/redis-commands.json);
// commands that would stop or take over the server are left out.
//
// usage: node scripts/unknown-commands.mjs REDIS_PORT SABRE_PORT   (both on 127.0.0.1; use throwaway servers)
import net from 'node:net';
import { readFileSync } from 'node:fs';

const [redisPort, sabrePort] = process.argv.slice(2).map(Number);
if (!redisPort || !sabrePort) {
  console.error('usage: node scripts/unknown-commands.mjs REDIS_PORT SABRE_PORT');
  process.exit(2);
}
const SKIP = new Set([
  'shutdown',
  'monitor',
  'sync',
  'psync',
  'debug',
  'failover',
  'replicaof',
  'slaveof',
  'quit',
  'reset',
  'subscribe',
  'psubscribe',
  'ssubscribe',
  'multi',
  'client|kill',
  'client|pause',
  'flushall',
  'flushdb',
  'save',
  'bgsave',
  'bgrewriteaof',
  'script|kill',
  'function|kill',
  'cluster|reset',
  'cluster|failover',
  'acl|save',
  'acl|load',
  'config|rewrite',
  'replconf',
  'wait',
]);
const table = JSON.parse(readFileSync(new URL('../data/redis-commands.json', import.meta.url), 'utf8'));
const arity = new Map(table.commands.map((c) => [c.name, c.arity]));

function encode(args) {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** The first reply line to `args` on a fresh connection. */
function ask(port, args) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) {
        s.destroy();
        resolve(got.slice(0, got.indexOf('\r\n')));
      }
    });
    s.on('error', () => resolve(''));
    s.setTimeout(2000, () => {
      s.destroy();
      resolve('');
    });
    s.write(encode(args));
  });
}

async function unknownOn(port) {
  const out = new Set();
  for (const name of [...arity.keys()].sort()) {
    if (SKIP.has(name) || (!name.includes('|') && table.commands.find((c) => c.name === name)?.subcommands.length)) continue;
    const args = name.split('|');
    while (args.length < Math.abs(arity.get(name))) args.push('x');
    if (/unknown (sub)?command/i.test(await ask(port, args))) out.add(name);
  }
  return out;
}

const redis = await unknownOn(redisPort);
const sabre = await unknownOn(sabrePort);
const missing = [...sabre].filter((n) => !redis.has(n));
console.log(missing.length ? missing.join('\n') : 'none');
