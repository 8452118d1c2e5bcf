// report.html's size, build time and first paint: for a real run record
// (what `faultline run` adds at its end: read summary.json, traces, faults and
// logs, render, write) and for a synthetic one-hour run of the same shape
// (runner/report-html/synthetic.ts, rendered in memory). First paint and
// "every chart drawn" are measured in headless Chromium from disk, offline.
// Builds are repeated, median reported.
//   node bench/report-size.ts [runs/<id> ...] [--rounds N]

import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { renderRunReport } from '../runner/report-html/render.ts';
import { syntheticRun } from '../runner/report-html/synthetic.ts';
import { chartLibrary, runMeta, writeRunReport } from '../runner/report-html/write.ts';
import { median } from './stats.ts';

const args = process.argv.slice(2);
const roundsAt = args.indexOf('--rounds');
const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 5;
const runDirs = args.filter((arg, i) => !arg.startsWith('--') && args[i - 1] !== '--rounds');
const CHROMIUM = '/usr/bin/chromium';

interface Row {
  what: string;
  bytes: number;
  firstMs: number;
  buildMs: number;
  paintMs?: number;
  chartsMs?: number;
}

const mb = (bytes: number) => `${(bytes / 1_000_000).toFixed(2)} MB`;

/** The first (cold: nothing compiled or cached yet, as at the end of a run) and the median of `rounds` builds. */
async function timed(work: () => Promise<unknown> | unknown): Promise<{ firstMs: number; buildMs: number }> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    await work();
    times.push(performance.now() - started);
  }
  return { firstMs: times[0] as number, buildMs: median(times) };
}

/** First contentful paint and the time until every chart has drawn, median over rounds, each in a fresh page. */
async function paint(file: string): Promise<{ paintMs: number; chartsMs: number } | undefined> {
  if (!existsSync(CHROMIUM)) return undefined;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const paints: number[] = [];
    const charts: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const own = pathToFileURL(file).href;
      await page.route('**/*', (route) => (route.request().url() === own ? route.continue() : route.abort()));
      await page.goto(own);
      await page.waitForFunction('[...document.querySelectorAll(".plot")].every((el) => el.getAttribute("data-drawn") === "true")');
      const [fcp, drawn] = (await page.evaluate('[performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? NaN, performance.now()]')) as [number, number];
      paints.push(fcp);
      charts.push(drawn);
      await page.close();
    }
    return { paintMs: median(paints), chartsMs: median(charts) };
  } finally {
    await browser.close();
  }
}

const rows: Row[] = [];
const scratch = await mkdtemp(join(tmpdir(), 'faultline-report-bench-'));
try {
  // What a run adds at its end: the first build also finds the commit and the Prometheus and Alertmanager versions.
  for (const dir of runDirs) {
    const times = await timed(() => writeRunReport(dir));
    const file = join(dir, 'report.html');
    rows.push({ what: `real run ${dir.split('/').filter(Boolean).at(-1)} (read + render + write)`, bytes: (await stat(file)).size, ...times, ...(await paint(file)) });
  }
  const meta = await runMeta();
  const library = await chartLibrary();
  for (const seconds of [60, 3_600]) {
    const record = syntheticRun({ seconds });
    let html = '';
    const times = await timed(() => {
      html = renderRunReport(record, library, meta);
    });
    const file = join(scratch, `synthetic-${seconds}s.html`);
    await writeFile(file, html);
    rows.push({ what: `synthetic ${seconds / 60} min, ${record.spans.length} spans (render only)`, bytes: Buffer.byteLength(html), ...times, ...(await paint(file)) });
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}

process.stdout.write(`| report | size | first build | build (median of ${rounds}) | first paint | every chart drawn |\n| --- | ---: | ---: | ---: | ---: | ---: |\n`);
for (const row of rows) {
  const ms = (value: number | undefined) => (value === undefined || Number.isNaN(value) ? 'n/a' : `${value.toFixed(0)} ms`);
  process.stdout.write(`| ${row.what} | ${mb(row.bytes)} | ${ms(row.firstMs)} | ${ms(row.buildMs)} | ${ms(row.paintMs)} | ${ms(row.chartsMs)} |\n`);
}
