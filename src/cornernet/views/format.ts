/** The readable report the CLI prints without --json. */
import type { LossReport, Num } from '../model/report';
import { refLabel } from '../model/arrays';
import { CONVENTIONS } from '../model/conventions';
import type { FindingPlace } from '../model/findings';
import { classLabel } from '../model/classNames';

function fmtPlace(p: FindingPlace, names?: readonly string[]): string {
  return [p.input, p.stack !== undefined ? `stack ${p.stack}` : '', p.image !== undefined ? `image ${p.image}` : '', p.class !== undefined ? `class ${classLabel(names, p.class)}` : '', p.head ?? '', p.y !== undefined ? `y ${p.y}` : '', p.x !== undefined ? `x ${p.x}` : '', p.object !== undefined ? `object ${p.object}` : '']
    .filter(Boolean)
    .join(', ');
}

const fmt = (x: Num, digits = 6): string => (x === null ? 'NaN/Inf' : x === 0 ? '0' : Math.abs(x) >= 1e-4 && Math.abs(x) < 1e6 ? x.toFixed(digits) : x.toExponential(digits - 1));
const pct = (x: Num): string => (x === null ? '-' : `${(100 * x).toFixed(1)}%`);

function table(header: string[], rows: string[][], alignLeft = 1): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    '  ' + cells.map((c, i) => (i < alignLeft ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)];
}

/** The findings as the CLI prints them (`--findings`): most important first, evidence places and advice. */
export function formatFindings(r: LossReport): string {
  const fs = r.findings ?? [];
  if (!fs.length) return '  findings: none (nothing looks wrong with this batch)';
  const out = [`  findings (${fs.length}), most important first:`];
  for (const f of fs) {
    out.push(`    [${f.code}] ${f.severity}: ${f.title}`);
    const where = f.evidence.where.slice(0, 5).map((p) => fmtPlace(p, r.classNames)).filter(Boolean);
    if (where.length) out.push(`      where: ${where.join('; ')}${f.evidence.where.length > 5 ? `; ... (${f.evidence.where.length} places)` : ''}`);
    out.push(`      advice: ${f.advice}`);
  }
  return out.join('\n');
}

export function formatReport(r: LossReport, options: { findingsFirst?: boolean } = {}): string {
  if (options.findingsFirst) return `${formatFindings(r)}\n\n${formatReport(r)}`;
  if (r.convention !== 'cornernet') return formatDenseReport(r);
  const out: string[] = [];
  const { batch, classes, height, width, maxObjects } = r.sizes;
  out.push(
    `CornerNet loss: ${r.nstack} stack${r.nstack > 1 ? 's' : ''}, batch ${batch}, ${classes} classes, ${height}x${width}, K ${maxObjects}; ${r.precision} inputs; weights pull ${r.weights.pull}, push ${r.weights.push}, regr ${r.weights.regr}`,
  );
  if (r.conventionChoice) out.push(`convention: ${r.conventionChoice.reason}`);
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
      classes_.map((c) => [classLabel(r.classNames, c.class), `${c.positives.tl}/${c.positives.br}`, fmt(c.focalTl), fmt(c.focalBr), pct(c.focalShare)]),
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
  out.push(...tail(r));
  return out.join('\n');
}

