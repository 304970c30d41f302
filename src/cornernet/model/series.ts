/**
 * What a timeline marks on a series of losses over steps: spikes and the first non-finite value.
 * Pure and dependency-free: the engine (--each's table), the worker and the webview's chart share it.
 */
import type { Num } from './report';

/**
 * Spikes of a series: a finite value above the median of the (up to) `window` finite values
 * before it by more than `k` median absolute deviations and by at least `minRise` of the median.
 * Needs three values before it. Indices into `values`.
 */
export function findSpikes(values: readonly Num[], window = 5, k = 4, minRise = 0.25): number[] {
  const out: number[] = [];
  const median = (a: number[]) => {
    const s = [...a].sort((x, y) => x - y);
    const m = s.length >> 1;
    return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  };
  const prev: number[] = [];
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) return;
    if (prev.length >= 3) {
      const med = median(prev);
      const mad = median(prev.map((x) => Math.abs(x - med)));
      if (v - med > Math.max(k * mad, minRise * Math.abs(med), 1e-12)) out.push(i);
    }
    prev.push(v);
    if (prev.length > window) prev.shift();
  });
  return out;
}

/** The first point whose loss is not finite (index), or -1. */
export function firstNonFinite(points: readonly { total: Num; nonFinite?: boolean; terms?: Record<string, Num> }[]): number {
  return points.findIndex((p) => p.total === null || p.nonFinite === true);
}
