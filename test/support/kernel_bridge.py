"""A real ipykernel behind jupyter_client, driven by JSON lines on stdin/stdout.

Test support for CornerNet Inspector: the Jupyter extension cannot be installed on the test
machines, so its `Kernel.executeCode` is played by this bridge. Outputs are converted the way
vscode-jupyter converts them for `executeCode` (stream text, display_data per mime, JSON values as
JSON text, errors as {name, message, stack}), so the extension's parsing runs on the same bytes.

stdin:  {"op": "execute", "id": N, "code": "..."} | {"op": "interrupt"} | {"op": "shutdown"}
stdout: {"ready": true, "python": ..., "pid": ...}
        {"id": N, "output": {"items": [{"mime": ..., "text": ...}]}}  (zero or more)
        {"id": N, "done": true}
"""
import json
import queue
import sys
import threading

import jupyter_client

out_lock = threading.Lock()


def send(obj):
    line = json.dumps(obj)
    with out_lock:
        sys.stdout.write(line + '\n')
        sys.stdout.flush()


def items_of(msg):
    t = msg['msg_type']
    c = msg['content']
    if t == 'stream':
        mime = 'application/vnd.code.notebook.stdout' if c['name'] == 'stdout' else 'application/vnd.code.notebook.stderr'
        return [{'mime': mime, 'text': c['text']}]
    if t in ('display_data', 'execute_result', 'update_display_data'):
        out = []
        for mime, value in c['data'].items():
            if isinstance(value, list):
                value = ''.join(value)
            out.append({'mime': mime, 'text': value if isinstance(value, str) else json.dumps(value)})
        return out
    if t == 'error':
        return [{'mime': 'application/vnd.code.notebook.error',
                 'text': json.dumps({'name': c['ename'], 'message': c['evalue'], 'stack': '\n'.join(c['traceback'])})}]
    return []


def main():
    km = jupyter_client.KernelManager(kernel_name='python3')
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    send({'ready': True, 'python': sys.version.split()[0], 'pid': km.provisioner.pid if hasattr(km, 'provisioner') and km.provisioner else None})

    requests = queue.Queue()

    def read_stdin():
        for line in sys.stdin:
            try:
                req = json.loads(line)
            except ValueError:
                continue
            if req.get('op') == 'interrupt':
                km.interrupt_kernel()
            else:
                requests.put(req)
        requests.put({'op': 'shutdown'})

    threading.Thread(target=read_stdin, daemon=True).start()
    try:
        while True:
            req = requests.get()
            if req.get('op') == 'shutdown':
                break
            if req.get('op') != 'execute':
                continue
            msg_id = kc.execute(req['code'], silent=False, store_history=False, allow_stdin=False)
            while True:
                msg = kc.get_iopub_msg(timeout=None)
                if msg['parent_header'].get('msg_id') != msg_id:
                    continue
                if msg['msg_type'] == 'status' and msg['content']['execution_state'] == 'idle':
                    break
                items = items_of(msg)
                if items:
                    send({'id': req['id'], 'output': {'items': items}})
            send({'id': req['id'], 'done': True})
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


if __name__ == '__main__':
    main()
