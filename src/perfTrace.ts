/**
 * Where the time of one "Compute CornerNet Loss" goes, on the extension host: named instants from
 * the command to the first planes posted to the panel, logged as one line once the panel has its
 * first heatmaps and thumbnails (nothing when it failed). Wall-clock instants (Date.now) so that they can be
 * set against the webview's own perf metrics.
 */
import { log } from './log';

export class RunTrace {
  private readonly marks: [string, number][] = [];
  private logged = false;

  constructor(readonly label = 'compute') {
    this.mark('command');
  }

  mark(name: string): void {
    if (!this.logged && !this.marks.some(([n]) => n === name)) this.marks.push([name, Date.now()]);
  }

  has(name: string): boolean {
    return this.marks.some(([n]) => n === name);
  }

  /** The instants, in ms from the command. */
  get figures(): Record<string, number> {
    const t0 = this.marks[0]![1];
    return Object.fromEntries(this.marks.map(([n, t]) => [n, t - t0]));
  }

  /** Logs the line (once); `extra`: figures measured elsewhere (the worker's read and compute). */
  flush(extra = ''): void {
    if (this.logged) return;
    this.logged = true;
    const t0 = this.marks[0]![1];
    log().info(`timings of ${this.label} (ms from the command, at ${new Date(t0).toISOString()}): ${this.marks.map(([n, t]) => `${n} ${t - t0}`).join(', ')}${extra ? `; ${extra}` : ''}`);
  }
}
