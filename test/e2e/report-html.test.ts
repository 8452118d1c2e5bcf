// report.html in a real browser (Debian's Chromium driven by playwright-core):
// a real payment-outage run, and one with the breaker switched off, each end
// with the path of their report; the report and the comparison page open from
// disk with no network, show the verdict rows of summary.json, draw data on
// every chart, shade the fault window where faults.jsonl puts it, and expand a
// sample trace to its retry events. Skipped, saying so, without /usr/bin/chromium.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultRecord } from '../../runner/fault-timeline.ts';
import type { RunSummary } from '../../runner/report.ts';
import type { StepSummary, TimeSeriesPoint } from '../../load/recorder.ts';
import { ROOT, runCli } from './cli.ts';

// The little of the browser the page functions below use (the project type-checks without the DOM library).
interface Canvas {
  width: number;
  getBoundingClientRect(): { width: number };
  getContext(kind: '2d'): { getImageData(x: number, y: number, width: number, height: number): { data: Uint8ClampedArray } } | null;
}
interface PlotBox {
  id: string;
  dataset: Record<string, string | undefined>;
  getAttribute(name: string): string | null;
  querySelector(selector: 'canvas'): Canvas | null;
}
declare const document: { querySelectorAll(selector: '.plot'): ArrayLike<PlotBox> & Iterable<PlotBox> };

const CHROMIUM = '/usr/bin/chromium';
const installed = existsSync(CHROMIUM);
const title = installed ? 'report.html in Chromium' : `report.html in Chromium: SKIPPED, ${CHROMIUM} is absent (.ci/run installs the chromium package)`;

interface Opened {
  page: Page;
  consoleErrors: string[];
  /** Requests for anything but the report file itself. */
  outside: string[];
}

