/// <reference types="mocha" />
// (tsconfig's "types": ["node"] keeps mocha's globals out unless referenced explicitly.)
/**
 * First integration suite: the harness itself works. The extension is loaded from the repo root as
 * the extension under development, in code-server's Node extension host, on the test workspace that
 * scripts/vscode/run-integration.js copied from test/workspace/ (see its README).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

const EXTENSION_ID = 'cornernet-inspector.cornernet-inspector';

function npyFilesOnDisk(root: string, dir = ''): string[] {
  return fs
    .readdirSync(path.join(root, dir), { withFileTypes: true })
    .flatMap((e) => {
      const rel = path.join(dir, e.name);
      return e.isDirectory() ? npyFilesOnDisk(root, rel) : e.name.endsWith('.npy') ? [rel] : [];
    })
    .sort();
}

describe('harness smoke', () => {
  // The facts that differ from desktop VS Code (docs/vscode-testing.md pitfall 10) go into the title:
  // console output of tests only reaches <run dir>/automation.log (or the terminal with --verbose).
  it(`runs in a real VS Code extension host (VS Code ${vscode.version}, Node ${process.version}, uiKind ${vscode.env.uiKind})`, () => {
    assert.ok(vscode.version, 'vscode.version');
    assert.equal(vscode.env.uiKind, vscode.UIKind.Web);
    assert.ok(vscode.env.remoteName, 'runs in the remote (server-side) extension host');
  });

  it(`finds and activates ${EXTENSION_ID}`, async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is not registered`);
    await ext.activate();
    assert.equal(ext.isActive, true);
    assert.equal(ext.packageJSON.name, 'cornernet-inspector');
  });

  it('activates cheaply: no surface loaded, no worker started, the cost recorded for npm run bench', async () => {
    const api = (await vscode.extensions.getExtension(EXTENSION_ID)!.activate()) as {
      activation: { loadMs: number | null; activateMs: number; workersStarted: number; surfacesLoaded: boolean };
    };
    const { loadMs, activateMs, workersStarted, surfacesLoaded } = api.activation;
    console.log(`    activation: bundle ${loadMs?.toFixed(1)} ms, activate() ${activateMs.toFixed(1)} ms`);
    assert.ok(loadMs !== null, 'the bundle records its start');
    // The figure goes to the benchmark report (a timed assertion would depend on the machine); what
    // is asserted is that activation defers the heavy parts: no worker thread is started.
    assert.equal(workersStarted, 0, 'activate() started a worker');
    assert.equal(surfacesLoaded, false, 'activate() loaded dist/surfaces.js');
    assert.ok(Number.isFinite(activateMs) && activateMs >= 0);
    const dir = path.join(process.env.HARNESS_REPO ?? '', 'test-results');
    if (process.env.HARNESS_REPO) {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'activation.json'), JSON.stringify({ loadMs, activateMs, when: new Date().toISOString() }));
    }
  });

  it('opens the copied test workspace', () => {
    const folders = vscode.workspace.workspaceFolders ?? [];
    assert.equal(folders.length, 1, 'exactly one workspace folder');
    const expected = process.env.HARNESS_WORKSPACE;
    assert.ok(expected, 'HARNESS_WORKSPACE is set by the runner');
    assert.equal(folders[0].uri.fsPath, expected);
  });

  it('sees the fixture files through workspace.findFiles', async () => {
    const root = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const found = (await vscode.workspace.findFiles('**/*.npy')).map((u) => path.relative(root, u.fsPath)).sort();
    for (const dir of ['p01_basic', 'p02_two_stacks', 'p04_one_object', 'sample']) {
      assert.ok(found.includes(path.join(dir, 'tl_heat.npy')), `${dir}/tl_heat.npy missing from ${found.length} .npy files`);
    }
    // exactly the .npy files on disk: nothing hidden by files.exclude, nothing stale
    assert.deepEqual(found, npyFilesOnDisk(root));
  });
});
