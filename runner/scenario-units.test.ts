// A duration in a scenario file must carry its unit: `duration: 12` could be
// 12 ms or 12 s, so it is an error naming its path, not silently 12 ms.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { loadScenario, parseScenario, SCENARIO_DIR } from './scenario.ts';

let dir: string;
// The YAML document as a test edits it: any shape goes.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
let base: Record<string, unknown>;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'faultline-units-'));
  base = parseYaml(await readFile(join(SCENARIO_DIR, 'payment-instance-crash.yaml'), 'utf8')) as Record<string, unknown>;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(change: (doc: Doc) => void): Promise<unknown> {
  const doc = structuredClone(base) as Doc;
  change(doc);
  const file = join(dir, `s-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, stringify(doc));
  return loadScenario(file);
}

describe('durations in scenario files', () => {
  it('the unchanged file loads (the base of the cases below is valid)', async () => {
    await expect(load(() => undefined)).resolves.toBeTruthy();
  });

  it.each([
    ['phases.0.duration', (d: Doc) => (d.phases[0].duration = 12)],
    ['load.requestTimeout', (d: Doc) => (d.load.requestTimeout = 5000)],
    ['load.timeUnit', (d: Doc) => (d.load.timeUnit = 1000)],
    ['load.gracefulStop', (d: Doc) => (d.load.gracefulStop = 30)],
    ['load.thinkTime.max', (d: Doc) => (d.load.thinkTime = { min: '0s', max: 500 })],
    ['policies.checkout.payment.timeout.timeout', (d: Doc) => (d.policies.checkout.payment.timeout.timeout = 800)],
    ['faults.0.at', (d: Doc) => Object.assign(d.faults[0], { phase: undefined, at: 6, duration: '1s' })],
    ['expectations.0.firesWithin', (d: Doc) => (d.expectations = [{ type: 'alert', name: 'a', alert: 'X', fault: 'payment-1-crash', firesWithin: 6 }])],
  ])('a bare number at %s is an error naming its path', async (path, change) => {
    const error = (await load(change).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(new RegExp(`${path.replace(/\./g, '\\.')}: \\d+ has no unit: write '\\d+ms' or '\\d+s'`));
  });

  it('every unitless duration is reported at once', async () => {
    const error = (await load((d) => {
      d.phases[0].duration = 12;
      d.load.gracefulStop = 30;
    }).catch((e: unknown) => e)) as Error;
    expect(error.message).toContain('phases.0.duration');
    expect(error.message).toContain('load.gracefulStop');
  });

  it('0 needs no unit, and a unit is accepted', async () => {
    await expect(load((d) => (d.load.gracefulStop = 0))).resolves.toBeTruthy();
    const scenario = (await load((d) => (d.phases[0].duration = '12s'))) as { phases: Array<{ duration: number }> };
    expect(scenario.phases[0]?.duration).toBe(12_000);
  });

  it('code may still hand over milliseconds (parseScenario without fromFile)', () => {
    const doc = structuredClone(base) as Doc;
    doc.phases = [{ name: 'baseline', duration: 6000 }, { name: 'crash', duration: 12_000 }, { name: 'recovery', duration: 8000 }];
    expect(parseScenario(doc, 'test').phases[0]?.duration).toBe(6000);
  });
});
