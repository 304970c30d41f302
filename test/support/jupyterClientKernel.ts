/**
 * A real Python kernel (ipykernel) through jupyter_client, as a NotebookKernel: what the tests use
 * in place of the Jupyter extension's API, which cannot be installed here. The bridge
 * (kernel_bridge.py) runs under Debian's python3 (python3-ipykernel, python3-jupyter-client,
 * python3-numpy, python3-torch). `hide` runs it in its own mount namespace with an empty tmpfs
 * over a folder (the host's transfer root), so the kernel cannot see the host's transfer folders:
 * a remote kernel, as far as the transfer can tell.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { KernelCancelToken, KernelOutput, NotebookKernel } from '../../src/notebook/kernel';

/** Debian's interpreter has the packages; a pyenv or venv python3 first on PATH may not. */
export function kernelPython(): string {
  for (const p of [process.env.CORNERNET_TEST_PYTHON, '/usr/bin/python3']) if (p && fs.existsSync(p)) return p;
  return 'python3';
}

/** The repository (for the bridge script) from wherever the compiled test runs. */
function repoRoot(): string {
  if (process.env.HARNESS_REPO) return process.env.HARNESS_REPO;
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'test', 'support', 'kernel_bridge.py'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`kernel_bridge.py not found above ${__dirname}`);
    dir = up;
  }
  return dir;
}

/** True when this machine can hide `dir` from a process (root, unshare -m, tmpfs). */
export function canHide(dir: string): boolean {
  const probe = path.join(dir, `.probe-${process.pid}`);
  fs.writeFileSync(probe, 'x');
  try {
    const r = spawnSync('unshare', ['-m', 'sh', '-c', 'mount -t tmpfs tmpfs "$0" && test ! -e "$1"', dir, probe], { encoding: 'utf8' });
    return r.status === 0;
  } finally {
    fs.rmSync(probe, { force: true });
  }
}

type Waiter = { push: (o: KernelOutput) => void; end: () => void };

export class JupyterClientKernel implements NotebookKernel {
  readonly language = 'python';
  private nextId = 1;
  private readonly waiters = new Map<number, Waiter>();
  private buffer = '';
  private pieces: string[] = [];
  private stderr = '';
  private exited = false;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-4000);
    });
    child.on('exit', () => {
      this.exited = true;
      for (const w of this.waiters.values()) w.end();
      this.waiters.clear();
    });
  }

  static async start(options: { hide?: string; timeoutMs?: number } = {}): Promise<JupyterClientKernel> {
    const bridge = path.join(repoRoot(), 'test', 'support', 'kernel_bridge.py');
    const python = kernelPython();
    const child = options.hide
      ? spawn('unshare', ['-m', 'sh', '-c', 'mount -t tmpfs tmpfs "$0" && exec "$1" "$2"', options.hide, python, bridge])
      : spawn(python, [bridge]);
    const kernel = new JupyterClientKernel(child);
    await kernel.ready(options.timeoutMs ?? 120000);
    return kernel;
  }

  private ready(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the kernel did not start in ${timeoutMs} ms: ${this.stderr}`)), timeoutMs);
      const onData = (d: string) => {
        this.buffer += d;
        const nl = this.buffer.indexOf('\n');
        if (nl < 0) return;
        const first = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        this.child.stdout.off('data', onData);
        clearTimeout(timer);
        try {
          if (!(JSON.parse(first) as { ready?: boolean }).ready) throw new Error(first);
        } catch (e) {
          reject(new Error(`the kernel bridge said: ${first} ${this.stderr}`));
          return;
        }
        this.child.stdout.on('data', (x: string) => this.onData(x));
        if (this.buffer) this.onData(this.buffer);
        resolve();
      };
      this.child.stdout.on('data', onData);
      this.child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the kernel bridge exited (${code}): ${this.stderr}`));
      });
    });
  }

  private onData(d: string): void {
    // Lines can be megabytes (base64 chunks) arriving in 64 KB pieces: look for the end of a line
    // in the new piece only, and join the pieces once.
    this.pieces.push(d);
    let nl: number;
    while ((nl = d.indexOf('\n')) >= 0) {
      const head = this.pieces.length > 1 ? this.pieces.slice(0, -1).join('') : '';
      const line = head + d.slice(0, nl);
      d = d.slice(nl + 1);
      this.pieces = [d];
      const msg = JSON.parse(line) as { id: number; output?: { items: { mime: string; text: string }[] }; done?: boolean };
      const w = this.waiters.get(msg.id);
      if (!w) continue;
      if (msg.output) w.push({ items: msg.output.items.map((i) => ({ mime: i.mime, data: new TextEncoder().encode(i.text) })) });
      if (msg.done) {
        this.waiters.delete(msg.id);
        w.end();
      }
    }
  }

  executeCode(code: string, token: KernelCancelToken): AsyncIterable<KernelOutput> {
    const id = this.nextId++;
    const queue: KernelOutput[] = [];
    let ended = this.exited;
    let wake: (() => void) | undefined;
    this.waiters.set(id, {
      push: (o) => {
        queue.push(o);
        wake?.();
      },
      end: () => {
        ended = true;
        wake?.();
      },
    });
    this.child.stdin.write(JSON.stringify({ op: 'execute', id, code }) + '\n');
    const sub = token.onCancellationRequested(() => this.interrupt());
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        try {
          for (;;) {
            while (queue.length) yield queue.shift()!;
            if (ended) break;
            await new Promise<void>((r) => (wake = r));
            wake = undefined;
          }
          if (self.exited) throw new Error(`the kernel exited: ${self.stderr}`);
        } finally {
          sub.dispose();
        }
      },
    };
  }

  /** Runs code and returns what it printed (test set-up; throws on a Python error). */
  async run(code: string): Promise<string> {
    let text = '';
    const never = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };
    for await (const o of this.executeCode(code, never)) {
      for (const i of o.items) {
        const s = new TextDecoder().decode(i.data);
        if (i.mime.endsWith('.error')) throw new Error(`Python error: ${s}`);
        if (i.mime.endsWith('stdout') || i.mime === 'text/plain') text += s;
      }
    }
    return text;
  }

  interrupt(): void {
    if (!this.exited) this.child.stdin.write(JSON.stringify({ op: 'interrupt' }) + '\n');
  }

  async shutdown(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin.write(JSON.stringify({ op: 'shutdown' }) + '\n');
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(timer);
  }
}
