import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { alertmanagerConfig, renderAlertmanagerConfig } from './alertmanager.ts';
import { parseDuration } from '../demo-services/kit/durations.ts';
import { type AlertingRule, type RecordingRule, renderRules } from './rules.ts';
import { parseSloSpec, type SloDefinition } from './spec.ts';

function spec(overrides: Record<string, unknown> = {}): SloDefinition {
  return parseSloSpec(
    {
      apiVersion: 'faultline/v1',
      kind: 'SLO',
      service: 'checkout',
      name: 'availability',
      description: 'd',
      objective: '99.9%',
      window: '30d',
      labels: { team: 'shop' },
      sli: { availability: { job: 'checkout', routes: ['/checkout'] } },
      ...overrides,
    },
    'x.yaml',
  );
}

const FILTER = '{sloth_id="checkout-availability", sloth_service="checkout", sloth_slo="availability"}';
const records = (groups: ReturnType<typeof renderRules>['groups']) => groups.flatMap((g) => g.rules).filter((r): r is RecordingRule => 'record' in r);
const alerts = (groups: ReturnType<typeof renderRules>['groups']) => groups.flatMap((g) => g.rules).filter((r): r is AlertingRule => 'alert' in r);

describe('renderRules', () => {
  const rendered = renderRules([spec()]);

  it("records Sloth's series, in Sloth's groups, with Sloth's labels", () => {
    expect(rendered.groups.map((g) => g.name)).toEqual([
      'sloth-slo-sli-recordings-checkout-availability',
      'sloth-slo-meta-recordings-checkout-availability',
      'sloth-slo-alerts-checkout-availability',
    ]);
    expect(records(rendered.groups).map((r) => r.record)).toEqual([
      'slo:sli_bad_events:rate5m',
      'slo:sli_total_events:rate5m',
      ...['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d'].map((w) => `slo:sli_error:ratio_rate${w}`),
      'slo:objective:ratio',
      'slo:error_budget:ratio',
      'slo:time_period:days',
      'slo:current_burn_rate:ratio',
      'slo:period_burn_rate:ratio',
      'slo:period_error_budget_remaining:ratio',
      'sloth_slo_info',
    ]);
    for (const rule of records(rendered.groups)) {
      expect(rule.labels).toMatchObject({ sloth_id: 'checkout-availability', sloth_service: 'checkout', sloth_slo: 'availability', team: 'shop' });
    }
    const windowOf = (name: string) => records(rendered.groups).find((r) => r.record === name)?.labels.sloth_window;
    expect(windowOf('slo:sli_error:ratio_rate6h')).toBe('6h');
    expect(windowOf('slo:sli_error:ratio_rate30d')).toBe('30d');
    expect(records(rendered.groups).find((r) => r.record === 'slo:error_budget:ratio')?.expr).toBe('vector(0.001)');
    expect(records(rendered.groups).find((r) => r.record === 'slo:current_burn_rate:ratio')?.expr).toBe(
      `slo:sli_error:ratio_rate5m${FILTER}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\nslo:error_budget:ratio${FILTER}\n`.trimEnd(),
    );
  });

  it('computes the period ratio as a ratio of sums of the 5-minute event rates, not an average of ratios', () => {
    const period = records(rendered.groups).find((r) => r.record === 'slo:sli_error:ratio_rate30d') as RecordingRule;
    expect(period.expr).toBe(
      `sum_over_time(slo:sli_bad_events:rate5m${FILTER}[30d])\n/\n(sum_over_time(slo:sli_total_events:rate5m${FILTER}[30d]) > 0)`,
    );
    expect(period.expr).not.toMatch(/count_over_time|avg_over_time/);
  });

  it('gives a window without traffic no ratio, and a window without error series a ratio of 0', () => {
    const oneHour = records(rendered.groups).find((r) => r.record === 'slo:sli_error:ratio_rate1h') as RecordingRule;
    expect(oneHour.expr).toBe(
      '(sum(rate(http_server_request_duration_seconds_count{job="checkout",http_route="/checkout",http_response_status_code=~"5.."}[1h])) or on() vector(0))\n/\n(sum(rate(http_server_request_duration_seconds_count{job="checkout",http_route="/checkout"}[1h])) > 0)',
    );
    const latency = renderRules([spec({ name: 'latency', sli: { latency: { job: 'checkout', threshold: '250ms' } } })]);
    expect(records(latency.groups).find((r) => r.record === 'slo:sli_bad_events:rate5m')?.expr).toBe(
      'clamp_min(sum(rate(http_server_request_duration_seconds_count{job="checkout"}[5m])) - (sum(rate(http_server_request_duration_seconds_bucket{job="checkout",le="0.25"}[5m])) or on() vector(0)), 0)',
    );
  });

  it('writes one alert rule per window pair, labelled with severity, slo_tier, windows, factor and time to exhaustion', () => {
    const rules = alerts(rendered.groups);
    expect(rules).toHaveLength(4);
    const tier = (name: string, long: string, short: string, factor: string, exhaustion: string) => ({
      severity: name.split('-')[0],
      sloth_severity: name.split('-')[0],
      slo_tier: name,
      slo_long_window: long,
      slo_short_window: short,
      slo_burn_factor: factor,
      slo_time_to_exhaustion: exhaustion,
    });
    expect(rules.map((r) => r.labels)).toEqual([
      tier('page-1h', '1h', '5m', '14.4', '2d2h'),
      tier('page-6h', '6h', '30m', '6', '5d'),
      tier('ticket-1d', '1d', '2h', '3', '10d'),
      tier('ticket-3d', '3d', '6h', '1', '30d'),
    ]);
    expect(rules[0]?.alert).toBe('CheckoutAvailabilityBudgetBurn');
    expect(rules[0]?.for).toBeUndefined();
    expect(rules[0]?.annotations.description).toBe('The error ratio is above 1.44% over both 1h and 5m (14.4x the 0.1% budget of a 99.9% objective over 30d).');
  });

  it("takes each window's ratio without sloth_window, so no alert carries a leftover window label", () => {
    const rule = alerts(rendered.groups)[0] as AlertingRule;
    expect(rule.expr).toBe(
      `max(slo:sli_error:ratio_rate5m${FILTER} > (14.4 * 0.001)) without (sloth_window)\nand\nmax(slo:sli_error:ratio_rate1h${FILTER} > (14.4 * 0.001)) without (sloth_window)`,
    );
    expect(rule.expr).not.toMatch(/ignoring/);
    for (const r of alerts(rendered.groups)) expect(Object.keys(r.labels)).not.toContain('sloth_window');
  });

  it("lets the spec's own severity, tier and per-severity labels through (Sloth's page_alert / ticket_alert)", () => {
    const own = renderRules([
      spec({
        labels: { team: 'shop', tier: '2' },
        alerting: { labels: { owner: 'shop' }, annotations: { runbook: 'https://r' }, page: { labels: { severity: 'critical' } }, ticket: { labels: { severity: 'warning' }, annotations: { runbook: 'https://t' } } },
      }),
    ]);
    const rules = alerts(own.groups);
    expect(rules.map((r) => [r.labels.severity, r.labels.sloth_severity, r.labels.slo_tier, r.labels.owner, r.annotations.runbook])).toEqual([
      ['critical', 'page', 'page-1h', 'shop', 'https://r'],
      ['critical', 'page', 'page-6h', 'shop', 'https://r'],
      ['warning', 'ticket', 'ticket-1d', 'shop', 'https://t'],
      ['warning', 'ticket', 'ticket-3d', 'shop', 'https://t'],
    ]);
    // The user's tier label rides on the recordings (and so on the alerts); the rules never set one of that name.
    expect(records(own.groups)[0]?.labels.tier).toBe('2');
    for (const r of rules) expect(r.labels).not.toHaveProperty('tier');
  });

  it('renders a file Prometheus reads back as the same groups', () => {
    expect(parse(rendered.yaml)).toEqual(JSON.parse(JSON.stringify({ groups: rendered.groups })));
    expect(rendered.files.map((f) => f.id)).toEqual(['checkout-availability']);
    expect(rendered.warnings).toEqual([]);
  });

  it('warns, and still renders, when a tier cannot fire for the objective', () => {
    const loose = renderRules([spec({ objective: '90%' })]);
    expect(loose.warnings).toEqual([
      'checkout-availability: tier page-1h can never fire: burn factor 14.4 x error budget 10% = 144% of events would have to fail (raise the objective or lower the factor)',
    ]);
    expect(alerts(loose.groups)).toHaveLength(4);
  });
});

