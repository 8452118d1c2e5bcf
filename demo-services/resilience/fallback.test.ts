import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SHOP_SPAN_ATTR, SHOP_SPAN_EVENT, SPAN_ATTR, type Outcome } from '../kit/conventions.ts';
import { UpstreamStatusError } from './errors.ts';
import { withFallback } from './fallback.ts';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const tracer = provider.getTracer('fallback-test');
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(async () => {
  context.disable();
  await provider.shutdown();
});

function recording() {
  const calls: Array<[string, Outcome]> = [];
  return { calls, metrics: { call: (dependency: string, outcome: Outcome) => void calls.push([dependency, outcome]) } };
}

/** Run `fn` inside a span and return what it returned with the finished span. */
async function inSpan<T>(fn: () => Promise<T>) {
  const value = await tracer.startActiveSpan('storefront', async (span) => {
    try {
      return await fn();
    } finally {
      span.end();
    }
  });
  await provider.forceFlush();
  return { value, span: () => exporter.getFinishedSpans().find((s) => s.name === 'storefront') };
}

const popular = { items: ['sku-3', 'sku-1'] };

describe('withFallback', () => {
  beforeEach(() => exporter.reset());

  it('passes a successful answer through untouched and counts nothing by default', async () => {
    const sink = recording();
    const { value, span } = await inSpan(() => withFallback(async () => ({ items: ['sku-9'] }), popular, { dependency: 'recommendation', metrics: sink.metrics }));
    expect(value).toEqual({ items: ['sku-9'] });
    expect(sink.calls).toEqual([]);
    expect(span()?.attributes[SPAN_ATTR.outcome]).toBeUndefined();
  });

  it('counts the success when asked to', async () => {
    const sink = recording();
    await withFallback(async () => 1, popular, { dependency: 'recommendation', metrics: sink.metrics, recordSuccess: true });
    expect(sink.calls).toEqual([['recommendation', 'success']]);
  });

  it('answers a failed call with the marked fallback, counts it and marks the span', async () => {
    const sink = recording();
    const reasons: unknown[] = [];
    const { value, span } = await inSpan(() =>
      withFallback(() => Promise.reject(new UpstreamStatusError('recommendation', 503, {})), popular, {
        dependency: 'recommendation',
        metrics: sink.metrics,
        onFallback: (error) => reasons.push(error),
      }),
    );
    expect(value).toEqual({ items: ['sku-3', 'sku-1'], fallback: true });
    expect(popular).not.toHaveProperty('fallback');
    expect(sink.calls).toEqual([['recommendation', 'fallback']]);
    expect(reasons).toHaveLength(1);
    const finished = span();
    expect(finished?.attributes[SPAN_ATTR.outcome]).toBe('fallback');
    const event = finished?.events.find((e) => e.name === SHOP_SPAN_EVENT.fallback);
    expect(event?.attributes).toMatchObject({ [SPAN_ATTR.dependency]: 'recommendation', [SHOP_SPAN_ATTR.fallbackReason]: 'recommendation answered 503' });
  });

  it('falls back when the call throws synchronously', async () => {
    const sink = recording();
    const value = await withFallback(
      () => {
        throw new Error('boom');
      },
      popular,
      { dependency: 'recommendation', metrics: sink.metrics },
    );
    expect(value).toMatchObject({ fallback: true });
  });

  it('falls back at the timeout and aborts the call, even if the call ignores its signal', async () => {
    const sink = recording();
    let seen: AbortSignal | undefined;
    const started = performance.now();
    const value = await withFallback(
      (signal) => {
        seen = signal;
        return new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error('late failure')), 300));
      },
      () => ({ items: [] as string[] }),
      { dependency: 'recommendation', metrics: sink.metrics, timeoutMs: 30 },
    );
    const elapsed = performance.now() - started;
    expect(value).toEqual({ items: [], fallback: true });
    expect(elapsed).toBeGreaterThanOrEqual(25);
    expect(elapsed).toBeLessThan(250);
    expect(seen?.aborted).toBe(true);
    expect(sink.calls).toEqual([['recommendation', 'fallback']]);
    // The late failure of the abandoned call must not surface as an unhandled rejection.
    await new Promise((resolve) => setTimeout(resolve, 320));
  });

  it('builds a fresh fallback value for every fallback', async () => {
    const sink = recording();
    let built = 0;
    const make = () => ({ n: (built += 1) });
    const fail = () => Promise.reject(new Error('down'));
    const a = await withFallback(fail, make, { dependency: 'd', metrics: sink.metrics });
    const b = await withFallback(fail, make, { dependency: 'd', metrics: sink.metrics });
    expect([a, b]).toEqual([{ n: 1, fallback: true }, { n: 2, fallback: true }]);
  });

  it('passes the caller cancellation to the call', async () => {
    const sink = recording();
    const caller = new AbortController();
    caller.abort(new Error('client went away'));
    let aborted = false;
    await withFallback(async (signal) => {
      aborted = signal.aborted;
      return 1;
    }, popular, { dependency: 'd', metrics: sink.metrics, signal: caller.signal });
    expect(aborted).toBe(true);
  });
});
