import { describe, expect, it } from 'vitest';
import { InvalidSpecError } from './errors.ts';
import { createFault, FAULT_TYPES, faultTypesOf, toSpec, updateFault } from './fault.ts';
import { httpError } from './faults/http-error.ts';
import { latency } from './faults/latency.ts';
import { sliceEnds } from './faults/slicer.ts';
import { mulberry32 as createRandom } from '../demo-services/kit/random.ts';

function messageOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidSpecError);
    return (error as Error).message;
  }
  throw new Error('expected an InvalidSpecError');
}

describe('fault registry', () => {
  it('registers each type under its collection', () => {
    expect([...FAULT_TYPES.keys()].sort()).toEqual([
      'bandwidth',
      'delay',
      'http_error',
      'latency',
      'limit_data',
      'reset_peer',
      'slicer',
      'slow_body',
      'slow_close',
      'timeout',
    ]);
    expect(faultTypesOf('toxics')).toEqual(['latency', 'bandwidth', 'slow_close', 'timeout', 'reset_peer', 'slicer', 'limit_data']);
    expect(faultTypesOf('http_faults')).toEqual(['http_error', 'delay', 'slow_body']);
  });

  it('fills Toxiproxy defaults: name <type>_<stream>, toxicity 1, per-type stream', () => {
    expect(toSpec(createFault({ type: 'latency', attributes: { latency: 100 } }))).toEqual({
      name: 'latency_downstream',
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
      attributes: { latency: 100, jitter: 0 },
    });
    expect(toSpec(createFault({ name: '', type: 'http_error', attributes: null }))).toEqual({
      name: 'http_error_upstream',
      type: 'http_error',
      stream: 'upstream',
      toxicity: 1,
      attributes: { status: 503 },
    });
  });

  it('names the bad field in every error', () => {
    expect(messageOf(() => createFault({ type: 'bandwidth_x', attributes: {} }))).toMatch(/^type: unknown toxic type "bandwidth_x"/);
    expect(messageOf(() => createFault({ type: 'http_error' }, 'toxics'))).toMatch(/type: .*POST it to \/proxies\/\{proxy\}\/http_faults/);
    expect(messageOf(() => createFault({ type: 'latency', toxicity: 1.5, attributes: { latency: 1 } }))).toBe('toxicity: must be between 0 and 1');
    expect(messageOf(() => createFault({ type: 'latency', attributes: { latency: -1 } }))).toBe('attributes.latency: must be >= 0 (milliseconds)');
    expect(messageOf(() => createFault({ type: 'latency', attributes: { latency: '5' } }))).toBe('attributes.latency: must be an integer number of milliseconds');
    expect(messageOf(() => createFault({ type: 'latency', attributes: { latency: 1, lag: 2 } }))).toBe('attributes.lag: unknown field');
    expect(messageOf(() => createFault({ type: 'http_error', attributes: { status: 200 } }))).toBe('attributes.status: must be an HTTP error status (400..599)');
    expect(messageOf(() => createFault({ type: 'latency', stream: 'sideways', attributes: { latency: 1 } }))).toBe('stream: must be one of upstream, downstream');
    expect(messageOf(() => createFault({ name: 'a/b', type: 'latency', attributes: { latency: 1 } }))).toMatch(/^name: must be/);
    expect(messageOf(() => createFault([]))).toMatch(/^\(body\): /);
    expect(messageOf(() => latency({ latency: 1, jitter: -2, toxicity: -1 }))).toBe('toxicity: must be between 0 and 1');
  });

  it("takes Toxiproxy's defaults (every attribute 0) for a toxic posted without attributes", () => {
    const defaults: Record<string, Record<string, number>> = {
      latency: { latency: 0, jitter: 0 },
      bandwidth: { rate: 0 },
      slow_close: { delay: 0 },
      timeout: { timeout: 0 },
      reset_peer: { timeout: 0 },
      slicer: { average_size: 0, size_variation: 0, delay: 0 },
      limit_data: { bytes: 0 },
    };
    for (const [type, attributes] of Object.entries(defaults)) {
      expect(toSpec(createFault({ type })).attributes, type).toEqual(attributes);
      expect(toSpec(createFault({ type, attributes: null })).attributes, type).toEqual(attributes);
      expect(toSpec(createFault({ type, attributes: {} })).attributes, type).toEqual(attributes);
    }
    // Toxiproxy's slicer with average_size 0 still cuts: single bytes, never an endless split.
    expect(sliceEnds(5, 0, 0, createRandom(1))).toEqual([1, 2, 3, 4, 5]);
  });

  it('refuses durations a Node timer cannot hold and non-integer milliseconds, naming the field', () => {
    const max = 2 ** 31 - 1;
    expect(toSpec(createFault({ type: 'latency', attributes: { latency: max } })).attributes).toEqual({ latency: max, jitter: 0 });
    expect(messageOf(() => createFault({ type: 'latency', attributes: { latency: 3e9 } }))).toBe(
      `attributes.latency: must be at most ${max} (milliseconds; the longest a timer can wait, about 24.8 days)`,
    );
    expect(messageOf(() => createFault({ type: 'latency', attributes: { latency: max, jitter: 1 } }))).toMatch(/^attributes\.jitter: latency \+ jitter must be at most/);
    for (const [type, field] of [
      ['timeout', 'timeout'],
      ['reset_peer', 'timeout'],
      ['slow_close', 'delay'],
    ] as const) {
      expect(messageOf(() => createFault({ type, attributes: { [field]: 3e9 } }))).toMatch(new RegExp(`^attributes\\.${field}: must be at most ${max} `));
      expect(messageOf(() => createFault({ type, attributes: { [field]: 1.5 } }))).toBe(`attributes.${field}: must be an integer number of milliseconds`);
    }
    expect(messageOf(() => createFault({ type: 'slicer', attributes: { average_size: 10, delay: 3e12 } }))).toMatch(/^attributes\.delay: must be at most 2147483647000 \(microseconds/);
    expect(messageOf(() => createFault({ type: 'delay', attributes: { delay: 3e9 } }, 'http_faults'))).toMatch(/^attributes\.delay: must be at most/);
    expect(messageOf(() => createFault({ type: 'latency', attributes: { latency: 1.5 } }))).toBe('attributes.latency: must be an integer number of milliseconds');
    expect(messageOf(() => createFault({ type: 'bandwidth', attributes: { rate: 1.5 } }))).toBe('attributes.rate: must be an integer number of KB/s');
    expect(messageOf(() => updateFault(latency({ latency: 1 }), { attributes: { latency: 3e9 } }))).toMatch(/^attributes\.latency: must be at most/);
  });

  it('updates as Toxiproxy does: toxicity replaced, attributes merged, identity fixed', () => {
    const fault = latency({ latency: 100, jitter: 10 });
    const updated = updateFault(fault, { toxicity: 0.5, attributes: { latency: 300 } });
    expect(toSpec(updated)).toMatchObject({ name: 'latency_downstream', toxicity: 0.5, attributes: { latency: 300, jitter: 10 } });
    expect(messageOf(() => updateFault(fault, { type: 'http_error' }))).toBe('type: cannot be changed; delete and re-create the fault');
    expect(messageOf(() => updateFault(fault, { attributes: { jitter: -1 } }))).toBe('attributes.jitter: must be >= 0 (milliseconds)');
  });
});

describe('fault decisions', () => {
  it('latency draws uniformly in latency ± jitter and never below zero', () => {
    const random = createRandom(11);
    const fault = latency({ latency: 200, jitter: 50 });
    const delays = Array.from({ length: 2000 }, () => {
      const effect = fault.decide(random);
      if (effect.kind !== 'delay') throw new Error('latency must delay');
      return effect.ms;
    });
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(150);
    expect(Math.max(...delays)).toBeLessThan(250);
    expect(Math.min(...delays)).toBeLessThan(155);
    expect(Math.max(...delays)).toBeGreaterThan(245);
    const mean = delays.reduce((sum, ms) => sum + ms, 0) / delays.length;
    expect(mean).toBeGreaterThan(195);
    expect(mean).toBeLessThan(205);
    const clamped = latency({ latency: 5, jitter: 50 }).decide(createRandom(1));
    expect(clamped.kind === 'delay' && clamped.ms >= 0).toBe(true);
  });

  it('http_error answers with its status and Retry-After', () => {
    const effect = httpError({ status: 429, retryAfter: 30, name: 'throttle' }).decide(createRandom(1));
    expect(effect).toMatchObject({ kind: 'respond', status: 429, headers: { 'retry-after': '30' } });
    expect(effect.kind === 'respond' && effect.problem.detail).toContain('throttle');
  });
});
