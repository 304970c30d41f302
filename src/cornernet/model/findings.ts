/**
 * Findings: what is wrong with a batch, with evidence and advice (computed by diagnose/findings.ts,
 * carried in the report).
 */

export type FindingCode =
  | 'clamp-floor-positives'
  | 'collapsed-heatmap'
  | 'heat-is-probability'
  | 'empty-images'
  | 'single-object-push'
  | 'target-radius'
  | 'no-peaks'
  | 'near-one-peak'
  | 'embedding-collapse'
  | 'offset-range'
  | 'shared-corner'
  | 'non-finite';

/** A place in the batch the panel can show. */
export interface FindingPlace {
  stack?: number;
  image?: number;
  class?: number;
  /** Corner type, or 'center' (center conventions). */
  head?: 'tl' | 'br' | 'center';
  x?: number;
  y?: number;
  /** Object slot (report.objects[].slot) in `image`. */
  object?: number;
  /** The input (role or file) concerned. */
  input?: string;
}

export interface Finding {
  code: FindingCode;
  severity: 'error' | 'warning' | 'info';
  title: string;
  /** Numbers and places; `where` lists the places to jump to (the first ones). */
  evidence: { where: FindingPlace[]; [k: string]: unknown };
  advice: string;
  /** How much it explains, for the ranking: a share of the loss, or of the problem, in [0, 1]. */
  score: number;
}

