// What the generated promtool fixtures claim, checked against the arithmetic
// before promtool checks them against Prometheus (promtool.test.ts).

import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { counterValues, planFixtures, renderPromtoolTests, type PlannedFixture } from './promtool-tests.ts';
import { loadSloSpecs, type SloDefinition } from './spec.ts';

const MINUTE = 60_000;
const slos = await loadSloSpecs();

function story(fixtures: PlannedFixture[], start: string): PlannedFixture {
  const found = fixtures.find((f) => f.name.startsWith(start));
  if (found === undefined) throw new Error(`no story '${start}'`);
  return found;
}

describe.each([1, 100])('the promtool stories at time scale %i', (timeScale) => {
  describe.each(slos.map((slo) => [slo.id, slo] as const))('%s', (_id, slo: SloDefinition) => {
    const { fixtures } = planFixtures(slo, { timeScale });
    const tier = (name: string) => slo.alerting.tiers.find((t) => t.name === name) as SloDefinition['alerting']['tiers'][number];

    it('stays quiet on traffic at half the budget rate, without errors, and without traffic', () => {
      expect(story(fixtures, 'traffic burning at half').facts.firstAlert).toBeNull();
      for (const name of ['traffic without a single error', 'no traffic']) {
        expect(story(fixtures, name).simulation.every((e) => e.tiers.every((t) => !t.firing))).toBe(true);
      }
      expect(story(fixtures, 'no traffic').simulation.every((e) => e.tiers.every((t) => t.longRatio === null && t.shortRatio === null))).toBe(true);
    });

    it('pages on a full outage when the 1h window passes 14.4x the budget: at once for 99.9%', () => {
      const facts = story(fixtures, 'a full outage pages').facts;
      const fast = tier('page-1h');
      // Evaluated every minute (nominal): the first one after factor x budget x 60 minutes of errors.
      const predicted = (Math.floor(fast.burnFactor * slo.errorBudget * 60 + 1e-9) + 1) * MINUTE;
      expect(facts['fires:page-1h']).toBe(predicted);
      if (slo.objective >= 0.999) expect(facts['fires:page-1h']).toBeLessThanOrEqual(2 * MINUTE);
    });

    it('clears each page within its short window once the outage is over', () => {
      const facts = story(fixtures, 'a full outage pages').facts;
      for (const page of slo.alerting.tiers.filter((t) => t.severity === 'page')) {
        expect(facts[`clears:${page.name}`]).not.toBeNull();
        expect(facts[`clears:${page.name}`]).toBeLessThanOrEqual(page.shortMs);
      }
    });

    it('clears each ticket within its short window (evaluated every 15 minutes)', () => {
      const facts = story(fixtures, 'after a long outage').facts;
      for (const ticket of slo.alerting.tiers.filter((t) => t.severity === 'ticket')) {
        expect(facts[`clears:${ticket.name}`]).toBe(ticket.shortMs);
      }
    });

    it('opens a ticket, never a page, on a slow burn at twice the budget rate, when the 3d window passes 1x', () => {
      const facts = story(fixtures, 'a slow burn').facts;
      for (const t of slo.alerting.tiers) {
        if (t.burnFactor >= 2) expect(facts[`fires:${t.name}`], t.name).toBeNull();
      }
      const slow = tier('ticket-3d');
      // Clean windows before the burn: the 3d ratio is 2 x budget x elapsed / 3d, above factor x budget
      // after factor / 2 x 3d (36h for a 30-day SLO); evaluated every 15 minutes.
      const crossing = (slow.burnFactor / 2) * slow.longMs;
      expect(facts['fires:ticket-3d']).toBe((Math.floor(crossing / (15 * MINUTE) + 1e-9) + 1) * 15 * MINUTE);
      if (slo.periodMs === 30 * 24 * 60 * MINUTE) expect(facts['fires:ticket-3d']).toBe(36 * 60 * MINUTE + 15 * MINUTE);
    });

    it('renders two promtool files that run the rules in dependency order', () => {
      const files = renderPromtoolTests(planFixtures(slo, { timeScale }), `../rules/${slo.id}.yaml`);
      expect([...files.keys()]).toEqual(['test.yaml', 'days.test.yaml']);
      const main = parse(files.get('test.yaml') as string) as { group_eval_order: string[]; evaluation_interval: string; tests: Array<{ alert_rule_test: unknown[] }> };
      expect(main.group_eval_order[0]).toBe(`sloth-slo-sli-recordings-${slo.id}`);
      expect(main.evaluation_interval).toBe(timeScale === 1 ? '1m' : '600ms');
      expect(main.tests).toHaveLength(3);
      expect(main.tests.every((t) => t.alert_rule_test.length > 0)).toBe(true);
    });
  });
});

describe('counterValues', () => {
  it("writes a counter in promtool's expanding notation, appearing one step before it first moves", () => {
    expect(counterValues([0, 0, 2, 2, 2, 1], false)).toBe('_x2 0 2+2x2 7+1x0');
    expect(counterValues([1, 1, 1], false)).toBe('0 1+1x2');
    expect(counterValues([0, 0, 0], true)).toBe('0 0+0x2');
    expect(counterValues([0.5, 0.5], false)).toBe('0 0.5+0.5x1');
  });
});
