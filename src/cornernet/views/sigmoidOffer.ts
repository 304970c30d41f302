/** When the tensor viewer offers its sigmoid toggle (no imports: the webview uses it too). */

/**
 * Whether the viewer offers a sigmoid: a float array whose role is heatmap logits, or whose
 * finite values leave [0, 1] (probabilities never do).
 */
export function offersSigmoid(dtype: string, logits: boolean, stats: { min: number | null; max: number | null } | undefined): boolean {
  if (!/^(float|bfloat)/.test(dtype)) return false;
  if (logits) return true;
  return !!stats && stats.min !== null && stats.max !== null && (stats.min < 0 || stats.max > 1);
}
