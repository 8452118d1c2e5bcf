import { describe, expect, it } from 'vitest';
import { instanceNames, proxiesForEdge, proxyName, SERVICES, servicesFor, startLevels } from './topology.ts';

describe('topology', () => {
  it('runs payment and catalog as two instances, the rest as one', () => {
    expect(instanceNames('payment')).toEqual(['payment-1', 'payment-2']);
    expect(instanceNames('catalog')).toEqual(['catalog-1', 'catalog-2']);
    expect(instanceNames('bank')).toEqual(['bank']);
  });

  it('names one proxy per dependency instance, and finds them from an edge', () => {
    expect(proxyName('payment', 'bank')).toBe('payment-bank');
    expect(proxiesForEdge('payment->bank')).toEqual(['payment-bank']);
    expect(proxiesForEdge('checkout->payment')).toEqual(['checkout-payment.1', 'checkout-payment.2']);
  });

  it('a checkout-only lab runs the checkout path and nothing the gateway would route elsewhere', () => {
    expect([...servicesFor(['checkout'])].sort()).toEqual(['bank', 'checkout', 'gateway', 'inventory', 'payment']);
    expect(servicesFor(SERVICES.map((s) => s.name)).size).toBe(SERVICES.length);
  });

  it('starts every service after everything it calls', () => {
    const levels = startLevels();
    const levelOf = new Map(levels.flatMap((names, level) => names.map((name) => [name, level] as const)));
    for (const node of SERVICES) {
      for (const call of node.calls) expect(levelOf.get(call.service)!, `${node.name}->${call.service}`).toBeLessThan(levelOf.get(node.name)!);
    }
    expect(levels[0]).toEqual(['bank', 'inventory', 'catalog']);
    expect(levels.at(-1)).toEqual(['gateway']);
  });
});
