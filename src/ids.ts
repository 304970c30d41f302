/**
 * The identifiers the manifest and activation need: command ids, view types, hover languages and
 * the tensor-file test. Kept apart (no imports) so that `extension.ts` can register every surface
 * without loading any of them (see surfaces.ts).
 */
export const COMPUTE_COMMAND = 'cornernet.computeLoss';
export const NOTEBOOK_COMMAND = 'cornernet.computeLossFromNotebook';
export const EXPORT_CELL_COMMAND = 'cornernet.insertExportCell';
export const OPEN_VARIABLE_COMMAND = 'cornernet.openKernelVariable';
export const DEBUG_COMMAND = 'cornernet.computeLossFromDebugSession';
export const OPEN_DEBUG_VARIABLE_COMMAND = 'cornernet.openDebugVariable';
export const OPEN_VIEWER_COMMAND = 'cornernet.openTensorViewer';
export const EXPORT_REPORT_COMMAND = 'cornernet.exportReport';
export const PANEL_VIEW_TYPE = 'cornernet.results';
export const VIEWER_VIEW_TYPE = 'cornernet.tensorViewer';
export const SIDEBAR_VIEW_ID = 'cornernet.sidebar';
export const TIMELINE_COMMAND = 'cornernet.showTimeline';
export const COMPARE_COMMAND = 'cornernet.compareBatches';
export const TIMELINE_VIEW_TYPE = 'cornernet.timeline';
export const COMPARE_VIEW_TYPE = 'cornernet.compare';
export const HOVER_LANGUAGES = ['python', 'json', 'jsonc', 'yaml', 'markdown', 'plaintext'];

/**
 * Whether a path names a tensor file: the core's `tensorFormatOf` (src/tensor/tensorFile.ts), whose
 * module activation must not load.
 */
export function isTensorFileName(path: string): boolean {
  return /\.(npy|npz|safetensors)$/i.test(path.replace(/[?#].*$/, ''));
}

/** Whether a line of text may name a tensor file (what a hover looks for, before it loads). */
export function mayNameTensorFile(line: string): boolean {
  return /\.(?:npy|npz|safetensors)/i.test(line);
}

/**
 * Debug types whose sessions run Python under debugpy (pydevd), from the setting
 * `cornernet.debug.pythonTypes`: the debug commands evaluate Python only there. Also a context key
 * of that name, so that menus can say `debugType in cornernet.debug.pythonTypes`.
 */
export const PYTHON_DEBUG_TYPES_KEY = 'cornernet.debug.pythonTypes';
export const DEFAULT_PYTHON_DEBUG_TYPES: readonly string[] = ['debugpy', 'python'];

export function pythonDebugTypesFrom(setting: unknown): string[] {
  return Array.isArray(setting) && setting.every((t) => typeof t === 'string') ? setting : [...DEFAULT_PYTHON_DEBUG_TYPES];
}
