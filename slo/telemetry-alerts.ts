// The alert on the telemetry pipeline itself, beside the SLO rules: not an
// SLO of the shop (a frozen collector costs the shop nothing when telemetry
// stays off the request path) but a loss of what every SLO, dashboard and
// trace is read from. Each service counts the spans its exporter could not
// deliver (telemetry_spans_dropped_total: queue full, collector unreachable,
// frozen or refusing); any of them within the window raises a ticket. Rendered
// for a time scale like the SLO rules (the lab's x100 shrinks the window and
// the `for`), as a pure function; the SLO generator writes it beside the SLO
// rules of each time scale (rules/telemetry-alerts.yaml, and a PrometheusRule),
// where the lab's, compose's and the Kubernetes overlay's Prometheus load it.

import { stringify } from 'yaml';
import { LAB_METRIC, SCRAPE_LABEL } from '../demo-services/kit/conventions.ts';
import { SLO_ERROR_CODE, SloError } from './errors.ts';
import { formatPromDuration } from './prom-duration.ts';

/** The alert names of this file, for pages and tests that name them. */
export const TELEMETRY_ALERTS = { spansDropped: 'TelemetrySpansDropped' } as const;
export const TELEMETRY_ALERT_NAMES: readonly string[] = Object.values(TELEMETRY_ALERTS);
/** Its rule file is `<id>.yaml` beside the SLO rules (slo/generate.ts). */
export const TELEMETRY_RULES_ID = 'telemetry-alerts';

/** At real time: drops over the last 5 minutes, for a minute. */
const WINDOW_MS = 5 * 60_000;
const FOR_MS = 60_000;
/** The window never spans fewer scrapes than this: increase() needs two samples, and a burst of drops stays seen between two exports. */
const MIN_SCRAPES_IN_WINDOW = 4;

export interface TelemetryAlertOptions {
  /** The SLO rules' time scale (1 real time, 100 the lab). Default 1. */
  timeScale?: number;
  /** Default 1000 ms (the lab's); the window is at least MIN_SCRAPES_IN_WINDOW of them. */
  scrapeIntervalMs?: number;
}

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** The rule group as data (pure). */
export function telemetryAlertGroup(options: TelemetryAlertOptions = {}): { name: string; rules: AlertRule[] } {
  const scale = options.timeScale ?? 1;
  const scrapeMs = options.scrapeIntervalMs ?? 1_000;
  if (!Number.isFinite(scale) || scale < 1) throw new SloError(SLO_ERROR_CODE.badOption, `timeScale: must be a number >= 1 (got ${scale})`);
  if (!Number.isFinite(scrapeMs) || scrapeMs <= 0) throw new SloError(SLO_ERROR_CODE.badOption, `scrapeIntervalMs: must be a number > 0 (got ${scrapeMs})`);
  const window = formatPromDuration(Math.max(WINDOW_MS / scale, MIN_SCRAPES_IN_WINDOW * scrapeMs));
  const job = SCRAPE_LABEL.job;
  return {
    name: 'faultline-telemetry',
    rules: [
      {
        alert: TELEMETRY_ALERTS.spansDropped,
        expr: `sum by (${job}) (increase(${LAB_METRIC.spansDropped}[${window}])) > 0`,
        for: formatPromDuration(FOR_MS / scale),
        labels: { severity: 'ticket', team: 'platform' },
        annotations: {
          summary: '{{ $labels.job }} is dropping spans',
          description:
            "{{ $labels.job }} dropped {{ $value | humanize }} spans in the last " +
            `${formatPromDuration(WINDOW_MS)} (scaled: ${window}): its exporter could not deliver them (queue full, collector unreachable, frozen or refusing). ` +
            'Traces of this time are incomplete; the shop itself is unaffected while telemetry stays off the request path.',
        },
      },
    ],
  };
}

/** The rule file Prometheus loads (pure). */
export function renderTelemetryAlertRules(options: TelemetryAlertOptions = {}): string {
  const header = `# Telemetry-loss alert rendered by slo/telemetry-alerts.ts at time scale ${options.timeScale ?? 1}; do not edit by hand.\n`;
  return `${header}${stringify({ groups: [telemetryAlertGroup(options)] }, { lineWidth: 0 })}`;
}
