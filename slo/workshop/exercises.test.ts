import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SLO_ROOT } from '../spec.ts';
import { runCheckCli } from './check.ts';
import { checkAnswer, EXERCISES, seriesOfRequest, WORKSHOP_DATA } from './exercises.ts';

const DOCS = join(SLO_ROOT, '..', 'docs', 'workshop');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slo-workshop-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function answer(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function variant(exercise: string, edit: (text: string) => string): Promise<string> {
  return answer(`${exercise}-${Math.random().toString(36).slice(2)}.yaml`, edit(await readFile(join(DOCS, 'answers', `${exercise}.yaml`), 'utf8')));
}

function failing(result: { items: Array<{ ok: boolean; message: string }> }): string[] {
  return result.items.filter((i) => !i.ok).map((i) => i.message);
}

describe.each(EXERCISES.map((e) => [e]))('%s', (exercise) => {
  it('passes with the answer in docs/workshop/answers', async () => {
    const result = await checkAnswer(exercise, join(DOCS, 'answers', `${exercise}.yaml`));
    expect(failing(result)).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it('does not pass with the starter file', async () => {
    const result = await checkAnswer(exercise, join(DOCS, 'starters', `${exercise}.yaml`));
    expect(result.ok).toBe(false);
    expect(failing(result).length).toBeGreaterThan(0);
  });
});

describe('exercise 1: choose an SLI', () => {
  it('says which requests an SLI over every gateway route gets wrong, and why', async () => {
    const path = await variant('exercise-1', (t) => t.replace('    routes: [/api/checkout]\n', ''));
    expect(failing(await checkAnswer('exercise-1', path))).toEqual([
      'GET /healthz -> 200 (job gateway): your SLI says good; health checks are not users: thousands of fast 200s would hide real errors',
      'GET /readyz -> 503 (job gateway): your SLI says bad; a readiness probe answering 503 during a deploy is not a user error',
      'GET /api/products -> 503 (job gateway): your SLI says bad; a catalog request is not a checkout: count only POST /api/checkout',
    ]);
  });

  it('catches a histogram bucket selector that counts one request many times', async () => {
    const openSlo = `apiVersion: openslo/v1
kind: SLO
metadata: { name: checkout }
spec:
  description: d
  service: gateway
  indicator:
    metadata: { name: i }
    spec:
      ratioMetric:
        counter: true
        bad: { metricSource: { type: Prometheus, spec: { query: 'sum(rate(http_server_request_duration_seconds_bucket{job="gateway",http_route="/api/checkout",http_response_status_code=~"5.."}[{{.window}}]))' } } }
        total: { metricSource: { type: Prometheus, spec: { query: 'sum(rate(http_server_request_duration_seconds_bucket{job="gateway",http_route="/api/checkout"}[{{.window}}]))' } } }
  timeWindow: [{ duration: 30d, isRolling: true }]
  budgetingMethod: Occurrences
  objectives: [{ target: 0.999 }]
`;
    const messages = failing(await checkAnswer('exercise-1', await answer('buckets.yaml', openSlo)));
    expect(messages[0]).toBe('POST /api/checkout -> 201 (job gateway): counted 13 times for one request (a _bucket series without le="+Inf", or two selectors that overlap?)');
    const fixed = openSlo.replaceAll('http_route="/api/checkout"', 'http_route="/api/checkout",le="+Inf"');
    expect((await checkAnswer('exercise-1', await answer('inf.yaml', fixed))).ok).toBe(true);
  });

  it('knows which series a request increments', () => {
    const series = seriesOfRequest({ job: 'gateway', route: '/x', method: 'GET', status: '200', seconds: 0.02 });
    expect(series.filter((s) => s.name.endsWith('_bucket')).map((s) => s.labels.le)).toEqual(['0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10', '+Inf']);
  });
});

describe('exercise 2: set an objective', () => {
  it('explains a promise the service does not keep, a promise too modest, and one off the ladder', async () => {
    expect(failing(await checkAnswer('exercise-2', await answer('tight.yaml', 'objective: 99.9%\n')))).toEqual([
      'at 99.9% the last 28 days would have spent 90.3% of the budget: a promise the service does not keep today',
    ]);
    expect(failing(await checkAnswer('exercise-2', await answer('loose.yaml', 'objective: 0.995\n')))).toEqual([
      'a tighter objective on the ladder would also pass the rule: users get more from a promise you can keep',
    ]);
    expect(failing(await checkAnswer('exercise-2', await answer('odd.yaml', 'objective: 99.7%\n')))).toEqual([
      '99.7% is not one of 99%, 99.5%, 99.8%, 99.9%, 99.95%, 99.99%',
    ]);
  });

  it('reads the recorded 28 days', async () => {
    const history = JSON.parse(await readFile(join(WORKSHOP_DATA, 'checkout-28-days.json'), 'utf8')) as { days: unknown[] };
    expect(history.days).toHaveLength(28);
  });
});

describe('exercise 3: compute the budget', () => {
  it("flags the 30-day factor on a 28-day SLO, and only that", async () => {
    const path = await variant('exercise-3', (t) => t.replace('fastPageBurnFactor: 13.44', 'fastPageBurnFactor: 14.4'));
    expect(failing(await checkAnswer('exercise-3', path))).toEqual([
      'fastPageBurnFactor: 14.4 is off (the fast page fires when 2% of the budget goes in 1h: share x window / 1h (the window is not 30 days here))',
    ]);
  });

  it('accepts rounding within half a percent', async () => {
    const path = await variant('exercise-3', (t) => t.replace('fastPageDetectionSeconds: 241.92', 'fastPageDetectionSeconds: 242').replace('fullOutageMinutes: 201.6', 'fullOutageMinutes: 202'));
    expect((await checkAnswer('exercise-3', path)).ok).toBe(true);
  });
});

describe('exercise 4: watch it burn', () => {
  it('recomputes from the run it is given', async () => {
    const run = JSON.parse(await readFile(join(WORKSHOP_DATA, 'payment-outage-run.json'), 'utf8')) as { timeSeries: Array<{ ok: number; failed: number }> };
    // Another run: the same, with every failure a success.
    run.timeSeries = run.timeSeries.map((p) => ({ ...p, ok: p.ok + p.failed, failed: 0 }));
    const runPath = await answer('clean-run.json', JSON.stringify(run));
    const result = await checkAnswer('exercise-4', join(DOCS, 'answers', 'exercise-4.yaml'), { run: runPath });
    expect(failing(result).map((m) => m.split(':')[0])).toEqual(['failed', 'sli', 'burnRate', 'budgetConsumed', 'pagedAfterSeconds']);
    const clean = await answer('clean.yaml', 'requests: 360\nfailed: 0\nsli: 1\nburnRate: 0\nbudgetConsumed: 0\npagedAfterSeconds: null\n');
    expect((await checkAnswer('exercise-4', clean, { run: runPath })).ok).toBe(true);
  });

  it('says when the run cannot be read', async () => {
    await expect(checkAnswer('exercise-4', join(DOCS, 'answers', 'exercise-4.yaml'), { run: join(dir, 'no-such-run') })).rejects.toThrow(/cannot read .*no-such-run\/summary\.json/);
  });
});

describe('exercise 5: tune an alert', () => {
  it('shows that a short `for` does not outlast the blip, while one that does leaves the outage to the 6h page', async () => {
    const withFor = (duration: string) => (t: string) => t.replace('{ severity: page, long: 1h, short: 5m, budgetConsumed: 5% }', `{ severity: page, long: 1h, short: 5m, budgetConsumed: 2%, for: ${duration} }`);
    // The blip keeps the 5m window above 1.44% for 6 evaluations: `for: 4m` fires on the 5th.
    expect(failing(await checkAnswer('exercise-5', await variant('exercise-5', withFor('4m'))))).toEqual([
      "blip (2 minutes, every request fails): pages after 5m (it spent 4.63% of the period's budget: wake nobody for that)",
    ]);
    expect((await checkAnswer('exercise-5', await variant('exercise-5', withFor('6m')))).items.find((i) => i.message.startsWith('outage'))?.message).toBe(
      'outage (20 minutes, every request fails): pages after 3m',
    );
  });

  it('fails when nothing pages the outage in time', async () => {
    const slow = await variant('exercise-5', (t) => t.replace('{ severity: page, long: 1h, short: 5m, budgetConsumed: 5% }', '{ severity: page, long: 1h, short: 5m, budgetConsumed: 2%, for: 6m }').replace('{ severity: page, long: 6h, short: 30m, budgetConsumed: 5% }', '{ severity: page, long: 6h, short: 30m, budgetConsumed: 20% }'));
    expect(failing(await checkAnswer('exercise-5', slow))).toEqual(['outage (20 minutes, every request fails): pages after 7m (must page within 5m)']);
  });

  it('refuses a changed promise and notices a missing ticket', async () => {
    const looser = await variant('exercise-5', (t) => t.replace('objective: 99.9%', 'objective: 99%'));
    expect(failing(await checkAnswer('exercise-5', looser))[0]).toBe('keep the SLI, objective and window of slo/specs/checkout.yaml: tune the alerts, not the promise');
    const noTickets = await variant('exercise-5', (t) => t.split('\n').filter((line) => !line.includes('severity: ticket')).join('\n'));
    expect(failing(await checkAnswer('exercise-5', noTickets))).toEqual([
      'slow burn (2 days at twice the budget rate): no ticket; at this rate the budget is gone in 15 days and nobody is told',
    ]);
  });
});

describe('the check command', () => {
  it('exits 0 on a right answer, 1 on a wrong one, 2 on a file it cannot use', async () => {
    const lines: string[] = [];
    const out = (text: string) => lines.push(text);
    expect(await runCheckCli(['exercise-2', join(DOCS, 'answers', 'exercise-2.yaml')], out)).toBe(0);
    expect(lines.at(-1)).toMatch(/^ {2}ok {3}.*\nPASS: exercise-2, all 3 checks right$/s);
    expect(await runCheckCli(['exercise-2', await answer('no.yaml', 'objective: 99.9%\n')], out)).toBe(1);
    expect(lines.at(-1)).toMatch(/NOT YET: exercise-2, 1 of 2 checks right$/);
    expect(await runCheckCli(['exercise-2', await answer('bad.yaml', 'objective: lots\nextra: 1\n')], out)).toBe(2);
    expect(lines.slice(-2)).toEqual([expect.stringMatching(/^check: .*bad\.yaml: objective: 'lots' is not a ratio/), expect.stringMatching(/^check: .*bad\.yaml: .*Unrecognized key: "extra"/)]);
    expect(await runCheckCli(['exercise-9', 'x.yaml'], out)).toBe(2);
    expect(lines.at(-1)).toBe('check: unknown exercise \'exercise-9\' (one of exercise-1, exercise-2, exercise-3, exercise-4, exercise-5)');
    expect(await runCheckCli(['exercise-1'], out)).toBe(2);
    expect(lines.at(-1)).toMatch(/^usage: node slo\/workshop\/check\.ts/);
    expect(await runCheckCli(['exercise-1', join(dir, 'missing.yaml')], out)).toBe(2);
  });
});
