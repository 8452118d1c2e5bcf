// The headline scenario end to end, through the real CLI: it passes, writes its
// run record, and a checkout trace crosses all four services with correct
// parent links. Durations are shortened with --time-scale.

import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { groupByTrace, readSpans } from '../../collector/trace-query.ts';
import { instanceNames, JOURNEY_SERVICES, servicesFor } from '../../runner/topology.ts';
import { isAlive, runCli, startedPids } from './cli.ts';

describe('faultline run payment-outage', () => {
  let runsDir: string;
  afterAll(async () => {
    if (runsDir) await rm(runsDir, { recursive: true, force: true });
  });

  it('passes, writes its record, and leaves no process behind', { timeout: 150_000 }, async () => {
    runsDir = await mkdtemp(join(tmpdir(), 'faultline-e2e-'));
    const result = await runCli(['run', 'payment-outage', '--time-scale', '0.5', '--runs-dir', runsDir]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/breaker (open|half_open)/);
    expect(result.stdout, result.stdout).toContain('PASS: payment-outage, 6/6 expectations held');
    expect(result.code).toBe(0);

    const [id] = await readdir(runsDir);
    const runDir = join(runsDir, id as string);
    for (const file of ['summary.json', 'junit.xml', 'traces.jsonl', 'faults.jsonl', 'processes.json']) {
      expect((await stat(join(runDir, file))).size, file).toBeGreaterThan(0);
    }
    const logs = await readdir(join(runDir, 'logs'));
    const processes = ['collector', 'chaos', ...[...servicesFor(JOURNEY_SERVICES.checkout ?? [])].flatMap((service) => instanceNames(service))];
    expect(logs.sort()).toEqual(processes.map((name) => `${name}.jsonl`).sort());
    const checkoutLog = (await readFile(join(runDir, 'logs', 'checkout.jsonl'), 'utf8')).split('\n').find((line) => line.includes('order confirmed'));
    expect(JSON.parse(checkoutLog as string)).toMatchObject({ service: 'checkout', trace_id: expect.stringMatching(/^[0-9a-f]{32}$/), span_id: expect.stringMatching(/^[0-9a-f]{16}$/) });

    const summary = JSON.parse(await readFile(join(runDir, 'summary.json'), 'utf8'));
    expect(summary.verdict).toBe('pass');
    expect(summary.expectations).toHaveLength(6);
    expect(summary.books).toMatchObject({ ok: true, violations: [] });
    expect(summary.books.orders.confirmed).toBeGreaterThan(0);
    expect(summary.books.orders.compensated).toBeGreaterThan(0);
    const junit = await readFile(join(runDir, 'junit.xml'), 'utf8');
    expect(junit).toContain('tests="6" failures="0"');
    expect(junit.match(/<testcase /g)).toHaveLength(6);
    const faults = (await readFile(join(runDir, 'faults.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    expect(faults.map((f) => f.action)).toEqual(['apply', 'remove']);

    // One successful checkout trace holds spans from all four services, each parent present.
    const traces = groupByTrace(await readSpans(join(runDir, 'traces.jsonl')));
    const complete = [...traces.values()].find((spans) => {
      const services = new Set(spans.map((s) => s.service));
      return ['gateway', 'checkout', 'payment', 'bank'].every((name) => services.has(name));
    });
    expect(complete, 'a trace spanning gateway, checkout, payment and bank').toBeDefined();
    const spans = complete!;
    const ids = new Set(spans.map((s) => s.spanId));
    const roots = spans.filter((s) => !s.parentSpanId);
    expect(roots).toHaveLength(1);
    expect(roots[0]?.service).toBe('gateway');
    for (const span of spans) if (span.parentSpanId) expect(ids.has(span.parentSpanId), `parent of ${span.service} ${span.name}`).toBe(true);
    // The bank's server span descends from payment's client span, which descends from checkout's.
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const bankServer = spans.find((s) => s.service === 'bank' && s.kind === 2)!;
    const chain: string[] = [];
    for (let span: (typeof spans)[number] | undefined = bankServer; span; span = span.parentSpanId ? byId.get(span.parentSpanId) : undefined) chain.push(span.service);
    expect([...new Set(chain)]).toEqual(['bank', 'payment', 'checkout', 'gateway']);

    for (const pid of await startedPids(runDir)) expect(isAlive(pid), `process ${pid} still running`).toBe(false);
  });
});
