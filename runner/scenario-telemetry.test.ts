// The telemetry-down scenario's parts of the scenario format: a process fault
// may freeze (or stop for good) the lab's collector, and asyncTelemetry is a
// service's switch like any other.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { adjustScenario, parseScenario, SCENARIO_DIR, switchedOnAt } from './scenario.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
let base: Doc;
beforeAll(async () => {
  base = parseYaml(await readFile(join(SCENARIO_DIR, 'telemetry-down.yaml'), 'utf8')) as Doc;
});

function problems(change: (doc: Doc) => void): string {
  const doc = structuredClone(base);
  change(doc);
  try {
    parseScenario(doc, 'x.yaml', { fromFile: true });
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('process faults on the collector', () => {
  it('may pause it, or kill it for good', () => {
    expect(problems(() => undefined)).toBe('');
    expect(problems((d) => Object.assign(d.faults[0], { action: 'kill', restart: false }))).toBe('');
  });

  it('may not kill it expecting a restart, which the lab cannot do', () => {
    expect(problems((d) => Object.assign(d.faults[0], { action: 'kill' }))).toMatch(/faults\.0\.restart: the collector cannot be started again; pause it, or kill it with restart: false/);
  });

  it('an in-service fault still needs a service instance', () => {
    expect(problems((d) => (d.faults[0] = { type: 'cpu_burn', name: 'burn', target: 'collector', phase: 'frozen', attributes: { percent: 50 } }))).toMatch(/faults\.0\.target: no instance 'collector'/);
  });
});

describe('the asyncTelemetry switch', () => {
  it('is on where a service sets it, and --disable turns it off everywhere, keeping its other settings', () => {
    const scenario = parseScenario(structuredClone(base), 'x.yaml', { fromFile: true });
    expect(switchedOnAt(scenario, 'asyncTelemetry')).toEqual(['gateway', 'catalog']);
    const off = adjustScenario(scenario, { disable: ['asyncTelemetry'] });
    expect(off.services.gateway?.asyncTelemetry).toEqual({ enabled: false, maxQueueSize: 2048, exportTimeout: 4_000 });
    expect(off.services.catalog?.asyncTelemetry?.enabled).toBe(false);
    expect(off.switchedOff).toEqual(['gateway asyncTelemetry', 'catalog asyncTelemetry']);
  });

  it('reports a bad setting with its path', () => {
    expect(problems((d) => (d.services.gateway.asyncTelemetry.maxQueueSize = 0))).toMatch(/services\.gateway\.asyncTelemetry\.maxQueueSize: /);
    expect(problems((d) => (d.services.gateway.asyncTelemetry.exportTimeout = 3))).toMatch(/services\.gateway\.asyncTelemetry\.exportTimeout: 3 has no unit/);
    expect(problems((d) => (d.services.gateway.asyncTelemetry.queue = 1))).toMatch(/services\.gateway\.asyncTelemetry: Unrecognized key/);
  });
});
