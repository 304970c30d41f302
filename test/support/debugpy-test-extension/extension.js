// Test only. Serves the debug type `cornernet-test-python` with Debian's debugpy adapter, started
// as the Python Debugger extension starts its bundled copy: `<python> -m debugpy.adapter`, speaking
// DAP on stdio. Launch configurations are debugpy's own (program, args, python, console, ...).
'use strict';
const fs = require('node:fs');
const vscode = require('vscode');

/** Debian's interpreter has python3-debugpy (a pyenv or venv python3 first on PATH may not). */
function python() {
  for (const p of [process.env.CORNERNET_TEST_PYTHON, '/usr/bin/python3']) if (p && fs.existsSync(p)) return p;
  return 'python3';
}

exports.activate = (context) => {
  context.subscriptions.push(
    vscode.debug.registerDebugAdapterDescriptorFactory('cornernet-test-python', {
      createDebugAdapterDescriptor: () => new vscode.DebugAdapterExecutable(python(), ['-m', 'debugpy.adapter']),
    }),
  );
};

exports.deactivate = () => {};
