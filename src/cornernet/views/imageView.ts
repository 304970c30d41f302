/**
 * One image of a batch whose heatmaps stayed on disk (stream.ts): the LossInputs of that image alone
 * (B = 1), each heatmap read from its file on first use, into buffers reused from image to image.
 * What the panels draw (slices.ts, decode.ts, matching.ts) is computed on it with image 0, so the
 * extension's worker never holds the batch's heatmaps: a stack of one corner type for one image is
 * C*H*W values (5 MB in the realistic case) against the batch's 129 MB, whose fresh pages alone
 * cost hundreds of milliseconds on a VM.
 */
import * as fs from 'node:fs';
import { TensorReadError } from '../../tensor/errors';
import { readFullySync } from '../../tensor/source';
import type { FloatArray, HeatStack, LossInputs } from '../model/batch';
import { CORNERS, type Corner } from '../model/roles';
import type { HeatLocation, StreamPlan } from '../focal/stream';

/**
 * A property read on first access, then a plain value (the loops of slices.ts index it per pixel).
 * A read that fails leaves the getter, so the next access tries again.
 */
function lazy<T extends object>(target: T, key: PropertyKey, load: () => FloatArray): void {
  Object.defineProperty(target, key, {
    enumerable: true,
    configurable: true,
    get: () => {
      const value = load();
      Object.defineProperty(target, key, { value, enumerable: true, writable: false, configurable: false });
      return value;
    },
  });
}

function stampOf(st: fs.Stats): string {
  return `${st.size}:${st.mtimeMs}:${st.ino}`;
}

export class ImageHeatReader {
  private current = -1;
  private view: LossInputs | undefined;
  /** Per heatmap (corner and stack, or target), the buffer and the image it holds. */
  private readonly loaded = new Map<string, { data: FloatArray; image: number }>();
  private readonly fds = new Map<string, number>();

  /** Size and modification time of each heatmap file when the loss was computed. */
  private readonly stamps = new Map<string, string>();

  constructor(
    private readonly inputs: LossInputs,
    private readonly plan: StreamPlan,
  ) {
    for (const job of plan.jobs) {
      for (const loc of [job.gt, ...job.logits]) {
        if (this.stamps.has(loc.path)) continue;
        try {
          this.stamps.set(loc.path, stampOf(fs.statSync(loc.path)));
        } catch {
          this.stamps.set(loc.path, 'missing'); // the first read says what is wrong
        }
      }
    }
  }

  /** Image b is the one `imageInputs` holds (its heatmaps read, or to be read on first touch). */
  holds(b: number): boolean {
    return b === this.current && this.view !== undefined;
  }

  /** LossInputs of image b (B = 1): everything sliced, heatmaps read when first touched. */
  imageInputs(b: number): LossInputs {
    if (b === this.current && this.view) return this.view;
    this.view = this.imageView(b);
    this.current = b;
    return this.view;
  }

  /** Image b's view: small arrays sliced, heatmaps read on first touch into the shared buffers. */
  private imageView(b: number): LossInputs {
    const { B, C, H, W, K } = this.inputs.dims;
    if (!(Number.isInteger(b) && b >= 0 && b < B)) throw new RangeError(`no image ${b} (B=${B})`);
    const HW = H * W;
    const i = this.inputs;
    const per = (a: Float64Array, n: number) => a.subarray(b * n, (b + 1) * n);
    const heat = {} as Record<Corner, HeatStack[]>;
    const gtHeat = {} as Record<Corner, FloatArray>;
    CORNERS.forEach((corner, job) => {
      const j = this.plan.jobs[job]!;
      heat[corner] = i.heat[corner].map((h, s) => {
        const stack = { dtype: h.dtype } as HeatStack;
        lazy(stack, 'logits', () => this.read(`${corner}:${s}`, j.logits[s]!, b, C * HW));
        return stack;
      });
      lazy(gtHeat, corner, () => this.read(`gt_${corner}`, j.gt, b, C * HW));
    });
    const mapsOf = (maps: Partial<Record<Corner, FloatArray[]>> | undefined, ch: number) => {
      if (!maps) return undefined;
      const out: Partial<Record<Corner, FloatArray[]>> = {};
      for (const c of CORNERS) if (maps[c]) out[c] = maps[c]!.map((m) => m.subarray(b * ch * HW, (b + 1) * ch * HW));
      return out;
    };
    const ind = i.ind ? Object.fromEntries(CORNERS.filter((c) => i.ind![c]).map((c) => [c, per(i.ind![c]!, K)])) : undefined;
    const tagMap = mapsOf(i.tagMap, 1);
    const regrMap = mapsOf(i.regrMap, 2);
    return {
      dims: { ...i.dims, B: 1 },
      heat,
      gtHeat,
      tag: { tl: i.tag.tl.map((t) => per(t, K)), br: i.tag.br.map((t) => per(t, K)) },
      regr: { tl: i.regr.tl.map((r) => per(r, 2 * K)), br: i.regr.br.map((r) => per(r, 2 * K)) },
      mask: per(i.mask, K),
      maskDType: i.maskDType,
      gtRegr: { tl: per(i.gtRegr.tl, 2 * K), br: per(i.gtRegr.br, 2 * K) },
      ...(ind ? { ind } : {}),
      ...(tagMap ? { tagMap } : {}),
      ...(regrMap ? { regrMap } : {}),
    };
  }

