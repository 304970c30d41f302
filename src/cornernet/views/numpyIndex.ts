/**
 * The Python that reads one heatmap pixel back from where the panel got it, for "Copy numpy index":
 * `np.load('/data/tl_heats.npy')[s, b, c, y, x]`, the npz member or safetensors tensor by its key,
 * or the notebook's (debuggee's) variable.
 */
import type { RoleReport } from '../model/report';

/** A Python string literal (single quotes, backslashes and quotes escaped). */
function pyString(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

export function numpyIndex(u: Pick<RoleReport, 'file' | 'key' | 'variable' | 'shape' | 'stacks'>, stack: number, image: number, cls: number, y: number, x: number): string {
  const safetensors = u.key !== undefined && /\.safetensors$/i.test(u.file);
  const arr =
    u.variable !== undefined
      ? u.variable
      : safetensors
        ? `safetensors.numpy.load_file(${pyString(u.file)})[${pyString(u.key!)}]`
        : u.key !== undefined
          ? `np.load(${pyString(u.file)})[${pyString(u.key)}]`
          : `np.load(${pyString(u.file)})`;
  const idx = [image, cls, y, x];
  // A stacked array [S, B, C, H, W] holds the stacks listed in `stacks`, in that order.
  if (u.shape.length === 5) idx.unshift(Math.max(0, u.stacks.indexOf(stack)));
  return `${arr}[${idx.join(', ')}]`;
}
