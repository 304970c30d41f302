/**
 * The arrays the loss engine works on, already split per stack and gathered: what loading files,
 * a notebook kernel or a test produces, and all the engine needs. No I/O here.
 */
import type { DType } from '../../tensor/dtype';
import type { Corner } from './roles';
import type { Dims } from './arrays';

export type FloatArray = Float32Array | Float64Array;

export interface HeatStack {
  /** Logits [B,C,H,W] of one stack (a view into the input array). */
  logits: FloatArray;
  /** dtype of the input: float64 inputs get float64 clamp bounds; everything else float32's. */
  dtype: DType;
  /**
   * The heatmap follows mmdetection's rule (plain sigmoid, eps 1e-12), not `_sigmoid`'s clamp:
   * set on the views of mmdet batches (the loss itself is computed by loss/mmdet*.ts).
   */
  plain?: boolean;
}

export interface LossInputs {
  dims: Dims;
  heat: Record<Corner, HeatStack[]>;
  /** Embeddings gathered at the corner indices, per stack, [B*K]. */
  tag: Record<Corner, Float64Array[]>;
  /** Offsets gathered at the corner indices, per stack, [B*K*2] (x, y). */
  regr: Record<Corner, Float64Array[]>;
  /** Target heatmaps [B,C,H,W]. */
  gtHeat: Record<Corner, FloatArray>;
  /** Mask values [B*K] as numbers, and the stored dtype (bool and values other than 0/1 matter). */
  mask: Float64Array;
  maskDType: DType;
  /** Target offsets [B*K*2]. */
  gtRegr: Record<Corner, Float64Array>;
  /** Corner indices y*W+x [B*K], when given. */
  ind?: Partial<Record<Corner, Float64Array>>;
  /** Dense maps per stack when given ([B,1,H,W] tags, [B,2,H,W] offsets): for display. */
  tagMap?: Partial<Record<Corner, FloatArray[]>>;
  regrMap?: Partial<Record<Corner, FloatArray[]>>;
  /** Center conventions: sizes (w, h) gathered at the centers per stack [B*K*2], their targets, the maps. */
  sizes?: { pred: Float64Array[]; target: Float64Array; map: FloatArray[] };
  /**
   * The heatmaps (heat, gtHeat) were not read: they are empty arrays, and the focal pass read them
   * from the files (stream.ts). Only computeLoss with streamed sums accepts such inputs.
   */
  heatOnDisk?: true;
}

/** `out[b,k,c] = map[b, c, ind[b,k] // W, ind[b,k] % W]`, as `_tranpose_and_gather_feat`. */
export function gatherMap(map: FloatArray, ind: Float64Array, B: number, channels: number, HW: number, K: number): Float64Array {
  const out = new Float64Array(B * K * channels);
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) {
      const p = ind[b * K + k]!;
      for (let c = 0; c < channels; c++) {
        out[(b * K + k) * channels + c] = map[(b * channels + c) * HW + p]!;
      }
    }
  }
  return out;
}
