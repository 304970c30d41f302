/**
 * A paused Python stack frame as a NotebookKernel, so that the notebook's inspection, plans and
 * transfer run unchanged in a debuggee. Each snippet is one Debug Adapter Protocol `evaluate`
 * request in the frame (any adapter built on debugpy/pydevd: the Python Debugger extension's,
 * Jupyter's kernel debugging), and its replies come back as the evaluation's result.
 *
 * The evaluated expression leaves the debuggee's namespace as it was: it binds no name at its own
 * level (pydevd copies the frame's locals and globals into one dict for an evaluation and writes
 * back every name that changed, so a walrus or an exec at that level would land in the frame). It
 * calls `exec` on a small runner in a dict of its own, and the runner runs the snippet in a shallow
 * copy of the frame's names, with stdout captured in a StringIO: the snippet's helper function, its
 * imports' names and its printed replies all stay in that copy.
 *
 * No `vscode` import: the session is anything with `customRequest` (a vscode.DebugSession, or the
 * tests' DAP client talking to a real debugpy adapter).
 */
import { KernelError, type KernelCancelToken, type KernelOutput, type NotebookKernel } from './kernel';
import { pyString } from './snippets';

/** What this kernel needs of a debug session: vscode.DebugSession.customRequest. */
export interface DapRequester {
  customRequest(command: string, args?: unknown): PromiseLike<unknown>;
}

/** The stdout and error mimes runSnippet reads (those a Jupyter kernel's outputs carry). */
const STDOUT_MIME = 'application/vnd.code.notebook.stdout';
const ERROR_MIME = 'application/vnd.code.notebook.error';

/**
 * Runs in a private dict holding `frame` (the frame's names, merged), `code` (the snippet) and
 * `aliases` (JSON [[name, expression], ...]: values the Variables view names by an expression such as
 * `self.outs`, evaluated in the frame and offered under that name). Sets `out` to a JSON text:
 * what the snippet printed, and the exception that stopped it, if any.
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
out = json.dumps({'stdout': buf.getvalue(), 'error': error})
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
    `'runner': ${lit(RUNNER)}, 'code': ${lit(code)}, 'aliases': ${lit(JSON.stringify(aliases))}})`
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
    if (token.isCancellationRequested) throw new KernelError('cancelled', 'cancelled');
    const where = this.options.frameLabel ?? 'the paused frame';
    const request = Promise.resolve(
      this.session.customRequest('evaluate', {
        expression: evaluateExpression(code, this.options.aliases),
        frameId: this.frameId,
        // 'clipboard': pydevd lifts its length limits; rawString: the text itself, not its repr.
        context: 'clipboard',
        format: { rawString: true },
      }),
    );
    this.inFlight = request;
    let body: unknown;
    let sub: { dispose(): void } | undefined;
    try {
      body = await new Promise<unknown>((resolve, reject) => {
        sub = token.onCancellationRequested(() => reject(new KernelError('cancelled', 'cancelled (the evaluation in the debuggee is left to finish; its result is dropped)')));
        request.then(resolve, (e: unknown) =>
          reject(new KernelError('evaluate-refused', `the debugger refused to evaluate in ${where}: ${(e as Error)?.message ?? String(e)}. Is the session still paused there? Pause it again (or select the frame in the Call Stack) and retry.`)),
        );
      });
    } finally {
      sub?.dispose();
    }
    const result = (body as { result?: unknown } | undefined)?.result;
    const reply = parseRunnerReply(result);
    if (reply.stdout) yield { items: [{ mime: STDOUT_MIME, data: new TextEncoder().encode(reply.stdout) }] };
    if (reply.error) yield { items: [{ mime: ERROR_MIME, data: new TextEncoder().encode(JSON.stringify(reply.error)) }] };
  }
}

function parseRunnerReply(result: unknown): { stdout: string; error: { name: string; message: string } | null } {
  if (typeof result !== 'string') throw new KernelError('protocol', 'the debug adapter answered the evaluation without a result');
  let v: unknown;
  try {
    v = JSON.parse(result);
  } catch {
    // An exception in the expression itself (pydevd then returns its repr or a traceback), or an
    // adapter that ignores format.rawString and returns the string's repr.
    throw new KernelError('protocol', `the debug adapter did not return the evaluation's text (does it support format.rawString, as debugpy does?): ${result.slice(0, 200)}`);
  }
  const o = v as { stdout?: unknown; error?: unknown };
  if (typeof o?.stdout !== 'string') throw new KernelError('protocol', 'the evaluation in the debuggee replied with something unexpected');
  const e = o.error as { name?: unknown; message?: unknown } | null | undefined;
  return {
    stdout: o.stdout,
    error: e && typeof e === 'object' ? { name: String(e.name ?? 'Error'), message: String(e.message ?? '') } : null,
  };
}