  /**
   * LossInputs of one plane, class `cls` of image b (B = 1, C = 1: the plane is class 0 there): its
   * heatmaps only, read now (H*W values each, not the image's C*H*W); what a slice of an image
   * other than the current one needs once its peaks are known. The rest as `imageInputs(b)`.
   */
  planeInputs(b: number, cls: number): LossInputs {
    const { C, H, W } = this.inputs.dims;
    if (!(Number.isInteger(cls) && cls >= 0 && cls < C)) throw new RangeError(`no class ${cls} (C=${C})`);
    const whole = this.imageView(b);
    const HW = H * W;
    // Image b, class cls is "image" b * C + cls of planes of H*W values.
    const at = b * C + cls;
    const heat = {} as Record<Corner, HeatStack[]>;
    const gtHeat = {} as Record<Corner, FloatArray>;
    CORNERS.forEach((corner, job) => {
      const j = this.plan.jobs[job]!;
      heat[corner] = this.inputs.heat[corner].map((h, s) => ({ dtype: h.dtype, logits: this.read(`plane:${corner}:${s}`, j.logits[s]!, at, HW) }));
      gtHeat[corner] = this.read(`plane:gt_${corner}`, j.gt, at, HW);
    });
    return { ...whole, dims: { ...whole.dims, C: 1 }, heat, gtHeat };
  }

  /** Image b's n values of one heatmap, from its file (a TensorReadError names the file). */
  private read(key: string, loc: HeatLocation, b: number, n: number): FloatArray {
    let entry = this.loaded.get(key);
    if (entry && entry.image === b) return entry.data;
    if (!entry) {
      entry = { data: loc.float64 ? new Float64Array(n) : new Float32Array(n), image: -1 };
      this.loaded.set(key, entry);
    }
    const size = loc.float64 ? 8 : 4;
    const bytes = new Uint8Array(entry.data.buffer, entry.data.byteOffset, n * size);
    const position = loc.offset + b * n * size;
    try {
      let fd = this.fds.get(loc.path);
      if (fd === undefined) {
        fd = fs.openSync(loc.path, 'r');
        this.fds.set(loc.path, fd);
      }
      // A file rewritten since the computation would show values the report is not about.
      if (stampOf(fs.fstatSync(fd)) !== this.stamps.get(loc.path)) {
        throw new TensorReadError('io', loc.label, 'the file changed since the loss was computed; compute again');
      }
      const done = readFullySync(fd, bytes, position);
      if (done < bytes.length) throw new TensorReadError('truncated', loc.label, `the file changed since the loss was computed (got ${done} of ${bytes.length} bytes at ${position}); compute again`);
    } catch (e) {
      entry.image = -1;
      if (e instanceof TensorReadError) throw e;
      throw new TensorReadError('io', loc.label, e instanceof Error ? e.message : String(e));
    }
    entry.image = b;
    return entry.data;
  }

  close(): void {
    for (const fd of this.fds.values()) {
      try {
        fs.closeSync(fd);
      } catch {
        // already closed
      }
    }
    this.fds.clear();
    this.loaded.clear();
    this.view = undefined;
    this.current = -1;
  }
}
