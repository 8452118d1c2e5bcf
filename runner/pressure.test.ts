import { describe, expect, it } from 'vitest';
import { DEFAULT_PRESSURE_LIMITS, percentile, phasePressure, pressureLimitsSchema, renderPhasePressure, type PressureSample } from './pressure.ts';

const T0 = 1_800_000_000_000;
const phases = [
  { name: 'baseline', fromMs: T0, toMs: T0 + 5_000 },
  { name: 'outage', fromMs: T0 + 5_000, toMs: T0 + 10_000 },
];

function samples(cpu: (second: number) => number | undefined, extra: Partial<PressureSample> = {}): PressureSample[] {
  return Array.from({ length: 10 }, (_, i) => {
    const some = cpu(i);
    return { atMs: T0 + (i + 1) * 1_000, runQueuePerCore: 0.5, runnerLoopP99Ms: 1, runnerLoopMaxMs: 2, ...(some === undefined ? {} : { cpuSome: some }), ...extra };
  });
}

const calmArrivals = () => ({ dropped: 0, due: 100 });

describe('phasePressure', () => {
  it('puts each one-second sample in the phase its second falls in, and is within limits when calm', () => {
    const [baseline, outage] = phasePressure(phases, { samples: samples((i) => (i < 5 ? 0.1 : 0.3)), lags: [], arrivals: calmArrivals }, DEFAULT_PRESSURE_LIMITS);
    expect(baseline).toMatchObject({ phase: 'baseline', seconds: 5, cpuPressure: { mean: 0.1, max: 0.1 }, overLimits: [] });
    expect(outage?.cpuPressure?.mean).toBeCloseTo(0.3);
    expect(outage?.overLimits).toEqual([]);
  });

  it('names every limit a phase went over, with the figure and the limit', () => {
    const lags: Array<[number, number]> = Array.from({ length: 100 }, (_, i) => [T0 + 5_000 + i * 10, i < 95 ? 5 : 400]);
    const [, outage] = phasePressure(
      phases,
      {
        samples: samples((i) => (i < 5 ? 0.1 : 0.8), { labLoopP99Ms: 300, labLoopWorst: 'checkout' }),
        lags,
        arrivals: (from) => (from === T0 + 5_000 ? { dropped: 5, due: 100 } : { dropped: 0, due: 100 }),
        scrapeGaps: new Map([['outage', { missed: 40, due: 100 }]]),
      },
      DEFAULT_PRESSURE_LIMITS,
    );
    expect(outage?.overLimits).toEqual([
      'cpu pressure 80% during outage, limit 60%',
      'load generator 400ms behind its schedule (p99) during outage, limit 100ms',
      'event-loop delay 300ms in checkout during outage, limit 150ms',
      '5 of 100 arrivals dropped during outage (5%), limit 1%',
      'Prometheus missed 40 of 100 scrapes during outage, limit 20%',
    ]);
  });

  it("counts a second in which the host ran other guests on one of the machine's CPUs (steal) as pressure, and shows it", () => {
    // 300 ms stolen from one CPU in one second of the outage: PSI saw nothing, the process on that CPU stalled.
    const stolen = samples(() => 0.1).map((s, i) => ({ ...s, stealMs: i === 7 ? 300 : 0 }));
    const [baseline, outage] = phasePressure(phases, { samples: stolen, lags: [], arrivals: calmArrivals }, DEFAULT_PRESSURE_LIMITS);
    expect(baseline).toMatchObject({ stealMs: 0, overLimits: [] });
    expect(outage?.overLimits).toEqual(['the hypervisor took 300ms of a CPU in one second (steal) during outage, limit 100ms']);
    const lines = renderPhasePressure([baseline!, outage!]).split('\n');
    expect(lines[0]).not.toContain('steal');
    expect(lines[1]).toContain(', steal 300ms  OVER LIMIT');
  });

  it('falls back to the run queue where the kernel has no PSI', () => {
    const [baseline] = phasePressure(phases, { samples: samples(() => undefined, { runQueuePerCore: 3 }), lags: [], arrivals: calmArrivals }, DEFAULT_PRESSURE_LIMITS);
    expect(baseline?.cpuPressure).toBeUndefined();
    expect(baseline?.overLimits).toEqual(['run queue 3.0 per core during baseline, limit 2']);
  });

  it('reads limits as scenario data, in the shorthand spellings, and rejects nonsense with the field named', () => {
    expect(pressureLimitsSchema.parse({ cpuPressure: '80%', generatorLag: '250ms' })).toMatchObject({ cpuPressure: 0.8, generatorLag: 250, eventLoopDelay: 150 });
    const bad = pressureLimitsSchema.safeParse({ cpuPressure: '180%', lag: 1 });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((issue) => issue.path.join('.') || issue.message)).toEqual(expect.arrayContaining(['cpuPressure']));
  });

  it('prints one line per phase, marking those over a limit', () => {
    const figures = phasePressure(phases, { samples: samples((i) => (i < 5 ? 0.1 : 0.9)), lags: [], arrivals: calmArrivals }, DEFAULT_PRESSURE_LIMITS);
    const lines = renderPhasePressure(figures).split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('cpu pressure 10%');
    expect(lines[0]).not.toContain('OVER LIMIT');
    expect(lines[1]).toContain('OVER LIMIT');
  });
});

describe('percentile', () => {
  it('takes the nearest rank', () => {
    expect(percentile([], 99)).toBe(0);
    expect(percentile([5, 1, 3], 50)).toBe(3);
    expect(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 99)).toBe(99);
  });
});
