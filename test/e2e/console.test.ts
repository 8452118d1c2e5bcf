// The live console in a real browser (Debian's Chromium driven by
// playwright-core) against a real `faultline up` on ephemeral ports: open the
// printed URL, start traffic, turn on "bank errors 100%", watch the breaker on
// checkout's payment calls turn open on the topology and the checkout
// availability burn rate pass its page threshold, switch the breaker off and
// see retries climb, reset and watch recovery; start and stop a game day;
// find the slowest trace. A request without the token, a foreign Origin and
// a cross-origin POST from a real page are refused. Every wait is for a state
// the page shows, never for a time. Skipped, saying so, without Chromium.
// FAULTLINE_SCREENSHOTS=<dir> also saves the screenshots docs/images holds.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './cli.ts';

// The little of the browser the page functions below use (the project type-checks without the DOM library).
declare const document: { querySelector(selector: string): { getAttribute(name: string): string | null } | null };

const CHROMIUM = '/usr/bin/chromium';
const installed = existsSync(CHROMIUM);
const title = installed ? 'the live console in Chromium' : `the live console in Chromium: SKIPPED, ${CHROMIUM} is absent (.ci/run installs the chromium package)`;
/** A state the page must reach; generous, since the machine may be busy: the wait ends as soon as the state shows. */
const STATE_TIMEOUT_MS = 90_000;
const SHOTS = process.env.FAULTLINE_SCREENSHOTS;

