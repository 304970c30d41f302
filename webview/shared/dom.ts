/**
 * Tiny DOM helpers. Text is always set with textContent / setAttribute, never innerHTML: file
 * names, keys and messages may hold anything (`<img onerror=...>` included) and must stay text.
 */
type Child = Node | string;

export function el(tag: string, attrs: Record<string, string | boolean | number> = {}, ...children: Child[]): HTMLElement {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false) continue;
    if (k === 'hidden') n.hidden = Boolean(v);
    else n.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) n.append(c);
  return n;
}

export function clear(n: Element): void {
  while (n.firstChild) n.removeChild(n.firstChild);
}

export function fmt(v: number | null, digits = 6): string {
  if (v === null || !Number.isFinite(v)) return v === null ? 'NaN/Inf' : String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e9) return String(v);
  digits = Math.min(21, Math.max(1, digits));
  return a >= 1e-4 && a < 1e6 ? Number(v.toPrecision(digits)).toString() : v.toExponential(Math.max(0, digits - 1));
}

/** A number shown in the panel, readable by tests: data-metric="name", data-value="full precision". */
export function metric(name: string, v: number | null, digits = 6): HTMLElement {
  return el('span', { class: 'metric', 'data-metric': name, 'data-value': v === null ? 'null' : String(v), title: v === null ? 'not finite' : String(v) }, fmt(v, digits));
}
