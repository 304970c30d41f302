/** The side view's page: latest loss, runs, tensors of the current inputs. */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import { parseToSidebar, type FromSidebar, type SidebarState } from '../../src/protocol/sidebar';
import { clear, el, fmt, metric } from '../shared/dom';

declare function acquireVsCodeApi(): { postMessage(m: FromSidebar): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();
const post = (m: FromSidebar) => vscode.postMessage(m);
const root = document.getElementById('root')!;

window.addEventListener('message', (e: MessageEvent) => {
  const msg = parseToSidebar(e.data);
  if (!msg) return console.warn('CornerNet Inspector: dropped a malformed message');
  render(msg.state);
  vscode.setState(msg.state);
});

function render(s: SidebarState): void {
  clear(root);
  const compute = el('vscode-button', { id: 'sidebar-compute' }, 'Compute CornerNet Loss…');
  compute.addEventListener('click', () => post({ type: 'compute' }));
  if (!s.latest) {
    root.append(el('p', { class: 'note' }, 'No loss computed in this window yet.'), compute);
    return;
  }
  const l = s.latest;
  root.append(
    el('h2', {}, 'Loss'),
    el('p', { class: 'inputs', title: l.label }, l.label),
    el('div', { class: 'total' }, el('span', { class: 'label' }, 'total'), metric('side.total', l.total, 6)),
    el('p', { class: 'note' }, `${l.convention}: the terms as they add up to the total (weighted).`),
    el('table', { class: 'grid' }, el('tbody', {}, ...l.terms.map(([t, v]) => el('tr', {}, el('th', { scope: 'row' }, t), el('td', {}, metric(`side.${t}`, v)))))),
    l.warnings.length
      ? el('ul', { class: 'side-warnings' }, ...l.warnings.map((w) => el('li', { title: w.message }, el('code', {}, w.code))))
      : el('p', { class: 'note' }, 'No warnings.'),
    el('h2', {}, `Runs (${s.runs.length})`),
    el(
      'ul',
      { class: 'runs', id: 'runs' },
      ...s.runs.map((r) => {
        const b = el('button', { class: `run${r.id === s.currentRunId ? ' selected' : ''}`, 'data-run': String(r.id), title: 'Show in the results panel' }, el('span', {}, `${r.time} · ${r.label}`), el('span', { class: 'num' }, `${fmt(r.total)}${r.warnings ? ` · ${r.warnings}⚠` : ''}`));
        b.addEventListener('click', () => post({ type: 'openRun', id: r.id }));
        return el('li', {}, b);
      }),
    ),
    el('h2', {}, `Tensors (${s.tensors.length})`),
    el(
      'ul',
      { class: 'tensors', id: 'tensors' },
      ...s.tensors.map((t) => {
        const bad = t.nonFinite ? ` · ${t.nonFinite} NaN/Inf` : '';
        const b = el(
          'button',
          {
            class: `tensor${t.nonFinite ? ' bad' : ''}`,
            'data-role': t.role,
            title: t.variable !== undefined ? `${t.label} (from the notebook's kernel)` : `Open ${t.label}${t.key ? `:${t.key}` : ''} in the tensor viewer`,
            ...(t.variable !== undefined ? { disabled: '' } : {}),
          },
          el('span', { class: 'role' }, t.role),
          el('span', {}, `${t.label}${t.key ? `:${t.key}` : ''}`),
          el('span', { class: 'num' }, `${t.dtype} [${t.shape.join(', ')}]${t.form ? ` ${t.form}` : ''}${t.purpose === 'check' ? ' (checked)' : ''}${bad}`),
        );
        if (t.variable === undefined) b.addEventListener('click', () => post({ type: 'openTensor', file: t.file, ...(t.key !== undefined ? { key: t.key } : {}) }));
        return el('li', {}, b);
      }),
    ),
    compute,
  );
}

const saved = vscode.getState() as SidebarState | undefined;
if (saved && Array.isArray(saved.runs)) render(saved);
post({ type: 'ready' });
