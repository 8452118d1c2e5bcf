// docs/scenarios: every scenario has its page, every page is what the
// generator makes of the scenario today, and every metric, dashboard panel,
// alert and trace query a page names exists.

import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTracesQuery, type TracesFlags } from '../collector/traces-cli.ts';
import * as conventions from '../demo-services/kit/conventions.ts';
import { OUTCOMES, SHOP_SPAN_ATTR, SPAN_ATTR } from '../demo-services/kit/conventions.ts';
import { listScenarioFiles, loadScenario } from '../runner/scenario.ts';
import { SERVICES } from '../runner/topology.ts';
import { loadSloSpecs } from '../slo/spec.ts';
import { TELEMETRY_ALERT_NAMES } from '../slo/telemetry-alerts.ts';
import { dashboardFile, duration, generatePages, INDEX_FILE, PAGES_DIR, pageProblems, readPageSource, renderScenarioPage } from './scenario-pages.ts';

const ROOT = join(import.meta.dirname, '..');

describe('scenario pages', () => {
  it('are fresh: one per scenario plus the index, each as the generator makes it (npm run docs:scenarios if not)', async () => {
    const pages = await generatePages();
    const scenarios = (await listScenarioFiles()).length;
    expect(pages.size).toBe(scenarios + 1);
    expect(await pageProblems(pages)).toEqual([]);
  });

  it('a stale, a missing and an extra page are each named', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faultline-pages-'));
    try {
      const pages = await generatePages();
      const [first, second] = [...pages.keys()].filter((file) => file !== INDEX_FILE) as [string, string];
      for (const [file, content] of pages) if (file !== second) await writeFile(join(dir, file), file === first ? `${content}edited by hand\n` : content);
      await writeFile(join(dir, 'gone-scenario.md'), 'old\n');
      expect((await pageProblems(pages, dir)).sort()).toEqual([`${first}: stale`, `${second}: missing`, 'gone-scenario.md: no scenario makes it (scenarios/gone-scenario.yaml is gone?)'].sort());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('carry the fields a reader needs: category, pattern, both commands, phases, faults, expectations, and the story', async () => {
    for (const file of await listScenarioFiles()) {
      const source = await readPageSource(file);
      const page = renderScenarioPage(source);
      const { scenario } = source;
      expect(page, file).toContain(`# ${scenario.name}\n`);
      expect(page).toContain(`[${scenario.category}](README.md#${scenario.category})`);
      for (const pattern of scenario.demonstrates ?? []) expect(page).toContain(`\`${pattern}\``);
      expect(page).toContain(`npx faultline run ${scenario.name}   # with the pattern`);
      expect(page).toContain(`npx faultline run ${scenario.name} ${(scenario.without ?? []).map((s) => `--disable ${s}`).join(' ')}   # without it`);
      for (const phase of scenario.phases) expect(page).toContain(`| ${phase.name} |`);
      for (const fault of scenario.faults) expect(page).toContain(`| ${fault.name} |`);
      for (const expectation of scenario.expectations) expect(page).toContain(`**${expectation.name}**`);
      for (const heading of ['## What you will see', '## Why the pattern contains it', '## The fix in a real system']) expect(page).toContain(heading);
    }
    const index = (await generatePages()).get(INDEX_FILE) as string;
    expect(index).toContain('## dependency-failure');
    expect(index).toContain('[payment-outage](payment-outage.md)');
    expect(duration(800)).toBe('800ms');
    expect(duration(1_500)).toBe('1.5s');
  });
});

describe('what the pages name exists', () => {
  const metricNames = new Set(
    // The metric groups only (METRIC, LAB_METRIC, SHOP_METRIC, RPC_METRIC, ...), not label or attribute names.
    Object.entries(conventions as Record<string, unknown>)
      .filter(([name, value]) => /(^|_)METRIC$/.test(name) && typeof value === 'object' && value !== null)
      .flatMap(([, group]) => Object.values(group as Record<string, unknown>))
      .filter((value): value is string => typeof value === 'string'),
  );
  const panels = new Set(
    readdirSync(join(ROOT, 'dashboards', 'faultline'))
      .filter((file) => file.endsWith('.json'))
      .flatMap((file) => {
        const dashboard = JSON.parse(readFileSync(join(ROOT, 'dashboards', 'faultline', file), 'utf8')) as { title: string; panels: Array<{ type: string; title: string }> };
        const name = dashboard.title.replace(/^Faultline \/ /, '');
        return dashboard.panels.filter((panel) => panel.type !== 'row').map((panel) => `${name} / ${panel.title}|dashboards/faultline/${file}`);
      }),
  );

  it('every metric is in conventions.ts, every panel in a committed dashboard (in the file the page links), every alert in the SLO specs or the telemetry alert', async () => {
    const alerts = new Set([...(await loadSloSpecs()).map((slo) => slo.alerting.name), ...TELEMETRY_ALERT_NAMES]);
    let named = 0;
    for (const file of await listScenarioFiles()) {
      const { story, name } = await loadScenario(file);
      for (const metric of story?.signals.metrics ?? []) expect(metricNames.has(metric), `${name}: metric ${metric}`).toBe(true);
      for (const panel of story?.signals.panels ?? []) expect(panels.has(`${panel}|${dashboardFile(panel)}`), `${name}: panel ${panel}`).toBe(true);
      for (const alert of story?.signals.alerts ?? []) expect(alerts.has(alert), `${name}: alert ${alert}`).toBe(true);
      named += (story?.signals.metrics.length ?? 0) + (story?.signals.panels.length ?? 0);
    }
    expect(named).toBeGreaterThan(10);
  });

  it('every trace query parses as faultline traces flags, naming phases, services and span attributes that exist', async () => {
    const attributes = new Set<string>([...Object.values(SPAN_ATTR), ...Object.values(SHOP_SPAN_ATTR)]);
    const services = new Set(SERVICES.map((service) => service.name));
    for (const file of await listScenarioFiles()) {
      const scenario = await loadScenario(file);
      for (const query of scenario.story?.signals.traces ?? []) {
        const flags = tracesFlags(query);
        const parsed = parseTracesQuery(flags);
        expect(parsed.kind, query).toBe('list');
        if (parsed.kind !== 'list') continue;
        if (parsed.filter.phase !== undefined) expect(scenario.phases.map((p) => p.name), `${scenario.name}: ${query}`).toContain(parsed.filter.phase);
        if (parsed.filter.service !== undefined) expect(services.has(parsed.filter.service), `${scenario.name}: ${query}`).toBe(true);
        for (const { key, value } of parsed.filter.attributes) {
          expect(attributes.has(key), `${scenario.name}: attribute ${key}`).toBe(true);
          if (key === SPAN_ATTR.outcome) expect(OUTCOMES as readonly string[], `${scenario.name}: ${query}`).toContain(value);
        }
      }
    }
  });
});

/** `--phase outage --attr k=v` as commander hands the traces command its flags. */
function tracesFlags(query: string): TracesFlags {
  const words = query.split(/\s+/);
  const flags: TracesFlags & Record<string, unknown> = {};
  const known = new Set(['trace', 'slowest', 'service', 'attr', 'status', 'min-duration', 'phase', 'width']);
  for (let i = 0; i < words.length; i += 2) {
    const flag = (words[i] as string).replace(/^--/, '');
    const value = words[i + 1];
    if (!known.has(flag) || value === undefined) throw new Error(`'${query}': ${words[i]} is not a faultline traces flag with a value`);
    if (flag === 'attr') flags.attr = [...(flags.attr ?? []), value];
    else flags[flag === 'min-duration' ? 'minDuration' : flag] = value;
  }
  return flags;
}

it('docs/scenarios holds only generated pages', () => {
  for (const file of readdirSync(PAGES_DIR)) expect(readFileSync(join(PAGES_DIR, file), 'utf8'), file).toMatch(/^<!-- GENERATED by `npm run docs:scenarios`/);
});
