import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import assert from 'node:assert/strict';

export const FIXTURES = path.join(process.cwd(), 'test', 'fixtures', 'cornernet');

export function fixtureCases(): string[] {
  return readdirSync(FIXTURES)
    .filter((n) => statSync(path.join(FIXTURES, n)).isDirectory())
    .sort();
}

export function readExpected(name: string): any {
  return JSON.parse(readFileSync(path.join(FIXTURES, name, 'expected.json'), 'utf8'));
}

/** |actual - expected| <= max(rtol |expected|, atol); null/NaN only equal each other. */
export function assertClose(actual: number | null | undefined, expected: number, rtol: number, atol: number, what: string): void {
  assert.ok(actual !== null && actual !== undefined, `${what}: got ${actual}, expected ${expected}`);
  const tol = Math.max(rtol * Math.abs(expected), atol);
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${what}: got ${actual}, expected ${expected} (diff ${Math.abs(actual - expected).toExponential(2)}, tol ${tol.toExponential(2)})`,
  );
}

/** The absolute floors the fixtures' README suggests for the float32 block. */
export function float32Floor(term: string): number {
  return term.startsWith('push') || term === 'total' ? 2e-5 : 1e-6;
}
