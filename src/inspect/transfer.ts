/**
 * `sabre inspect export|import`: keys as JSON lines, type-preserving through DUMP/RESTORE payloads
 * (the format Redis and Sabre share), with absolute expiry times so TTLs survive the trip.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { InspectError, scanKeys } from './connect.js';
import { Progress } from './progress.js';

/** One exported key: `key` when it is valid UTF-8, else `key64`; `expireAt` in Unix ms or null. */
export interface ExportLine {
  key?: string;
  key64?: string;
  type: string;
  expireAt: number | null;
  dump: string;
}

/** The key as JSON carries it, exactly (text when it round-trips as UTF-8). */
function keyField(k: Buffer): Pick<ExportLine, 'key' | 'key64'> {
  const text = k.toString('utf8');
  return Buffer.from(text, 'utf8').equals(k) ? { key: text } : { key64: k.toString('base64') };
}

/** Writes every key matching `pattern` to `out`; returns how many. */
export async function exportKeys(r: Redis, pattern: string, out: Writable): Promise<number> {
  const total = pattern === '*' ? Number(await r.dbsize()) : 0;
  const progress = new Progress('export');
  let n = 0;
  let bytes = 0;
  for await (const keys of scanKeys(r, pattern, 500)) {
    const p = r.pipeline();
    for (const k of keys) p.dumpBuffer(k).type(k).pttl(k);
    const res = (await p.exec()) ?? [];
    const now = Date.now();
    let chunk = '';
    keys.forEach((k, i) => {
      const [[, dump], [, type], [, pttl]] = [res[3 * i]!, res[3 * i + 1]!, res[3 * i + 2]!];
      if (dump === null || type === 'none') return; // deleted or expired since SCAN saw it
      const ttl = Number(pttl);
      const line: ExportLine = {
        ...keyField(k),
        type: String(type),
        expireAt: ttl >= 0 ? now + ttl : null,
        dump: (dump as Buffer).toString('base64'),
      };
      chunk += `${JSON.stringify(line)}\n`;
      n++;
    });
    bytes += chunk.length;
    if (!out.write(chunk)) await new Promise((res) => out.once('drain', res));
    progress.update(n, total, `${(bytes / 1048576).toFixed(1)} MB`);
  }
  progress.done();
  return n;
}

/** What an import did. */
export interface ImportResult {
  restored: number;
  expired: number;
  existing: number;
}

/**
 * Restores the keys in `input` (export's JSON lines). Keys that already exist are left alone and
 * counted unless `replace`; keys whose expiry passed meanwhile are skipped and counted.
 */
export async function importKeys(r: Redis, input: Readable, replace: boolean, sizeHint = 0): Promise<ImportResult> {
  const progress = new Progress('import');
  const result: ImportResult = { restored: 0, expired: 0, existing: 0 };
  let p = r.pipeline();
  let queued = 0;
  let lineNo = 0;
  let bytes = 0;
  const flush = async (): Promise<void> => {
    for (const [err] of (await p.exec()) ?? []) {
      if (err === null) result.restored++;
      else if (/BUSYKEY/.test(err.message)) result.existing++;
      else throw new InspectError(`RESTORE failed: ${err.message}`);
    }
    p = r.pipeline();
    queued = 0;
  };
  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    lineNo++;
    bytes += text.length + 1;
    if (text.trim() === '') continue;
    let line: ExportLine;
    try {
      line = JSON.parse(text) as ExportLine;
    } catch {
      throw new InspectError(`line ${lineNo}: not JSON`);
    }
    const key =
      line.key !== undefined ? Buffer.from(line.key, 'utf8') : line.key64 !== undefined ? Buffer.from(line.key64, 'base64') : null;
    if (key === null || typeof line.dump !== 'string') throw new InspectError(`line ${lineNo}: expected {key|key64, dump, expireAt}`);
    if (line.expireAt !== null && line.expireAt <= Date.now()) {
      result.expired++;
      continue;
    }
    const args: (string | number | Buffer)[] = [key, line.expireAt ?? 0, Buffer.from(line.dump, 'base64')];
    if (line.expireAt !== null) args.push('ABSTTL');
    if (replace) args.push('REPLACE');
    p.call('RESTORE', ...args);
    if (++queued === 500) await flush();
    progress.update(
      result.restored + result.existing + result.expired + queued,
      0,
      sizeHint > 0 ? `${((100 * bytes) / sizeHint).toFixed(0)}% of the file` : '',
    );
  }
  if (queued > 0) await flush();
  progress.done();
  return result;
}
