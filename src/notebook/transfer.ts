/**
 * Moves the planned arrays out of the kernel into a private folder of this machine as .npy files,
 * which the engine then reads like any others. A local kernel writes them there itself (it proves
 * it sees the folder by reading a probe file holding a random nonce); a remote one sends them as
 * base64 chunks in display outputs, written to disk as they arrive (never held whole in memory).
 * Every size the kernel announces is checked against the plan; the folder is removed on failure
 * and cancellation, and by `dispose()` once the arrays are read.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KernelError, MIME, runSnippet, type KernelCancelToken, type NotebookKernel } from './kernel';
import { exportCode } from './snippets';
import { planBytes, sentBytes, type PlannedArray, type TransferPlan } from './variables';

export type TransferMode = 'auto' | 'file' | 'base64';

export interface TransferOptions {
  mode?: TransferMode;
  /** Where the private folder is made (os.tmpdir() by default). */
  tmpRoot?: string;
  /** Raw bytes per base64 chunk. */
  chunkBytes?: number;
  /** Refuse above this many bytes in all. */
  maxBytes: number;
  token: KernelCancelToken;
  onProgress?: (fraction: number, message: string) => void;
  /** Lines the kernel printed besides the replies (library warnings). */
  onOutput?: (text: string) => void;
}

export interface TransferredArray {
  array: PlannedArray;
  file: string;
  shape: number[];
  dtype: string;
  note?: string;
}

export interface TransferResult {
  dir: string;
  mode: 'file' | 'base64';
  arrays: TransferredArray[];
  bytes: number;
  ms: number;
  /** Removes the folder (idempotent). */
  dispose(): Promise<void>;
}

/** An array on its way in: announced bytes, bytes so far, the file being written (base64). */
type Incoming = TransferredArray & { bytes: number; got: number; fd?: fsp.FileHandle };

/** npy header and padding on top of the data (a v1 header is at most 64 KiB). */
const HEADER_SLACK = 65536 + 128;

