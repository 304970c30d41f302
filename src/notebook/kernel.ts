/**
 * The notebook kernel as this extension needs it: a language and `executeCode`, which yields the
 * outputs of one execution. It is the shape of the Jupyter extension's `Kernel`
 * (@vscode/jupyter-extension), so that the real API plugs in as is, and the jupyter_client adapter
 * of the tests (test/support/jupyterClientKernel.ts) stands in for it. No `vscode` import here.
 */

export interface KernelOutputItem {
  mime: string;
  data: Uint8Array;
}

export interface KernelOutput {
  items: KernelOutputItem[];
  metadata?: Record<string, unknown>;
}

export interface KernelCancelToken {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): { dispose(): void };
}

/**
 * How the snippets reply: `display` bundles with our mime types (IPython kernels; printed lines when
 * IPython is missing), or always marked lines on stdout (a debuggee, where IPython's display() may
 * exist but would not reach us: the debug adapter kernel captures stdout instead).
 */
export type ReplyChannel = 'display' | 'stdout';

export interface NotebookKernel {
  /** `python`, `julia`, `r`...: only Python kernels are asked anything. */
  readonly language: string;
  /** `display` when absent. */
  readonly replies?: ReplyChannel;
  /** Runs code without touching the execution count or history; cancelling interrupts the kernel. */
  executeCode(code: string, token: KernelCancelToken): AsyncIterable<KernelOutput>;
}

/** Custom mime types of the snippets' replies (display_data bundles, JSON text in the items). */
export const MIME = {
  inspect: 'application/vnd.cornernet.inspect+json',
  event: 'application/vnd.cornernet.transfer+json',
} as const;

/** The Jupyter extension's error item (NotebookCellOutputItem.error). */
const ERROR_MIMES = new Set(['application/vnd.code.notebook.error']);
/** The api.d.ts names one stdout mime, VS Code's NotebookCellOutputItem.stdout another: both. */
const STDOUT_MIMES = new Set(['application/vnd.code.notebook.stdout', 'application/x.notebook.stream.stdout']);
/** Printed before a JSON reply when IPython's display() is not there (a plain Python kernel). */
export const STDOUT_MARK = '\u001ecornernet-inspector ';

/** Why a kernel call failed, in terms of what the user can do next. */
export type KernelErrorKind =
  | 'no-jupyter'
  | 'no-kernel'
  | 'access'
  | 'untrusted'
  | 'language'
  | 'no-variables'
  | 'not-array'
  | 'kernel-error'
  | 'protocol'
  | 'too-large'
  | 'transfer'
  | 'cancelled'
  /** Debug sessions: none, none paused, or the adapter refused the evaluate request. */
  | 'no-session'
  | 'not-paused'
  | 'evaluate-refused';

export class KernelError extends Error {
  constructor(
    readonly kind: KernelErrorKind,
    message: string,
    /** The variable concerned, as the user wrote it (`outs[3]`). */
    readonly variable?: string,
  ) {
    super(message);
    this.name = 'KernelError';
  }
}

/** Also a KernelError thrown by another bundle's copy of the class (a kernel source given by the tests). */
export function isKernelError(e: unknown): e is KernelError {
  return e instanceof KernelError || (e instanceof Error && e.name === 'KernelError' && typeof (e as { kind?: unknown }).kind === 'string');
}

/** One reply of a snippet: the mime it came with and its parsed JSON. */
export interface SnippetReply {
  mime: string;
  value: unknown;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Runs a snippet and hands each JSON reply to `onReply` as it arrives (the transfer streams).
 * Python exceptions become a KernelError with the exception's last line; KeyboardInterrupt after
 * a cancel becomes 'cancelled'. Other output (warnings a library prints) goes to `onOther`.
 */
export async function runSnippet(
  kernel: NotebookKernel,
  code: string,
  token: KernelCancelToken,
  onReply: (reply: SnippetReply) => void | Promise<void>,
  onOther?: (text: string) => void,
): Promise<void> {
  let stdoutTail = '';
  const handleStdout = async (text: string) => {
    // Marked replies may be split across stream outputs: keep the unfinished line.
    const lines = (stdoutTail + text).split('\n');
    stdoutTail = lines.pop() ?? '';
    for (const line of lines) {
      const at = line.indexOf(STDOUT_MARK);
      if (at < 0) {
        if (line.trim()) onOther?.(line);
        continue;
      }
      const body = line.slice(at + STDOUT_MARK.length);
      const sep = body.indexOf(' ');
      await onReply({ mime: body.slice(0, sep), value: parseJson(body.slice(sep + 1)) });
    }
  };
  let iterable: AsyncIterable<KernelOutput>;
  try {
    iterable = kernel.executeCode(code, token);
  } catch (e) {
    throw new KernelError('kernel-error', `the kernel refused the code: ${(e as Error).message}`);
  }
  try {
    for await (const output of iterable) {
      for (const item of output.items) {
        if (item.mime === MIME.inspect || item.mime === MIME.event) {
          await onReply({ mime: item.mime, value: parseJson(decoder.decode(item.data)) });
        } else if (ERROR_MIMES.has(item.mime)) {
          throw pythonError(decoder.decode(item.data), token);
        } else if (STDOUT_MIMES.has(item.mime)) {
          await handleStdout(decoder.decode(item.data));
        } else if (item.mime.startsWith('text/') || item.mime.includes('stderr')) {
          const t = decoder.decode(item.data).trim();
          if (t && item.mime !== 'text/plain') onOther?.(t);
        }
      }
    }
  } catch (e) {
    if (token.isCancellationRequested) throw new KernelError('cancelled', 'cancelled');
    if (isKernelError(e)) throw e;
    // The Jupyter extension may throw instead of yielding an error item.
    throw new KernelError('kernel-error', `the kernel failed: ${(e as Error)?.message ?? String(e)}`);
  }
  if (stdoutTail) await handleStdout('\n');
  if (token.isCancellationRequested) throw new KernelError('cancelled', 'cancelled');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new KernelError('protocol', `the kernel replied with something that is not JSON: ${text.slice(0, 80)}`);
  }
}

function pythonError(text: string, token: KernelCancelToken): KernelError {
  let name = 'Error';
  let message = text;
  try {
    const e = JSON.parse(text) as { name?: unknown; message?: unknown };
    if (typeof e.name === 'string') name = e.name;
    if (typeof e.message === 'string') message = e.message;
  } catch {
    // not JSON: the text itself
  }
  if (name === 'KeyboardInterrupt' || token.isCancellationRequested) return new KernelError('cancelled', 'cancelled (the kernel was interrupted)');
  return new KernelError('kernel-error', `${name}: ${message}`.slice(0, 2000));
}
