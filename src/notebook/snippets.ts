/**
 * The Python this extension runs in a kernel. Each snippet defines one function under a private
 * name, calls it and deletes it in a `finally`, so that the user's namespace is left as it was
 * (no imports, no helpers, no `_` or `Out` entries: the Jupyter API runs code outside the history).
 * Parameters travel as one JSON string literal, never spliced into code.
 */
import { MIME, STDOUT_MARK, type ReplyChannel } from './kernel';

/** A value reached from a top-level variable by indexing: `['outs', 3]` is `outs[3]`. */
export type VariablePath = [string, ...(string | number)[]];

/**
 * `outs[3]`, `d["tl_heat"]`, `lite[0][1]`: how the user would write it (and valid Python). A dotted
 * name (`self.outs`) is an expression the debugger's Variables view named (src/notebook/dapKernel.ts).
 */
export function pathLabel(path: VariablePath): string {
  const [name, ...steps] = path;
  const head = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(name) ? name : `globals()[${pyString(name)}]`;
  return head + steps.map((s) => (typeof s === 'number' ? `[${s}]` : `[${pyString(s)}]`)).join('');
}

/** A Python string literal (JSON's escapes are Python's, for what JSON.stringify emits). */
export function pyString(s: string): string {
  return JSON.stringify(s);
}

const FN = '_cornernet_inspector_snippet_';

/** How the snippet replies: a display() bundle with our mime, or a marked line on stdout. */
function emitCode(channel: ReplyChannel): string {
  const print = `print(${pyString(STDOUT_MARK)} + mime + ' ' + json.dumps(obj), flush=True)`;
  if (channel === 'stdout') {
    return `
    def emit(mime, obj):
        ${print}`;
  }
  return `
    def emit(mime, obj):
        try:
            from IPython.display import display
        except ImportError:
            ${print}
        else:
            display({mime: obj, 'text/plain': 'cornernet-inspector'}, raw=True)`;
}

/**
 * Inspection limits: elements described per list or dict, variables listed, and the longest name
 * or key offered (longer ones are left out rather than making the reply invalid).
 */
export const INSPECT_LIMITS = { items: 64, variables: 400, nameLength: 1000 } as const;

/**
 * Lists numpy arrays, torch tensors and lists/tuples/dicts of them (two levels: CornerNet-Lite's
 * lists of stacks, CenterNet's list of stack dicts) with shape, dtype, bytes, device and grad. Imports neither numpy nor torch: a
 * kernel that has not imported them has none of their values.
 */
export function inspectCode(channel: ReplyChannel = 'display'): string {
  return `def ${FN}():
    import sys, json, types
    np = sys.modules.get('numpy')
    torch = sys.modules.get('torch')
    ns = globals()
${emitCode(channel)}
    def tensor(v):
        if np is not None and isinstance(v, np.ndarray):
            return {'kind': 'ndarray', 'shape': [int(d) for d in v.shape], 'dtype': str(v.dtype), 'bytes': int(v.nbytes)}
        if torch is not None and isinstance(v, torch.Tensor):
            return {'kind': 'tensor', 'shape': [int(d) for d in v.shape], 'dtype': str(v.dtype).replace('torch.', ''),
                    'bytes': int(v.numel()) * int(v.element_size()), 'device': str(v.device), 'grad': bool(v.requires_grad)}
        return None
    def describe(v, depth):
        t = tensor(v)
        if t is not None:
            return t
        if depth < 2 and isinstance(v, (list, tuple)):
            return {'kind': type(v).__name__ if type(v) in (list, tuple) else 'tuple', 'length': len(v),
                    'items': [describe(x, depth + 1) for x in v[:${INSPECT_LIMITS.items}]]}
        if depth < 2 and isinstance(v, dict):
            keys = [k for k in list(v.keys())[:${INSPECT_LIMITS.items}] if isinstance(k, str) and len(k) <= ${INSPECT_LIMITS.nameLength}]
            return {'kind': 'dict', 'length': len(v), 'keys': keys, 'items': [describe(v[k], depth + 1) for k in keys]}
        return {'kind': 'other', 'type': type(v).__name__}
    def holds_tensor(d):
        return d['kind'] in ('ndarray', 'tensor') or any(holds_tensor(x) for x in d.get('items', ()))
    found = []
    others = []
    for name, v in list(ns.items()):
        if name.startswith('_') or name in ('In', 'Out', 'exit', 'quit', 'get_ipython') or len(name) > ${INSPECT_LIMITS.nameLength}:
            continue
        if isinstance(v, (types.ModuleType, type)) or (callable(v) and tensor(v) is None):
            continue
        d = describe(v, 0)
        if holds_tensor(d):
            if len(found) < ${INSPECT_LIMITS.variables}:
                found.append(dict(d, name=name))
        elif len(others) < ${INSPECT_LIMITS.variables}:
            others.append({'name': name, 'type': type(v).__name__})
    emit(${pyString(MIME.inspect)}, {
        'python': sys.version.split()[0],
        'numpy': getattr(np, '__version__', None),
        'torch': getattr(torch, '__version__', None),
        'variables': found,
        'others': others,
    })
try:
    ${FN}()
finally:
    del ${FN}
`;
}