describe('the lab time scale', () => {
  const lab = renderRules([spec({ alerting: { windows: [{ severity: 'page', long: '1h', budgetConsumed: '2%', for: '2m' }] } })], { timeScale: 100 });

  it('divides every range and `for` by the scale, keeps names and sloth_window nominal, and evaluates often', () => {
    expect(lab.evaluationIntervalMs).toBe(600);
    expect(lab.groups.every((g) => g.interval === '600ms')).toBe(true);
    const nominal: Record<string, string> = { '5m': '3s', '30m': '18s', '1h': '36s', '2h': '1m12s', '6h': '3m36s', '1d': '14m24s', '3d': '43m12s', '30d': '7h12m' };
    for (const rule of records(lab.groups).filter((r) => r.record.startsWith('slo:sli_error:ratio_rate'))) {
      const window = rule.record.replace('slo:sli_error:ratio_rate', '');
      expect(rule.labels.sloth_window).toBe(window);
      const ranges = [...rule.expr.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]);
      if (window !== '5m') expect(new Set(ranges)).toEqual(new Set([nominal[window]]));
    }
    expect(records(lab.groups).find((r) => r.record === 'slo:sli_bad_events:rate5m')?.expr).toContain('[3s]');
    expect(records(lab.groups).find((r) => r.record === 'slo:time_period:days')?.expr).toBe('vector(0.3)');
    expect(alerts(lab.groups)[0]?.for).toBe('1s200ms');
    expect(parseDuration('1s200ms')).toBe(1_200);
  });

  it('warns when a window becomes too short to rate at the scrape interval', () => {
    const fast = renderRules([spec()], { timeScale: 1000 });
    expect(fast.warnings[0]).toBe(
      'checkout-availability: the 5m window becomes 300ms at time scale 1000, under two scrape/evaluation intervals (1s): rate() needs two samples in it',
    );
  });

  it('refuses a scale below 1 and windows below a millisecond', () => {
    expect(() => renderRules([spec()], { timeScale: 0.5 })).toThrow(/timeScale: must be a number >= 1/);
    expect(() => renderRules([spec()], { timeScale: 1e9 })).toThrow(/below one millisecond/);
  });
});

