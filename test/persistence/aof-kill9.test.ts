/** With appendfsync always, every write acknowledged before a kill -9 is replayed (uses the built dist/). */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readAofFile } from '../../src/persistence/aof.js';

const built = fileURLToPath(new URL('../../dist/persistence/aof.js', import.meta.url));

// The child appends INCR-like commands as fast as it can and prints each sequence number only after flush().
const CHILD = `
import { AofAppender } from ${JSON.stringify(built)};
const aof = new AofAppender(process.argv[1], 'always');
const enc = new TextEncoder();
for (let i = 1; ; i++) {
  aof.append(0, [enc.encode('SET'), enc.encode('k' + i), enc.encode(String(i))]);
  aof.flush();
  process.stdout.write(i + '\\n');
}
`;

describe('AOF and kill -9', () => {
  it('replays every acknowledged write after the appender is killed mid-stream', async () => {
    expect(existsSync(built), 'run `npx tsc -p tsconfig.json` first').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'sabre-kill9-'));
    try {
      const path = join(dir, 'appendonly.aof');
      const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, path], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await new Promise<void>((resolve) => {
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.split('\n').length > 300) resolve();
        });
      });
      child.kill('SIGKILL');
      await exited;
      const acked = Math.max(
        ...out
          .split('\n')
          .filter((l) => l !== '')
          .map(Number),
      );
      const gen = readAofFile(path);
      const seen = new Set<string>();
      let r = gen.next();
      for (; !r.done; r = gen.next()) if (r.value.kind === 'command') seen.add(Buffer.from(r.value.argv[1]!).toString());
      expect(acked).toBeGreaterThanOrEqual(300);
      for (let i = 1; i <= acked; i++) expect(seen.has(`k${i}`), `acknowledged write ${i}`).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
