/** Redis 7's multi-part AOF (appendonlydir + manifest): the files to replay, so Sabre can load what Redis 7.0 wrote. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RdbError } from './rdb-error.js';

/** One manifest line: a base (b), history (h) or incremental (i) file. */
export interface ManifestFile {
  name: string;
  seq: number;
  type: 'b' | 'h' | 'i';
}

/** Parses a manifest's `file <name> seq <n> type <b|h|i>` lines (key/value pairs in any order). */
export function parseAofManifest(text: string): ManifestFile[] {
  const out: ManifestFile[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const parts = line.trim().split(/\s+/);
    const kv = new Map<string, string>();
    for (let j = 0; j + 1 < parts.length; j += 2) kv.set(parts[j]!, parts[j + 1]!);
    const name = kv.get('file');
    const seq = Number(kv.get('seq'));
    const type = kv.get('type');
    if (!name || !Number.isInteger(seq) || (type !== 'b' && type !== 'h' && type !== 'i') || parts.length % 2 !== 0) {
      throw new RdbError('CORRUPT', `invalid AOF manifest line ${i + 1}: ${line}`);
    }
    out.push({ name, seq, type });
  }
  return out;
}

/** Paths to replay in order: the base file, then incremental files by sequence; history files are skipped. */
export function aofReplayOrder(dir: string, manifestName: string): string[] {
  const files = parseAofManifest(readFileSync(join(dir, manifestName), 'utf8'));
  const bases = files.filter((f) => f.type === 'b');
  if (bases.length > 1) throw new RdbError('CORRUPT', 'AOF manifest lists more than one base file');
  const incr = files.filter((f) => f.type === 'i').sort((a, b) => a.seq - b.seq);
  return [...bases, ...incr].map((f) => join(dir, f.name));
}