describe.skipIf(!installed)(title, () => {
  let runsDir: string;
  let browser: Browser | undefined;
  const runs: Array<{ dir: string; report: string; summary: RunSummary; faults: FaultRecord[] }> = [];
  let comparison: string;
  /** The scenario file's sha256 as the runs read it (taken just before them). */
  let scenarioSha256: string;

  beforeAll(async () => {
    runsDir = await mkdtemp(join(tmpdir(), 'faultline-report-'));
    scenarioSha256 = createHash('sha256').update(await readFile(join(ROOT, 'scenarios/payment-outage.yaml'))).digest('hex');
    for (const extra of [[], ['--disable', 'circuitBreaker']]) {
      const result = await runCli(['run', 'payment-outage', '--time-scale', '0.5', '--runs-dir', runsDir, ...extra], { timeoutMs: 150_000 });
      expect(result.stderr).toBe('');
      // The run's last line is its report's path.
      const last = result.stdout.trimEnd().split('\n').at(-1) as string;
      expect(last, result.stdout).toMatch(/^report: .*report\.html$/);
      const report = last.slice('report: '.length);
      const dir = join(report, '..');
      const summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as RunSummary;
      const faults = (await readFile(join(dir, 'faults.jsonl'), 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as FaultRecord);
      runs.push({ dir, report, summary, faults });
    }
    const compared = await runCli(['report', runs[0]!.dir, runs[1]!.dir, '--out', join(runsDir, 'compare.html')]);
    expect(compared.stderr).toBe('');
    expect(compared.code).toBe(0);
    comparison = join(runsDir, 'compare.html');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  }, 330_000);

  afterAll(async () => {
    await browser?.close();
    if (runsDir) await rm(runsDir, { recursive: true, force: true });
  });

  async function open(file: string): Promise<Opened> {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1, colorScheme: 'light' });
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    const outside: string[] = [];
    const own = pathToFileURL(file).href;
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    page.on('request', (request) => {
      if (request.url() !== own) outside.push(request.url());
    });
    await context.route('**/*', (route) => (route.request().url() === own ? route.continue() : route.abort()));
    await page.goto(own);
    await page.waitForFunction(() => document.querySelectorAll('.plot').length > 0 && [...document.querySelectorAll('.plot')].every((el) => el.getAttribute('data-drawn') === 'true'));
    return { page, consoleErrors, outside };
  }

  /** Per chart: how many plot-area pixels are (close to) one of its series colours. */
  function seriesPixels(page: Page): Promise<Record<string, number>> {
    return page.evaluate(() => {
      const counts: Record<string, number> = {};
      for (const box of document.querySelectorAll('.plot')) {
        const canvas = box.querySelector('canvas') as Canvas;
        const ctx = canvas.getContext('2d')!;
        const ratio = canvas.width / canvas.getBoundingClientRect().width;
        const [left, top, width, height] = ['left', 'top', 'width', 'height'].map((k) => Number(box.dataset[`plot${k[0]!.toUpperCase()}${k.slice(1)}`]) * ratio) as [number, number, number, number];
        const pixels = ctx.getImageData(Math.round(left), Math.round(top), Math.round(width), Math.round(height)).data;
        const colors = (box.dataset.seriesColors ?? '').split(' ').map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
        let n = 0;
        for (let i = 0; i < pixels.length; i += 4) {
          if (pixels[i + 3]! > 200 && colors.some((c) => Math.abs(pixels[i]! - c[0]!) + Math.abs(pixels[i + 1]! - c[1]!) + Math.abs(pixels[i + 2]! - c[2]!) < 60)) n++;
        }
        counts[box.id] = n;
      }
      return counts;
    });
  }

  /** Per chart: the shaded fault band's left and right edge (CSS px from the canvas's left), the median over rows of the plot area. */
  function faultBand(page: Page): Promise<Record<string, { from: number; to: number; expected: (seconds: number) => number } | null>> {
    return page
      .evaluate(() => {
        const out: Record<string, { from: number; to: number; left: number; width: number; min: number; max: number } | null> = {};
        for (const box of document.querySelectorAll('.plot')) {
          const canvas = box.querySelector('canvas') as Canvas;
          const ctx = canvas.getContext('2d')!;
          const ratio = canvas.width / canvas.getBoundingClientRect().width;
          const left = Number(box.dataset.plotLeft);
          const top = Number(box.dataset.plotTop);
          const width = Number(box.dataset.plotWidth);
          const height = Number(box.dataset.plotHeight);
          const froms: number[] = [];
          const tos: number[] = [];
          // --fault, rgba(239, 68, 68, 0.16), on the chart's transparent canvas.
          const band = [239, 68, 68, 41];
          for (let y = top + 16; y < top + height - 3; y += 5) {
            const row = ctx.getImageData(0, Math.round(y * ratio), canvas.width, 1).data;
            const hits: number[] = [];
            for (let x = 0; x < canvas.width; x++) {
              if (Math.abs(row[x * 4]! - band[0]!) + Math.abs(row[x * 4 + 1]! - band[1]!) + Math.abs(row[x * 4 + 2]! - band[2]!) < 12 && Math.abs(row[x * 4 + 3]! - band[3]!) < 6) hits.push(x / ratio);
            }
            // The band runs from the first to the last stretch of band-coloured pixels at least
            // 2 CSS px wide: series lines drawn over it split it into stretches, and a lone pixel
            // of that colour elsewhere (a blended edge) is not its edge.
            const stretches: Array<[number, number]> = [];
            for (const x of hits) {
              const last = stretches.at(-1);
              if (last && x - last[1] <= 1.5 / ratio) last[1] = x;
              else stretches.push([x, x]);
            }
            const wide = stretches.filter(([a, b]) => b + 1 / ratio - a >= 2);
            if (hits.length > 3 && wide.length > 0) {
              froms.push(wide[0]![0]);
              tos.push(wide.at(-1)![1] + 1 / ratio);
            }
          }
          const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
          out[box.id] = froms.length ? { from: median(froms), to: median(tos), left, width, min: Number(box.dataset.xMin), max: Number(box.dataset.xMax) } : null;
        }
        return out;
      })
      .then((found) =>
        Object.fromEntries(
          Object.entries(found).map(([id, f]) => [id, f === null ? null : { from: f.from, to: f.to, expected: (seconds: number) => f.left + ((seconds - f.min) / (f.max - f.min)) * f.width }]),
        ),
      );
  }

  it('shows the verdict rows of summary.json, draws every chart and the fault window where faults.jsonl puts it, offline', async () => {
    const { report, summary, faults } = runs[0]!;
    const { page, consoleErrors, outside } = await open(report);
    const rows = await page.$$eval('table.verdict-table tbody tr:not(.why)', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows).toEqual(summary.expectations.map((e) => [{ pass: 'PASS', fail: 'FAIL', skip: 'SKIP', inconclusive: 'INCONCLUSIVE' }[e.status], e.name, e.expected, e.status === 'skip' ? `not measured: ${e.skipped}` : e.measured]));
    const reasons = await page.$$eval('table.verdict-table tr.why', (trs) => trs.map((tr) => tr.textContent));
    expect(reasons).toEqual(summary.expectations.filter((e) => e.inconclusive).map((e) => `not judged: ${e.inconclusive}`));

    const pixels = await seriesPixels(page);
    // Errors by kind only when something failed; bulkhead, rate limiting and shedding only when Prometheus counted some.
    const points = summary.timeSeries as TimeSeriesPoint[];
    const optional = [...(points.some((p) => p.failed > 0) ? ['chart-error-kinds'] : []), ...(Object.keys(pixels).includes('chart-protection') ? ['chart-protection'] : [])];
    expect(Object.keys(pixels).sort()).toEqual(['chart-breaker', 'chart-breakers', 'chart-errors', 'chart-in-flight', 'chart-latency', 'chart-pressure', 'chart-requests', 'chart-resilience', 'chart-retries', ...optional].sort());
    for (const [id, n] of Object.entries(pixels)) expect(n, `${id} drew no data`).toBeGreaterThan(20);

    // The series the load generator and Prometheus recorded are in summary.json and drawn: send-time latency beside the intended one, retries.
    expect(points.filter((p) => p.started > 0).every((p) => p.sentP99 > 0 && p.sentP99 <= p.p99 + 1)).toBe(true);
    expect(summary.metricSeries?.series.retries.some((v) => v !== null)).toBe(true);
    // Every breaker as Prometheus saw it: checkout's towards payment was open (2) at some scrape of the outage.
    expect(summary.metricSeries?.breakers?.find((b) => b.service === 'checkout' && b.dependency === 'payment')?.values.some((v) => v === 2)).toBe(true);
    expect(await page.$$eval('#chart-latency .u-legend .u-series .u-label', (labels) => labels.map((l) => l.textContent))).toEqual(expect.arrayContaining(['p99', 'sent p99']));
    // Latency per journey and step as the load generator saw it: a journey row, then its steps, two rows each.
    const steps = (summary.load as { steps: StepSummary[] }).steps;
    expect(steps[0]?.step).toBe('*');
    const stepRows = await page.$$eval('table.load-steps tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(stepRows.filter((_, i) => i % 2 === 0).map((r) => [r[1], r[2]])).toEqual(steps.map((s) => [String(s.count), String(s.failed)]));
    // The scenario's hash is of the file's bytes.
    expect(summary.scenarioSource?.sha256).toBe(scenarioSha256);
    expect(await page.textContent('#run dl.meta')).toContain(scenarioSha256);

    const applied = faults.find((f) => f.action === 'apply') as FaultRecord;
    const removed = faults.find((f) => f.action === 'remove') as FaultRecord;
    const bands = await faultBand(page);
    for (const [id, band] of Object.entries(bands)) {
      expect(band, `${id}: no fault band`).not.toBeNull();
      // Within 3 CSS pixels of where the axis puts the fault's start and end (a few hundred ms on an 18 s axis a thousand pixels wide).
      expect(Math.abs(band!.from - band!.expected(applied.offsetMs / 1_000)), `${id} band start`).toBeLessThan(3);
      expect(Math.abs(band!.to - band!.expected(removed.offsetMs / 1_000)), `${id} band end`).toBeLessThan(3);
    }
    expect(consoleErrors).toEqual([]);
    expect(outside).toEqual([]);
    await page.context().close();
  });

  it('expands a sample trace to its spans and their retry events', async () => {
    const { page, consoleErrors } = await open(runs[0]!.report);
    const trace = page.locator('details.trace:not([data-retries="0"])').first();
    const retry = trace.locator('li.event.ev-retry').first();
    expect(await retry.isVisible()).toBe(false);
    await trace.locator('> summary').click();
    const span = trace.locator('details.span', { has: page.locator('li.event.ev-retry') }).first();
    expect(await span.isVisible()).toBe(true);
    expect(await retry.isVisible()).toBe(false);
    await span.locator('> summary').click();
    expect(await retry.isVisible()).toBe(true);
    expect(await retry.textContent()).toMatch(/^\+\S+ retry retry\.attempt=\d+/);
    expect(consoleErrors).toEqual([]);
    await page.context().close();
  });

  it('compares the runs with and without the breaker: verdicts side by side, both runs on every chart, offline', async () => {
    const [a, b] = runs as [(typeof runs)[0], (typeof runs)[0]];
    const { page, consoleErrors, outside } = await open(comparison);
    const rows = await page.$$eval('table.compare-verdicts tbody tr', (trs) => trs.map((tr) => ({ differs: tr.classList.contains('differs-row'), cells: [...tr.querySelectorAll('td')].map((td) => td.textContent) })));
    expect(rows.map((r) => r.cells[0])).toEqual(a.summary.expectations.map((e) => e.name));
    const label = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP', inconclusive: 'INCONCLUSIVE' } as const;
    rows.forEach((row, i) => {
      const ea = a.summary.expectations[i]!;
      const eb = b.summary.expectations.find((e) => e.name === ea.name)!;
      expect([row.cells[2], row.cells[4]]).toEqual([label[ea.status], label[eb.status]]);
      expect(row.differs).toBe(ea.status !== eb.status);
    });
    const series = await page.$$eval('.u-legend .u-series .u-label', (labels) => labels.map((l) => l.textContent));
    expect(series).toEqual(expect.arrayContaining(['A ok', 'B ok', 'A p99', 'B p99', 'A breaker', 'B breaker']));
    for (const [id, n] of Object.entries(await seriesPixels(page))) expect(n, `${id} drew no data`).toBeGreaterThan(20);
    expect(consoleErrors).toEqual([]);
    expect(outside).toEqual([]);
    await page.context().close();
  });
});
