/**
 * Canvas2D heatmaps: a Float32 plane through a 256-entry colormap into ImageData at native
 * resolution, scaled up without smoothing, markers on top. Also colorbars and pixel checksums.
 */
import type { Colormap } from '../../src/protocol/panel';
import { colormapTable } from './colormap';

export interface Marker {
  x: number;
  y: number;
  /** Boxes ('target-box', 'pred-box') run from (x, y) to (x2, y2), in map units (a pixel i spans [i, i + 1)). */
  /** 'focus': the pixel a finding points at (a square around it). */
  kind: 'positive' | 'peak' | 'target-box' | 'pred-box' | 'focus';
  x2?: number;
  y2?: number;
  label?: string;
}

export interface HeatmapSpec extends PlaneImage {
  /** Display pixels per data pixel. */
  scale: number;
  markers?: Marker[];
  colors: { positive: string; peak: string };
}

/** The value range of a plane through a colour table, at the plane's own resolution. */
export interface PlaneImage {
  data: Float32Array;
  width: number;
  height: number;
  min: number;
  max: number;
  colormap: Colormap;
  /** A 256-entry RGBA table instead of the colormap's. */
  lut?: Uint8ClampedArray;
}

/** Colours a plane, one canvas pixel per value: what the views then scale (nearest neighbour). */
export function paintSource(img: PlaneImage, into: HTMLCanvasElement = document.createElement('canvas')): HTMLCanvasElement {
  const { data, width, height, min, max } = img;
  const lut = img.lut ?? colormapTable(img.colormap);
  into.width = width;
  into.height = height;
  const sctx = into.getContext('2d')!;
  const out = sctx.createImageData(width, height);
  const px = out.data;
  const span = max > min ? 255 / (max - min) : 0;
  for (let i = 0; i < width * height; i++) {
    const v = data[i]!;
    if (v - v !== 0) {
      // NaN (magenta) and Inf (pink): colours no colormap has, so that they show and can be found.
      px[i * 4] = 255;
      px[i * 4 + 1] = v !== v ? 0 : 140;
      px[i * 4 + 2] = 255;
      px[i * 4 + 3] = 255;
      continue;
    }
    let k = Math.round((v - min) * span);
    k = k < 0 ? 0 : k > 255 ? 255 : k;
    px[i * 4] = lut[k * 4]!;
    px[i * 4 + 1] = lut[k * 4 + 1]!;
    px[i * 4 + 2] = lut[k * 4 + 2]!;
    px[i * 4 + 3] = 255;
  }
  sctx.putImageData(out, 0, 0);
  return into;
}

const scratch = document.createElement('canvas');

export function drawHeatmap(canvas: HTMLCanvasElement, spec: HeatmapSpec): void {
  const { width, height, scale } = spec;
  paintSource(spec, scratch);
  canvas.width = width * scale;
  canvas.height = height * scale;
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(scratch, 0, 0, canvas.width, canvas.height);
  for (const m of spec.markers ?? []) drawMarker(ctx, m, scale, spec.colors);
}

function drawMarker(ctx: CanvasRenderingContext2D, m: Marker, scale: number, colors: HeatmapSpec['colors']): void {
  const cx = (m.x + 0.5) * scale;
  const cy = (m.y + 0.5) * scale;
  const r = Math.max(3, scale * 0.9);
  ctx.lineWidth = Math.max(1, scale / 6);
  if (m.kind === 'focus') {
    ctx.strokeStyle = '#ff2bd6';
    ctx.lineWidth = Math.max(2, scale / 4);
    const half = Math.max(4, scale * 1.6);
    ctx.strokeRect(cx - half, cy - half, 2 * half, 2 * half);
    return;
  }
  if (m.kind === 'target-box' || m.kind === 'pred-box') {
    ctx.strokeStyle = m.kind === 'target-box' ? colors.positive : colors.peak;
    ctx.setLineDash(m.kind === 'pred-box' ? [Math.max(3, scale), Math.max(2, scale / 2)] : []);
    ctx.strokeRect(m.x * scale, m.y * scale, ((m.x2 ?? m.x) - m.x) * scale, ((m.y2 ?? m.y) - m.y) * scale);
    ctx.setLineDash([]);
    return;
  }
  if (m.kind === 'positive') {
    ctx.strokeStyle = colors.positive;
    ctx.beginPath();
    ctx.arc(cx, cy, r, 0, 2 * Math.PI);
    ctx.stroke();
  } else {
    ctx.strokeStyle = colors.peak;
    ctx.beginPath();
    ctx.moveTo(cx - r, cy);
    ctx.lineTo(cx + r, cy);
    ctx.moveTo(cx, cy - r);
    ctx.lineTo(cx, cy + r);
    ctx.stroke();
  }
}

export function drawColorbar(canvas: HTMLCanvasElement, colormap: Colormap, width = 160, height = 10): void {
  const lut = colormapTable(colormap);
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(width, height);
  for (let x = 0; x < width; x++) {
    const k = Math.round((x / (width - 1)) * 255);
    for (let y = 0; y < height; y++) img.data.set(lut.subarray(k * 4, k * 4 + 4), (y * width + x) * 4);
  }
  ctx.putImageData(img, 0, 0);
}

/** FNV-1a over the canvas pixels, and whether it holds more than one colour. */
export function canvasDigest(canvas: HTMLCanvasElement): { checksum: string; nonBlank: boolean } {
  if (!canvas.width || !canvas.height) return { checksum: '0', nonBlank: false };
  const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
  let h = 0x811c9dc5;
  let nonBlank = false;
  for (let i = 0; i < data.length; i++) {
    h ^= data[i]!;
    h = Math.imul(h, 0x01000193);
    if (!nonBlank && data[i] !== data[i & 3]) nonBlank = true;
  }
  return { checksum: (h >>> 0).toString(16).padStart(8, '0'), nonBlank };
}
