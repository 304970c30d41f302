/// <reference types="mocha" />
/**
 * "Compute CornerNet Loss from Debug Session" in a real extension host with a REAL debug adapter:
 * Debian's debugpy (`python3 -m debugpy.adapter`, what the Python Debugger extension starts; that
 * extension cannot be installed here) behind the test debug type `cornernet-test-python`
 * (test/support/debugpy-test-extension). test/workspace/debug/train.py runs a CornerNet loss and
 * stops at the breakpoint inside it; the command works in the frame VS Code selected, through the
 * session's DAP requests. Covers numpy, torch with grad, CornerNet-Lite's lists of stacks, the
 * real QuickPick, the Variables view (compute, tensor viewer), the next breakpoint hit (the offer,
 * and recomputeOnStop), base64 from a debuggee that cannot see the transfer folder, cancel, and
 * the refusals.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CornerNetInspectorApi } from '../../src/extension';
import type { LossReport } from '../../src/cornernet/model/report';
import { checkAgainstFixture as checkReport } from './fixtureCheck';
import { readTensorFile } from '../../src/tensor/tensorFile';
import { eventually, sleep, ws } from './support';

const EXTENSION_ID = 'cornernet-inspector.cornernet-inspector';
const TYPE = 'cornernet-test-python';
const PAIR = { kind: 'pair', outs: 'outs', targets: 'targets' } as const;
let api: CornerNetInspectorApi;
const script = () => path.join(ws(), 'debug', 'train.py');
let preexisting = new Set<string>();
const transferDirs = () => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('cornernet-kernel-') && !preexisting.has(n));
/** Every DAP request our test sessions received, and the stops they reported, by session id. */
const requests = new Map<string, string[]>();
const stops = new Map<string, number>();
const stopCount = () => [...stops.values()].reduce((a, b) => a + b, 0);

function checkAgainstFixture(r: LossReport | undefined, name: string): void {
  checkReport(r, name, api.lastError);
}

const until = <T>(what: string, f: () => T | undefined | Promise<T | undefined>, timeoutMs = 60000): Promise<T> => eventually(what, f, timeoutMs, 50);

/**
 * The frame VS Code selects after the next stop. pydevd may give the new frame the id of the last
 * one (it numbers frames by id(frame)): a new stop is told by the adapter's `stopped` event, then a
 * new selection object.
 */
function nextSelectedFrame(stopsBefore: number, itemBefore: unknown): Promise<vscode.DebugStackFrame> {
  return until('the session to stop at the breakpoint', () => {
    const f = vscode.debug.activeStackItem;
    return stopCount() > stopsBefore && f instanceof vscode.DebugStackFrame && f.session.type === TYPE && f !== itemBefore ? f : undefined;
  });
}

/** Starts train.py under the debugpy adapter and resolves once it stopped at the breakpoint. */
async function startPaused(args: string[], extra: Record<string, unknown> = {}): Promise<vscode.DebugStackFrame> {
  const before = stopCount();
  const ok = await vscode.debug.startDebugging(vscode.workspace.workspaceFolders![0], {
    type: TYPE,
    request: 'launch',
    name: `train.py ${args.join(' ')}`,
    program: script(),
    args: args.map((a) => (a.startsWith('--') ? a : path.join(ws(), a))),
    cwd: path.dirname(script()),
    console: 'internalConsole',
    justMyCode: true,
    ...extra,
  });
  assert.ok(ok, 'the debug session started');
  return nextSelectedFrame(before, undefined);
}

async function stopAll(): Promise<void> {
  while (vscode.debug.activeDebugSession) {
    const s = vscode.debug.activeDebugSession;
    await vscode.debug.stopDebugging(s);
    await until('the session to end', () => (vscode.debug.activeDebugSession?.id !== s.id ? true : undefined), 30000);
  }
}

/** Continue (the debug toolbar's), and the frame of the next stop. */
async function continueToNextStop(frame: vscode.DebugStackFrame): Promise<vscode.DebugStackFrame> {
  const before = stopCount();
  await vscode.commands.executeCommand('workbench.action.debug.continue');
  return nextSelectedFrame(before, frame);
}

/** The names the Variables view lists in the frame's scopes (Locals, Globals). */
async function frameNames(frame: vscode.DebugStackFrame): Promise<Record<string, string[]>> {
  const { scopes } = await frame.session.customRequest('scopes', { frameId: frame.frameId });
  const out: Record<string, string[]> = {};
  for (const s of scopes as { name: string; variablesReference: number }[]) {
    const { variables } = await frame.session.customRequest('variables', { variablesReference: s.variablesReference });
    out[s.name] = (variables as { name: string }[]).map((v) => v.name).sort();
  }
  return out;
}

