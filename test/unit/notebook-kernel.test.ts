/**
 * The notebook flow against a REAL Python kernel (ipykernel through jupyter_client): the generated
 * inspection and export code, the transfer by file and by base64, the parsing, and the loss of the
 * pulled arrays against the fixture values. numpy and torch (with grad), CornerNet's flat `outs`
 * and CornerNet-Lite's lists of stacks, per-role variables, float16/bfloat16, and every refusal.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { computeLossFromFiles } from '../../src/cornernet/run';
import { readTensorFile } from '../../src/tensor/tensorFile';
import { KernelError, type NotebookKernel } from '../../src/notebook/kernel';
import { inspectKernel, pullInputs } from '../../src/notebook/pull';
import { centernetPairs, pairChoices, planCenternet, planOutsTargets, planPerRole, roleFromName, tensorLeaves, type TransferPlan } from '../../src/notebook/variables';
import { Cancel, never } from '../support/cancel';
import { JupyterClientKernel, canHide } from '../support/jupyterClientKernel';
import { FIXTURES, assertClose, float32Floor, readExpected } from './helpers';


const OUT_ROLES = ['tl_heat', 'br_heat', 'tl_tag', 'br_tag', 'tl_regr', 'br_regr'];
const LITE_ROLES = ['tl_heat', 'br_heat', 'tl_tag_map', 'br_tag_map', 'tl_regr_map', 'br_regr_map'];

/** Python that loads a fixture case into `f` (a dict of arrays). */
function loadCase(name: string): string {
  return `import numpy as np, os
f = {n[:-4]: np.load(os.path.join(${JSON.stringify(path.join(FIXTURES, name))}, n)) for n in os.listdir(${JSON.stringify(path.join(FIXTURES, name))}) if n.endswith('.npy')}
S = f['tl_heat'].shape[0]
`;
}

let tmpRoot: string;
function leftovers(): string[] {
  return fs.readdirSync(tmpRoot).filter((n) => n.startsWith('cornernet-kernel-'));
}

async function lossOf(kernel: NotebookKernel, plan: TransferPlan, opts: { mode?: 'auto' | 'file' | 'base64'; chunkBytes?: number } = {}) {
  const pulled = await pullInputs(kernel, plan, { notebook: 'test.ipynb', maxBytes: 1 << 30, token: never, tmpRoot, ...opts });
  try {
    const report = await computeLossFromFiles(pulled.spec, { threads: 1 });
    return { report, pulled };
  } finally {
    await pulled.transfer.dispose();
  }
}

function checkFixture(report: Awaited<ReturnType<typeof lossOf>>['report'], name: string, label: string) {
  const exp = readExpected(name).float32;
  assertClose(report.total, exp.total, 1e-5, float32Floor('total'), `${label} total`);
  for (const t of ['focal', 'pull', 'push', 'regr'] as const) assertClose(report.unweighted[t], exp.unweighted[t], 1e-5, float32Floor(t), `${label} ${t}`);
  assert.equal(report.perStack.length, exp.per_stack.length, `${label} stacks`);
}

