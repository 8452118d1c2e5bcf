// report.html in Firefox: Debian's firefox-esr, driven by puppeteer-core over
// WebDriver BiDi (playwright-core drives only its own patched Firefox). A real
// payment-outage run's report opens from disk with no console errors, shows
// the verdict rows of summary.json and draws data on every chart. Skipped,
// saying so, without /usr/bin/firefox-esr (.ci/run installs it).

import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../runner/report.ts';
import { runCli } from './cli.ts';

// The little of the browser the page functions use (the project type-checks without the DOM library).
interface PlotBox {
  id: string;
  dataset: Record<string, string | undefined>;
  querySelector(selector: 'canvas'): { width: number; getBoundingClientRect(): { width: number }; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } } | null;
}
declare const document: {
  querySelectorAll(selector: '.plot'): ArrayLike<PlotBox> & Iterable<PlotBox>;
  querySelectorAll(selector: string): ArrayLike<{ textContent: string | null; querySelectorAll(s: 'td'): Iterable<{ textContent: string | null }> }> & Iterable<{ textContent: string | null; querySelectorAll(s: 'td'): Iterable<{ textContent: string | null }> }>;
};

const FIREFOX = '/usr/bin/firefox-esr';
const installed = existsSync(FIREFOX);
const title = installed ? 'report.html in Firefox' : `report.html in Firefox: SKIPPED, ${FIREFOX} is absent (.ci/run installs the firefox-esr package)`;

describe.skipIf(!installed)(title, () => {
  let runsDir: string;
  let browser: Browser | undefined;
  let report: string;
  let summary: RunSummary;

  beforeAll(async () => {
    runsDir = await mkdtemp(join(tmpdir(), 'faultline-report-firefox-'));
    const result = await runCli(['run', 'payment-outage', '--time-scale', '0.5', '--runs-dir', runsDir], { timeoutMs: 150_000 });
    const last = result.stdout.trimEnd().split('\n').at(-1) as string;
    expect(last, result.stdout + result.stderr).toMatch(/^report: .*report\.html$/);
    report = last.slice('report: '.length);
    summary = JSON.parse(await readFile(join(report, '..', 'summary.json'), 'utf8')) as RunSummary;
    browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true });
  }, 200_000);

  afterAll(async () => {
    await browser?.close();
    if (runsDir) await rm(runsDir, { recursive: true, force: true });
  });

  it('opens from disk without console errors, shows the verdict rows and draws every chart', async () => {
    const page = await browser!.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const errors: string[] = [];
    const outside: string[] = [];
    const own = pathToFileURL(report).href;
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(String(error)));
    // Firefox loads a font of its own as a data: URL; nothing else may be asked for.
    page.on('request', (request) => {
      if (request.url() !== own && !request.url().startsWith('data:')) outside.push(request.url());
    });
    await page.goto(own);
    await page.waitForFunction(() => [...document.querySelectorAll('.plot')].length > 0 && [...document.querySelectorAll('.plot')].every((el) => el.dataset.drawn === 'true'), { timeout: 20_000 });

    const rows = await page.evaluate(() => [...document.querySelectorAll('table.verdict-table tbody tr:not(.why)')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows).toEqual(summary.expectations.map((e) => [{ pass: 'PASS', fail: 'FAIL', skip: 'SKIP', inconclusive: 'INCONCLUSIVE' }[e.status], e.name, e.expected, e.status === 'skip' ? `not measured: ${e.skipped}` : e.measured]));

    // Per chart, plot-area pixels in one of its series' colours.
    const pixels = await page.evaluate(() => {
      const counts: Record<string, number> = {};
      for (const box of document.querySelectorAll('.plot')) {
        const canvas = box.querySelector('canvas')!;
        const ratio = canvas.width / canvas.getBoundingClientRect().width;
        const [left, top, width, height] = ['Left', 'Top', 'Width', 'Height'].map((k) => Math.round(Number(box.dataset[`plot${k}`]) * ratio)) as [number, number, number, number];
        const data = canvas.getContext('2d').getImageData(left, top, width, height).data;
        const colors = (box.dataset.seriesColors ?? '').split(' ').map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
        let n = 0;
        for (let i = 0; i < data.length; i += 4) {
          if (data[i + 3]! > 200 && colors.some((c) => Math.abs(data[i]! - c[0]!) + Math.abs(data[i + 1]! - c[1]!) + Math.abs(data[i + 2]! - c[2]!) < 60)) n++;
        }
        counts[box.id] = n;
      }
      return counts;
    });
    expect(Object.keys(pixels).length).toBeGreaterThanOrEqual(8);
    for (const [id, n] of Object.entries(pixels)) expect(n, `${id} drew no data`).toBeGreaterThan(20);
    expect(errors).toEqual([]);
    expect(outside).toEqual([]);
    await page.close();
  });
});
