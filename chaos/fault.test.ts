import { describe, expect, it } from 'vitest';
import { InvalidSpecError } from './errors.ts';
import { createFault, FAULT_TYPES, faultTypesOf, toSpec, updateFault } from './fault.ts';
import { httpError } from './faults/http-error.ts';
import { latency } from './faults/latency.ts';
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
    expect(messageOf(() => createFault({ type: 'latency', attributes: {} }))).toBe('attributes.latency: required');
    expect(messageOf(() => createFault({ type: 'latency', attributes: { latency: '5' } }))).toBe('attributes.latency: must be a number of milliseconds');
    expect(messageOf(() => createFault({ type: 'latency', attributes: { latency: 1, lag: 2 } }))).toBe('attributes.lag: unknown field');
    expect(messageOf(() => createFault({ type: 'http_error', attributes: { status: 200 } }))).toBe('attributes.status: must be an HTTP error status (400..599)');
    expect(messageOf(() => createFault({ type: 'latency', stream: 'sideways', attributes: { latency: 1 } }))).toBe('stream: must be one of upstream, downstream');
    expect(messageOf(() => createFault({ name: 'a/b', type: 'latency', attributes: { latency: 1 } }))).toMatch(/^name: must be/);
    expect(messageOf(() => createFault([]))).toMatch(/^\(body\): /);
    expect(messageOf(() => latency({ latency: 1, jitter: -2, toxicity: -1 }))).toBe('toxicity: must be between 0 and 1');
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
