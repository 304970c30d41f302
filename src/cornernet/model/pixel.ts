/**
 * The loss of one pixel, as `_sigmoid` and `_neg_loss` define it: shared by the engine, the
 * slices the panel draws and the webview (which computes probabilities and per-pixel losses from
 * the logits and targets it receives). Pure, dependency-free.
 */

/** Probability bounds of `_sigmoid`: float32 tensors clamp at float32 values, float64 at exact ones. */
export interface ClampBounds {
  lo: number;
  hi: number;
  /** Round the sigmoid to float32 before clamping, as torch does on float32 tensors. */
  round32: boolean;
  /**
   * mmdetection's rule instead of `_sigmoid`'s: a plain sigmoid (no clamp; lo/hi unused) and logs
   * of `p + 1e-12` and `1 - p + 1e-12`, every pixel weighted (no `gt < 1` filter).
   */
  plain?: boolean;
}

/** mmdetection's heatmap rule (GaussianFocalLoss on a plain sigmoid), for views. */
export function plainBounds(dtype: string): ClampBounds {
  return { lo: 0, hi: 1, round32: dtype !== 'float64', plain: true };
}

export const FLOAT32_BOUNDS: ClampBounds = { lo: Math.fround(1e-4), hi: Math.fround(1 - 1e-4), round32: true };
export const FLOAT64_BOUNDS: ClampBounds = { lo: 1e-4, hi: 1 - 1e-4, round32: false };

/** float64 inputs get float64 bounds; everything else float32's. */
export function boundsFor(dtype: string): ClampBounds {
  return dtype === 'float64' ? FLOAT64_BOUNDS : FLOAT32_BOUNDS;
}

/** `clamp(sigmoid(x), 1e-4, 1 - 1e-4)`; NaN stays NaN, +-Inf go to the bounds. */
export function clampedSigmoid(x: number, b: ClampBounds): number {
  if (b.plain && b.round32) return Math.fround(1 / Math.fround(1 + Math.fround(Math.exp(-x))));
  let p = 1 / (1 + Math.exp(-x));
  if (b.plain) return p;
  if (b.round32) p = Math.fround(p);
  return p < b.lo ? b.lo : p > b.hi ? b.hi : p;
}

/**
 * d(pixel loss)/d(logit), the learning signal the heatmap gets at this pixel (before the
 * normaliser): 0 where `_sigmoid`'s clamp holds p at a bound (the gradient stops there) and for
 * targets the original ignores (above 1, NaN); with `plain` (mmdetection) no clamp and the logs'
 * 1e-12. Negative: the step raises the logit (a positive under-predicted).
 */
export function pixelFocalGrad(x: number, g: number, b: ClampBounds): number {
  const s = 1 / (1 + Math.exp(-x));
  const eps = b.plain ? 1e-12 : 0;
  if (!b.plain) {
    const p = clampedSigmoid(x, b);
    if (p <= b.lo || p >= b.hi || x !== x) return x !== x ? NaN : 0;
    if (!(g <= 1)) return 0;
  }
  const p = s;
  let dLdp: number;
  if (g === 1) dLdp = -((1 - p) * (1 - p)) / (p + eps) + 2 * (1 - p) * Math.log(p + eps);
  else {
    const w = (1 - g) * (1 - g);
    dLdp = w * w * ((p * p) / (1 - p + eps) - 2 * p * Math.log(1 - p + eps));
  }
  return dLdp * p * (1 - p);
}

/**
 * A pixel's focal loss from its (clamped) probability and target: 0 for targets above 1 or NaN in
 * the original; with `plain` (mmdetection) logs of p + 1e-12 and every target weighted by (1-g)^4.
 */
export function pixelFocalLoss(p: number, g: number, plain = false): number {
  if (plain) {
    if (g === 1) return -Math.log(p + 1e-12) * (1 - p) * (1 - p);
    const w = (1 - g) * (1 - g);
    return -Math.log(1 - p + 1e-12) * p * p * w * w;
  }
  if (g === 1) return -Math.log(p) * (1 - p) * (1 - p);
  if (g < 1) {
    const w = (1 - g) * (1 - g);
    return -Math.log(1 - p) * p * p * w * w;
  }
  return 0;
}
