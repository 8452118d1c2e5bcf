import { describe, expect, it } from 'vitest';
import { matrixHolds, matrixTable, outcomeOf, parseMatrixArgs, runPipelined, whyNotRight, type CellOutcome, type CellTry } from './catalogue-matrix.ts';

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

  it('says why a try was not right: each failed or unjudged expectation, or that every one held', () => {
    const run: Parameters<typeof whyNotRight>[0][number] = {
      scenario: 'cpu-hog',
      expectations: [
        { name: 'the baseline is healthy', status: 'fail', expected: 'rate<0.03', measured: '0.05' },
        { name: 'the books balance', status: 'pass', expected: 'balanced', measured: 'balanced' },
        { name: 'admitted checkouts stay fast', status: 'inconclusive', expected: 'p(95)<400', measured: '700', inconclusive: 'the machine was too busy in hog' },
        { name: 'needs Prometheus', status: 'skip', expected: 'x', measured: 'y' },
      ],
    };
    expect(whyNotRight([run])).toEqual([
      'cpu-hog: FAIL the baseline is healthy: expected rate<0.03; measured 0.05',
      'cpu-hog: INCONCLUSIVE admitted checkouts stay fast: expected p(95)<400; measured 700 (the machine was too busy in hog)',
    ]);
    expect(whyNotRight([{ scenario: 'cpu-hog', expectations: run.expectations.slice(1, 2) }])).toEqual(['cpu-hog: every expectation held']);
  });

  it('names a bad flag value', () => {
    expect(() => parseMatrixArgs(['--time-scale', 'fast'])).toThrow('--time-scale: expected a number of at least 0.1 (got fast)');
    expect(parseMatrixArgs(['--scenarios', 'a,b', '--retries', '1'])).toMatchObject({ scenarios: ['a', 'b'], retries: 1, timeScale: 0.5, neighbours: 0, skip: [] });
    expect(parseMatrixArgs(['--skip', 'c,d']).skip).toEqual(['c', 'd']);
  });
  it('starts each try once the one before has measured, keeps at most two alive, and tries an INCONCLUSIVE one again first', async () => {
    const log: string[] = [];
    let alive = 0;
    let mostAlive = 0;
    const outcomes: Record<string, CellOutcome[]> = { 'a with': ['inconclusive', 'right'], 'a without': ['right'], 'b with': ['inconclusive', 'inconclusive'], 'b without': ['wrong'] };
    const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
    await runPipelined(['a', 'b'], 1, () => false, (scenario, mode, attempt) => {
      const name = `${scenario} ${mode}`;
      log.push(`start ${name} ${attempt}`);
      alive += 1;
      mostAlive = Math.max(mostAlive, alive);
      const measured = tick().then(() => void log.push(`measured ${name} ${attempt}`));
      // The teardown outlasts the next try's start, so tries overlap.
      const outcome = measured.then(tick).then(tick).then(() => {
        alive -= 1;
        return outcomes[name]!.shift()!;
      });
      return { measured, outcome };
    });
    const starts = log.filter((line) => line.startsWith('start'));
    expect(starts).toEqual(['start a with 1', 'start a without 1', 'start a with 2', 'start b with 1', 'start b without 1', 'start b with 2']);
    // Never started before the one before it had measured.
    for (const [i, line] of log.entries()) {
      if (!line.startsWith('start') || i === 0) continue;
      const before = log.slice(0, i).filter((l) => l.startsWith('start')).at(-1)!.replace('start', 'measured');
      expect(log.slice(0, i)).toContain(before);
    }
    expect(mostAlive).toBe(2);
  });

  it('starts nothing more once stopped', async () => {
    const started: string[] = [];
    let stop = false;
    await runPipelined(['a', 'b'], 2, () => stop, (scenario, mode) => {
      started.push(`${scenario} ${mode}`);
      stop = true;
      return { measured: Promise.resolve(), outcome: Promise.resolve('inconclusive' as const) };
    });
    expect(started).toEqual(['a with']);
  });
});
