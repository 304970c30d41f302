/**
 * A paused Python stack frame as a NotebookKernel, so that the notebook's inspection, plans and
 * transfer run unchanged in a debuggee. Each snippet is one Debug Adapter Protocol `evaluate`
 * request in the frame (any adapter built on debugpy/pydevd: the Python Debugger extension's,
 * Jupyter's kernel debugging); what it printed comes back in pages through `variables` requests.
 *
 * The evaluated expression leaves the debuggee's namespace as it was: it binds no name at its own
 * level (pydevd copies the frame's locals and globals into one dict for an evaluation and writes
 * back every name that changed, so a walrus or an exec at that level would land in the frame). It
 * calls `exec` on a small runner in a dict of its own, and the runner runs the snippet in a shallow
 * copy of the frame's names, with stdout captured in a StringIO: the snippet's helper function, its
 * imports' names and its printed replies all stay in that copy.
 *
 * Why pages: the result of one evaluation is one DAP message, which VS Code's adapter stream
 * reassembles by concatenating every chunk to all it has (quadratic in the message's size) and
 * relays between the extension host and the window; a base64 transfer of a batch would be one
 * message of hundreds of MB. So the runner returns a list of pages and each page is fetched with
 * its own `variables` request (pydevd keeps an evaluation's result, as everything it showed, until
 * the thread resumes): messages stay near PAGE_CHARS, progress moves page by page, and a cancel
 * stops the fetching.
 *
 * No `vscode` import: the session is anything with `customRequest` (a vscode.DebugSession, or the
 * tests' DAP client talking to a real debugpy adapter).
 */
import { KernelError, type KernelCancelToken, type KernelOutput, type NotebookKernel } from './kernel';
import { pyString, type VariablePath } from './snippets';

/** What this kernel needs of a debug session: vscode.DebugSession.customRequest. */
export interface DapRequester {
  customRequest(command: string, args?: unknown): PromiseLike<unknown>;
}

/** The stdout and error mimes runSnippet reads (those a Jupyter kernel's outputs carry). */
const STDOUT_MIME = 'application/vnd.code.notebook.stdout';
const ERROR_MIME = 'application/vnd.code.notebook.error';

/**
 * Characters per page of output, at least; more when the output would need more pages than pydevd
 * lists children of one container (500, PYDEVD_CONTAINER_RANDOM_ACCESS_MAX_ITEMS).
 */
export const PAGE_CHARS = 1 << 20;
const MAX_PAGES = 400;

/**
 * Runs in a private dict holding `frame` (the frame's names, merged), `code` (the snippet) and
 * `aliases` (JSON [[name, expression], ...]: values the Variables view names by an expression such as
 * `self.outs`, evaluated in the frame and offered under that name). Sets `out` to a list of
 * one-element lists: first the exception that stopped the snippet as JSON ('' if none), then what
 * it printed, in pages. (One-element lists: a page's value in a listing is then a short repr; only
 * the page's own listing, asked with rawString, carries its text.)
 */
const RUNNER = `import sys, io, json, builtins
buf = io.StringIO()
error = None
saved = sys.stdout
try:
    ns = dict(frame)
    # pydevd adds a \`globals\` that returns the module's globals only; the snippets want these names.
    if ns.get('globals') is not builtins.globals:
        ns.pop('globals', None)
    for name, expr in json.loads(aliases):
        try:
            ns[name] = eval(expr, dict(ns))
        except Exception as e:
            raise LookupError('%s cannot be evaluated in the paused frame: %s: %s' % (expr, type(e).__name__, e))
    sys.stdout = buf
    exec(code, ns)
except BaseException as e:
    error = {'name': type(e).__name__, 'message': str(e)}
finally:
    sys.stdout = saved
text = buf.getvalue()
step = max(page, -(-len(text) // ${MAX_PAGES}))
out = [[json.dumps(error) if error else '']] + [[text[i:i + step]] for i in range(0, len(text), step)]
del text, buf
`;

/**
 * The one-line expression sent to `evaluate`. `{**globals(), **locals()}` is taken at the
 * expression's own level (inside a lambda they would be the lambda's); builtins are reached through
 * `__import__('builtins')`, since the frame may shadow names such as `exec` and pydevd shadows
 * `globals`. '@' is escaped because pydevd turns the text `@LINE@` into a newline anywhere in the
 * expression, string literals included.
 */
export function evaluateExpression(code: string, aliases: [string, string][] = []): string {
  const lit = (s: string) => pyString(s).replace(/@/g, '\\u0040');
  const b = "__import__('builtins')";
  return (
    `(lambda box: (box['__builtins__'].exec(box['runner'], box), box['out'])[1])(` +
    `{'__builtins__': ${b}, 'frame': {**${b}.globals(), **${b}.locals()}, ` +
    `'runner': ${lit(RUNNER)}, 'code': ${lit(code)}, 'aliases': ${lit(JSON.stringify(aliases))}, 'page': ${PAGE_CHARS}})`
  );
}

export interface DebugFrameKernelOptions {
  /** name -> expression: values reached by an expression rather than a name (`self.outs`). */
  aliases?: [string, string][];
  /** How messages name the frame: `loss() at train.py:42`. */
  frameLabel?: string;
}

export class DebugFrameKernel implements NotebookKernel {
  readonly language = 'python';
  readonly replies = 'stdout' as const;
  private inFlight: Promise<unknown> | undefined;