describe.skipIf(!installed)(title, () => {
  let runsDir: string;
  let up: ChildProcess | undefined;
  let output = '';
  let consoleUrl: string;
  let base: string;
  let token: string;
  let browser: Browser | undefined;
  let page: Page;
  const pageErrors: string[] = [];
  let elsewhere: Server | undefined;

  const shot = async (name: string) => {
    if (!SHOTS) return;
    await mkdir(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, `console-${name}.png`), fullPage: false });
  };
  const tab = (name: string) => page.click(`nav.tabs button[data-tab="${name}"]`);
  // An edge is a <g> around a line: a level one has no height, so it is waited for as attached, not visible.
  const edge = (name: string) => page.locator(`svg#topology g.edge[data-edge="${name}"]`);

  beforeAll(async () => {
    runsDir = await mkdtemp(join(tmpdir(), 'faultline-console-'));
    up = spawn(
      process.execPath,
      [join(ROOT, 'scripts/faultline.js'), 'up', '--gateway-port', '0', '--collector-port', '0', '--collector-http-port', '0', '--chaos-port', '0', '--console-port', '0', '--prometheus-port', '0', '--alertmanager-port', '0', '--runs-dir', runsDir],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    up.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`faultline up not ready: ${output}`)), 120_000);
      up?.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ctrl-C stops everything')) {
          clearTimeout(timer);
          resolve();
        }
      });
      up?.once('exit', (code) => reject(new Error(`faultline up exited (${code}): ${output}`)));
    });
    const printed = /console \(open this\)\s+(http:\/\/127\.0\.0\.1:\d+\/\?token=(\S+))/.exec(output);
    expect(printed, output).not.toBeNull();
    consoleUrl = printed?.[1] as string;
    token = printed?.[2] as string;
    base = new URL(consoleUrl).origin;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    page = await (await browser.newContext({ viewport: { width: 1600, height: 1000 } })).newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => elsewhere?.close(() => resolve()) ?? resolve());
    if (up && up.exitCode === null) {
      const exited = new Promise((resolve) => up?.once('exit', resolve));
      up.kill('SIGINT');
      await exited;
    }
    await rm(runsDir, { recursive: true, force: true });
  }, 60_000);

  it('refuses a request without the token, a foreign Origin or Host, and a form-encoded change', async () => {
    expect((await fetch(`${base}/api/describe`)).status).toBe(401);
    expect((await fetch(`${base}/`)).status).toBe(401);
    expect((await fetch(`${base}/?token=wrong`)).status).toBe(401);
    const auth = { authorization: `Bearer ${token}` };
    expect((await fetch(`${base}/api/describe`, { headers: auth })).status).toBe(200);
    const foreign = await fetch(`${base}/api/faults`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', origin: 'http://evil.example' }, body: JSON.stringify({ preset: 'errors-100', target: 'payment->bank' }) });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { detail: string }).detail).toMatch(/Origin 'http:\/\/evil.example'/);
    const form = await fetch(`${base}/api/faults`, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: '{"preset":"errors-100","target":"payment->bank"}' });
    expect(form.status).toBe(415);
    const bad = await fetch(`${base}/api/faults`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ preset: 'errors-100', target: 'nowhere' }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(/cannot act on 'nowhere'/);
    expect(((await (await fetch(`${base}/api/faults`, { headers: auth })).json()) as { active: unknown[] }).active).toEqual([]);
  });

  it('opens from the printed URL: the token becomes a cookie and leaves the address bar, and the figures go live', async () => {
    await page.goto(consoleUrl);
    expect(page.url()).toBe(`${base}/`);
    const cookies = await page.context().cookies(base);
    expect(cookies.find((c) => c.name === 'faultline_console')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: STATE_TIMEOUT_MS });
    await page.locator('svg#topology g.node[data-service="payment"] circle[data-instance="payment-2"][data-state="up"]').waitFor({ timeout: STATE_TIMEOUT_MS });
  });

  it('a page on another origin cannot change the lab, even from the same browser', async () => {
    // Another loopback port is another origin but the same site: the SameSite cookie goes along, so the Origin check is what refuses.
    elsewhere = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>elsewhere</title>'));
    await new Promise<void>((resolve) => elsewhere?.listen(0, '127.0.0.1', resolve));
    const other = await page.context().newPage();
    await other.goto(`http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/`);
    const statuses = await other.evaluate(async (target: string) => {
      const answers: Array<number | string> = [];
      for (const init of [
        { method: 'POST', mode: 'no-cors' as const, credentials: 'include' as const, headers: { 'content-type': 'text/plain' }, body: '{"preset":"errors-100","target":"payment->bank"}' },
        { method: 'POST', mode: 'cors' as const, credentials: 'include' as const, headers: { 'content-type': 'application/json' }, body: '{"preset":"errors-100","target":"payment->bank"}' },
      ]) {
        try {
          const response = await fetch(`${target}/api/faults`, init);
          answers.push(response.type === 'opaque' ? 'opaque' : response.status);
        } catch {
          answers.push('blocked');
        }
      }
      return answers;
    }, base);
    await other.close();
    // The no-cors POST reached the server and was refused there; the JSON one never got past the browser's preflight.
    expect(statuses).toEqual(['opaque', 'blocked']);
    const active = (await (await fetch(`${base}/api/faults`, { headers: { authorization: `Bearer ${token}` } })).json()) as { active: unknown[] };
    expect(active.active).toEqual([]);
    const recorded = await readFile(join(runsDir, (await readdir(runsDir))[0] as string, 'faults.jsonl'), 'utf8').catch(() => '');
    expect(recorded).toBe('');
  });

  it('breaks the shop and shows it: breaker open, SLO burning past its page threshold; breaker off, retries climb; reset, recovery', async () => {
    await page.fill('#load-rate', '25');
    await page.click('#load-apply');
    await page.locator('#load-state[data-rate="25"]').waitFor({ timeout: STATE_TIMEOUT_MS });
    // Traffic reaches checkout's payment calls before anything is broken.
    await page.waitForFunction(() => Number(document.querySelector('g.edge[data-edge="checkout->payment"]')?.getAttribute('data-rate')) > 0, undefined, { timeout: STATE_TIMEOUT_MS });
    await shot('healthy');

    await page.selectOption('#fault-preset', 'errors-100');
    await page.selectOption('#fault-target', 'payment->bank');
    await page.click('#fault-apply');
    await page.locator('#active-faults li[data-fault]').first().waitFor({ timeout: STATE_TIMEOUT_MS });
    await expect.poll(() => page.locator('#active-faults').innerText()).toMatch(/payment->bank/);
    await edge('checkout->payment').and(page.locator('[data-breaker="open"]')).waitFor({ state: 'attached', timeout: STATE_TIMEOUT_MS });
    await expect.poll(() => edge('payment->bank').locator('text.fault').textContent()).toMatch(/⚡/);
    // The checkout availability SLO's 5m-window burn rate (lab scale) is past the 14.4x page threshold, and its page tier says so.
    const burning = page.locator('tr[data-slo="checkout-availability"] span[data-tier="page-1h"].burning');
    await burning.waitFor({ timeout: STATE_TIMEOUT_MS });
    const burn5m = Number(await page.locator('tr[data-slo="checkout-availability"] td[data-window="5m"]').innerText());
    expect(burn5m).toBeGreaterThan(14.4);
    await shot('bank-errors');

    // The breaker off: every failing call is now tried maxAttempts times.
    await tab('patterns');
    const form = page.locator('form[data-service="checkout"][data-dependency="payment"]');
    await form.waitFor({ timeout: STATE_TIMEOUT_MS });
    await form.locator('input[name="circuitBreaker.enabled"]').uncheck();
    await form.locator('button[type="submit"]').click();
    await page.locator('form[data-service="checkout"][data-dependency="payment"] input[name="circuitBreaker.enabled"]:not(:checked)').waitFor({ timeout: STATE_TIMEOUT_MS });
    await tab('overview');
    // The breaker's state leaves the topology (its series goes stale in Prometheus), then retries climb.
    await edge('checkout->payment').and(page.locator('[data-breaker="none"]')).waitFor({ state: 'attached', timeout: STATE_TIMEOUT_MS });
    await page.waitForFunction(
      () => {
        const edge = document.querySelector('g.edge[data-edge="checkout->payment"]');
        return edge?.getAttribute('data-breaker') === 'none' && Number(edge.getAttribute('data-retries')) > 0.5;
      },
      undefined,
      { timeout: STATE_TIMEOUT_MS },
    );
    await expect.poll(() => page.locator('#activity').innerText()).toMatch(/checkout->payment/);
    await shot('breaker-off');

    // The gateway's admission, live: a lower in-flight limit, marked in the activity list.
    await tab('patterns');
    const admission = page.locator('#admission');
    await admission.locator('input[name="loadShedding.maxInFlight"]').fill('64');
    await admission.locator('button[type="submit"]').click();
    await page.locator('#admission input[name="loadShedding.maxInFlight"][value="64"]').waitFor({ timeout: STATE_TIMEOUT_MS });
    await expect.poll(() => page.locator('#activity').innerText()).toMatch(/gateway admission: loadShedding\.maxInFlight=64/);

    // Reset: faults gone, policies and admission back; errors at the front door fall back to none.
    await page.click('#reset-all');
    await page.click('#policies-reset');
    await page.locator('form[data-service="checkout"][data-dependency="payment"] input[name="circuitBreaker.enabled"]:checked').waitFor({ timeout: STATE_TIMEOUT_MS });
    await page.locator('#admission input[name="loadShedding.maxInFlight"]:not([value="64"])').waitFor({ timeout: STATE_TIMEOUT_MS });
    await tab('overview');
    await expect.poll(() => page.locator('#active-faults').innerText(), { timeout: STATE_TIMEOUT_MS }).toMatch(/no fault active/);
    await page.waitForFunction(
      () => {
        const front = document.querySelector('g.edge[data-edge="users->gateway"]');
        return Number(front?.getAttribute('data-rate')) > 0 && Number(front?.getAttribute('data-error-ratio')) === 0;
      },
      undefined,
      { timeout: STATE_TIMEOUT_MS },
    );
    await edge('checkout->payment').and(page.locator('[data-breaker="closed"]')).waitFor({ state: 'attached', timeout: STATE_TIMEOUT_MS });
    // The console's faults are in the session's record, as a timeline's are.
    const records = (await readFile(join(runsDir, (await readdir(runsDir))[0] as string, 'faults.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { action: string; source: string; type: string; target: string });
    expect(records.filter((r) => r.source === 'console').map((r) => `${r.action} ${r.type} ${r.target}`)).toEqual(['apply http_error payment->bank', 'remove http_error payment->bank']);
    // And so are its pattern changes, in patterns.jsonl beside it.
    const patterns = (await readFile(join(runsDir, (await readdir(runsDir))[0] as string, 'patterns.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { action: string; target: string; changed: string[] });
    expect(patterns.map((p) => `${p.action} ${p.target} ${p.changed.join(',')}`)).toEqual([
      'patch checkout->payment circuitBreaker.enabled',
      'patch gateway admission loadShedding.maxInFlight',
      'reset every policy ',
    ]);
  }, 600_000);

  it('runs a seeded game day and removes its faults when stopped', async () => {
    await page.fill('#game-day-seed', '7');
    await page.fill('#game-day-gap', '1');
    await page.fill('#game-day-length', '30');
    await page.click('#game-day-start');
    await page.locator('#game-day-state[data-running="true"]').waitFor({ timeout: STATE_TIMEOUT_MS });
    await page.locator('#active-faults li[data-fault]').first().waitFor({ timeout: STATE_TIMEOUT_MS });
    await shot('game-day');
    await page.click('#game-day-stop');
    await page.locator('#game-day-state[data-running="false"]').waitFor({ timeout: STATE_TIMEOUT_MS });
    await expect.poll(() => page.locator('#active-faults').innerText(), { timeout: STATE_TIMEOUT_MS }).toMatch(/no fault active/);
  }, 300_000);

  it('finds the slowest trace and draws its waterfall; searches the logs', async () => {
    await tab('traces');
    await page.click('#trace-search');
    const first = page.locator('#trace-results a[data-trace]').first();
    await first.waitFor({ timeout: STATE_TIMEOUT_MS });
    await first.click();
    await page.locator('#trace-view .waterfall, #trace-view details, #trace-view table').first().waitFor({ timeout: STATE_TIMEOUT_MS });
    await shot('trace');
    await tab('logs');
    await page.selectOption('#log-form select[name="level"]', 'warn');
    await page.click('#log-form button[type="submit"]');
    await expect.poll(() => page.locator('#log-lines').innerText(), { timeout: STATE_TIMEOUT_MS }).toMatch(/lines matched/);
    await tab('overview');
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('draws the live charts, and a prebuilt dashboard from its JSON with data from the lab', async () => {
    await tab('charts');
    await expect.poll(() => page.locator('#charts .chart canvas').count(), { timeout: STATE_TIMEOUT_MS }).toBeGreaterThanOrEqual(7);
    await page.locator('#charts [data-chart^="Requests by outcome"] canvas').waitFor({ timeout: STATE_TIMEOUT_MS });
    // The report's requests-by-outcome chart, live: the background load's recent seconds come with each reading.
    const okSeen = await page.evaluate(
      (waitMs) =>
        new Promise<number>((resolve) => {
          const source = new EventSource('/api/live');
          const give = (ok: number) => {
            source.close();
            resolve(ok);
          };
          setTimeout(() => give(0), waitMs);
          source.onmessage = (event: { data: string }) => {
            const load = ((JSON.parse(event.data) as { figures: { load?: Array<{ ok: number }> } }).figures.load ?? []);
            const ok = load.reduce((sum, second) => sum + second.ok, 0);
            if (ok > 0) give(ok);
          };
        }),
      STATE_TIMEOUT_MS,
    );
    expect(okSeen).toBeGreaterThan(0);
    await page.locator('#charts [data-chart^="Requests by outcome"]').scrollIntoViewIfNeeded();
    await shot('charts');
    await tab('dashboards');
    await page.locator('#dashboard-pick option').first().waitFor({ state: 'attached', timeout: STATE_TIMEOUT_MS });
    await page.selectOption('#dashboard-pick', { label: await page.locator('#dashboard-pick option', { hasText: /service overview/i }).first().innerText() });
    // A time series panel drawn with uPlot, and a stat panel showing a number.
    await page.locator('#dashboard .fl-panel-timeseries canvas').first().waitFor({ timeout: STATE_TIMEOUT_MS });
    await page.waitForFunction(() => document.querySelector('#dashboard .fl-stat-value') !== null, undefined, { timeout: STATE_TIMEOUT_MS });
    await shot('dashboard');
    // A panel of a kind it does not draw (the chaos dashboard's table) says so and links to Prometheus' graph page.
    await page.selectOption('#dashboard-pick', { label: await page.locator('#dashboard-pick option', { hasText: /chaos/i }).first().innerText() });
    const link = page.locator('#dashboard .fl-prometheus-link').first();
    await link.waitFor({ timeout: STATE_TIMEOUT_MS });
    expect(await link.getAttribute('href')).toMatch(/\/graph\?g0\.expr=/);
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('runs a scenario in a fresh lab beside this one, to its verdict and report', async () => {
    await tab('scenarios');
    await page.locator('#scenario-pick option[value="payment-outage"]').waitFor({ state: 'attached', timeout: STATE_TIMEOUT_MS });
    await page.selectOption('#scenario-pick', 'payment-outage');
    await page.fill('#scenario-form input[name="timeScale"]', '0.5');
    await page.click('#scenario-form button[type="submit"]');
    const run = page.locator('#scenario-runs [data-run]').first();
    await run.waitFor({ timeout: STATE_TIMEOUT_MS });
    // Its verdict, whichever it is on this machine now (the catalogue judges it); then its report opens.
    await expect.poll(() => run.locator('span').first().innerText(), { timeout: 240_000 }).toMatch(/^(PASS|FAIL|INCONCLUSIVE)$/);
    const report = run.locator('a', { hasText: 'report' });
    await report.waitFor({ timeout: STATE_TIMEOUT_MS });
    const response = await fetch(`${base}${await report.getAttribute('href')}`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/payment-outage/);
  }, 360_000);
});
