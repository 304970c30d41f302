#!/usr/bin/env node
// Manual sandbox: code-server with the extension from this repo (as the extension under
// development, so "npm run build" + "Developer: Reload Window" in the browser picks up changes)
// on a scratch copy of sample/. Prints the URL and stays up until Ctrl-C.
//
// usage: node scripts/vscode/sandbox.js [--folder <dir>] [--port <n>] [--no-build] [--settings <file|json>] [--keep]
//   --folder  copy this folder instead of sample/ (the copy is what you edit; the original stays)
//   --port    fixed port (default: a free one); code-server listens on 127.0.0.1 only and has no
//             auth, so reach it from elsewhere through a tunnel, e.g. ssh -L <port>:127.0.0.1:<port>
//   --keep    keep the run dir (scratch workspace, logs) after Ctrl-C
'use strict';

const path = require('node:path');
const h = require('./harness');

async function main() {
  const opts = h.parseArgs(process.argv.slice(2), ['folder', 'port', 'settings']);
  h.checkPrerequisites({ browser: false });
  if (!opts['no-build']) h.build(['--only', 'dist']);

  const runDir = h.makeRunDir('sandbox');
  const source = path.resolve(opts.folder || path.join(h.ROOT, 'sample'));
  const workspace = h.copyIntoWorkspace(path.join(runDir, path.basename(source)), [{ from: source, to: '.' }]);
  const server = await h.startCodeServer(runDir, {
    port: opts.port,
    settings: h.settingsFromOption(opts.settings || process.env.HARNESS_SETTINGS),
    smokeTestDriver: true, // needed for extensionDevelopmentPath in the URL payload
  });
  const url = server.workbenchUrl({
    folder: workspace,
    payload: [
      ['extensionDevelopmentPath', server.remoteUri(h.ROOT)],
      ['skipWelcome', 'true'],
    ],
  });
  console.log(`\nCornerNet Inspector sandbox (workspace: a copy of ${path.relative(h.ROOT, source) || source} in ${workspace})`);
  console.log(`\n  ${url}\n`);
  console.log('After changing the code: npm run build, then "Developer: Reload Window" in the browser.');
  console.log(`Logs: ${runDir}/code-server.log, ${runDir}/ud/logs/. Ctrl-C stops the server.`);

  // harness.js turns SIGINT/SIGTERM into process.exit, whose handler stops code-server; the run
  // dir goes away here first unless --keep.
  const cleanup = () => {
    if (!opts.keep) h.removeRunDir(runDir);
  };
  process.on('exit', cleanup);
  server.proc.on('exit', (code, sig) => {
    console.error(`code-server exited (${code ?? sig})`);
    process.exit(1);
  });
}

main().catch((e) => {
  console.error(e instanceof h.HarnessSetupError ? e.message : e);
  process.exitCode = 1;
});
