// The SLOs the shop ships: the ones the issue asks for exist, and every
// metric, label and label value their queries name exists in
// demo-services/kit/conventions.ts (what the services actually export).

import { describe, expect, it } from 'vitest';
import { LABEL, LATENCY_BUCKETS, METRIC, OUTCOMES, RPC_LABEL, RPC_METRIC } from '../demo-services/kit/conventions.ts';
import { GRPC_CODE, grpcCodeNames } from '../demo-services/kit/grpc-status.ts';
import { readQuery, selectorMatches, type Selector } from './promql.ts';
import { loadSloSpecs, type SloDefinition } from './spec.ts';

/** Labels Prometheus adds itself: job and instance from the scrape, le on histogram buckets. */
const SCRAPE_LABELS = ['job', 'instance', 'le'];
/** The shop's services (DESIGN.md); each is scraped with job = its name. */
const SHOP_SERVICES = ['gateway', 'catalog', 'cart', 'checkout', 'inventory', 'payment', 'recommendation', 'bank'];
const HISTOGRAMS = [METRIC.httpServerDuration, METRIC.httpClientDuration, METRIC.resilienceAttempts, RPC_METRIC.clientCallDuration];

const slos = await loadSloSpecs();
const byId = new Map(slos.map((slo) => [slo.id, slo]));

function selectorsOf(slo: SloDefinition): Selector[] {
  return [...readQuery(slo.sli.events).selectors, ...readQuery(slo.sli.total).selectors];
}

function metricExists(name: string): boolean {
  const metrics: string[] = [...Object.values(METRIC), ...Object.values(RPC_METRIC)];
  if (metrics.includes(name)) return true;
  const base = name.replace(/_(bucket|count|sum)$/, '');
  return base !== name && (HISTOGRAMS as string[]).includes(base);
}

describe('the shipped SLO specs', () => {
  it('cover checkout availability and latency, the gateway, the catalog and payment as checkout sees it', () => {
    expect([...byId.keys()]).toEqual(
      expect.arrayContaining(['checkout-availability', 'checkout-latency', 'gateway-availability', 'catalog-availability', 'payment-attempts-from-checkout', 'payment-calls-from-checkout']),
    );
    expect(slos.some((slo) => slo.format === 'openslo/v1')).toBe(true);
    expect(slos.some((slo) => slo.format === 'faultline/v1')).toBe(true);
  });

  it.each(slos.map((slo) => [slo.id, slo] as const))('%s names only metrics and labels from conventions.ts', (_id, slo) => {
    const labels: string[] = [...Object.values(LABEL), ...Object.values(RPC_LABEL), ...SCRAPE_LABELS];
    for (const selector of selectorsOf(slo)) {
      expect(selector.name, `${slo.id}: a selector without a metric name`).toBeDefined();
      expect(metricExists(selector.name as string), `${slo.id}: metric ${selector.name}`).toBe(true);
      for (const matcher of selector.matchers) expect(labels, `${slo.id}: label ${matcher.label}`).toContain(matcher.label);
    }
    for (const label of [...readQuery(slo.sli.events).groupingLabels, ...readQuery(slo.sli.total).groupingLabels]) expect(labels).toContain(label);
  });

  it.each(slos.map((slo) => [slo.id, slo] as const))('%s uses label values the services emit', (_id, slo) => {
    for (const selector of selectorsOf(slo)) {
      for (const m of selector.matchers) {
        const values = m.op === '=' ? [m.value] : m.op === '=~' ? m.value.split('|') : [];
        if (m.label === 'job') expect(SHOP_SERVICES).toEqual(expect.arrayContaining(values));
        if (m.label === LABEL.outcome) expect(OUTCOMES).toEqual(expect.arrayContaining(values));
        if (m.label === RPC_LABEL.statusCode) expect(grpcCodeNames(Object.values(GRPC_CODE))).toEqual(expect.arrayContaining(values));
        if (m.label === 'le') expect(values.every((v) => LATENCY_BUCKETS.map(String).includes(v) || v === '+Inf')).toBe(true);
        if (m.label === LABEL.serverAddress || m.label === LABEL.dependency) expect(SHOP_SERVICES).toEqual(expect.arrayContaining(values));
      }
    }
  });

  it('measures checkout latency at a bucket edge of the server histogram', () => {
    const latency = byId.get('checkout-latency') as SloDefinition;
    expect(LATENCY_BUCKETS).toContain(latency.sli.thresholdSeconds);
    expect(latency.sli.events).toContain(`${METRIC.httpServerDuration}_bucket`);
  });

  it("counts the routes users hit: the gateway's /api/checkout, checkout's /checkout, never health checks", () => {
    const counts = (slo: SloDefinition, job: string, route: string) =>
      readQuery(slo.sli.total).selectors.some((s) =>
        selectorMatches(s, { name: `${METRIC.httpServerDuration}_count`, labels: { job, [LABEL.route]: route, [LABEL.status]: '200', [LABEL.method]: 'POST' } }),
      );
    const gateway = byId.get('gateway-availability') as SloDefinition;
    const checkout = byId.get('checkout-availability') as SloDefinition;
    const catalog = byId.get('catalog-availability') as SloDefinition;
    expect(counts(gateway, 'gateway', '/api/checkout')).toBe(true);
    expect(counts(gateway, 'gateway', '/healthz')).toBe(false);
    expect(counts(gateway, 'checkout', '/api/checkout')).toBe(false);
    expect(counts(checkout, 'checkout', '/checkout')).toBe(true);
    expect(counts(checkout, 'checkout', '/readyz')).toBe(false);
    expect(counts(catalog, 'catalog', '/readyz')).toBe(false);
    expect(counts(catalog, 'catalog', '/api/x')).toBe(true);
  });

  it('has at least one dependency SLO as its caller sees it', () => {
    const dependencySlos = slos.filter((slo) =>
      selectorsOf(slo).some((s) => s.matchers.some((m) => (m.label === LABEL.dependency || m.label === LABEL.serverAddress) && m.value === 'payment')),
    );
    expect(dependencySlos.map((slo) => slo.id).sort()).toEqual(['payment-attempts-from-checkout', 'payment-calls-from-checkout']);
    for (const slo of dependencySlos) expect(selectorsOf(slo).every((s) => s.matchers.some((m) => m.label === 'job' && m.value === 'checkout'))).toBe(true);
  });

  it('gives the 28-day catalog SLO its own alert factors', () => {
    expect((byId.get('catalog-availability') as SloDefinition).alerting.tiers.map((t) => t.burnFactor)).toEqual([13.44, 5.6, 2.8, 0.933333333333]);
  });
});
