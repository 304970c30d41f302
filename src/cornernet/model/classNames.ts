/**
 * Class names by class index: from a manifest's `"classes"`, a `classes.txt` beside the data (one
 * name per line), `--classes` or the editor's `cornernet.classNames` setting (the COCO-80 preset, or
 * a list). The report says which source named them; views write `3 car` where they wrote `3`.
 */

/** COCO's 80 detection classes in the contiguous order CornerNet, CenterNet and mmdetection train on. */
export const COCO80: readonly string[] = [
  'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light',
  'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
  'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee',
  'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
  'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
  'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed',
  'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven',
  'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush',
];

/** The file beside the data that names the classes, one per line. */
export const CLASSES_FILE = 'classes.txt';
/** At most this many names, each at most this long (longer ones are cut). */
export const MAX_CLASS_NAMES = 100_000;
export const MAX_CLASS_NAME_LENGTH = 200;

export interface ClassNames {
  names: string[];
  /** Where they come from: a file, `setting`, `--classes coco80`... */
  from: string;
}

/**
 * The names of a `classes.txt`: one per line, trimmed; blank lines and lines starting with `#`
 * are skipped. Control characters become spaces (names are shown in the UI and in terminals).
 */
export function parseClassList(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/[\u0000-\u001f\u007f]/g, ' ').trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'))
    .slice(0, MAX_CLASS_NAMES)
    .map((l) => l.slice(0, MAX_CLASS_NAME_LENGTH));
}

/** `3 car` when class 3 has a name, else `3`. */
export function classLabel(names: readonly string[] | undefined, c: number): string {
  const n = names?.[c];
  return n ? `${c} ${n}` : String(c);
}
