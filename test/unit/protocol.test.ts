/** Every inbound panel message is validated: ours pass, anything else is dropped. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseFromPanel, parseToPanel } from '../../src/protocol/panel';

describe('panel protocol validation', () => {
  it('accepts the webview messages it knows', () => {
    assert.deepEqual(parseFromPanel({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(parseFromPanel({ type: 'requestSlices', requestId: 3, runId: 1, selection: { stack: 0, image: 1, class: 2 }, extra: 'x' }), {
      type: 'requestSlices',
      requestId: 3,
      runId: 1,
      selection: { stack: 0, image: 1, class: 2 },
    });
    const rendered = { type: 'rendered', report: { runId: 1, selection: { stack: 0, image: 0, class: 0 }, metrics: { total: 1.5, push: null }, canvases: [{ id: 'c', width: 2, height: 2, checksum: 'ab', nonBlank: true }] } };
    assert.deepEqual(parseFromPanel(rendered), rendered);
  });
  it('drops unknown, malformed and hostile messages', () => {
    const bad: unknown[] = [
      null,
      'ready',
      42,
      [],
      { type: 'evil' },
      { type: 'requestSlices', requestId: -1, runId: 1, selection: { stack: 0, image: 0, class: 0 } },
      { type: 'requestSlices', requestId: 1, runId: 1, selection: { stack: 0.5, image: 0, class: 0 } },
      { type: 'requestSlices', requestId: 1, runId: 1 },
      { type: 'requestThumbnails', requestId: 1, runId: 1, stack: '0', image: 0 },
      { type: 'rendered', report: { runId: 1, selection: { stack: 0, image: 0, class: 0 }, metrics: { total: 'x' }, canvases: [] } },
      { type: 'rendered', report: { runId: 1, selection: { stack: 0, image: 0, class: 0 }, metrics: {}, canvases: [{ id: 'c' }] } },
      { type: 'x'.repeat(100) },
    ];
    for (const m of bad) assert.equal(parseFromPanel(m), undefined, JSON.stringify(m));
  });
  it('checks slice buffers against their declared size on the webview side', () => {
    const buf = (n: number) => new ArrayBuffer(n * 4);
    const slice = (n: number) => ({ corner: 'tl', width: 2, height: 2, logit: buf(n), target: buf(4), bounds: { lo: 1e-4, hi: 0.9999, round32: true }, norm: 5, positives: [], peaks: [], planeLoss: 0 });
    const msg = (n: number) => ({ type: 'slices', requestId: 1, runId: 1, selection: { stack: 0, image: 0, class: 0 }, tl: slice(n), br: { ...slice(4), corner: 'br' } });
    assert.ok(parseToPanel(msg(4)));
    assert.equal(parseToPanel(msg(3)), undefined);
    assert.equal(parseToPanel({ type: 'load', runId: 1 }), undefined);
    assert.equal(parseToPanel({ type: 'colormap', colormap: 'jet' }), undefined);
  });
  it('a plane holding NaN still arrives: VS Code carries messages as JSON, NaN and Inf become null', () => {
    const buf = () => new ArrayBuffer(16);
    const slice = (corner: string) => ({ corner, width: 2, height: 2, logit: buf(), target: buf(), bounds: { lo: 1e-4, hi: 0.9999, round32: true }, norm: 5, positives: [], peaks: [{ x: 0, y: 0, score: NaN, rank: 0 }], planeLoss: NaN });
    const viaJson = <T>(m: T): T => JSON.parse(JSON.stringify(m, (_k, v) => (v instanceof ArrayBuffer ? { buffer: true } : v)), (_k, v) => (v && v.buffer === true ? buf() : v));
    const slices = viaJson({ type: 'slices', requestId: 1, runId: 1, selection: { stack: 0, image: 0, class: 0 }, tl: slice('tl'), br: slice('br') });
    assert.equal((slices.tl as { planeLoss: unknown }).planeLoss, null);
    const parsed = parseToPanel(slices);
    assert.ok(parsed && parsed.type === 'slices' && parsed.tl.planeLoss === null && parsed.tl.peaks[0]!.score === null);
    const thumbs = viaJson({ type: 'thumbnails', requestId: 1, runId: 1, stack: 0, image: 0, width: 2, height: 2, classes: [{ class: 0, loss: NaN, lossTl: NaN, lossBr: 0 }], max: NaN, data: new ArrayBuffer(4) });
    (thumbs as { data: unknown }).data = new ArrayBuffer(4);
    assert.ok(parseToPanel(thumbs), 'thumbnails with a NaN class loss');
  });
});