describe('notebook: a real ipykernel', () => {
  let kernel: JupyterClientKernel;
  before(async () => {
    tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'cn-nb-test-'));
    kernel = await JupyterClientKernel.start();
  });
  after(async () => {
    await kernel?.shutdown();
    fs.rmSync(tmpRoot, { recursive: true, force: true });
  });

  it('lists numpy arrays, torch tensors (grad, device) and their lists, tuples and dicts, and leaves no trace', async () => {
    await kernel.run(`import numpy as np, torch, json
a = np.zeros((2, 3), np.float32)
t = torch.ones(4, 5, requires_grad=True)
h = torch.zeros(2, dtype=torch.bfloat16)
lst = [a, t]
tup = (a, [a, a])
d = {'tl_heat': a, 'n': 3}
o = np.array([object()], dtype=object)
n = 5
s = 'text'
def fn(): pass
`);
    const before = await kernel.run('print(json.dumps(sorted(globals().keys())))');
    const ins = await inspectKernel(kernel, never);
    const after = await kernel.run('print(json.dumps(sorted(globals().keys())))');
    assert.equal(after, before, 'the namespace is as it was');
    const byName = new Map(ins.variables.map((v) => [v.name, v.value]));
    assert.deepEqual(byName.get('a'), { kind: 'ndarray', shape: [2, 3], dtype: 'float32', bytes: 24 });
    assert.deepEqual(byName.get('t'), { kind: 'tensor', shape: [4, 5], dtype: 'float32', bytes: 80, device: 'cpu', grad: true });
    assert.equal((byName.get('h') as { dtype: string }).dtype, 'bfloat16');
    assert.equal(byName.get('lst')?.kind, 'list');
    assert.equal(byName.get('tup')?.kind, 'tuple');
    assert.equal(byName.get('d')?.kind, 'dict');
    assert.equal((byName.get('o') as { dtype: string }).dtype, 'object');
    for (const gone of ['n', 's', 'fn', 'np', 'torch', 'json']) assert.ok(!byName.has(gone), `${gone} is not offered`);
    assert.ok(ins.others.some((o) => o.name === 'n' && o.type === 'int'));
    assert.ok(ins.numpy && ins.torch, 'versions reported');
    const leaves = tensorLeaves(ins).map((l) => l.path);
    assert.deepEqual(leaves.find((p) => p[0] === 'tup' && p.length === 3), ['tup', 1, 0]);
    assert.deepEqual(leaves.find((p) => p[0] === 'd'), ['d', 'tl_heat']);
    await kernel.run('del a, t, h, lst, tup, d, o, n, s, fn');
  });

  for (const name of ['p01_basic', 'p02_two_stacks']) {
    it(`${name}: outs + targets as AELoss takes them (numpy, then torch with grad) give the fixture's loss`, async () => {
      await kernel.run(`${loadCase(name)}
outs = [f[r][s] for s in range(S) for r in ${JSON.stringify(OUT_ROLES)}]
targets = [f[r] for r in ['gt_tl_heat', 'gt_br_heat', 'gt_mask', 'gt_tl_regr', 'gt_br_regr']]
`);
      for (const lib of ['numpy', 'torch'] as const) {
        if (lib === 'torch') {
          await kernel.run(`import torch
outs = [torch.from_numpy(x).clone().requires_grad_(x.dtype.kind == 'f') for x in outs]
targets = [torch.from_numpy(x) for x in targets]`);
        }
        const ins = await inspectKernel(kernel, never);
        const pair = pairChoices(ins)[0];
        assert.ok(pair, 'a pair is offered');
        assert.equal(pair.outs.name, 'outs');
        assert.equal(pair.targets.name, 'targets');
        assert.ok(pair.consistent);
        const { report, pulled } = await lossOf(kernel, planOutsTargets(pair.outs, pair.targets));
        assert.equal(pulled.transfer.mode, 'file', 'a local kernel writes the files');
        checkFixture(report, name, `${name} ${lib}`);
        assert.equal(pulled.sources.get(pulled.transfer.arrays[0]!.file), 'test.ipynb: outs[0]');
      }
      assert.deepEqual(leftovers(), [], 'the transfer folders are gone');
    });
  }

  it("CornerNet-Lite: six lists of stacks (maps) and seven targets give the fixture's loss", async () => {
    await kernel.run(`${loadCase('p02_two_stacks')}
outs = [[torch.from_numpy(f[r][s]) for s in range(S)] for r in ${JSON.stringify(LITE_ROLES)}]
targets = [torch.from_numpy(f[r]) for r in ['gt_tl_heat', 'gt_br_heat', 'gt_mask', 'gt_tl_regr', 'gt_br_regr', 'tl_ind', 'br_ind']]
`);
    const ins = await inspectKernel(kernel, never);
    const pair = pairChoices(ins)[0]!;
    const plan = planOutsTargets(pair.outs, pair.targets);
    assert.deepEqual(plan.arrays.slice(0, 5).map((a) => `${a.label}=${a.role}_${a.stackIndex}`), ['outs[0][0]=tl_heat_0', 'outs[0][1]=tl_heat_1', 'outs[1][0]=br_heat_0', 'outs[1][1]=br_heat_1', 'outs[2][0]=tl_tag_0']);
    const { report } = await lossOf(kernel, plan);
    checkFixture(report, 'p02_two_stacks', 'lite');
  });

  it("a variable per role, named as the files are (lists of stacks too), gives the fixture's loss", async () => {
    await kernel.run(`${loadCase('p02_two_stacks')}
for k in ('outs', 'targets'):
    globals().pop(k, None)
tl_heats = [f['tl_heat'][s] for s in range(S)]
br_heat_0, br_heat_1 = f['br_heat'][0], f['br_heat'][1]
tl_tag, br_tag, tl_regr, br_regr = f['tl_tag'], f['br_tag'], f['tl_regr'], f['br_regr']
batch = {k: torch.from_numpy(f[k]) for k in ('gt_tl_heat', 'gt_br_heat', 'gt_mask', 'gt_tl_regr', 'gt_br_regr')}
del f
`);
    const ins = await inspectKernel(kernel, never);
    const chosen = tensorLeaves(ins).flatMap((l) => {
      const r = roleFromName(l.path);
      return r ? [{ ...l, ...r }] : [];
    });
    assert.equal(chosen.length, 2 + 2 + 4 + 5, chosen.map((c) => c.path.join('.')).join(', '));
    const { report } = await lossOf(kernel, planPerRole(chosen));
    checkFixture(report, 'p02_two_stacks', 'per role');
    await kernel.run('del tl_heats, br_heat_0, br_heat_1, tl_tag, br_tag, tl_regr, br_regr, batch');
  });

  it("CenterNet: CtdetLoss's outputs (a list of stack dicts of torch tensors with grad, or one dict) and batch dict give the fixture's loss", async () => {
    const CONV = path.join(process.cwd(), 'test', 'fixtures', 'conventions', 'centernet');
    for (const [name, asList] of [['c02_two_stacks_border', true], ['c01_basic', false]] as const) {
      const dir = path.join(CONV, name);
      await kernel.run(`import numpy as np, torch
_o = np.load(${JSON.stringify(path.join(dir, 'output.npz'))})
_b = np.load(${JSON.stringify(path.join(dir, 'batch.npz'))})
outputs = [{k: torch.from_numpy(_o[k][s].copy()).requires_grad_() for k in ('hm', 'wh', 'reg')} for s in range(_o['hm'].shape[0])]
${asList ? '' : 'outputs = outputs[0]'}
batch = {k: torch.from_numpy(_b[k]) for k in _b.files}
batch['meta'] = {'c': np.zeros(2)}
del _o, _b
`);
      const ins = await inspectKernel(kernel, never);
      const pairs = centernetPairs(ins);
      assert.equal(pairs.length, 1, JSON.stringify(pairs.map((p) => [p.output.name, p.batch.name])));
      const plan = planCenternet(pairs[0]!.output, pairs[0]!.batch);
      assert.deepEqual([...new Set(plan.arrays.map((a) => a.role))].sort(), ['gt_hm', 'gt_reg', 'gt_wh', 'hm', 'ind', 'reg', 'reg_mask', 'wh']);
      const { report } = await lossOf(kernel, plan);
      const exp = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')).float32;
      assert.equal(report.convention, 'centernet', name);
      assertClose(report.total, exp.loss, 1e-5, 2e-5, `${name} total`);
      for (const k of ['hm_loss', 'wh_loss', 'off_loss']) assertClose(report.terms[k], exp[k], 1e-5, 1e-6, `${name} ${k}`);
      // The same arrays chosen one per role by their names (output['hm'] -> hm, batch['hm'] -> gt_hm).
      const chosen = tensorLeaves(ins).flatMap((l) => {
        const r = roleFromName(l.path);
        return r ? [{ ...l, ...r }] : [];
      });
      const { report: perRole } = await lossOf(kernel, planPerRole(chosen));
      assertClose(perRole.total, exp.loss, 1e-5, 2e-5, `${name} per role`);
      await kernel.run('del outputs, batch');
    }
  });

  it('base64 transfer (forced, small chunks) gives the same arrays bit for bit, float16 and bfloat16 included', async () => {
    await kernel.run(`import hashlib
g = torch.Generator().manual_seed(0)
x16 = torch.randn(3, 4, 33, generator=g).half()
xb = torch.randn(2, 1000, generator=g).to(torch.bfloat16)
x64 = np.random.default_rng(1).standard_normal((5, 7))
xb8 = np.arange(24).reshape(2, 3, 4) % 3 == 0
`);
    const hashes = JSON.parse(
      await kernel.run(`print(json.dumps({
 'x16': hashlib.sha256(x16.numpy().tobytes()).hexdigest(),
 'xb': hashlib.sha256(xb.float().numpy().tobytes()).hexdigest(),
 'x64': hashlib.sha256(x64.tobytes()).hexdigest(),
 'xb8': hashlib.sha256(xb8.tobytes()).hexdigest()}))`),
    ) as Record<string, string>;
    const ins = await inspectKernel(kernel, never);
    const leaves = tensorLeaves(ins).filter((l) => ['x16', 'xb', 'x64', 'xb8'].includes(l.path[0]));
    assert.equal(leaves.length, 4);
    // Roles do not matter to the transfer itself.
    const plan: TransferPlan = { title: 't', arrays: leaves.map((l, id) => ({ id, path: l.path, role: 'tl_heat', label: l.path[0], desc: l.desc })) };
    for (const mode of ['file', 'base64'] as const) {
      const { transferArrays } = await import('../../src/notebook/transfer');
      const t = await transferArrays(kernel, plan, { mode, chunkBytes: 1000, maxBytes: 1 << 30, token: never, tmpRoot });
      try {
        assert.equal(t.mode, mode);
        for (const a of t.arrays) {
          const tensor = await readTensorFile(a.file);
          const name = a.array.path[0] as string;
          // The npy payload: the array's bytes as the kernel has them (bool as 0/1 bytes).
          const raw = fs.readFileSync(a.file);
          const headerLen = raw.readUInt16LE(8) + 10;
          assert.equal(createHash('sha256').update(raw.subarray(headerLen)).digest('hex'), hashes[name], `${mode} ${name} bytes`);
          if (name === 'x16') assert.equal(tensor.dtype, 'float16');
          if (name === 'xb') {
            assert.equal(tensor.dtype, 'float32');
            assert.match(a.note ?? '', /bfloat16/);
          }
        }
      } finally {
        await t.dispose();
      }
    }
    assert.deepEqual(leftovers(), []);
    await kernel.run('del x16, xb, x64, xb8');
  });

  it('refuses a value that is not an array, an object array, too many bytes, a vanished variable, a non-Python kernel', async () => {
    await kernel.run(`${loadCase('p01_basic')}
outs = [f[r][s] for s in range(S) for r in ${JSON.stringify(OUT_ROLES)}]
targets = [f[r] for r in ['gt_tl_heat', 'gt_br_heat', 'gt_mask', 'gt_tl_regr', 'gt_br_regr']]
`);
    const ins = await inspectKernel(kernel, never);
    const pair = pairChoices(ins)[0]!;
    const plan = planOutsTargets(pair.outs, pair.targets);
    const refusal = async (p: Promise<unknown>, kind: string, re: RegExp) => {
      await assert.rejects(p, (e: unknown) => {
        assert.ok(e instanceof KernelError, String(e));
        assert.equal(e.kind, kind, e.message);
        assert.match(e.message, re);
        return true;
      });
    };
    const opts = { notebook: 'test.ipynb', token: never, tmpRoot };
    // The variable changed after the inspection: outs[3] is now a string.
    await kernel.run(`outs[3] = 'not an array'`);
    await refusal(pullInputs(kernel, plan, { ...opts, maxBytes: 1 << 30 }), 'not-array', /outs\[3\] is a str, not a numpy array or a torch tensor/);
    await kernel.run(`outs[3] = np.array([None] * 4, dtype=object)`);
    await refusal(pullInputs(kernel, plan, { ...opts, maxBytes: 1 << 30 }), 'not-array', /outs\[3\] has dtype object/);
    await kernel.run(`outs[3] = f['br_tag'][0]`);
    await refusal(pullInputs(kernel, plan, { ...opts, maxBytes: 1000 }), 'too-large', /more than the limit/);
    await kernel.run(`del targets`);
    await refusal(pullInputs(kernel, plan, { ...opts, maxBytes: 1 << 30 }), 'not-array', /targets: no such variable/);
    const julia: NotebookKernel = { language: 'julia', executeCode: () => { throw new Error('must not run'); } };
    await refusal(inspectKernel(julia, never, 'j.ipynb'), 'language', /j\.ipynb runs a julia kernel/);
    await refusal(pullInputs(julia, plan, { ...opts, maxBytes: 1 << 30 }), 'language', /only Python kernels/);
    assert.deepEqual(leftovers(), [], 'no folder left by a refusal');
  });

  it('a plan whose shapes do not fit is refused before anything is sent, naming the variables', async () => {
    await kernel.run(`targets = [f[r] for r in ['gt_tl_heat', 'gt_br_heat', 'gt_mask', 'gt_tl_regr', 'gt_br_regr']]
targets[0] = np.zeros((1, 2, 3, 4), np.float32)`);
    const ins = await inspectKernel(kernel, never);
    const outs = ins.variables.find((v) => v.name === 'outs')!;
    const targets = ins.variables.find((v) => v.name === 'targets')!;
    await assert.rejects(pullInputs(kernel, planOutsTargets(outs, targets), { notebook: 'n', maxBytes: 1 << 30, token: never, tmpRoot }), /gt_br_heat \(targets\[1\]\): shape \[2, 3, 16, 16\] differs from gt_tl_heat \[1, 2, 3, 4\]/);
    assert.deepEqual(leftovers(), []);
  });

  it('cancelling interrupts the kernel mid-transfer, removes the folder, and the kernel still answers', async () => {
    await kernel.run(`big = np.random.default_rng(0).standard_normal((4, 1024, 1024)).astype(np.float32)`);
    const ins = await inspectKernel(kernel, never);
    const leaf = tensorLeaves(ins).find((l) => l.path[0] === 'big')!;
    const plan: TransferPlan = { title: 't', arrays: [{ id: 0, path: leaf.path, role: 'tl_heat', label: 'big', desc: leaf.desc }] };
    const cancel = new Cancel();
    const { transferArrays } = await import('../../src/notebook/transfer');
    let chunks = 0;
    await assert.rejects(
      transferArrays(kernel, plan, {
        mode: 'base64',
        chunkBytes: 16384,
        maxBytes: 1 << 30,
        token: cancel,
        tmpRoot,
        onProgress: (f) => {
          if (f > 0 && ++chunks === 3) cancel.cancel();
        },
      }),
      (e: unknown) => e instanceof KernelError && e.kind === 'cancelled',
    );
    assert.deepEqual(leftovers(), [], 'the folder is removed');
    assert.equal((await kernel.run('print(1 + 1)')).trim(), '2', 'the kernel answers after the interrupt');
    await kernel.run('del big');
  });
});