export async function transferArrays(kernel: NotebookKernel, plan: TransferPlan, options: TransferOptions): Promise<TransferResult> {
  const t0 = performance.now();
  const total = planBytes(plan);
  if (total > options.maxBytes) {
    throw new KernelError('too-large', `the chosen arrays add up to ${mb(total)} MB, more than the limit of ${mb(options.maxBytes)} MB (cornernet.notebook.maxTransferMB)`);
  }
  const dir = await fsp.mkdtemp(path.join(options.tmpRoot ?? os.tmpdir(), 'cornernet-kernel-'));
  // Retries: a kernel that could not be interrupted (a debuggee: DAP has no way to stop an
  // evaluation) may create a file between the listing and the rmdir; its next one then fails.
  const dispose = () => fsp.rm(dir, { recursive: true, force: true, maxRetries: 3 });
  const nonce = randomBytes(16).toString('hex');
  const probe = `probe-${randomBytes(6).toString('hex')}`;
  const byId = new Map(plan.arrays.map((a) => [a.id, a]));
  const received = new Map<number, Incoming>();
  let mode: 'file' | 'base64' | undefined;
  let done = false;
  let bytesDone = 0;
  const progress = options.onProgress ?? (() => undefined);
  try {
    await fsp.writeFile(path.join(dir, probe), nonce, { mode: 0o600 });
    const code = exportCode({
      items: plan.arrays.map((a) => ({ id: a.id, path: a.path })),
      mode: options.mode ?? 'auto',
      dir,
      probe,
      nonce,
      chunkBytes: options.chunkBytes ?? 4 * 1024 * 1024,
      maxBytes: options.maxBytes,
    }, kernel.replies);
    progress(0, 'asking the kernel');
    let current: Incoming | undefined;
    const finishCurrent = async () => {
      if (!current) return;
      if (current.got !== current.bytes) throw new KernelError('transfer', `${current.array.label}: ${current.got} of ${current.bytes} bytes arrived`);
      await current.fd?.close();
      delete current.fd;
      current = undefined;
    };
    await runSnippet(
      kernel,
      code,
      options.token,
      async ({ mime, value }) => {
        if (mime !== MIME.event || typeof value !== 'object' || value === null) throw new KernelError('protocol', 'unexpected reply to the transfer');
        const e = value as Record<string, unknown>;
        switch (e.event) {
          case 'start':
            if (e.mode !== 'file' && e.mode !== 'base64') throw new KernelError('protocol', `unknown transfer mode ${String(e.mode)}`);
            mode = e.mode;
            progress(0, mode === 'file' ? 'the kernel writes the arrays to this machine' : 'the kernel sends the arrays (base64)');
            return;
          case 'error': {
            const kind = e.kind === 'not-array' || e.kind === 'too-large' || e.kind === 'transfer' ? e.kind : 'kernel-error';
            throw new KernelError(kind, String(e.message ?? 'the kernel refused'), typeof e.variable === 'string' ? e.variable : undefined);
          }
          case 'item': {
            await finishCurrent();
            const array = byId.get(e.id as number);
            if (!array || received.has(array.id) || !mode) throw new KernelError('protocol', `the kernel sent an array that was not asked for (${String(e.id)})`);
            const bytes = e.bytes;
            const limit = sentBytes(array.desc) + HEADER_SLACK;
            if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0 || bytes > limit) {
              throw new KernelError('transfer', `${array.label}: the kernel announced ${String(bytes)} bytes, not the ${array.desc.bytes} it reported (did the variable change?)`);
            }
            const file = path.join(dir, `${array.id}.npy`);
            const shape = Array.isArray(e.shape) ? (e.shape as unknown[]).map(Number) : [];
            const entry: Incoming = { array, file, shape, dtype: String(e.dtype), ...(typeof e.note === 'string' ? { note: e.note } : {}), bytes, got: 0 };
            received.set(array.id, entry);
            if (mode === 'file') {
              const st = await fsp.stat(file).catch(() => undefined);
              if (!st || st.size !== bytes) throw new KernelError('transfer', `${array.label}: the file the kernel wrote is missing or incomplete`);
              entry.got = bytes;
              bytesDone += bytes;
              progress(Math.min(1, bytesDone / Math.max(1, total)), `${array.label} (${mb(bytesDone)} of ${mb(total)} MB)`);
            } else {
              entry.fd = await fsp.open(file, 'wx', 0o600);
              current = entry;
              if (bytes === 0) await finishCurrent();
            }
            return;
          }
          case 'chunk': {
            if (mode !== 'base64' || !current || e.id !== current.array.id || e.offset !== current.got || typeof e.b64 !== 'string') {
              throw new KernelError('protocol', 'a base64 chunk arrived out of order');
            }
            if (e.b64.length > 4 * Math.ceil((current.bytes - current.got) / 3)) throw new KernelError('transfer', `${current.array.label}: more bytes arrived than announced`);
            const chunk = Buffer.from(e.b64, 'base64');
            if (current.got + chunk.length > current.bytes) throw new KernelError('transfer', `${current.array.label}: more bytes arrived than announced`);
            await current.fd!.write(chunk, 0, chunk.length, current.got);
            current.got += chunk.length;
            bytesDone += chunk.length;
            progress(Math.min(1, bytesDone / Math.max(1, total)), `${current.array.label} (${mb(bytesDone)} of ${mb(total)} MB)`);
            if (current.got === current.bytes) await finishCurrent();
            return;
          }
          case 'done':
            await finishCurrent();
            done = true;
            return;
          default:
            throw new KernelError('protocol', `unknown transfer event ${String(e.event)}`);
        }
      },
      options.onOutput,
    );
    if (!done || !mode) throw new KernelError('transfer', 'the kernel stopped before sending every array');
    const missing = plan.arrays.filter((a) => !received.has(a.id));
    if (missing.length) throw new KernelError('transfer', `the kernel did not send ${missing.map((a) => a.label).join(', ')}`);
    await fsp.rm(path.join(dir, probe), { force: true });
    return {
      dir,
      mode,
      arrays: plan.arrays.map((a) => {
        const { bytes: _b, got: _g, fd: _f, ...rest } = received.get(a.id)!;
        return rest;
      }),
      bytes: bytesDone,
      ms: performance.now() - t0,
      dispose,
    };
  } catch (e) {
    await Promise.all([...received.values()].map((r) => r.fd?.close().catch(() => undefined)));
    await dispose().catch(() => undefined);
    throw e;
  }
}

function mb(bytes: number): string {
  return (bytes / 1024 ** 2).toFixed(bytes < 10 * 1024 ** 2 ? 1 : 0);
}
