/**
 * The notebook flow in a paused debuggee: the DAP kernel (src/notebook/dapKernel.ts) against a REAL
 * debug adapter (Debian's debugpy, `python3 -m debugpy.adapter`) running test/workspace/debug/
 * train.py stopped at the breakpoint inside its CornerNet loss. The same inspection, plans and
 * transfer as for a kernel give the fixture's loss (numpy, torch with grad, CornerNet-Lite's lists
 * of stacks, base64 from a debuggee that cannot see the transfer folder); the frame's names are as
 * they were afterwards; refusals and cancellation.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { computeLossFromFiles } from '../../src/cornernet/run';
import { DebugFrameKernel, PAGE_CHARS, evaluateExpression, parseIndexPath } from '../../src/notebook/dapKernel';
import { KernelError } from '../../src/notebook/kernel';
import { inspectKernel, pullInputs } from '../../src/notebook/pull';
import { transferArrays } from '../../src/notebook/transfer';
import { pairChoices, planOutsTargets, tensorLeaves, type TransferPlan } from '../../src/notebook/variables';
import { Cancel, never } from '../support/cancel';
import { DapClient } from '../support/dapClient';
import { canHide, kernelPython } from '../support/jupyterClientKernel';
import { FIXTURES, assertClose, float32Floor, readExpected } from './helpers';

const SCRIPT = path.join(process.cwd(), 'test', 'workspace', 'debug', 'train.py');
const BREAK_LINE = fs.readFileSync(SCRIPT, 'utf8').split('\n').findIndex((l) => l.trimEnd().endsWith('  # breakpoint')) + 1;

let tmpRoot: string;
const leftovers = () => fs.readdirSync(tmpRoot).filter((n) => n.startsWith('cornernet-kernel-'));

/** The names the debugger shows in the frame's scopes (Locals, Globals), as the Variables view lists them. */
async function frameNames(client: DapClient, frameId: number): Promise<Record<string, string[]>> {
  const { scopes } = await client.request('scopes', { frameId });
  const out: Record<string, string[]> = {};
  for (const s of scopes as { name: string; variablesReference: number }[]) {
    const { variables } = await client.request('variables', { variablesReference: s.variablesReference });
    out[s.name] = (variables as { name: string }[]).map((v) => v.name).sort();
  }
  return out;
}

/** A statement run in the frame as the Debug Console runs one (the tests' way to change the debuggee). */
async function repl(client: DapClient, frameId: number, code: string): Promise<string> {
  const r = await client.request('evaluate', { expression: code, frameId, context: 'repl' });
  return String(r.result ?? '');
}

function checkFixture(report: Awaited<ReturnType<typeof computeLossFromFiles>>, name: string, label: string) {
  const exp = readExpected(name).float32;
  assertClose(report.total, exp.total, 1e-5, float32Floor('total'), `${label} total`);
  for (const t of ['focal', 'pull', 'push', 'regr'] as const) assertClose(report.unweighted[t], exp.unweighted[t], 1e-5, float32Floor(t), `${label} ${t}`);
  assert.equal(report.perStack.length, exp.per_stack.length, `${label} stacks`);
}

async function lossFromFrame(kernel: DebugFrameKernel, mode: 'auto' | 'file' | 'base64' = 'auto') {
  const ins = await inspectKernel(kernel, never, 'train.py');
  const pair = pairChoices(ins)[0];
  assert.ok(pair, `a pair is offered (found ${ins.variables.map((v) => v.name).join(', ')})`);
  assert.deepEqual([pair.outs.name, pair.targets.name], ['outs', 'targets']);
  const pulled = await pullInputs(kernel, planOutsTargets(pair.outs, pair.targets), { notebook: 'train.py', mode, maxBytes: 1 << 30, token: never, tmpRoot });
  try {
    return { report: await computeLossFromFiles(pulled.spec, { threads: 1 }), pulled, ins };
  } finally {
    await pulled.transfer.dispose();
  }
}