/** mmdet CornerHead, CenterNet, mmdet CenterNetHead: the upstream terms, per level/stack, image, class. */
function formatDenseReport(r: LossReport): string {
  const info = CONVENTIONS[r.convention];
  const out: string[] = [];
  const { batch, classes, height, width, maxObjects } = r.sizes;
  const stackWord = r.convention.startsWith('mmdet') ? 'level' : 'stack';
  out.push(
    `${info.label} loss: ${r.nstack} ${stackWord}${r.nstack > 1 ? 's' : ''}, batch ${batch}, ${classes} classes, ${height}x${width}${maxObjects ? `, K ${maxObjects}` : ''}; ${r.precision} inputs; weights ${Object.entries(r.weights).map(([k, v]) => `${k} ${v}`).join(', ')}`,
  );
  if (r.conventionChoice) out.push(`convention: ${r.conventionChoice.reason}`);
  out.push(`  ${info.total}`);
  out.push('');
  out.push(`  total  ${fmt(r.total, 8)}`);
  out.push('');
  out.push(...table(['term', 'value', 'share of total'], Object.entries(r.terms).filter(([k]) => k !== 'loss').map(([k, v]) => [k, fmt(v), pct(r.total && v !== null ? v / r.total : null)])));
  out.push('');
  const corners = r.heads === 'corners';
  out.push(
    ...table(
      corners ? [stackWord, 'det tl', 'det br', 'pull', 'push', 'off tl', 'off br', 'sum'] : [stackWord, 'heat', 'wh', 'offset', 'share of total'],
      r.perStack.map((s) => (corners ? [String(s.stack), fmt(s.focalTl), fmt(s.focalBr), fmt(s.pull), fmt(s.push), fmt(s.regrTl), fmt(s.regrBr), fmt(s.total)] : [String(s.stack), fmt(s.focal), fmt(s.wh ?? null), fmt(s.regr), fmt(s.total)])),
    ),
  );
  out.push('');
  out.push(
    ...table(
      corners ? ['image', 'objects', 'positives tl/br', 'det', 'det share', 'pull', 'push', 'off', 'share of total'] : ['image', 'objects', 'peaks', 'heat', 'heat share', 'wh', 'offset', 'share of total'],
      r.perImage.map((i) =>
        corners
          ? [String(i.image), String(i.objects), `${i.positives.tl}/${i.positives.br}`, fmt(i.focal), pct(i.focalShare), fmt(i.pull), fmt(i.push), fmt(i.regr), fmt(i.total)]
          : [String(i.image), String(i.objects), String(i.positives.tl), fmt(i.focal), pct(i.focalShare), fmt(i.wh ?? null), fmt(i.regr), fmt(i.total)],
      ),
    ),
  );
  const top = [...r.perClass].sort((a, b) => (b.focal ?? Infinity) - (a.focal ?? Infinity)).slice(0, 5);
  out.push('');
  out.push(`  classes with the largest heat loss (of ${r.perClass.length}):`);
  out.push(...table(['class', 'heat', 'share'], top.map((c) => [classLabel(r.classNames, c.class), fmt(c.focal), pct(c.focalShare)])));
  out.push(...tail(r));
  return out.join('\n');
}

/** Conventions compared, inputs, warnings and timings: the same for every convention. */
function tail(r: LossReport): string[] {
  const out: string[] = [];
  if (r.conventions) {
    out.push('');
    out.push('  the same batch under each convention:');
    for (const [name, s] of Object.entries(r.conventions)) {
      if (!s) continue;
      if (s.unavailable) out.push(`    ${name}: not available: ${s.unavailable}`);
      else out.push(`    ${name.padEnd(16)} total ${fmt(s.total, 6)}  (${Object.entries(s.terms).filter(([k]) => k !== 'loss').map(([k, v]) => `${k} ${fmt(v, 4)}`).join(', ')})`);
    }
    for (const g of r.gaps ?? []) out.push(`    ${g.term}: ${g.summary}`);
  }
  if (r.gradients?.length) {
    out.push('');
    out.push('  gradient norms (which term drives learning), per stack:');
    out.push(...table(['stack', 'term', 'with respect to', '|grad|'], r.gradients.map((g) => [String(g.stack), g.term, g.wrt, g.norm.toExponential(3)]), 3).map((l) => '  ' + l));
  }
  if (r.ablation) {
    out.push('');
    const a = r.ablation;
    if (a.unavailable) out.push(`  ablation: not available: ${a.unavailable}`);
    else {
      out.push(`  ablation (stack ${a.stack} decoded with each head's target swapped in, K ${a.options.K}, IoU 0.5):`);
      out.push(...table(['variant', 'matched', 'detections', 'AP@0.5'], a.rows.map((row) => [row.variant, `${row.matched}/${row.objects}`, String(row.detections), row.ap50.toFixed(3)])).map((l) => '  ' + l));
      out.push(a.limitingHead ? `    limiting head: ${a.limitingHead} (the largest gain over as-is)` : '    no single head\'s target improves on as-is');
    }
  }
  if (r.findings?.length) {
    out.push('');
    out.push(`  findings: ${r.findings.map((f) => f.code).join(', ')} (--findings shows them with their evidence first)`);
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
  return out;
}

/** The longest folder prefix (ending in a separator) shared by all paths, or ''. */
function commonDir(files: string[]): string {
  if (!files.length) return '';
  let prefix = files[0]!.slice(0, Math.max(files[0]!.lastIndexOf('/'), files[0]!.lastIndexOf('\\')) + 1);
  for (const f of files) while (prefix && !f.startsWith(prefix)) prefix = prefix.slice(0, Math.max(prefix.lastIndexOf('/', prefix.length - 2), prefix.lastIndexOf('\\', prefix.length - 2)) + 1);
  return prefix;
}
