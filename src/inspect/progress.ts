/** A one-line progress report on stderr for long runs, redrawn at most 10 times a second (TTY only). */
export class Progress {
  private last = 0;
  private readonly started = performance.now();
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly what: string) {}

  /** Redraws with `done` of `total` (total 0: unknown) and a free-form detail. */
  update(done: number, total: number, detail = ''): void {
    if (!this.tty) return;
    const now = performance.now();
    if (now - this.last < 100) return;
    this.last = now;
    const rate = Math.round(done / ((now - this.started) / 1000 || 1));
    let bar = '';
    if (total > 0) {
      const f = Math.min(1, done / total);
      const width = 24;
      bar = `[${'#'.repeat(Math.round(f * width)).padEnd(width, '.')}] ${(f * 100).toFixed(0).padStart(3)}% `;
    }
    process.stderr.write(`\r${this.what} ${bar}${done.toLocaleString('en')} (${rate.toLocaleString('en')}/s) ${detail}\x1b[K`);
  }

  /** Clears the line. */
  done(): void {
    if (this.tty) process.stderr.write('\r\x1b[K');
  }
}