describe('the Alertmanager configuration', () => {
  it('sends everything to the webhook and lets a page inhibit the tickets of its SLO', () => {
    const config = alertmanagerConfig({ webhookUrl: 'http://127.0.0.1:4242/hook' });
    expect(config.receivers).toEqual([{ name: 'faultline-webhook', webhook_configs: [{ url: 'http://127.0.0.1:4242/hook', send_resolved: true }] }]);
    // sloth_severity, not severity: a spec may set severity to its own routes' values (critical, warning).
    expect(config.inhibit_rules).toEqual([{ source_matchers: ['sloth_severity="page"'], target_matchers: ['sloth_severity="ticket"'], equal: ['sloth_id'] }]);
    expect(config.route.group_by).toEqual(['alertname', 'sloth_id', 'sloth_severity']);
    expect(parse(renderAlertmanagerConfig())).toEqual(JSON.parse(JSON.stringify(alertmanagerConfig())));
  });

  it('shrinks its delays at the lab scale and refuses a bad URL', () => {
    expect(alertmanagerConfig({ timeScale: 100 }).route).toMatchObject({ group_wait: '300ms', group_interval: '3s', repeat_interval: '2m24s' });
    expect(() => alertmanagerConfig({ webhookUrl: 'not a url' })).toThrow(/webhookUrl: 'not a url' is not a URL/);
    expect(() => alertmanagerConfig({ webhookUrl: 'ftp://x/y' })).toThrow(/must be http or https/);
  });
});
