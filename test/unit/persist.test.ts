/** What survives a window reload: parsing is strict, bounds hold, changed or vanished files drop out. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { boundRuns, freshOnly, freshRuns, parseProblems, parseRuns, parseStats, PERSIST_LIMITS, type FileStamp, type PersistedRun } from '../../src/persist';
import { parseFromViewer, parseToViewer } from '../../src/protocol/viewer';
import { unravelIndex } from '../../src/tensor/planes';
import { tensorStats } from '../../src/tensor/stats';

const stamp = { size: 128, mtimeMs: 1700000000000.5 };
const statOf = (files: Record<string, FileStamp>) => async (f: string) => files[f];

describe('persisted Problems', () => {
  const good = { file: '/ws/a.npy', stamp, from: 'file', diagnostics: [{ severity: 'warning', message: '1 NaN', code: 'non-finite', element: { index: [0, 2, 3] } }] };

  it('keeps well-formed entries and drops malformed ones', () => {
    const raw = [
      good,
      { ...good, file: 'relative.npy' },
      { ...good, stamp: { size: -1, mtimeMs: 0 } },
      { ...good, from: 'other' },
      { ...good, file: '/ws/b.npy', diagnostics: [{ severity: 'fatal', message: 'x', code: 'c' }, { severity: 'error', message: 'ok', code: 'error' }] },
      { ...good, file: '/ws/c.npy', diagnostics: [{ severity: 'warning', message: 'x', code: 'c', element: { index: [-1] } }] },
      'junk',
    ];
    const out = parseProblems(raw);
    assert.deepEqual(out.map((e) => e.file), ['/ws/a.npy', '/ws/b.npy']);
    assert.deepEqual(out[0]!.diagnostics[0]!.element, { index: [0, 2, 3] });
    assert.equal(out[1]!.diagnostics.length, 1);
    assert.deepEqual(parseProblems({ not: 'an array' }), []);
  });

  it('bounds files, diagnostics per file and message length', () => {
    const many = Array.from({ length: PERSIST_LIMITS.files + 20 }, (_, i) => ({ ...good, file: `/ws/f${i}.npy` }));
    assert.equal(parseProblems(many).length, PERSIST_LIMITS.files);
    const long = { ...good, diagnostics: Array.from({ length: 80 }, () => ({ severity: 'warning', message: 'm'.repeat(10000), code: 'c' })) };
    const [e] = parseProblems([long]);
    assert.equal(e!.diagnostics.length, PERSIST_LIMITS.diagnosticsPerFile);
    assert.equal(e!.diagnostics[0]!.message.length, PERSIST_LIMITS.messageChars);
  });

  it('drops entries whose file changed size or mtime, or vanished', async () => {
    const entries = parseProblems([good, { ...good, file: '/ws/b.npy' }, { ...good, file: '/ws/c.npy' }, { ...good, file: '/ws/gone.npy' }]);
    const fresh = await freshOnly(entries, statOf({ '/ws/a.npy': stamp, '/ws/b.npy': { ...stamp, size: 129 }, '/ws/c.npy': { ...stamp, mtimeMs: stamp.mtimeMs + 1 } }));
    assert.deepEqual(fresh.map((e) => e.file), ['/ws/a.npy']);
  });
});

describe('persisted statistics and runs', () => {
  it('statistics need every count and a header', () => {
    const stats = tensorStats({ dtype: 'float32', shape: [3], size: 3, data: Float32Array.of(1, NaN, 2) });
    const ok = { file: '/ws/a.npy', stamp, arrays: [{ header: { dtype: 'float32', shape: [3], fortranOrder: false, dataBytes: 12 }, stats }] };
    assert.equal(parseStats([ok]).length, 1);
    assert.equal(parseStats([{ ...ok, arrays: [{ ...ok.arrays[0], stats: { ...stats, nan: 'one' } }] }]).length, 0);
    assert.equal(parseStats([{ ...ok, arrays: [{ ...ok.arrays[0], header: { dtype: 'float32', shape: [1.5] } }] }]).length, 0);
  });

  const run = (label: string, files: string[], bytes = 10): PersistedRun => ({
    label,
    time: 1,
    spec: { paths: files, roles: [] },
    report: { total: 1, inputs: { roles: [] }, warnings: [], contribution: {}, pad: 'x'.repeat(bytes) },
    stamps: files.map((file) => ({ file, stamp })),
  });

  it('runs: a spec the checker accepts, a report with its parts, stamps of the inputs', () => {
    const isSpec = (v: unknown) => typeof v === 'object' && v !== null && Array.isArray((v as { paths?: unknown }).paths);
    assert.equal(parseRuns([run('a', ['/ws/x.npy'])], isSpec).length, 1);
    assert.equal(parseRuns([{ ...run('a', ['/ws/x.npy']), spec: 3 }], isSpec).length, 0);
    assert.equal(parseRuns([{ ...run('a', ['/ws/x.npy']), report: { total: 'big' } }], isSpec).length, 0);
    assert.equal(parseRuns([{ ...run('a', ['/ws/x.npy']), stamps: [{ file: 'x', stamp }] }], isSpec).length, 0);
  });

  it('a run is restored only when all its inputs are unchanged; runs are bounded in count and bytes', async () => {
    const fresh = await freshRuns([run('a', ['/ws/x.npy', '/ws/y.npy']), run('b', ['/ws/x.npy'])], statOf({ '/ws/x.npy': stamp }));
    assert.deepEqual(fresh.map((r) => r.label), ['b']);
    const big = Array.from({ length: 5 }, (_, i) => run(`r${i}`, ['/ws/x.npy'], 1.5 * 1024 * 1024));
    assert.deepEqual(boundRuns(big).map((r) => r.label), ['r0', 'r1']);
    assert.equal(boundRuns(Array.from({ length: 30 }, (_, i) => run(`r${i}`, []))).length, PERSIST_LIMITS.runs);
  });
});

describe('the first non-finite element', () => {
  it('tensorStats names it, unravelIndex places it', () => {
    const data = new Float32Array(2 * 3 * 4);
    data[1 * 12 + 2 * 4 + 3] = Infinity;
    data[23] = NaN;
    const s = tensorStats({ dtype: 'float32', shape: [2, 3, 4], size: 24, data });
    assert.equal(s.firstNonFinite, 23);
    assert.deepEqual(unravelIndex(s.firstNonFinite!, [2, 3, 4]), [1, 2, 3]);
    assert.equal(tensorStats({ dtype: 'float32', shape: [2], size: 2, data: Float32Array.of(1, 2) }).firstNonFinite, undefined);
  });
});

describe('viewer protocol (new messages)', () => {
  it('plane requests and searches: distinct axes, whole indices, a finite threshold', () => {
    assert.ok(parseFromViewer({ type: 'requestPlane', requestId: 1, rowAxis: 2, colAxis: 3, index: [0, 1, 0, 0], maxAxis: 1 }));
    assert.equal(parseFromViewer({ type: 'requestPlane', requestId: 1, rowAxis: 2, colAxis: 3, index: [0, 0, 0, 0], maxAxis: 3 }), undefined);
    assert.equal(parseFromViewer({ type: 'requestPlane', requestId: 1, rowAxis: 2, colAxis: 3, index: [0, 0, 0, 0], sigmoid: 'yes' }), undefined);
    assert.ok(parseFromViewer({ type: 'findNext', requestId: 2, rowAxis: 2, colAxis: 3, index: [0, 0, 0, 0], threshold: 0.5, direction: -1, sigmoid: true }));
    assert.equal(parseFromViewer({ type: 'findNext', requestId: 2, rowAxis: 2, colAxis: 3, index: [0, 0, 0, 0], threshold: Infinity, direction: 1 }), undefined);
    assert.equal(parseFromViewer({ type: 'findNext', requestId: 2, rowAxis: 2, colAxis: 3, index: [0, 0, 0, 0], threshold: 0, direction: 2 }), undefined);
  });

  it('info carries one axis name per axis; reveal an element of whole indices', () => {
    const info = { type: 'info', file: 'a.npy', size: 1, arrays: [{ dtype: 'float32', shape: [2, 3], fortranOrder: false, dataBytes: 24, axes: ['batch', 'object'], logits: false }], tooLarge: false, capMB: 1, colormap: 'viridis' };
    assert.ok(parseToViewer(info));
    assert.equal(parseToViewer({ ...info, arrays: [{ ...info.arrays[0], axes: ['batch'] }] }), undefined);
    assert.ok(parseToViewer({ type: 'reveal', element: { index: [1, 2], key: 'k' } }));
    assert.equal(parseToViewer({ type: 'reveal', element: { index: [1.5] } }), undefined);
    assert.ok(parseToViewer({ type: 'nextPlane', requestId: 3 }));
    assert.equal(parseToViewer({ type: 'nextPlane', requestId: 3, found: { index: [0], max: 1 } }), undefined);
  });
});