describe('debug session: a real debugpy adapter, paused in a CornerNet loss', () => {
  before(() => {
    tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'cn-dbg-test-'));
  });
  after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

  it('the evaluated expression is one line, binds nothing at its level, and escapes @LINE@ (pydevd turns it into a newline)', () => {
    const e = evaluateExpression(`x = "@LINE@"\nprint(x)`, [['self.outs', 'self.outs']]);
    assert.ok(!e.includes('\n') && !e.includes('@'), e.slice(0, 200));
    assert.ok(!/:=/.test(e.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, '')), 'no walrus outside string literals');
  });

  it("the Variables view's expressions as paths: names and index steps; anything else is left to Python", () => {
    assert.deepEqual(parseIndexPath('outs'), ['outs']);
    assert.deepEqual(parseIndexPath('outs[0][12]'), ['outs', 0, 12]);
    assert.deepEqual(parseIndexPath(`batch['hm']["it's"]`), ['batch', 'hm', "it's"]);
    assert.deepEqual(parseIndexPath("d['a\\'b']"), ['d', "a'b"]);
    for (const e of ['self.outs', 'outs[0].T', 'outs[-1]', 'outs[0:2]', "d['a\\nb']", '0x', 'f()']) assert.equal(parseIndexPath(e), undefined, e);
  });

  for (const [lib, name] of [['numpy', 'p01_basic'], ['torch', 'p02_two_stacks']] as const) {
    it(`${name} (${lib}${lib === 'torch' ? ', outputs with grad' : ''}): outs + targets of the paused frame give the fixture's loss; the frame's names are unchanged`, async () => {
      const { client, frameId } = await startWith(name, lib === 'torch' ? ['--torch'] : []);
      try {
        const before = await frameNames(client, frameId);
        const stdoutBefore = await repl(client, frameId, 'id(__import__("sys").stdout)');
        assert.ok(before.Locals?.includes('outs') && before.Locals.includes('targets'), JSON.stringify(before));
        const kernel = new DebugFrameKernel(client, frameId, { frameLabel: 'ae_loss()' });
        const { report, pulled, ins } = await lossFromFrame(kernel);
        assert.equal(pulled.transfer.mode, 'file', 'a local debuggee writes the files');
        checkFixture(report, name, `${name} ${lib}`);
        const outs0 = tensorLeaves(ins).find((l) => l.path[0] === 'outs' && l.path[1] === 0)!.desc;
        assert.equal(outs0.kind, lib === 'torch' ? 'tensor' : 'ndarray');
        if (lib === 'torch') assert.equal(outs0.grad, true, 'the outputs require grad');
        assert.ok(!ins.variables.some((v) => v.name.startsWith('_cornernet')), 'no helper is offered');
        assert.deepEqual(await frameNames(client, frameId), before, 'Locals and Globals as they were');
        assert.equal(await repl(client, frameId, 'id(__import__("sys").stdout)'), stdoutBefore, 'stdout restored');
        assert.deepEqual(leftovers(), []);
      } finally {
        await client.close();
      }
    });
  }

  it("CornerNet-Lite's six lists of stacks (torch) give the fixture's loss", async () => {
    const { client, frameId } = await startWith('p02_two_stacks', ['--torch', '--lite']);
    try {
      const { report, pulled } = await lossFromFrame(new DebugFrameKernel(client, frameId));
      checkFixture(report, 'p02_two_stacks', 'lite');
      assert.equal(pulled.transfer.arrays[1]!.array.label, 'outs[0][1]', 'stack 1 of the tl heatmaps');
    } finally {
      await client.close();
    }
  });

  it('values named by an expression (the Variables view\'s evaluateName, e.g. a dict entry or an attribute) are offered under it; a key holding @LINE@ travels intact', async () => {
    const { client, frameId } = await startWith('p01_basic', []);
    try {
      // chr(64) is '@': the Debug Console's text would itself be rewritten by pydevd.
      await repl(client, frameId, "weird = {'a' + chr(64) + 'LINE' + chr(64) + 'b': targets[2]}");
      const key = 'a@LINE@b';
      const kernel = new DebugFrameKernel(client, frameId, { aliases: [['outs_of_self', 'list(outs)']] });
      const ins = await inspectKernel(kernel, never);
      assert.ok(ins.variables.some((v) => v.name === 'outs_of_self'), 'the alias is offered');
      const leaf = tensorLeaves(ins).find((l) => l.path[0] === 'weird')!;
      assert.deepEqual(leaf.path, ['weird', key]);
      const plan: TransferPlan = { title: 't', arrays: [{ id: 0, path: leaf.path, role: 'gt_mask', label: 'w', desc: leaf.desc }, { id: 1, path: ['outs_of_self', 0], role: 'tl_heat', label: 'o', desc: tensorLeaves(ins).find((l) => l.path[0] === 'outs_of_self')!.desc }] };
      const t = await transferArrays(kernel, plan, { maxBytes: 1 << 30, token: never, tmpRoot });
      try {
        assert.equal(t.arrays.length, 2);
        const src = fs.readFileSync(path.join(FIXTURES, 'p01_basic', 'gt_mask.npy'));
        const got = fs.readFileSync(t.arrays[0]!.file);
        assert.deepEqual(got.subarray(got.length - 64), src.subarray(src.length - 64), 'the mask bytes');
      } finally {
        await t.dispose();
      }
      const bad = new DebugFrameKernel(client, frameId, { aliases: [['x', 'no_such_name.attr']] });
      await assert.rejects(inspectKernel(bad, never), (e: unknown) => e instanceof KernelError && e.kind === 'kernel-error' && /no_such_name\.attr cannot be evaluated in the paused frame: NameError/.test(e.message));
      await repl(client, frameId, 'del weird');
    } finally {
      await client.close();
    }
  });

  it('refusals: a value that is not an array names it; a frame the adapter does not know is "evaluate refused"', async () => {
    const { client, frameId } = await startWith('p01_basic', []);
    try {
      const kernel = new DebugFrameKernel(client, frameId);
      const ins = await inspectKernel(kernel, never);
      const pair = pairChoices(ins)[0]!;
      const plan = planOutsTargets(pair.outs, pair.targets);
      await repl(client, frameId, "outs[3] = 'not an array'");
      // The refusal is an exception inside the evaluation: it must not stop the program even when
      // the user breaks on raised exceptions.
      await client.request('setExceptionBreakpoints', { filters: ['raised', 'uncaught'] });
      await assert.rejects(pullInputs(kernel, plan, { notebook: 'train.py', maxBytes: 1 << 30, token: never, tmpRoot }), (e: unknown) => e instanceof KernelError && e.kind === 'not-array' && e.variable === 'outs[3]' && /outs\[3\] is a str, not a numpy array or a torch tensor/.test(e.message));
      await assert.rejects(client.waitForEvent('stopped', () => true, 1500), /no stopped event/, 'no stop on the exception raised inside the evaluation');
      const stale = new DebugFrameKernel(client, frameId + 100000, { frameLabel: 'ae_loss() at train.py' });
      await assert.rejects(inspectKernel(stale, never), (e: unknown) => e instanceof KernelError && e.kind === 'evaluate-refused' && /refused to evaluate in ae_loss\(\) at train\.py: .*Pause it again/.test(e.message));
      assert.deepEqual(leftovers(), []);
    } finally {
      await client.close();
    }
  });

  it('a base64 transfer of 32 MB comes back in pages (no DAP message much above a page), bit for bit', async () => {
    const { client, frameId } = await startWith('p01_basic', []);
    try {
      await repl(client, frameId, "big = __import__('numpy').random.default_rng(0).standard_normal((8, 1024, 1024)).astype('float32')");
      const digest = await repl(client, frameId, "__import__('hashlib').sha256(big.tobytes()).hexdigest()");
      const kernel = new DebugFrameKernel(client, frameId);
      const ins = await inspectKernel(kernel, never);
      const leaf = tensorLeaves(ins).find((l) => l.path[0] === 'big')!;
      const before = client.sent.length;
      /** Requests sent when the transfer first reported progress past zero. */
      let sentAtFirstProgress = 0;
      const t = await transferArrays(kernel, { title: 't', arrays: [{ id: 0, path: leaf.path, role: 'tl_heat', label: 'big', desc: leaf.desc }] }, {
        mode: 'base64',
        maxBytes: 1 << 30,
        token: never,
        tmpRoot,
        onProgress: (f) => {
          if (f > 0 && !sentAtFirstProgress) sentAtFirstProgress = client.sent.length - before;
        },
      });
      try {
        const raw = fs.readFileSync(t.arrays[0]!.file);
        const headerLen = raw.readUInt16LE(8) + 10;
        assert.equal(createHash('sha256').update(raw.subarray(headerLen)).digest('hex'), digest.replace(/'/g, ''));
        const pages = client.sent.slice(before).filter((r) => r.command === 'variables').length;
        assert.ok(pages >= 40, `the output came in pages (${pages} variables requests)`);
        assert.ok(client.largestMessage < 2 * PAGE_CHARS, `largest DAP message ${client.largestMessage} bytes`);
        assert.ok(sentAtFirstProgress > 0 && sentAtFirstProgress < pages / 2, `progress moved while pages were still coming (first after ${sentAtFirstProgress} of ${pages + 1} requests)`);
      } finally {
        await t.dispose();
      }
      await repl(client, frameId, 'del big');
    } finally {
      await client.close();
    }
  });

  it('cancel during a transfer: answered at once, the folder removed (the evaluation, which DAP cannot interrupt, writes nothing after), the session still answers', async () => {
    const { client, frameId } = await startWith('p01_basic', []);
    try {
      await repl(client, frameId, "big = [__import__('numpy').random.default_rng(0).standard_normal((4, 1024, 1024)).astype('float32') for _ in range(4)]");
      const kernel = new DebugFrameKernel(client, frameId);
      const ins = await inspectKernel(kernel, never);
      const leaves = tensorLeaves(ins).filter((l) => l.path[0] === 'big');
      assert.equal(leaves.length, 4);
      const plan: TransferPlan = { title: 't', arrays: leaves.map((l, id) => ({ id, path: l.path, role: 'tl_heat', label: `big[${id}]`, desc: l.desc })) };
      for (const mode of ['file', 'base64'] as const) {
        const cancel = new Cancel();
        const t0 = Date.now();
        setTimeout(() => cancel.cancel(), 30);
        await assert.rejects(transferArrays(kernel, plan, { mode, maxBytes: 1 << 30, token: cancel, tmpRoot }), (e: unknown) => e instanceof KernelError && e.kind === 'cancelled');
        const answered = Date.now() - t0;
        await kernel.settled();
        assert.ok(Date.now() - t0 >= answered, 'the evaluation went on in the debuggee');
        assert.deepEqual(leftovers(), [], `${mode}: no folder left, also after the evaluation ended`);
      }
      assert.equal(await repl(client, frameId, 'len(big)'), '4', 'the session answers');
      await repl(client, frameId, 'del big');
    } finally {
      await client.close();
    }
  });
});