export interface ExportItem {
  /** The file is `<id>.npy` in the transfer folder. */
  id: number;
  path: VariablePath;
}

export interface ExportParams {
  items: ExportItem[];
  /** 'auto': files when the kernel sees `dir` (the probe file holds the nonce), else base64. */
  mode: 'auto' | 'file' | 'base64';
  /** The host's private transfer folder and the probe file in it. */
  dir: string;
  probe: string;
  nonce: string;
  /** Raw bytes per base64 chunk. */
  chunkBytes: number;
  /** Refuse (before converting) when the arrays add up to more. */
  maxBytes: number;
}

/**
 * Saves each item with np.save (allow_pickle=False) after `.detach().cpu().numpy()`: into the
 * host's folder when the kernel can see it, otherwise as base64 chunks in display outputs.
 * Events, in order: `start` (the mode), per item `item` (file size, shape, dtype) then its
 * `chunk`s (base64 mode), `done`. A value that is no array stops it with an `error` event naming it.
 */
export function exportCode(params: ExportParams, channel: ReplyChannel = 'display'): string {
  return `def ${FN}(params):
    import sys, os, io, json, base64
    import numpy as np
    torch = sys.modules.get('torch')
    ns = globals()
${emitCode(channel)}
    class Refused(Exception):
        pass
    def label(path):
        head = path[0] if all(p.isidentifier() for p in path[0].split('.')) else 'globals()[%s]' % json.dumps(path[0])
        return head + ''.join('[%s]' % (json.dumps(s) if isinstance(s, str) else s) for s in path[1:])
    def resolve(path):
        if path[0] not in ns:
            raise Refused('%s: no such variable in the kernel (was it deleted or renamed?)' % path[0])
        v = ns[path[0]]
        for i, step in enumerate(path[1:]):
            try:
                v = v[step]
            except Exception:
                raise Refused('%s: cannot be indexed with %r (did the variable change?)' % (label(path[:i + 1]), step))
        return v
    def to_numpy(v, where):
        note = None
        if isinstance(v, np.ndarray):
            a = v
        elif torch is not None and isinstance(v, torch.Tensor):
            t = v.detach()
            if t.layout != torch.strided:
                t = t.to_dense()
            if t.dtype == torch.bfloat16:
                # numpy has no bfloat16; float32 holds every bfloat16 value exactly.
                t = t.float()
                note = 'bfloat16, sent as float32 (exact)'
            a = t.cpu().numpy()
        else:
            raise Refused('%s is a %s, not a numpy array or a torch tensor' % (where, type(v).__name__))
        if a.dtype.kind not in 'biuf':
            raise Refused('%s has dtype %s: only bool, integer and float arrays can be sent' % (where, a.dtype))
        return np.ascontiguousarray(a), note
    def convert(item):
        return to_numpy(resolve(item['path']), label(item['path']))
    mode = params['mode']
    if mode != 'base64':
        try:
            with open(os.path.join(params['dir'], params['probe'])) as f:
                local = f.read() == params['nonce']
        except OSError:
            local = False
        if not local and mode == 'file':
            emit(${pyString(MIME.event)}, {'event': 'error', 'kind': 'transfer', 'message': 'the kernel cannot see the transfer folder %s (is it remote?)' % params['dir']})
            return
        mode = 'file' if local else 'base64'
    emit(${pyString(MIME.event)}, {'event': 'start', 'mode': mode})
    total = 0
    for item in params['items']:
        try:
            a, note = convert(item)
        except Refused as e:
            emit(${pyString(MIME.event)}, {'event': 'error', 'kind': 'not-array', 'variable': label(item['path']), 'message': str(e)})
            return
        total += a.nbytes
        if total > params['maxBytes']:
            emit(${pyString(MIME.event)}, {'event': 'error', 'kind': 'too-large', 'variable': label(item['path']),
                  'message': 'the arrays add up to more than %d MB' % (params['maxBytes'] // 2**20)})
            return
        if mode == 'file':
            target = os.path.join(params['dir'], '%d.npy' % item['id'])
            np.save(target, a, allow_pickle=False)
            size = os.path.getsize(target)
        else:
            buf = io.BytesIO()
            np.save(buf, a, allow_pickle=False)
            data = buf.getbuffer()
            size = len(data)
        emit(${pyString(MIME.event)}, {'event': 'item', 'id': item['id'], 'bytes': size, 'shape': [int(d) for d in a.shape],
              'dtype': str(a.dtype), 'note': note})
        if mode == 'base64':
            step = params['chunkBytes']
            for off in range(0, size, step):
                emit(${pyString(MIME.event)}, {'event': 'chunk', 'id': item['id'], 'offset': off,
                      'b64': base64.b64encode(data[off:off + step]).decode('ascii')})
            del data, buf
        del a
    emit(${pyString(MIME.event)}, {'event': 'done'})
try:
    ${FN}(__import__('json').loads(${pyString(JSON.stringify(params))}))
finally:
    del ${FN}
`;
}