describe('notebook: a kernel that cannot see the transfer folder (a private mount namespace)', () => {
  let kernel: JupyterClientKernel | undefined;
  before(async () => {
    tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'cn-nb-test-'));
    assert.ok(canHide(tmpRoot), 'unshare -m with a tmpfs over a folder works here (the tests run as root)');
    kernel = await JupyterClientKernel.start({ hide: tmpRoot });
  });
  after(async () => {
    await kernel?.shutdown();
    fs.rmSync(tmpRoot, { recursive: true, force: true });
  });

  it("'auto' falls back to base64 and the loss equals the fixture's; 'file' is refused with a reason", async () => {
    await kernel!.run(`${loadCase('p02_two_stacks')}
outs = [f[r][s] for s in range(S) for r in ${JSON.stringify(OUT_ROLES)}]
targets = [f[r] for r in ['gt_tl_heat', 'gt_br_heat', 'gt_mask', 'gt_tl_regr', 'gt_br_regr']]
`);
    const ins = await inspectKernel(kernel!, never);
    const pair = pairChoices(ins)[0]!;
    const plan = planOutsTargets(pair.outs, pair.targets);
    const { report, pulled } = await lossOf(kernel!, plan, { chunkBytes: 4096 });
    assert.equal(pulled.transfer.mode, 'base64');
    checkFixture(report, 'p02_two_stacks', 'remote');
    await assert.rejects(
      pullInputs(kernel!, plan, { notebook: 'n', mode: 'file', maxBytes: 1 << 30, token: never, tmpRoot }),
      (e: unknown) => e instanceof KernelError && e.kind === 'transfer' && /cannot see the transfer folder/.test(e.message),
    );
    assert.deepEqual(leftovers(), []);
  });
});