/** A statement run in the frame as the Debug Console runs one (how the tests change the debuggee). */
async function repl(frame: vscode.DebugStackFrame, code: string): Promise<string> {
  return String((await frame.session.customRequest('evaluate', { expression: code, frameId: frame.frameId, context: 'repl' })).result ?? '');
}

async function lastErrorAfter(run: () => Thenable<unknown> | Promise<unknown>): Promise<{ kind: string; message: string }> {
  const r = await run();
  assert.equal(r, undefined, 'no report');
  assert.ok(api.lastError, 'an error was reported');
  return api.lastError!;
}

async function setDebugSetting(key: string, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration('cornernet.debug').update(key, value, vscode.ConfigurationTarget.Global);
}

describe('debug session (debugpy)', function () {
  this.timeout(180000);
  const trackers: vscode.Disposable[] = [];

  before(async () => {
    api = (await vscode.extensions.getExtension(EXTENSION_ID)!.activate()) as CornerNetInspectorApi;
    preexisting = new Set(fs.readdirSync(os.tmpdir()));
    const line = fs.readFileSync(script(), 'utf8').split('\n').findIndex((l) => l.trimEnd().endsWith('  # breakpoint'));
    assert.ok(line > 0, 'train.py marks its breakpoint line');
    vscode.debug.addBreakpoints([new vscode.SourceBreakpoint(new vscode.Location(vscode.Uri.file(script()), new vscode.Position(line, 0)))]);
    trackers.push(
      vscode.debug.registerDebugAdapterTrackerFactory(TYPE, {
        createDebugAdapterTracker: (session) => ({
          onWillReceiveMessage: (m: { type?: string; command?: string }) => {
            if (m.type === 'request') requests.set(session.id, [...(requests.get(session.id) ?? []), m.command ?? '']);
          },
          onDidSendMessage: (m: { type?: string; event?: string }) => {
            if (m.type === 'event' && m.event === 'stopped') stops.set(session.id, (stops.get(session.id) ?? 0) + 1);
          },
        }),
      }),
    );
  });

  after(async () => {
    await stopAll();
    for (const t of trackers) t.dispose();
    await setDebugSetting('pythonTypes', undefined);
    await setDebugSetting('recomputeOnStop', undefined);
  });

  afterEach(stopAll);

  it('refuses without a debug session, saying what to do', async () => {
    await setDebugSetting('pythonTypes', ['debugpy', 'python', TYPE]);
    assert.equal(vscode.debug.activeDebugSession, undefined);
    const e = await lastErrorAfter(() => vscode.commands.executeCommand('cornernet.computeLossFromDebugSession'));
    assert.equal(e.kind, 'no-session');
    assert.match(e.message, /no debug session: debug your training script \(Python\), stop at a breakpoint/);
  });

  it('a session whose type is not a Python (debugpy) one is refused before anything is sent to it', async () => {
    await setDebugSetting('pythonTypes', ['debugpy', 'python']);
    try {
      const frame = await startPaused(['p01_basic']);
      const before = [...(requests.get(frame.session.id) ?? [])];
      const e = await lastErrorAfter(() => api.computeLossFromDebugSession({ choice: PAIR }));
      assert.equal(e.kind, 'language');
      assert.match(e.message, new RegExp(`is of type ${TYPE}, not a Python \\(debugpy\\) session: .*add "${TYPE}" to the setting cornernet\\.debug\\.pythonTypes`));
      assert.deepEqual(requests.get(frame.session.id), before, 'no request reached the adapter');
    } finally {
      await setDebugSetting('pythonTypes', ['debugpy', 'python', TYPE]);
    }
  });

  it("outs + targets (numpy) of the paused frame: the fixture's numbers in the panel, the script and variables as inputs, the frame's names unchanged, nothing left on disk", async () => {
    const frame = await startPaused(['p01_basic']);
    const names = await frameNames(frame);
    assert.ok(names.Locals?.includes('outs'), JSON.stringify(names));
    const r = await api.computeLossFromDebugSession({ choice: PAIR });
    checkAgainstFixture(r, 'p01_basic');
    assert.equal(api.lastDebugTransfer?.mode, 'file', 'a local debuggee writes files');
    const first = api.currentReport()!.inputs.roles.find((u) => u.role === 'tl_heat')!;
    assert.equal(first.file, script());
    assert.equal(first.variable, 'outs[0]');
    const render = await api.waitForRender(60000, (x) => x.metrics.total === r!.total);
    assert.equal(render.metrics.total, r!.total, 'the panel shows it');
    assert.ok(api.sidebarState().tensors.some((t) => t.variable === 'targets[2]'), 'the side view lists the variables');
    assert.deepEqual(await frameNames(frame), names, 'Locals and Globals as they were');
    assert.deepEqual(transferDirs(), []);
    const sent = requests.get(frame.session.id) ?? [];
    assert.equal(sent.filter((c) => c === 'evaluate').length, 2, 'one evaluate to inspect, one to transfer');
  });

  it('through the real QuickPick, as the debug toolbar and the palette run it: torch outputs with grad, the pair offered first', async () => {
    await startPaused(['--torch', 'p02_two_stacks']);
    let settled = false;
    const pending = Promise.resolve(vscode.commands.executeCommand<LossReport | undefined>('cornernet.computeLossFromDebugSession')).finally(() => (settled = true));
    for (let i = 0; i < 120 && !settled; i++) {
      await sleep(500);
      if (api.debugRunningCount + api.runningCount === 0) await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    }
    checkAgainstFixture(await pending, 'p02_two_stacks');
  });

  it("CornerNet-Lite's six lists of stacks (torch) give the fixture's numbers", async () => {
    await startPaused(['--torch', '--lite', 'p02_two_stacks']);
    const r = await api.computeLossFromDebugSession({ choice: PAIR });
    checkAgainstFixture(r, 'p02_two_stacks');
    assert.equal(api.currentReport()!.inputs.roles.filter((u) => u.role === 'tl_heat').map((u) => u.variable).join(' '), 'outs[0][0] outs[0][1]');
  });

  it('the Variables view: Compute on `targets` offers its pair first; Open in Tensor Viewer on outs[0] shows its values, its file goes with the editor; a value that is not an array is refused', async () => {
    const frame = await startPaused(['--torch', 'p01_basic']);
    const { variables } = await frame.session.customRequest('variables', { variablesReference: (await frame.session.customRequest('scopes', { frameId: frame.frameId })).scopes[0].variablesReference });
    const targets = (variables as { name: string; evaluateName?: string; type?: string }[]).find((v) => v.name === 'targets')!;
    assert.equal(targets.type, 'list');
    // What the Variables view passes to a context-menu command.
    let settled = false;
    const pending = Promise.resolve(vscode.commands.executeCommand<LossReport | undefined>('cornernet.computeLossFromDebugSession', { sessionId: frame.session.id, container: { name: 'Locals' }, variable: targets })).finally(() => (settled = true));
    for (let i = 0; i < 120 && !settled; i++) {
      await sleep(500);
      if (api.debugRunningCount + api.runningCount === 0) await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    }
    checkAgainstFixture(await pending, 'p01_basic');

    const { variables: items } = await frame.session.customRequest('variables', { variablesReference: (variables as { name: string; variablesReference: number }[]).find((v) => v.name === 'outs')!.variablesReference });
    const outs0 = (items as { name: string; evaluateName?: string; type?: string }[]).find((v) => v.name === '0')!;
    assert.equal(outs0.evaluateName, 'outs[0]');
    assert.equal(outs0.type, 'Tensor');
    const file = await vscode.commands.executeCommand<string | undefined>('cornernet.openDebugVariable', { sessionId: frame.session.id, variable: outs0 });
    assert.ok(file, JSON.stringify(api.lastError));
    const heat = await readTensorFile(path.join(ws(), 'p01_basic', 'tl_heat.npy'));
    const values = Array.from(heat.data as Float32Array).slice(0, heat.data.length / heat.shape[0]!);
    const render = await api.waitForViewerRender(vscode.Uri.file(file), 30000, (x) => x.metrics['stats.count'] !== undefined);
    assert.equal(render.metrics['stats.count'], values.length, 'stack 0 of tl_heat');
    assert.equal(render.metrics['stats.min'], Math.min(...values));
    assert.equal(render.metrics['stats.max'], Math.max(...values));
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    await until('the file to go with its editor', () => (fs.existsSync(file) ? undefined : true), 10000);
    const lite = (variables as { name: string; evaluateName?: string; type?: string }[]).find((v) => v.name === 'lite')!;
    const e = await lastErrorAfter(() => vscode.commands.executeCommand('cornernet.openDebugVariable', { sessionId: frame.session.id, variable: lite }));
    assert.equal(e.kind, 'not-array');
    assert.match(e.message, /^lite is a bool, not a numpy array or a torch tensor/);
  });

  it('the next breakpoint hit: the panel offers "Compute again"; with recomputeOnStop it computes by itself; a running session is refused and the offer goes', async () => {
    let frame = await startPaused(['p01_basic', 'p01_basic', 'p02_two_stacks', 'p01_basic', '--linger=120']);
    checkAgainstFixture(await api.computeLossFromDebugSession({ choice: PAIR }), 'p01_basic');
    assert.equal(api.debugOffer(), undefined);
    frame = await continueToNextStop(frame);
    const offer = await until('the offer', () => api.debugOffer());
    assert.equal(offer.action, 'Compute again');
    assert.match(offer.message, /stopped again \(breakpoint\) at ae_loss\(\) at train\.py:\d+\. This result is from an earlier stop\./);

    await setDebugSetting('recomputeOnStop', true);
    try {
      const shown = api.currentReport();
      frame = await continueToNextStop(frame);
      await until('the computation at the new stop', () => (api.currentReport() !== shown && api.runningCount + api.debugRunningCount === 0 ? true : undefined));
      checkAgainstFixture(api.currentReport(), 'p02_two_stacks');
      assert.equal(api.debugOffer(), undefined);
    } finally {
      await setDebugSetting('recomputeOnStop', undefined);
    }
    frame = await continueToNextStop(frame);
    await until('the offer at the next stop', () => api.debugOffer());
    await vscode.commands.executeCommand('workbench.action.debug.continue');
    await until('the offer to go while the session runs', () => (api.debugOffer() === undefined ? true : undefined), 10000);
    await until('no frame selected', () => (vscode.debug.activeStackItem instanceof vscode.DebugStackFrame ? undefined : true), 10000);
    const e = await lastErrorAfter(() => api.computeLossFromDebugSession({ choice: PAIR }));
    assert.equal(e.kind, 'not-paused');
    assert.match(e.message, /is not paused in a frame: pause it/);
  });

  it("base64 through evaluate results from a debuggee that cannot see the transfer folder (a private mount namespace): the fixture's numbers", async () => {
    // debugpy's `python` is the debuggee's command: the interpreter in a mount namespace where an
    // empty tmpfs covers the temp folder (the workspace, which lives under it, bound back in place).
    const hide = `mount --bind "$0" /mnt && mount -t tmpfs tmpfs "$1" && mkdir -p "$0" && mount --bind /mnt "$0" && shift && exec "$@"`;
    const probe = `cn-probe-${process.pid}`;
    fs.writeFileSync(path.join(os.tmpdir(), probe), 'x');
    let frame: vscode.DebugStackFrame;
    try {
      frame = await startPaused(['--torch', 'p02_two_stacks'], { python: ['unshare', '-m', 'sh', '-c', hide, ws(), os.tmpdir(), '/usr/bin/python3'], debugLauncherPython: '/usr/bin/python3' });
      assert.equal(await repl(frame, `${JSON.stringify(probe)} in __import__('os').listdir(${JSON.stringify(os.tmpdir())})`), 'False', 'the debuggee does not see the temp folder');
    } finally {
      fs.rmSync(path.join(os.tmpdir(), probe), { force: true });
    }
    const r = await api.computeLossFromDebugSession({ choice: PAIR });
    checkAgainstFixture(r, 'p02_two_stacks');
    assert.equal(api.lastDebugTransfer?.mode, 'base64');
    assert.deepEqual(transferDirs(), []);
  });

  it('cancel during a transfer: the run ends at once as cancelled, no folder is left once the evaluation in the debuggee ends, the session still answers, its names unchanged', async () => {
    const frame = await startPaused(['p01_basic']);
    // 168 MB of heatmaps in the frame's outs and targets (as the notebook's cancel test).
    await repl(frame, `import numpy as np
outs = [np.random.default_rng(0).standard_normal((2, 80, 256, 256)).astype(np.float32) for _ in range(2)] + [np.zeros((2, 128, 1), np.float32)] * 2 + [np.zeros((2, 128, 2), np.float32)] * 2
targets = [np.zeros((2, 80, 256, 256), np.float32)] * 2 + [np.zeros((2, 128), np.uint8), np.zeros((2, 128, 2), np.float32), np.zeros((2, 128, 2), np.float32)]`);
    const names = await frameNames(frame);
    const pending = api.computeLossFromDebugSession({ choice: PAIR });
    await until('the transfer to start', () => (api.debugRunningCount > 0 ? true : undefined), 20000);
    await sleep(400);
    assert.equal(api.cancelDebug(), 1, 'one inspection or transfer was under way');
    assert.equal(await pending, undefined);
    assert.equal(api.lastError?.kind, 'cancelled');
    // DAP cannot interrupt the evaluation: it ends in the debuggee, writing nothing once the folder is gone.
    await sleep(3000);
    assert.deepEqual(transferDirs(), [], 'the transfer folder is removed');
    assert.equal(await repl(frame, 'len(outs)'), '6', 'the session answers');
    assert.deepEqual(await frameNames(frame), names);
  });
});
