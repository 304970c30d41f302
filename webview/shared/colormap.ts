/** 256-entry colormap tables (RGBA bytes), built once from d3's matplotlib-derived ramps. */
import { interpolateMagma, interpolateViridis } from 'd3-scale-chromatic';
import type { Colormap } from '../../src/protocol/panel';

const cache = new Map<Colormap, Uint8ClampedArray>();

function parseColor(css: string): [number, number, number] {
  if (css.startsWith('#')) {
    const n = parseInt(css.slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  const m = /rgb\((\d+),\s*(\d+),\s*(\d+)\)/.exec(css);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
}

export function colormapTable(name: Colormap): Uint8ClampedArray {
  let t = cache.get(name);
  if (t) return t;
  t = new Uint8ClampedArray(256 * 4);
  for (let i = 0; i < 256; i++) {
    const x = i / 255;
    const [r, g, b] = name === 'gray' ? [i, i, i] : parseColor((name === 'magma' ? interpolateMagma : interpolateViridis)(x));
    t.set([r, g, b, 255], i * 4);
  }
  cache.set(name, t);
  return t;
}