/**
 * The cell offered when the kernel cannot be reached (no Jupyter extension, no access, an untrusted
 * workspace): the user runs it. It saves `outs`/`targets` as `np.savez(f, *outs)` does (the file
 * flow reads them by position; CornerNet-Lite's lists of stacks are stacked), or variables named
 * for their roles under their names (a list: one array per stack, `<name>_<k>`).
 */
/** The file an export cell writes after all its arrays (what the extension waits for). */
export const EXPORT_DONE_FILE = '.cornernet-export-done';

export function exportCellCode(folder: string, what: { outs: string; targets: string } | { arrays: string[] }): string {
  // Dicts (CenterNet's `output` and `batch`, or a list of stack dicts) are saved as they are, one
  // archive per variable named after it (`np.savez('output.npz', **output)`): the archive's name
  // then says whether its `hm` is an output or a target.
  const save =
    'outs' in what
      ? `if _cn_dicts(${what.outs}) is not None and _cn_dicts(${what.targets}) is not None:
    np.savez(os.path.join(_cn_dir, ${pyString(`${what.outs}.npz`)}), **_cn_dicts(${what.outs}))
    np.savez(os.path.join(_cn_dir, ${pyString(`${what.targets}.npz`)}), **_cn_dicts(${what.targets}))
else:
    np.savez(os.path.join(_cn_dir, 'outs.npz'), *[_cn_np(x) for x in ${what.outs}])
    np.savez(os.path.join(_cn_dir, 'targets.npz'), *[_cn_np(x) for x in ${what.targets}])`
      : `_cn_arrays = {}
for _cn_name, _cn_value in [${what.arrays.map((n) => `(${pyString(n)}, ${n})`).join(', ')}]:
    if _cn_dicts(_cn_value) is not None:
        np.savez(os.path.join(_cn_dir, _cn_name + '.npz'), **_cn_dicts(_cn_value))
    elif isinstance(_cn_value, (list, tuple)):
        _cn_arrays.update({'%s_%d' % (_cn_name, i): _cn_np(x) for i, x in enumerate(_cn_value)})
    else:
        _cn_arrays[_cn_name] = _cn_np(_cn_value)
np.savez(os.path.join(_cn_dir, 'arrays.npz'), **_cn_arrays)
del _cn_arrays, _cn_name, _cn_value`;
  return `# CornerNet Inspector: saves the arrays for "Compute CornerNet Loss", which runs once the files are written.
import os
import numpy as np

def _cn_np(v):
    """A numpy array from a numpy array or a torch tensor (detached, on the CPU; bfloat16 as float32)."""
    if isinstance(v, (list, tuple)):  # CornerNet-Lite: one list of stacks per output
        return np.stack([_cn_np(x) for x in v])
    if hasattr(v, 'detach'):
        v = v.detach()
        if str(v.dtype) == 'torch.bfloat16':
            v = v.float()
        v = v.cpu().numpy()
    return np.asarray(v)

def _cn_dicts(v):
    """The arrays of a dict (or of a list of dicts, one per stack: key_0, key_1, ...), else None."""
    if isinstance(v, dict):
        return {str(k): _cn_np(x) for k, x in v.items() if hasattr(x, 'shape')}
    if isinstance(v, (list, tuple)) and v and all(isinstance(d, dict) for d in v):
        return {'%s_%d' % (k, i): _cn_np(x) for i, d in enumerate(v) for k, x in d.items() if hasattr(x, 'shape')}
    return None

_cn_dir = ${pyString(folder)}
os.makedirs(_cn_dir, exist_ok=True)
${save}
# Written last: the extension computes the folder's loss once this file appears.
open(os.path.join(_cn_dir, ${pyString(EXPORT_DONE_FILE)}), 'w').close()
del _cn_np, _cn_dicts, _cn_dir
`;
}
