/**
 * A kernel is another process: its replies are data. A scripted hostile kernel (it answers the
 * export with crafted events) must never make the transfer allocate or write more than the plan
 * allows, accept an array it did not ask for, or leave its folder behind; a malformed inspection
 * reply is refused. (The honest replies are tested against a real ipykernel in notebook-kernel.)
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KernelError, MIME, type KernelOutput, type NotebookKernel } from '../../src/notebook/kernel';
import { transferArrays } from '../../src/notebook/transfer';
import { parseInspection, type TransferPlan } from '../../src/notebook/variables';
import { inspectKernel } from '../../src/notebook/pull';

const never = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };
const enc = new TextEncoder();

/** A kernel that answers any code with these events (as display outputs of our mime). */
function scripted(events: unknown[], mime: string = MIME.event): NotebookKernel {
  return {
    language: 'python',
    executeCode: () =>
      (async function* (): AsyncGenerator<KernelOutput> {
        for (const e of events) yield { items: [{ mime, data: enc.encode(JSON.stringify(e)) }] };
      })(),
  };
}

const plan: TransferPlan = {
  title: 't',
  arrays: [{ id: 0, path: ['x'], role: 'tl_heat', label: 'x', desc: { kind: 'ndarray', shape: [4], dtype: 'float32', bytes: 16 } }],
};

let tmpRoot: string;
const leftovers = () => fs.readdirSync(tmpRoot);

async function refused(events: unknown[], kind: string, re: RegExp) {
  await assert.rejects(transferArrays(scripted(events), plan, { mode: 'base64', maxBytes: 1 << 20, token: never, tmpRoot }), (e: unknown) => {
    assert.ok(e instanceof KernelError, String(e));
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, re);
    return true;
  });
  assert.deepEqual(leftovers(), [], 'the folder is removed');
}

describe('notebook transfer against a hostile kernel', () => {
  before(() => {
    tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'cn-hostile-kernel-'));
  });
  after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

  const start = { event: 'start', mode: 'base64' };
  const b64 = (n: number) => Buffer.alloc(n, 7).toString('base64');

  it('an announced size far above the planned array is refused before anything is written', async () => {
    await refused([start, { event: 'item', id: 0, bytes: 2 ** 40, shape: [4], dtype: 'float32' }], 'transfer', /announced 1099511627776 bytes, not the 16/);
  });

  it('more bytes than announced, out-of-order chunks, an array not asked for, a truncated array', async () => {
    await refused([start, { event: 'item', id: 0, bytes: 100, shape: [4], dtype: 'float32' }, { event: 'chunk', id: 0, offset: 0, b64: b64(200) }], 'transfer', /more bytes arrived than announced/);
    await refused([start, { event: 'item', id: 0, bytes: 100, shape: [4], dtype: 'float32' }, { event: 'chunk', id: 0, offset: 50, b64: b64(50) }], 'protocol', /out of order/);
    await refused([start, { event: 'item', id: 7, bytes: 100, shape: [4], dtype: 'float32' }], 'protocol', /not asked for/);
    await refused([start, { event: 'item', id: 0, bytes: 100, shape: [4], dtype: 'float32' }, { event: 'chunk', id: 0, offset: 0, b64: b64(60) }, { event: 'done' }], 'transfer', /60 of 100 bytes arrived/);
    await refused([start, { event: 'done' }], 'transfer', /did not send x/);
    await refused([{ event: 'start', mode: '../../etc' }], 'protocol', /unknown transfer mode/);
  });

  it('a file-mode reply when the kernel wrote nothing, and a kernel that stops without "done"', async () => {
    await refused([{ event: 'start', mode: 'file' }, { event: 'item', id: 0, bytes: 100, shape: [4], dtype: 'float32' }], 'transfer', /missing or incomplete/);
    await refused([start], 'transfer', /stopped before sending every array/);
  });

  it('a Python error and a refusal event become clear errors', async () => {
    const failing: NotebookKernel = {
      language: 'python',
      executeCode: () =>
        (async function* () {
          yield { items: [{ mime: 'application/vnd.code.notebook.error', data: enc.encode(JSON.stringify({ name: 'MemoryError', message: 'out of memory', stack: '...' })) }] };
        })(),
    };
    await assert.rejects(transferArrays(failing, plan, { mode: 'base64', maxBytes: 1 << 20, token: never, tmpRoot }), /MemoryError: out of memory/);
    await refused([{ event: 'error', kind: 'not-array', variable: 'x', message: 'x is a str' }], 'not-array', /x is a str/);
    assert.deepEqual(leftovers(), []);
  });

  it('malformed inspection replies are refused, whatever their shape', async () => {
    for (const bad of [null, 3, { variables: 'x' }, { variables: [{ name: 1, kind: 'ndarray' }] }, { variables: [{ name: 'a', kind: 'ndarray', shape: [-1], dtype: 'f', bytes: 1 }] }, { variables: [{ name: 'a', kind: 'list', length: 1, items: [{ kind: 'list', length: 1, items: [{ kind: 'list', length: 1, items: [{ kind: 'list', length: 0, items: [] }] }] }] }] }, { variables: [{ name: 'a', kind: 'eval' }] }]) {
      assert.throws(() => parseInspection(bad), (e: unknown) => e instanceof KernelError && e.kind === 'protocol', JSON.stringify(bad));
    }
    await assert.rejects(inspectKernel(scripted([{ variables: 'nope' }], MIME.inspect), never), /inspection reply is malformed/);
    await assert.rejects(inspectKernel(scripted([], MIME.inspect), never), /did not reply/);
    const notJson: NotebookKernel = { language: 'python', executeCode: () => (async function* () { yield { items: [{ mime: MIME.inspect, data: enc.encode('{oops') }] }; })() };
    await assert.rejects(inspectKernel(notJson, never), /not JSON/);
  });
});
