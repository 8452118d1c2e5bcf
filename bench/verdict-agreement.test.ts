// The verdict-agreement bench's tables: what docs/benchmarks.md quotes must count
// verdicts and pressure the way the headers say.

import { describe, expect, it } from 'vitest';
import { agreementTable, pressureTable, type RunRecord } from './verdict-agreement.ts';

const run = (over: Partial<RunRecord>): RunRecord => ({
  scenario: 'payment-outage',
  pattern: 'circuitBreaker',
  withPattern: true,
  neighbours: 2,
  exitCode: 0,
  verdict: 'pass',
  right: true,
  failed: [],
  inconclusive: [],
  wallMs: 50_000,
  at: '2026-12-06T13:00:00.000Z',
  ...over,
});

describe('verdict-agreement tables', () => {
  it('counts an inconclusive run apart from a wrong one', () => {
    const table = agreementTable([
      run({}),
      run({ exitCode: 3, verdict: 'inconclusive', right: false }),
      run({ exitCode: 1, verdict: 'fail', right: false, wallMs: 70_000 }),
    ]);
    expect(table).toContain('| payment-outage | with (expect PASS) | 2 | 3 | 1 | 1 | 1 | 0 | 1 | 50 s |');
  });

  it('takes each run at its worst phase, then the median and the worst run, and counts runs over a limit', () => {
    const phase = (cpu: number, lag: number, loop: number, over: string[] = []) => ({ phase: 'outage', cpuPressure: cpu, runQueuePerCore: 1, generatorLagP99Ms: lag, eventLoopMaxMs: loop, overLimits: over });
    const table = pressureTable([
      run({ pressure: [phase(0.1, 5, 20), phase(0.3, 8, 30)] }),
      run({ pressure: [phase(0.5, 40, 90)] }),
      run({ pressure: [phase(0.7, 120, 200, ['cpu pressure 70% during outage, limit 60%'])] }),
      run({ neighbours: 0 }),
    ]);
    expect(table).toContain('| payment-outage | 2 | 3 | 50% / 70% | 40 ms / 120 ms | 90 ms / 200 ms | 1 |');
    expect(table).not.toContain('| payment-outage | 0 |');
  });
});
