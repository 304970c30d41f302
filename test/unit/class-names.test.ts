/**
 * Class names (issue 15): a classes.txt beside the tensors, a manifest's "classes", --classes
 * (a file or coco80) and the setting's names, in that order of precedence below --classes; a count
 * that differs from the heatmaps' classes is a warning; the CLI's tables and findings use them.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { computeLossFromFiles, computeLossForViews } from '../../src/cornernet/run';
import { COCO80, classLabel, parseClassList } from '../../src/cornernet/model/classNames';

const SAMPLE = path.join(process.cwd(), 'sample');
const CLI = path.join(process.cwd(), 'dist', 'cli.js');
let tmp: string;
before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'cn-classes-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function sampleWith(name: string, files: Record<string, string>): string {
  const dir = path.join(tmp, name);
  cpSync(SAMPLE, dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
  return dir;
}

describe('class names', () => {
  it('parses a classes.txt: one per line, blank and # lines skipped, control characters blanked', () => {
    assert.deepEqual(parseClassList('cat\r\n\n# comment\n  dog  \nbi\u0007rd\n'), ['cat', 'dog', 'bi rd']);
    assert.equal(classLabel(['cat', 'dog'], 1), '1 dog');
    assert.equal(classLabel(['cat'], 3), '3');
    assert.equal(classLabel(undefined, 2), '2');
    assert.equal(COCO80.length, 80);
    assert.equal(COCO80[0], 'person');
    assert.equal(COCO80[79], 'toothbrush');
  });

  it('a classes.txt beside the tensors names the classes (CLI and the extension worker\'s path)', async () => {
    const dir = sampleWith('txt', { 'classes.txt': 'cat\ndog\nbird\nfish\n' });
    const r = await computeLossFromFiles({ paths: [dir] });
    assert.deepEqual(r.classNames, ['cat', 'dog', 'bird', 'fish']);
    assert.equal(r.classNamesFrom, path.join(dir, 'classes.txt'));
    assert.ok(!r.warnings.some((w) => w.code === 'class-names'));
    const v = await computeLossForViews({ paths: [dir] });
    assert.deepEqual(v.report.classNames, ['cat', 'dog', 'bird', 'fish']);
    assert.equal(v.report.warnings.filter((w) => w.code === 'class-names').length, 0);
  });

  it('a manifest\'s "classes" wins over a classes.txt; --classes over both; the setting only below them', async () => {
    const dir = sampleWith('both', { 'classes.txt': 'a\nb\nc\nd\n', 'cornernet.json': JSON.stringify({ classes: ['w', 'x', 'y', 'z'] }) });
    const m = await computeLossFromFiles({ paths: [dir] }, { settingClassNames: { names: [...COCO80], from: 'setting' } });
    assert.deepEqual(m.classNames, ['w', 'x', 'y', 'z']);
    assert.equal(m.classNamesFrom, path.join(dir, 'cornernet.json'));
    const forced = await computeLossFromFiles({ paths: [dir] }, { classNames: { names: ['p', 'q', 'r', 's'], from: '--classes f' } });
    assert.deepEqual(forced.classNames, ['p', 'q', 'r', 's']);
    const setting = await computeLossFromFiles({ paths: [SAMPLE] }, { settingClassNames: { names: [...COCO80], from: 'setting' } });
    assert.deepEqual(setting.classNames, ['person', 'bicycle', 'car', 'motorcycle'], 'as many names as classes');
    const w = setting.warnings.find((x) => x.code === 'class-names');
    assert.ok(w, 'a warning when the counts differ');
    assert.match(w.message, /80 class names \(setting\) for 4 classes: the last 76 are not used/);
    const none = await computeLossFromFiles({ paths: [SAMPLE] });
    assert.equal(none.classNames, undefined);
  });

  it('fewer names than classes: the rest unnamed, said in a warning', async () => {
    const dir = sampleWith('short', { 'classes.txt': 'cat\ndog\n' });
    const r = await computeLossFromFiles({ paths: [dir] });
    assert.deepEqual(r.classNames, ['cat', 'dog']);
    assert.match(r.warnings.find((x) => x.code === 'class-names')!.message, /2 class names .* for 4 classes: classes 2 and up have none/);
  });

  it('a classes.txt that cannot be read is skipped with its reason; the loss stands', async () => {
    const dir = sampleWith('bad', {});
    mkdirSync(path.join(dir, 'classes.txt'));
    const r = await computeLossFromFiles({ paths: [dir] });
    assert.ok(Number.isFinite(r.total));
    assert.equal(r.classNames, undefined);
    const skipped = r.warnings.find((x) => x.code === 'skipped-file' && x.message.includes('classes.txt'));
    assert.ok(skipped, JSON.stringify(r.warnings));
  });

  it('CLI: --classes FILE and coco80 in the tables and findings; a missing file is exit 2', () => {
    const file = path.join(tmp, 'names.txt');
    writeFileSync(file, 'cat\ndog\nbird\nfish\n');
    const text = spawnSync('node', [CLI, '--classes', file, '--no-ablation', SAMPLE], { encoding: 'utf8' });
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /classes with the largest focal loss \(of 4\):\n\s+class .*\n\s+\d (cat|dog|bird|fish)\s/);
    const json = JSON.parse(spawnSync('node', [CLI, '--json', '--classes', 'coco80', '--no-ablation', SAMPLE], { encoding: 'utf8' }).stdout);
    assert.deepEqual(json.classNames, ['person', 'bicycle', 'car', 'motorcycle']);
    assert.equal(json.classNamesFrom, '--classes coco80');
    const missing = spawnSync('node', [CLI, '--classes', path.join(tmp, 'nope.txt'), SAMPLE], { encoding: 'utf8' });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /^error: .*nope\.txt: --classes: /);
    const empty = path.join(tmp, 'empty.txt');
    writeFileSync(empty, '# nothing\n\n');
    const e = spawnSync('node', [CLI, '--classes', empty, SAMPLE], { encoding: 'utf8' });
    assert.equal(e.status, 2);
    assert.match(e.stderr, /no class names in the file/);
  });
});
