/**
 * A diverging heatmap for differences (b - a): d3's RdBu reversed (blue below zero, white at zero,
 * red above), symmetric around zero, NaN transparent. Canvas2D, native resolution scaled up.
 */
import { interpolateRdBu } from 'd3-scale-chromatic';

let lut: Uint8ClampedArray | undefined;

function parse(css: string): [number, number, number] {
  const m = /rgb\((\d+),\s*(\d+),\s*(\d+)\)/.exec(css);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3])];
  const n = parseInt(css.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** 256 RGBA entries: index 0 is -max (blue), 128 about zero (white), 255 +max (red). */
export function divergingTable(): Uint8ClampedArray {
  if (lut) return lut;
  lut = new Uint8ClampedArray(256 * 4);
  for (let i = 0; i < 256; i++) lut.set([...parse(interpolateRdBu(1 - i / 255)), 255], i * 4);
  return lut;
}

export function drawDiverging(canvas: HTMLCanvasElement, data: Float32Array, width: number, height: number, maxAbs: number, scale: number): void {
  const t = divergingTable();
  const scratch = document.createElement('canvas');
  scratch.width = width;
  scratch.height = height;
  const sctx = scratch.getContext('2d')!;
  const img = sctx.createImageData(width, height);
  const span = maxAbs > 0 ? 127.5 / maxAbs : 0;
  for (let i = 0; i < width * height; i++) {
    const v = data[i]!;
    if (v !== v) continue;
    let k = Math.round(127.5 + v * span);
    k = k < 0 ? 0 : k > 255 ? 255 : k;
    img.data.set(t.subarray(k * 4, k * 4 + 4), i * 4);
  }
  sctx.putImageData(img, 0, 0);
  canvas.width = width * scale;
  canvas.height = height * scale;
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(scratch, 0, 0, canvas.width, canvas.height);
}

export function drawDivergingBar(canvas: HTMLCanvasElement, width = 160, height = 10): void {
  const t = divergingTable();
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(width, height);
  for (let x = 0; x < width; x++) {
    const k = Math.round((x / (width - 1)) * 255);
    for (let y = 0; y < height; y++) img.data.set(t.subarray(k * 4, k * 4 + 4), (y * width + x) * 4);
  }
  ctx.putImageData(img, 0, 0);
}
