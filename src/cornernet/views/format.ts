/** The readable report the CLI prints without --json. */
import type { LossReport, Num } from '../model/report';
import { refLabel } from '../model/arrays';

const fmt = (x: Num, digits = 6): string => (x === null ? 'NaN/Inf' : x === 0 ? '0' : Math.abs(x) >= 1e-4 && Math.abs(x) < 1e6 ? x.toFixed(digits) : x.toExponential(digits - 1));
const pct = (x: Num): string => (x === null ? '-' : `${(100 * x).toFixed(1)}%`);

function table(header: string[], rows: string[][], alignLeft = 1): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    '  ' + cells.map((c, i) => (i < alignLeft ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)];
}

export function formatReport(r: LossReport): string {
  const out: string[] = [];
  const { batch, classes, height, width, maxObjects } = r.sizes;
  out.push(
    `CornerNet loss: ${r.nstack} stack${r.nstack > 1 ? 's' : ''}, batch ${batch}, ${classes} classes, ${height}x${width}, K ${maxObjects}; ${r.precision} inputs; weights pull ${r.weights.pull}, push ${r.weights.push}, regr ${r.weights.regr}`,
  );
  out.push('');
  out.push(`  total  ${fmt(r.total, 8)}`);
  out.push('');
  const terms = ['focal', 'pull', 'push', 'regr'] as const;
  const weightOf = { focal: 1, pull: r.weights.pull, push: r.weights.push, regr: r.weights.regr };
  out.push(
    ...table(
      ['term', 'unweighted', 'weight', 'weighted', `/ S = share of total`],
      terms.map((t) => [
        t,
        fmt(r.unweighted[t]),
        String(weightOf[t]),
        fmt(r.weighted[t]),
        `${fmt(r.contribution[t])} (${pct(r.total && r.contribution[t] !== null ? r.contribution[t]! / r.total : null)})`,
      ]),
    ),
  );
  out.push('');
  out.push(
    ...table(
      ['stack', 'focal tl', 'focal br', 'pull', 'push', 'regr tl', 'regr br', 'share of total'],
      r.perStack.map((s) => [String(s.stack), fmt(s.focalTl), fmt(s.focalBr), fmt(s.pull), fmt(s.push), fmt(s.regrTl), fmt(s.regrBr), fmt(s.total)]),
    ),
  );
  out.push('');
  out.push(
    ...table(
      ['image', 'objects', 'positives tl/br', 'focal', 'focal share', 'pull', 'push', 'regr', 'share of total'],
      r.perImage.map((i) => [
        String(i.image),
        String(i.objects),
        `${i.positives.tl}/${i.positives.br}`,
        fmt(i.focal),
        pct(i.focalShare),
        fmt(i.pull),
        fmt(i.push),
        fmt(i.regr),
        fmt(i.total),
      ]),
    ),
  );
  const classes_ = [...r.perClass].sort((a, b) => (b.focal ?? Infinity) - (a.focal ?? Infinity)).slice(0, 5);
  out.push('');
  out.push(`  classes with the largest focal loss (of ${r.perClass.length}):`);
  out.push(
    ...table(
      ['class', 'positives tl/br', 'focal tl', 'focal br', 'share'],
      classes_.map((c) => [String(c.class), `${c.positives.tl}/${c.positives.br}`, fmt(c.focalTl), fmt(c.focalBr), pct(c.focalShare)]),
    ),
  );
  if (r.topPixels.length) {
    out.push('');
    out.push('  pixels with the largest focal loss:');
    out.push(
      ...table(
        ['stack', 'corner', 'image', 'class', 'y', 'x', 'logit', 'p', 'target', 'loss'],
        r.topPixels.slice(0, 5).map((p) => [
          String(p.stack),
          p.corner,
          String(p.image),
          String(p.class),
          String(p.y),
          String(p.x),
          fmt(p.logit, 3),
          fmt(p.probability, 4),
          fmt(p.target, 4),
          fmt(p.loss),
        ]),
      ),
    );
  }
  out.push('');
  const dir = commonDir([...r.inputs.roles, ...r.inputs.unused].map((u) => u.file));
  const rel = (u: { file: string; key?: string }) => refLabel({ file: dir ? u.file.slice(dir.length) : u.file, key: u.key });
  out.push(dir ? `  inputs (in ${dir}):` : '  inputs:');
  for (const u of r.inputs.roles) {
    const extra = [u.form, u.purpose === 'check' ? 'checked against the gathered values' : '', u.origin !== 'name' ? `by ${u.origin}` : '', u.note ?? '']
      .filter(Boolean)
      .join(', ');
    out.push(`    ${u.role.padEnd(11)} ${rel(u)}  [${u.shape.join(', ')}] ${u.dtype}${extra ? `  (${extra})` : ''}`);
  }
  for (const u of r.inputs.unused) out.push(`    ${'(unused)'.padEnd(11)} ${rel(u)}  [${u.shape.join(', ')}] ${u.dtype}  (${u.reason})`);
  out.push('');
  if (r.warnings.length) {
    out.push(`  warnings (${r.warnings.length}):`);
    for (const w of r.warnings) out.push(`    [${w.code}] ${w.message}`);
  } else {
    out.push('  no warnings');
  }
  out.push('');
  const streamed = r.timings.heatmapReadMs !== undefined ? ` (heatmaps read during it: ${r.timings.heatmapReadMs.toFixed(1)} ms)` : '';
  out.push(`  read ${r.timings.readMs.toFixed(1)} ms, compute ${r.timings.computeMs.toFixed(1)} ms${streamed}`);
  return out.join('\n');
}

/** The longest folder prefix (ending in a separator) shared by all paths, or ''. */
function commonDir(files: string[]): string {
  if (!files.length) return '';
  let prefix = files[0]!.slice(0, Math.max(files[0]!.lastIndexOf('/'), files[0]!.lastIndexOf('\\')) + 1);
  for (const f of files) while (prefix && !f.startsWith(prefix)) prefix = prefix.slice(0, Math.max(prefix.lastIndexOf('/', prefix.length - 2), prefix.lastIndexOf('\\', prefix.length - 2)) + 1);
  return prefix;
}
