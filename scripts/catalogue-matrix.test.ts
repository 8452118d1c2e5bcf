import { describe, expect, it } from 'vitest';
import { matrixHolds, matrixTable, outcomeOf, parseMatrixArgs, type CellTry } from './catalogue-matrix.ts';

const cell = (scenario: string, mode: 'with' | 'without', outcome: CellTry['outcome'], attempt = 1): CellTry => ({ scenario, mode, attempt, exitCode: 0, outcome, wallMs: 30_000, at: '2026-12-06T00:00:00Z' });

describe('the catalogue matrix', () => {
  it("reads the CLI's exit code: under --without the CLI already counts a FAIL as the expected outcome", () => {
    expect([0, 1, 2, 3, null, 130].map(outcomeOf)).toEqual(['right', 'wrong', 'error', 'inconclusive', 'error', 'error']);
  });

  it('holds only when every cell ended right; an inconclusive cell that a retry made right holds', () => {
    const retried = [cell('a', 'with', 'inconclusive'), cell('a', 'with', 'right', 2), cell('a', 'without', 'right')];
    expect(matrixHolds(retried)).toBe(true);
    expect(matrixHolds([...retried, cell('b', 'with', 'right'), cell('b', 'without', 'wrong')])).toBe(false);
    expect(matrixHolds([cell('a', 'with', 'inconclusive'), cell('a', 'with', 'inconclusive', 2)])).toBe(false);
    expect(matrixHolds([])).toBe(false);
  });

  it('tabulates each mode with the tries it took and the wall time', () => {
    const table = matrixTable([cell('a', 'with', 'inconclusive'), cell('a', 'with', 'right', 2), cell('a', 'without', 'wrong')]);
    expect(table).toContain('| a | PASS (try 2) | PASS (wrong) | 90 s |');
    expect(table).toContain('| all 1 | | | 1.5 min |');
  });

  it('names a bad flag value', () => {
    expect(() => parseMatrixArgs(['--time-scale', 'fast'])).toThrow('--time-scale: expected a number of at least 0.1 (got fast)');
    expect(parseMatrixArgs(['--scenarios', 'a,b', '--retries', '1'])).toMatchObject({ scenarios: ['a', 'b'], retries: 1, timeScale: 0.5, neighbours: 0, skip: [] });
    expect(parseMatrixArgs(['--skip', 'c,d']).skip).toEqual(['c', 'd']);
  });
});