describe('debug session: a debuggee that cannot see the transfer folder (a private mount namespace)', () => {
  before(() => {
    tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'cn-dbg-test-'));
    assert.ok(canHide(tmpRoot), 'unshare -m with a tmpfs over a folder works here (the tests run as root)');
  });
  after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

  it("'auto' falls back to base64 through evaluate results and the loss equals the fixture's; 'file' is refused with a reason", async () => {
    // debugpy's `python` is the debuggee's command: here the interpreter in a namespace where an empty tmpfs hides tmpRoot.
    const hidden = ['unshare', '-m', 'sh', '-c', 'mount -t tmpfs tmpfs "$0" && exec "$@"', tmpRoot, kernelPython()];
    const { client, frameId } = await startWith('p02_two_stacks', ['--torch'], hidden);
    try {
      assert.equal(await repl(client, frameId, `__import__('os').listdir(${JSON.stringify(tmpRoot)})`), '[]', 'the debuggee sees an empty folder');
      const kernel = new DebugFrameKernel(client, frameId);
      const { report, pulled } = await lossFromFrame(kernel);
      assert.equal(pulled.transfer.mode, 'base64');
      checkFixture(report, 'p02_two_stacks', 'remote');
      const ins = await inspectKernel(kernel, never);
      const pair = pairChoices(ins)[0]!;
      await assert.rejects(pullInputs(kernel, planOutsTargets(pair.outs, pair.targets), { notebook: 'n', mode: 'file', maxBytes: 1 << 30, token: never, tmpRoot }), (e: unknown) => e instanceof KernelError && e.kind === 'transfer' && /cannot see the transfer folder/.test(e.message));
      assert.deepEqual(leftovers(), []);
    } finally {
      await client.close();
    }
  });
});

function startWith(caseName: string, flags: string[], python?: string[]) {
  return DapClient.launch({
    program: SCRIPT,
    cwd: path.dirname(SCRIPT),
    breakpoints: [{ file: SCRIPT, line: BREAK_LINE }],
    timeoutMs: 90000,
    ...(python ? { python } : {}),
    args: [...flags, path.join(FIXTURES, caseName)],
  });
}
