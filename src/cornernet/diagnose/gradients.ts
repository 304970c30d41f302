/**
 * Which term drives learning: the norm of each term's gradient (its contribution to the total,
 * weighted and normalised as the convention composes it) with respect to the network outputs it
 * reads, per stack. Analytic, from the heatmap scan (heatScan.ts, squared per-pixel gradients) and
 * the report's objects (tags, offsets, sizes with their targets). Diagnostic figures: the loss
 * values themselves are the engines'.
 */
import type { LossReport, ObjectReport, TermGradient } from '../model/report';
import type { HeatScan } from './heatScan';

const relu1 = (d: number) => (Math.abs(d) < 1 ? Math.sign(d) : 0);
const sl1 = (d: number) => (Math.abs(d) < 1 ? d : Math.sign(d));
const sq = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + (x === x ? x * x : 0), 0));

export function gradientNorms(report: LossReport, scan: HeatScan | undefined): TermGradient[] {
  const out: TermGradient[] = [];
  const S = report.nstack;
  const conv = report.convention;
  const w = report.weights;
  const per = (s: number) => report.objects.filter((o) => o.stack === s);
  const byImage = (objs: ObjectReport[]) => {
    const m = new Map<number, ObjectReport[]>();
    for (const o of objs) m.set(o.image, [...(m.get(o.image) ?? []), o]);
    return m;
  };
  // ---- heat: d(total)/d(prediction) over every pixel.
  if (scan?.gradSq) {
    for (const h of scan.heads) {
      scan.gradSq[h].forEach((g2, s) => {
        let scale: number;
        let term: string;
        const N = h === 'tl' ? report.numPositives.tl : report.numPositives.br;
        switch (conv) {
          case 'cornernet':
            scale = 1 / (N === 0 ? 1 : Math.fround(N)) / S;
            term = 'focal_loss';
            break;
          case 'mmdet-cornernet':
            scale = ((w.det ?? 1) / Math.max(1, N)) / 2;
            term = 'det_loss';
            break;
          case 'centernet':
            scale = ((w.hm ?? 1) / (N === 0 ? 1 : Math.fround(N))) / S;
            term = 'hm_loss';
            break;
          default:
            scale = (w.heatmap ?? 1) / Math.max(1, N);
            term = 'loss_center_heatmap';
        }
        out.push({ stack: s, term, wrt: `${report.heads === 'centers' ? 'center' : h} heatmap ${scan.kind === 'probabilities' ? 'probabilities' : 'logits'}`, norm: Math.sqrt(g2) * scale });
      });
    }
  }
  for (let s = 0; s < S; s++) {
    const objs = per(s);
    if (report.heads === 'corners') {
      // ---- pull and push, with respect to the corner embeddings (e = (t + r) / 2).
      const pull: number[] = [];
      const push: number[] = [];
      for (const list of byImage(objs).values()) {
        const n = list.length;
        const live = list.filter((o) => o.tlTag !== null && o.brTag !== null);
        if (!live.length) continue;
        const pullDiv = conv === 'cornernet' ? Math.fround(Math.fround(n) + Math.fround(1e-4)) : n;
        const pushDiv = conv === 'cornernet' ? Math.fround(Math.fround((n - 1) * n) + Math.fround(1e-4)) : n * (n - 1);
        for (const o of live) {
          const d = (o.tlTag! - o.brTag!) / pullDiv;
          pull.push(d, -d);
          if (n > 1 && pushDiv > 0) {
            let de = 0;
            for (const p of live) if (p !== o) de += 2 * relu1((p.mean ?? NaN) - (o.mean ?? NaN)) / pushDiv;
            push.push(de / 2, de / 2);
          }
        }
      }
      const tagScale = conv === 'cornernet' ? 1 / S : 1;
      out.push({ stack: s, term: 'pull_loss', wrt: 'embeddings at the corners', norm: sq(pull) * (w.pull ?? 0.1) * tagScale });
      out.push({ stack: s, term: 'push_loss', wrt: 'embeddings at the corners', norm: sq(push) * (w.push ?? 0.1) * tagScale });
      // ---- offsets: smooth-L1, with respect to the offsets at the corners.
      const off: number[] = [];
      for (const o of objs) {
        for (const [pred, target] of [[o.tlOffset, o.tlOffsetTarget], [o.brOffset, o.brOffsetTarget]] as const) {
          for (let k = 0; k < 2; k++) off.push(sl1((pred[k] ?? NaN) - (target[k] ?? NaN)));
        }
      }
      const objects = report.perImage.reduce((a, i) => a + i.objects, 0);
      const offScale = conv === 'cornernet' ? ((w.regr ?? 1) / Math.fround(Math.fround(objects) + Math.fround(1e-4))) / S : (w.off ?? 1) / Math.max(1, objects) / 2;
      out.push({ stack: s, term: conv === 'cornernet' ? 'regr_loss' : 'off_loss', wrt: 'offsets at the corners', norm: sq(off) * offScale });
    } else {
      // ---- sizes and center offsets: L1, with respect to the maps at the centers.
      const wh: number[] = [];
      const off: number[] = [];
      for (const o of objs) {
        for (let k = 0; k < 2; k++) {
          wh.push(Math.sign((o.size?.pred[k] ?? NaN) - (o.size?.target[k] ?? NaN)));
          off.push(Math.sign((o.tlOffset[k] ?? NaN) - (o.tlOffsetTarget[k] ?? NaN)));
        }
      }
      const n = objs.length;
      if (conv === 'centernet') {
        const div = Math.fround(2 * n + 1e-4);
        out.push({ stack: s, term: 'wh_loss', wrt: 'sizes at the centers', norm: (sq(wh) * (w.wh ?? 0.1)) / div / S });
        out.push({ stack: s, term: 'off_loss', wrt: 'offsets at the centers', norm: (sq(off) * (w.off ?? 1)) / div / S });
      } else {
        const div = 2 * Math.max(1, report.numPositives.tl);
        out.push({ stack: s, term: 'loss_wh', wrt: 'sizes at the centers', norm: (sq(wh) * (w.wh ?? 0.1)) / div });
        out.push({ stack: s, term: 'loss_offset', wrt: 'offsets at the centers', norm: (sq(off) * (w.offset ?? 1)) / div });
      }
    }
  }
  return out;
}
