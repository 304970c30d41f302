/**
 * A small strict parser for the subset of Python literal syntax that npy headers use, e.g.
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * numpy itself reads headers with ast.literal_eval; we must never evaluate anything, and we want a
 * precise "what is wrong" message instead of a generic failure. Supported: str (single/double
 * quoted, common escapes), int (with the `L` suffix of Python 2 era files), True/False/None, tuple,
 * list and dict. Structured dtypes (lists of tuples) therefore parse, so they can be refused as an
 * unsupported dtype rather than as a malformed header.
 */

export type PyValue =
  | { kind: 'str'; value: string }
  | { kind: 'int'; value: bigint }
  | { kind: 'bool'; value: boolean }
  | { kind: 'none' }
  | { kind: 'tuple'; items: PyValue[] }
  | { kind: 'list'; items: PyValue[] }
  | { kind: 'dict'; entries: [PyValue, PyValue][] };

export class PyLiteralError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} at character ${position}`);
    this.name = 'PyLiteralError';
  }
}

// Deep enough for any real header; bounded so hostile nesting cannot overflow the JS stack.
const MAX_DEPTH = 32;

/** Parse one literal; only whitespace may follow it. */
export function parsePyLiteral(text: string): PyValue {
  const p = new Parser(text);
  p.skipSpace();
  const v = p.value(0);
  p.skipSpace();
  if (p.pos < text.length) p.fail(`unexpected ${describeChar(text[p.pos]!)} after the literal`);
  return v;
}

/** A short human rendering of a value, for error messages (`(2, 3)`, `'<f4'`). */
export function pyRepr(v: PyValue): string {
  switch (v.kind) {
    case 'str':
      return `'${v.value}'`;
    case 'int':
      return v.value.toString();
    case 'bool':
      return v.value ? 'True' : 'False';
    case 'none':
      return 'None';
    case 'tuple':
      return v.items.length === 1 ? `(${pyRepr(v.items[0]!)},)` : `(${v.items.map(pyRepr).join(', ')})`;
    case 'list':
      return `[${v.items.map(pyRepr).join(', ')}]`;
    case 'dict':
      return `{${v.entries.map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
  }
}

function describeChar(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x20 || code > 0x7e ? `character U+${code.toString(16).padStart(4, '0')}` : `'${c}'`;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  n: '\n',
  r: '\r',
  t: '\t',
  '0': '\0',
};

class Parser {
  pos = 0;
  constructor(private readonly s: string) {}

  fail(message: string): never {
    throw new PyLiteralError(message, this.pos);
  }

  skipSpace(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      // space, tab, newline, carriage return, form feed, vertical tab
      if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) this.pos++;
      else break;
    }
  }

  value(depth: number): PyValue {
    if (depth > MAX_DEPTH) this.fail('literal nested too deeply');
    const c = this.s[this.pos];
    if (c === undefined) this.fail('unexpected end of header');
    if (c === "'" || c === '"') return this.string(c);
    if (c === '(') return this.sequence('tuple', ')', depth);
    if (c === '[') return this.sequence('list', ']', depth);
    if (c === '{') return this.dict(depth);
    if (c === '-' || c === '+' || (c >= '0' && c <= '9')) return this.int();
    if (/[A-Za-z_]/.test(c)) return this.name();
    return this.fail(`unexpected ${describeChar(c)}`);
  }

  private name(): PyValue {
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.pos, this.pos + 64))!;
    const word = m[0];
    const start = this.pos;
    this.pos += word.length;
    if (word === 'True') return { kind: 'bool', value: true };
    if (word === 'False') return { kind: 'bool', value: false };
    if (word === 'None') return { kind: 'none' };
    this.pos = start;
    return this.fail(`unexpected name '${word}' (only literals are allowed)`);
  }

  private int(): PyValue {
    const m = /^([-+]?)([0-9]+)([lL]?)/.exec(this.s.slice(this.pos, this.pos + 400));
    if (!m) return this.fail('malformed number');
    const digits = m[2]!;
    // Python 3 forbids leading zeros in decimal ints ("007"); a lone 0 (or 00) is fine.
    if (digits.length > 1 && digits[0] === '0' && /[1-9]/.test(digits)) this.fail('malformed number');
    const next = this.s[this.pos + m[0].length];
    if (next !== undefined && /[0-9A-Za-z_.]/.test(next)) {
      this.fail('only decimal integers are supported');
    }
    this.pos += m[0].length;
    const v = BigInt(digits);
    return { kind: 'int', value: m[1] === '-' ? -v : v };
  }

  private string(quote: string): PyValue {
    const s = this.s;
    let i = this.pos + 1;
    let out = '';
    for (;;) {
      const c = s[i];
      if (c === undefined || c === '\n') {
        this.pos = i;
        this.fail('unterminated string');
      }
      if (c === quote) break;
      if (c !== '\\') {
        out += c;
        i++;
        continue;
      }
      const e = s[i + 1];
      const simple = e === undefined ? undefined : SIMPLE_ESCAPES[e];
      if (simple !== undefined) {
        out += simple;
        i += 2;
      } else if (e === 'x' || e === 'u') {
        const len = e === 'x' ? 2 : 4;
        const hex = s.slice(i + 2, i + 2 + len);
        if (hex.length !== len || !/^[0-9a-fA-F]+$/.test(hex)) {
          this.pos = i;
          this.fail('malformed escape in string');
        }
        out += String.fromCharCode(parseInt(hex, 16));
        i += 2 + len;
      } else {
        this.pos = i;
        this.fail('unsupported escape in string');
      }
    }
    this.pos = i + 1;
    return { kind: 'str', value: out };
  }

  private sequence(kind: 'tuple' | 'list', close: string, depth: number): PyValue {
    this.pos++; // opening bracket
    const items: PyValue[] = [];
    let sawComma = false;
    for (;;) {
      this.skipSpace();
      if (this.s[this.pos] === close) {
        this.pos++;
        break;
      }
      if (items.length > 0 && !sawComma) this.fail(`expected ',' or '${close}'`);
      items.push(this.value(depth + 1));
      this.skipSpace();
      sawComma = this.s[this.pos] === ',';
      if (sawComma) this.pos++;
    }
    // `(3)` is the int 3 in Python, not a tuple; numpy never writes it for a shape.
    if (kind === 'tuple' && items.length === 1 && !sawComma) return items[0]!;
    return kind === 'tuple' ? { kind: 'tuple', items } : { kind: 'list', items };
  }

  private dict(depth: number): PyValue {
    this.pos++; // '{'
    const entries: [PyValue, PyValue][] = [];
    let sawComma = false;
    for (;;) {
      this.skipSpace();
      if (this.s[this.pos] === '}') {
        this.pos++;
        return { kind: 'dict', entries };
      }
      if (entries.length > 0 && !sawComma) this.fail("expected ',' or '}'");
      const key = this.value(depth + 1);
      this.skipSpace();
      if (this.s[this.pos] !== ':') this.fail("expected ':' after a dict key");
      this.pos++;
      this.skipSpace();
      entries.push([key, this.value(depth + 1)]);
      this.skipSpace();
      sawComma = this.s[this.pos] === ',';
      if (sawComma) this.pos++;
    }
  }
}
