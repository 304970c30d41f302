/**
 * The notebook flow without the UI: inspect the kernel, check a plan against the core's resolver,
 * transfer, and hand the engine an InputSpec whose roles are the transferred files. Used by the
 * extension's command and by the tests against a real kernel.
 */
import { RoleResolutionError } from '../cornernet/model/errors';
import type { InputSpec } from '../cornernet/inputs/discover';
import type { LossReport } from '../cornernet/model/report';
import { KernelError, MIME, runSnippet, type KernelCancelToken, type NotebookKernel } from './kernel';
import { inspectCode } from './snippets';
import { transferArrays, type TransferOptions, type TransferResult } from './transfer';
import { checkPlan, parseInspection, roleName, type Inspection, type TransferPlan } from './variables';

/** Only Python kernels are sent code. */
export function requirePython(kernel: NotebookKernel, notebook: string): void {
  const lang = (kernel.language ?? '').toLowerCase();
  if (lang !== 'python' && lang !== 'python3') {
    throw new KernelError('language', `${notebook} runs a ${kernel.language || 'non-Python'} kernel: only Python kernels (numpy, torch) can be asked for tensors`);
  }
}

export async function inspectKernel(kernel: NotebookKernel, token: KernelCancelToken, notebook = 'the notebook'): Promise<Inspection> {
  requirePython(kernel, notebook);
  let found: Inspection | undefined;
  await runSnippet(kernel, inspectCode(kernel.replies), token, ({ mime, value }) => {
    if (mime === MIME.inspect) found = parseInspection(value);
  });
  if (!found) throw new KernelError('protocol', 'the kernel ran the inspection but did not reply (is it an IPython kernel?)');
  return found;
}

export interface PulledInputs {
  spec: InputSpec;
  transfer: TransferResult;
  /** Transferred file -> how the user knows the array (`analysis.ipynb: outs[0]`). */
  sources: Map<string, string>;
  notes: string[];
}

/** Checks the plan's roles on the reported shapes, then transfers. Remove `transfer` when done. */
export async function pullInputs(kernel: NotebookKernel, plan: TransferPlan, options: TransferOptions & { notebook: string }): Promise<PulledInputs> {
  requirePython(kernel, options.notebook);
  const resolution = checkPlan(plan);
  if (resolution.problems.length) throw new RoleResolutionError(resolution.problems);
  const transfer = await transferArrays(kernel, plan, options);
  const sources = new Map<string, string>();
  const notes: string[] = [];
  for (const t of transfer.arrays) {
    sources.set(t.file, `${options.notebook}: ${t.array.label}`);
    if (t.note) notes.push(`${t.array.label}: ${t.note}`);
  }
  return {
    spec: { paths: [], roles: transfer.arrays.map((t) => ({ name: roleName(t.array), path: t.file })) },
    transfer,
    sources,
    notes,
  };
}

/**
 * The report as the user should read it: inputs are the notebook (or the debugged script) and its
 * variables, not the transfer files (which are gone by then); warnings point at the notebook;
 * notes on converted dtypes are added. `transferTag` replaces the transfer folder in messages.
 */
export function relabelReport(report: LossReport, pulled: Pick<PulledInputs, 'transfer' | 'notes'>, notebookPath: string, transferTag = '(kernel)'): LossReport {
  const variableOf = new Map(pulled.transfer.arrays.map((t) => [t.file, t.array.label]));
  const rename = (text: string) => {
    let out = text;
    for (const [file, label] of variableOf) out = out.split(file).join(label);
    return out.split(pulled.transfer.dir).join(transferTag);
  };
  const relabel = <T extends { file: string; variable?: string }>(u: T): T => {
    const v = variableOf.get(u.file);
    return v === undefined ? u : { ...u, file: notebookPath, variable: v };
  };
  return {
    ...report,
    inputs: {
      roles: report.inputs.roles.map((u) => ({ ...relabel(u), ...(u.note ? { note: rename(u.note) } : {}) })),
      unused: report.inputs.unused.map((u) => ({ ...relabel(u), reason: rename(u.reason) })),
    },
    warnings: [
      ...report.warnings.map((w) => ({
        ...w,
        message: rename(w.message),
        ...(w.files ? { files: [...new Set(w.files.map((f) => (variableOf.has(f) ? notebookPath : f)))] } : {}),
      })),
      ...pulled.notes.map((n) => ({ code: 'kernel-bfloat16' as const, message: n })),
    ],
  };
}
