/** AOF rewrite: the fewest commands that recreate each entry, written to a temp file that replaces the AOF atomically. */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { RdbEntry, StreamId, StreamValue } from './rdb-types.js';
import { encodeCommand } from '../wire/resp-command.js';
import { asciiBytes, formatScore } from './int-string.js';
import { commitTempFile, discardTempFile, tempPathFor } from './durable-file.js';

/** Items per RPUSH/SADD/HSET/ZADD, as Redis's AOF_REWRITE_ITEMS_PER_CMD. */
const ITEMS_PER_COMMAND = 64;

const cmd = (name: string): Uint8Array => asciiBytes(name);

function batched<T>(items: readonly T[], head: Uint8Array[], spread: (item: T) => Uint8Array[]): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  for (let i = 0; i < items.length; i += ITEMS_PER_COMMAND) {
    out.push([...head, ...items.slice(i, i + ITEMS_PER_COMMAND).flatMap(spread)]);
  }
  return out;
}

/** The commands (argv lists) that recreate one entry in the selected database. */
export function commandsForEntry(e: RdbEntry): Uint8Array[][] {
  const { key, value } = e;
  let out: Uint8Array[][];
  switch (value.type) {
    case 'string':
      out = [[cmd('SET'), key, value.bytes]];
      break;
    case 'list':
      out = batched(value.items, [cmd('RPUSH'), key], (x) => [x]);
      break;
    case 'set':
      out = batched(value.members, [cmd('SADD'), key], (x) => [x]);
      break;
    case 'hash':
      out = batched(value.fields, [cmd('HSET'), key], ([f, v]) => [f, v]);
      break;
    case 'zset':
      out = batched(value.entries, [cmd('ZADD'), key], ([m, s]) => [asciiBytes(formatScore(s)), m]);
      break;
    case 'stream':
      out = streamCommands(key, value);
      break;
  }
  if (e.expireAtMs > 0) out.push([cmd('PEXPIREAT'), key, asciiBytes(String(e.expireAtMs))]);
  return out;
}

/**
 * Writes a rewritten AOF to a temp file beside `finalPath`, one entry at a time; commit() appends the
 * writes that arrived meanwhile and atomically replaces the AOF.
 */
export class AofRewriter {
  readonly tempPath: string;
  private fd: number;
  private db = -1;
  private buffered: Uint8Array[] = [];
  private bufferedBytes = 0;
  bytes = 0;

  constructor(readonly finalPath: string) {
    this.tempPath = tempPathFor(finalPath);
    this.fd = openSync(this.tempPath, 'w');
  }

  private push(bytes: Uint8Array): void {
    this.buffered.push(bytes);
    this.bufferedBytes += bytes.length;
    if (this.bufferedBytes >= 64 * 1024) this.flush();
  }

  private flush(): void {
    if (this.bufferedBytes === 0) return;
    const block = Buffer.concat(this.buffered, this.bufferedBytes);
    writeSync(this.fd, block);
    this.bytes += block.length;
    this.buffered = [];
    this.bufferedBytes = 0;
  }

  /** Appends a function library as Redis's rewrite does: FUNCTION LOAD with its code, before any key. */
  addFunction(code: Uint8Array): void {
    this.push(encodeCommand([cmd('FUNCTION'), cmd('LOAD'), code]));
  }

  /** Appends the commands recreating `e`, selecting its database when it changes. */
  add(e: RdbEntry): void {
    if (e.db !== this.db) {
      this.push(encodeCommand([cmd('SELECT'), asciiBytes(String(e.db))]));
      this.db = e.db;
    }
    for (const argv of commandsForEntry(e)) this.push(encodeCommand(argv));
  }

  /**
   * Appends `tail` (the AOF bytes written since the snapshot the entries came from, which begin with
   * their own SELECT), fsyncs and renames over the AOF.
   */
  commit(tail: Uint8Array): void {
    this.flush();
    if (tail.length > 0) {
      writeSync(this.fd, tail);
      this.bytes += tail.length;
    }
    commitTempFile(this.fd, this.tempPath, this.finalPath);
  }

  /** Gives up on the rewrite and removes the temp file; the current AOF stays as it is. */
  abort(): void {
    this.buffered = [];
    this.bufferedBytes = 0;
    try {
      closeSync(this.fd);
    } finally {
      discardTempFile(this.tempPath);
    }
  }
}

const idArg = (id: StreamId): Uint8Array => asciiBytes(`${id[0]}-${id[1]}`);

/** A stream as Redis rewrites one: XADDs (or an XADD trimmed away for an empty stream), XSETID, groups, consumers and pending entries. */
function streamCommands(key: Uint8Array, v: StreamValue): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  for (const e of v.entries) out.push([cmd('XADD'), key, idArg(e.id), ...e.fields]);
  if (v.entries.length === 0) out.push([cmd('XADD'), key, cmd('MAXLEN'), cmd('0'), idArg(v.lastId), cmd('x'), cmd('y')]);
  out.push([
    cmd('XSETID'),
    key,
    idArg(v.lastId),
    cmd('ENTRIESADDED'),
    asciiBytes(String(v.entriesAdded)),
    cmd('MAXDELETEDID'),
    idArg(v.maxDeletedId),
  ]);
  for (const g of v.groups) {
    out.push([cmd('XGROUP'), cmd('CREATE'), key, g.name, idArg(g.lastId), cmd('ENTRIESREAD'), asciiBytes(String(g.entriesRead))]);
    const owner = new Map<string, Uint8Array>();
    for (const c of g.consumers) {
      out.push([cmd('XGROUP'), cmd('CREATECONSUMER'), key, g.name, c.name]);
      for (const id of c.pel) owner.set(`${id[0]}-${id[1]}`, c.name);
    }
    for (const n of g.pel) {
      const c = owner.get(`${n.id[0]}-${n.id[1]}`);
      if (c === undefined) continue;
      out.push([
        cmd('XCLAIM'),
        key,
        g.name,
        c,
        cmd('0'),
        idArg(n.id),
        cmd('TIME'),
        asciiBytes(String(n.deliveryTime)),
        cmd('RETRYCOUNT'),
        asciiBytes(String(n.deliveryCount)),
        cmd('JUSTID'),
        cmd('FORCE'),
      ]);
    }
  }
  return out;
}
