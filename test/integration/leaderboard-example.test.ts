import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const EXAMPLE = fileURLToPath(new URL('../../examples/leaderboard.mjs', import.meta.url));

describe('examples/leaderboard.mjs', () => {
  it('runs against a Sabre server it starts and keeps concurrent increments exact', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [EXAMPLE], { timeout: 30_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      );
    });
    expect(out).toContain('bob: { rank: 3, score: 1450 }');
    expect(out).toContain('carol after 800 concurrent +1: { rank: 1, score: 2630 }');
    expect(out).toContain('players on the board: 1005');
  });
});
