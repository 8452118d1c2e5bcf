// The telemetry-loss alert: its window and `for` at real time and at the
// lab's scale, and, with promtool, the rule file parses clean and fires on
// dropped spans and on nothing else (a story per time scale).

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_TIME_SCALE } from './generate.ts';
import { renderTelemetryAlertRules, TELEMETRY_ALERTS, telemetryAlertGroup } from './telemetry-alerts.ts';
import { findTool, runTool, TOOL_PACKAGE } from './tools.ts';

describe('telemetryAlertGroup', () => {
  it('at real time: spans dropped in the last 5 minutes, for a minute, per job', () => {
    const [rule] = telemetryAlertGroup().rules;
    expect(rule).toMatchObject({
      alert: 'TelemetrySpansDropped',
      expr: 'sum by (job) (increase(telemetry_spans_dropped_total[5m])) > 0',
      for: '1m',
      labels: { severity: 'ticket' },
    });
  });

  it("at the lab's scale the window shrinks, but never under four scrapes", () => {
    expect(telemetryAlertGroup({ timeScale: LAB_TIME_SCALE }).rules[0]).toMatchObject({ expr: 'sum by (job) (increase(telemetry_spans_dropped_total[4s])) > 0', for: '600ms' });
    expect(telemetryAlertGroup({ timeScale: 10, scrapeIntervalMs: 1_000 }).rules[0]?.expr).toContain('[30s]');
  });

  it('refuses a time scale or scrape interval it cannot use', () => {
    expect(() => telemetryAlertGroup({ timeScale: 0.5 })).toThrow(/timeScale: must be a number >= 1/);
    expect(() => telemetryAlertGroup({ scrapeIntervalMs: 0 })).toThrow(/scrapeIntervalMs: must be a number > 0/);
  });
});

const promtool = await findTool('promtool');
if (promtool === undefined) console.warn(`SKIPPED: promtool is not on PATH (apt-get install ${TOOL_PACKAGE.promtool}); the telemetry alert is not checked by Prometheus here.`);

describe.skipIf(promtool === undefined)('promtool', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'telemetry-alerts-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A story at one time scale, `unit` apart: spans flow without a drop, then 5 are dropped once (at 11 units), then none. */
  function story(timeScale: number, unit: string, forUnits: number, windowUnits: number): string {
    const at = (units: number) => `${units * Number(unit.replace(/\D+$/, ''))}${unit.replace(/^\d+/, '')}`;
    // The annotations as Prometheus fills them in: catalog dropped 5 spans.
    const annotations = Object.entries(telemetryAlertGroup({ timeScale, scrapeIntervalMs: 1_000 }).rules[0]?.annotations ?? {})
      .map(([key, text]) => `              ${key}: ${JSON.stringify(text.replace('{{ $labels.job }}', 'catalog').replace('{{ $value | humanize }}', '5'))}`)
      .join('\n');
    const alert = (units: number, firing: boolean) =>
      [
        `      - alertname: ${TELEMETRY_ALERTS.spansDropped}`,
        `        eval_time: ${at(units)}`,
        firing ? `        exp_alerts:\n          - exp_labels: { job: catalog, severity: ticket, team: platform }\n            exp_annotations:\n${annotations}` : '        exp_alerts: []',
      ].join('\n');
    return [
      'rule_files: [rules.yaml]',
      `evaluation_interval: ${unit}`,
      'tests:',
      `  - interval: ${unit}`,
      '    input_series:',
      `      - series: telemetry_spans_dropped_total{job="catalog",instance="catalog-1"}`,
      "        values: '0x10 5x30'",
      `      - series: telemetry_spans_exported_total{job="gateway",instance="gateway"}`,
      "        values: '0+100x40'",
      '    alert_rule_test:',
      alert(10, false),
      alert(11 + forUnits + 1, true),
      alert(11 + windowUnits + 3, false),
    ].join('\n');
  }

  it.each([
    ['real time', 1, '1m', 1, 5],
    ['the lab scale', LAB_TIME_SCALE, '1s', 1, 4],
  ])('at %s the rules check clean and the alert fires on drops only', async (_what, timeScale, unit, forUnits, windowUnits) => {
    await writeFile(join(dir, 'rules.yaml'), renderTelemetryAlertRules({ timeScale, scrapeIntervalMs: 1_000 }));
    const check = await runTool(promtool as string, ['check', 'rules', join(dir, 'rules.yaml')]);
    expect(check.ok, check.output).toBe(true);
    expect(check.output).not.toMatch(/warning/i);
    await writeFile(join(dir, 'story.test.yaml'), `${story(timeScale, unit, forUnits, windowUnits)}\n`);
    const test = await runTool(promtool as string, ['test', 'rules', 'story.test.yaml'], { cwd: dir });
    expect(test.ok, test.output).toBe(true);
  });
});
