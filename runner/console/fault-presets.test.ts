import { describe, expect, it } from 'vitest';
import { PROCESS_FAULT_TYPES } from '../../demo-services/kit/process-faults.ts';
import { parseScenario, TCP_TOXIC_TYPES, type FaultSpec } from '../scenario.ts';
import { ConsoleInputError, preset, presetCatalogue, presetFault, presets } from './fault-presets.ts';

/** The fault as a scenario file would hold it, parsed by the scenario parser on its own (not through the presets' module). */
function parsedInScenario(fault: FaultSpec): FaultSpec {
  const scenario = parseScenario(
    {
      name: 'preset-check',
      description: 'One preset fault.',
      phases: [{ name: 'only', duration: 10_000 }],
      load: { executor: 'constant-arrival-rate', journey: 'checkout', rate: 1, timeUnit: '1s', preAllocatedVUs: 1, maxVUs: 1 },
      faults: [{ ...fault, at: 0, duration: 5_000 }],
      expectations: [{ type: 'threshold', name: 'none', metric: 'http_req_failed', threshold: 'rate<=1' }],
    },
    'test',
  );
  return scenario.faults[0] as FaultSpec;
}

function inputError(work: () => unknown): ConsoleInputError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(ConsoleInputError);
    return error as ConsoleInputError;
  }
  throw new Error('expected a ConsoleInputError');
}

describe('fault presets', () => {
  it('builds, for every target each preset claims, a fault the scenario parser accepts as it is', () => {
    let checked = 0;
    for (const entry of presets()) {
      expect(entry.targets.length, entry.id).toBeGreaterThan(0);
      expect(entry.targets).toContain(entry.defaultTarget);
      for (const target of entry.targets) {
        const fault = entry.toFault(target, `console-${entry.id}-${checked}`);
        expect(fault.type).toBe(entry.faultType);
        expect(fault.name).toBe(`console-${entry.id}-${checked}`);
        expect('phase' in fault || 'at' in fault || 'duration' in fault, `${entry.id} carries no timing`).toBe(false);
        const { at: _at, duration: _duration, ...reparsed } = parsedInScenario(fault);
        expect(reparsed).toEqual(fault);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(300);
  });

  it('covers every fault type the scenario schema has, and both process actions', () => {
    const types = new Set(presets().map((entry) => entry.faultType));
    expect([...types].sort()).toEqual(['down', 'http_error', 'latency', 'partition', 'process', ...PROCESS_FAULT_TYPES, ...TCP_TOXIC_TYPES].sort());
    expect(presetFault('pause', 'bank', 'p')).toMatchObject({ type: 'process', action: 'pause' });
    expect(presetFault('kill', 'payment-1', 'k')).toMatchObject({ type: 'process', action: 'kill', restart: true });
  });

  it('grades bank errors 10/50/100% and latency 100 ms/1 s/5 s with jitter', () => {
    expect(['errors-10', 'errors-50', 'errors-100'].map((id) => presetFault(id, 'payment->bank', 'b'))).toMatchObject([
      { type: 'http_error', edge: 'payment->bank', status: 503, rate: 0.1 },
      { type: 'http_error', edge: 'payment->bank', status: 503, rate: 0.5 },
      { type: 'http_error', edge: 'payment->bank', status: 503, rate: 1 },
    ]);
    expect(preset('errors-50').defaultTarget).toBe('payment->bank');
    expect(['latency-100ms', 'latency-1s', 'latency-5s'].map((id) => presetFault(id, 'checkout->payment', 'l'))).toMatchObject([
      { type: 'latency', latency: 100, jitter: 20 },
      { type: 'latency', latency: 1_000, jitter: 200 },
      { type: 'latency', latency: 5_000, jitter: 1_000 },
    ]);
    expect(presetFault('partition-refuse', 'checkout<->gateway,payment,inventory', 'p')).toMatchObject({ type: 'partition', a: ['checkout'], b: ['gateway', 'payment', 'inventory'], mode: 'refuse' });
  });

  it('takes targets by the fault proxy mode of the edge', () => {
    expect(preset('errors-10').targets).not.toContain('checkout->payment');
    expect(preset('slow-close-2s').targets).toEqual(['checkout->payment']);
    expect(preset('latency-1s').targets).toContain('checkout->payment');
    expect(preset('pause').targets).toContain('collector');
    expect(preset('kill').targets).not.toContain('collector');
    expect(preset('poison').targets).toEqual(['catalog-1', 'catalog-2']);
  });

  it('names an unknown preset and lists the known ones', () => {
    const error = inputError(() => presetFault('bank-meltdown', 'payment->bank', 'x'));
    expect(error.code).toBe('CONSOLE_UNKNOWN_PRESET');
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/no preset 'bank-meltdown' \(presets: errors-10, errors-50/);
  });

  it('names a target the preset does not take, and what it takes', () => {
    const grpc = inputError(() => presetFault('errors-10', 'checkout->payment', 'x'));
    expect(grpc.code).toBe('CONSOLE_TARGET_NOT_ALLOWED');
    expect(grpc.message).toMatch(/preset 'errors-10' cannot act on 'checkout->payment': it takes an edge 'caller->dependency' \(payment->bank, /);
    expect(inputError(() => presetFault('kill', 'collector', 'x')).message).toMatch(/preset 'kill' cannot act on 'collector': it takes an instance/);
    expect(inputError(() => presetFault('cpu-burn-50', 'payment', 'x')).message).toMatch(/cannot act on 'payment'.*payment-1, payment-2/);
    expect(inputError(() => presetFault('partition-blackhole', 'bank<->gateway', 'x')).code).toBe('CONSOLE_TARGET_NOT_ALLOWED');
  });

  it('refuses a fault name the lab would not take, naming the field', () => {
    const error = inputError(() => presetFault('latency-1s', 'payment->bank', 'Not A Name'));
    expect(error.code).toBe('CONSOLE_INVALID_FAULT');
    expect(error.message).toMatch(/name: must be lowercase letters, digits and dashes/);
  });

  it('lists the catalogue as JSON for the UI, one entry per preset with unique ids', () => {
    const catalogue = presetCatalogue();
    expect(JSON.parse(JSON.stringify(catalogue))).toEqual(catalogue);
    expect(new Set(catalogue.map((entry) => entry.id)).size).toBe(catalogue.length);
    expect(catalogue[0]).toEqual({
      id: 'errors-10',
      title: 'HTTP 503 errors',
      group: 'http-error',
      kind: 'network',
      grade: '10% of calls',
      faultType: 'http_error',
      targetKind: 'edge',
      defaultTarget: 'payment->bank',
      targets: expect.arrayContaining(['payment->bank', 'gateway->checkout']),
    });
    expect(catalogue.find((entry) => entry.id === 'cpu-burn-90')).toMatchObject({ kind: 'in-service', group: 'cpu-burn', targetKind: 'instance' });
    expect(catalogue.find((entry) => entry.id === 'pause')).toMatchObject({ kind: 'process', defaultTarget: 'bank' });
  });
});
