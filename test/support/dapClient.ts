/**
 * A minimal Debug Adapter Protocol client for the unit tests: it starts Debian's debugpy adapter
 * (`python3 -m debugpy.adapter`, the adapter the Python Debugger extension starts), launches a
 * script under it with breakpoints, and waits until it stops. `customRequest` behaves as
 * vscode.DebugSession's does (the response body, or a rejection with the adapter's message), so
 * the extension's DAP kernel runs against it unchanged.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { kernelPython } from './jupyterClientKernel';

interface DapMessage {
  seq: number;
  type: 'request' | 'response' | 'event';
  command?: string;
  event?: string;
  request_seq?: number;
  success?: boolean;
  message?: string;
  body?: any;
}

export interface LaunchOptions {
  program: string;
  args?: string[];
  cwd?: string;
  /** The debuggee's interpreter command (debugpy's `python`: e.g. a wrapper that hides a folder). */
  python?: string[];
  breakpoints: { file: string; line: number }[];
  timeoutMs?: number;
}

export class DapClient {
  private seq = 1;
  /** Received bytes not yet parsed, as the pieces arrived (joined once a whole message is in). */
  private pieces: Buffer[] = [];
  private received = 0;
  private contentLength = -1;
  private readonly pending = new Map<number, { resolve: (m: DapMessage) => void }>();
  private readonly events: DapMessage[] = [];
  private readonly eventWaiters: { name: string; pred: (m: DapMessage) => boolean; resolve: (m: DapMessage) => void }[] = [];
  /** Every request sent (command and arguments), for the tests to check what reached the adapter. */
  readonly sent: { command: string; args: unknown }[] = [];
  stderr = '';
  output = '';
  /** The largest message the adapter sent, in bytes (the DAP kernel keeps them near a page). */
  largestMessage = 0;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (d: Buffer) => this.onData(d));
    child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    child.on('exit', () => {
      for (const p of this.pending.values()) p.resolve({ seq: 0, type: 'response', success: false, message: `the adapter exited: ${this.stderr}` });
      this.pending.clear();
    });
  }

  /** Starts the adapter, launches `program` and resolves once it stopped at a breakpoint. */
  static async launch(opts: LaunchOptions): Promise<{ client: DapClient; threadId: number; frameId: number }> {
    const python = kernelPython();
    const client = new DapClient(spawn(python, ['-m', 'debugpy.adapter']));
    await client.request('initialize', { clientID: 'cornernet-tests', adapterID: 'debugpy', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path', supportsRunInTerminalRequest: false });
    const initialized = client.waitForEvent('initialized', () => true, opts.timeoutMs);
    // debugpy answers `launch` only after configurationDone.
    const launched = client.request('launch', {
      program: opts.program,
      args: opts.args ?? [],
      cwd: opts.cwd,
      console: 'internalConsole',
      justMyCode: true,
      python: opts.python ?? [python],
      debugLauncherPython: python,
    });
    await initialized;
    const byFile = new Map<string, number[]>();
    for (const b of opts.breakpoints) byFile.set(b.file, [...(byFile.get(b.file) ?? []), b.line]);
    for (const [file, lines] of byFile) await client.request('setBreakpoints', { source: { path: file }, breakpoints: lines.map((line) => ({ line })) });
    const stopped = client.waitForEvent('stopped', () => true, opts.timeoutMs);
    await client.request('configurationDone', {});
    await launched;
    const ev = await stopped;
    const frameId = await client.topFrame(ev.body.threadId);
    return { client, threadId: ev.body.threadId, frameId };
  }

  async topFrame(threadId: number): Promise<number> {
    const st = await this.request('stackTrace', { threadId, startFrame: 0, levels: 1 });
    return st.stackFrames[0].id;
  }

  /** As vscode.DebugSession.customRequest: the body, or an Error with the adapter's message. */
  async customRequest(command: string, args?: unknown): Promise<any> {
    return this.request(command, args);
  }

  request(command: string, args?: unknown): Promise<any> {
    const seq = this.seq++;
    this.sent.push({ command, args });
    const msg = Buffer.from(JSON.stringify({ seq, type: 'request', command, arguments: args }), 'utf8');
    this.child.stdin.write(`Content-Length: ${msg.length}\r\n\r\n`);
    this.child.stdin.write(msg);
    return new Promise((resolve, reject) => {
      this.pending.set(seq, {
        resolve: (m) => (m.success ? resolve(m.body ?? {}) : reject(new Error(m.message ?? `${command} failed`))),
      });
    });
  }

  /** The next event `name` matching `pred` (also one that already arrived and was not consumed). */
  waitForEvent(name: string, pred: (m: DapMessage) => boolean = () => true, timeoutMs = 60000): Promise<DapMessage> {
    const i = this.events.findIndex((e) => e.event === name && pred(e));
    if (i >= 0) return Promise.resolve(this.events.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = { name, pred, resolve: (m: DapMessage) => (clearTimeout(timer), resolve(m)) };
      const timer = setTimeout(() => {
        this.eventWaiters.splice(this.eventWaiters.indexOf(waiter), 1);
        reject(new Error(`no ${name} event within ${timeoutMs} ms; adapter stderr: ${this.stderr}; output: ${this.output.slice(-2000)}`));
      }, timeoutMs);
      this.eventWaiters.push(waiter);
    });
  }

  private onData(d: Buffer): void {
    this.pieces.push(d);
    this.received += d.length;
    for (;;) {
      if (this.contentLength < 0) {
        const all = Buffer.concat(this.pieces);
        const head = all.indexOf('\r\n\r\n');
        if (head < 0) return void (this.pieces = [all]);
        const m = /Content-Length: *(\d+)/i.exec(all.subarray(0, head).toString('ascii'));
        if (!m) throw new Error('a DAP message without Content-Length');
        this.contentLength = Number(m[1]);
        const rest = all.subarray(head + 4);
        this.pieces = [rest];
        this.received = rest.length;
      }
      // A large message arrives in many pieces: join them once it is all there.
      if (this.received < this.contentLength) return;
      const all = Buffer.concat(this.pieces);
      const msg = JSON.parse(all.subarray(0, this.contentLength).toString('utf8')) as DapMessage;
      this.largestMessage = Math.max(this.largestMessage, this.contentLength);
      const rest = all.subarray(this.contentLength);
      this.pieces = [rest];
      this.received = rest.length;
      this.contentLength = -1;
      this.dispatch(msg);
    }
  }

  private dispatch(msg: DapMessage): void {
    if (msg.type === 'response') {
      const p = this.pending.get(msg.request_seq!);
      this.pending.delete(msg.request_seq!);
      p?.resolve(msg);
    } else if (msg.type === 'event') {
      if (msg.event === 'output') this.output = (this.output + (msg.body?.output ?? '')).slice(-100000);
      const w = this.eventWaiters.find((x) => x.name === msg.event && x.pred(msg));
      if (w) {
        this.eventWaiters.splice(this.eventWaiters.indexOf(w), 1);
        w.resolve(msg);
      } else {
        this.events.push(msg);
      }
    } else if (msg.type === 'request') {
      // Reverse requests (runInTerminal, startDebugging) are not used here: answer that.
      const body = Buffer.from(JSON.stringify({ seq: this.seq++, type: 'response', request_seq: msg.seq, command: msg.command, success: false, message: 'not supported by the test client' }));
      this.child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
      this.child.stdin.write(body);
    }
  }

  /** Ends the debuggee and the adapter. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await Promise.race([this.request('disconnect', { terminateDebuggee: true }).catch(() => undefined), new Promise((r) => setTimeout(r, 5000))]);
    await new Promise<void>((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      this.child.once('exit', () => (clearTimeout(t), resolve()));
      this.child.stdin.end();
    });
  }
}