  constructor(
    private readonly session: DapRequester,
    readonly frameId: number,
    private readonly options: DebugFrameKernelOptions = {},
  ) {}

  executeCode(code: string, token: KernelCancelToken): AsyncIterable<KernelOutput> {
    return this.evaluate(code, token);
  }

  /**
   * Resolves once the last evaluation has ended in the debuggee. A cancelled one goes on there
   * (DAP cannot interrupt an evaluation; debugpy does not implement `cancel`): its result is dropped.
   */
  async settled(): Promise<void> {
    await this.inFlight?.then(
      () => undefined,
      () => undefined,
    );
  }

  private async *evaluate(code: string, token: KernelCancelToken): AsyncGenerator<KernelOutput> {
    const where = this.options.frameLabel ?? 'the paused frame';
    const ask = (command: string, args: unknown) => this.request(command, args, token, where);
    const evaluation = await ask('evaluate', {
      expression: evaluateExpression(code, this.options.aliases),
      frameId: this.frameId,
      // 'watch': the list's own value comes back as a short repr (no rawString here: it would
      // print every page inside it), with a reference to list its pages.
      context: 'watch',
    });
    const ref = (evaluation as { variablesReference?: unknown } | undefined)?.variablesReference;
    if (typeof ref !== 'number' || ref <= 0) {
      const result = String((evaluation as { result?: unknown } | undefined)?.result ?? '');
      throw new KernelError('protocol', `the debug adapter did not return the evaluation's pages (is it built on debugpy?): ${result.slice(0, 200)}`);
    }
    const pages = pageRefs(await ask('variables', { variablesReference: ref }));
    const text = async (pageRef: number) => {
      const listing = (await ask('variables', { variablesReference: pageRef, format: { rawString: true } })) as { variables?: { name?: unknown; value?: unknown }[] };
      const value = listing?.variables?.find((v) => v.name === '0')?.value;
      if (typeof value !== 'string') throw new KernelError('protocol', 'the debug adapter listed a page of the evaluation without its text');
      return value;
    };
    const errorJson = await text(pages[0]!);
    const encoder = new TextEncoder();
    for (const page of pages.slice(1)) yield { items: [{ mime: STDOUT_MIME, data: encoder.encode(await text(page)) }] };
    if (errorJson) yield { items: [{ mime: ERROR_MIME, data: encoder.encode(errorJson) }] };
  }

  /** One DAP request; a cancel answers at once (the request itself goes on in the debuggee). */
  private async request(command: string, args: unknown, token: KernelCancelToken, where: string): Promise<unknown> {
    if (token.isCancellationRequested) throw new KernelError('cancelled', 'cancelled');
    const request = Promise.resolve(this.session.customRequest(command, args));
    this.inFlight = request;
    let sub: { dispose(): void } | undefined;
    try {
      return await new Promise<unknown>((resolve, reject) => {
        sub = token.onCancellationRequested(() => reject(new KernelError('cancelled', 'cancelled (an evaluation under way in the debuggee is left to finish; its result is dropped)')));
        request.then(resolve, (e: unknown) =>
          reject(
            new KernelError(
              'evaluate-refused',
              `the debugger refused to ${command === 'evaluate' ? 'evaluate' : 'list the evaluation'} in ${where}: ${(e as Error)?.message ?? String(e)}. Is the session still paused there? Pause it again (or select the frame in the Call Stack) and retry.`,
            ),
          ),
        );
      });
    } finally {
      sub?.dispose();
    }
  }
}

/** The pages' references, in order: children `0`, `1`, ... (pydevd also lists `len()`; it may zero-pad indices). */
function pageRefs(listing: unknown): number[] {
  const vars = (listing as { variables?: { name?: unknown; variablesReference?: unknown }[] } | undefined)?.variables ?? [];
  const pages: [number, number][] = [];
  for (const v of vars) {
    if (typeof v.name !== 'string' || !/^\d+$/.test(v.name) || typeof v.variablesReference !== 'number' || v.variablesReference <= 0) continue;
    pages.push([Number(v.name), v.variablesReference]);
  }
  pages.sort((a, b) => a[0] - b[0]);
  if (!pages.length || pages.some(([i], k) => i !== k)) throw new KernelError('protocol', 'the debug adapter listed the evaluation\'s pages out of order or not at all');
  return pages.map(([, ref]) => ref);
}

/**
 * A debugger's expression for a value (the Variables view's evaluateName) as a path from a frame
 * name: `name`, `name[3]`, `name['k']`, `name["k"][0]`; undefined for anything else (`self.outs`,
 * which the kernel then evaluates as an alias).
 */
export function parseIndexPath(expr: string): VariablePath | undefined {
  const head = /^[A-Za-z_][A-Za-z0-9_]*/.exec(expr);
  if (!head) return undefined;
  const path: VariablePath = [head[0]];
  let rest = expr.slice(head[0].length);
  while (rest) {
    const m = /^\[(?:(\d+)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\]/.exec(rest);
    if (!m) return undefined;
    if (m[1] !== undefined) path.push(Number(m[1]));
    else {
      const raw = m[2] ?? m[3]!;
      // Escapes other than \\ and quotes: leave the expression to Python.
      if (/\\[^\\'"]/.test(raw)) return undefined;
      path.push(raw.replace(/\\(.)/g, '$1'));
    }
    rest = rest.slice(m[0].length);
  }
  return path;
}
