import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { verifyBearer } from '../../demo-services/kit/jwt.ts';
import { parseExecutorConfig } from '../executors/index.ts';
import { generateK6Scripts, K6_SCRIPTS_DIR, K6GenerateError, k6Scenario, NOT_K6_SCRIPTS, scenarioScript, splitStagesByPhase, staleK6Scripts } from './generate.ts';
import { signToken } from './lib/token.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

const nodeCrypto = {
  base64url: (text: string) => Buffer.from(text, 'utf8').toString('base64url'),
  hmacSha256: (secret: string, input: string) => createHmac('sha256', secret).update(input).digest('base64url'),
};

describe('a ramping arrival rate split by phase', () => {
  it('cuts the ramp where the phases meet, at the rate it has there, so each phase runs the same ramp', () => {
    const parts = splitStagesByPhase(2, [{ target: 2, duration: 4_000 }, { target: 12, duration: 2_000 }, { target: 12, duration: 6_000 }], [
      { name: 'baseline', durationMs: 5_000 },
      { name: 'peak', durationMs: 7_000 },
    ]);
    expect(parts).toEqual([
      { phase: 'baseline', startMs: 0, startRate: 2, stages: [{ target: 2, duration: 4_000 }, { target: 7, duration: 1_000 }] },
      { phase: 'peak', startMs: 5_000, startRate: 7, stages: [{ target: 12, duration: 1_000 }, { target: 12, duration: 6_000 }] },
    ]);
  });

  it('holds the last rate when the phases outlast the stages', () => {
    expect(splitStagesByPhase(3, [{ target: 5, duration: 1_000 }], [{ name: 'only', durationMs: 3_000 }])).toEqual([
      { phase: 'only', startMs: 0, startRate: 3, stages: [{ target: 5, duration: 1_000 }, { target: 5, duration: 2_000 }] },
    ]);
  });
});

describe('k6 scripts', () => {
  it('are generated from the scenarios and the committed ones are fresh (run node load/k6/generate.ts if not)', async () => {
    const scripts = await generateK6Scripts();
    expect(await staleK6Scripts(scripts)).toEqual([]);
    const onDisk = (await readdir(K6_SCRIPTS_DIR)).filter((f) => f.endsWith('.ts') && !NOT_K6_SCRIPTS.includes(f)).map((f) => join(K6_SCRIPTS_DIR, f));
    expect(onDisk.sort()).toEqual([...scripts.keys()].sort());
  });

  it('type-check against @types/k6 with their own tsconfig', async () => {
    await expect(run(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(ROOT, 'load', 'k6', 'tsconfig.json')], { cwd: ROOT })).resolves.toBeDefined();
  }, 60_000);

  it('build-k6.sh is valid bash', async () => {
    await expect(run('bash', ['-n', join(ROOT, 'load', 'k6', 'build-k6.sh')])).resolves.toBeDefined();
  });

  it('sign tokens the gateway accepts', async () => {
    const now = Math.floor(Date.now() / 1_000);
    const token = signToken(nodeCrypto, 'a-lab-secret-of-some-length', 'user-7', now);
    await expect(verifyBearer('a-lab-secret-of-some-length', `Bearer ${token}`)).resolves.toBe('user-7');
    await expect(verifyBearer('another-secret-entirely-here', `Bearer ${token}`)).rejects.toThrow(/signature/);
  });

  it('split a constant-arrival-rate scenario by phase and tag phase-bound thresholds', () => {
    const script = scenarioScript('x.yaml', {
      name: 'x',
      seed: 3,
      phases: [
        { name: 'warm', duration: '2s' },
        { name: 'hot', duration: '3s' },
      ],
      load: { executor: 'constant-arrival-rate', journeys: { browse: 3, cart: 1 }, thinkTime: { min: '1s', max: '2s' }, rate: 2.5, preAllocatedVUs: 5, requestTimeout: '2s' },
      expectations: [
        { type: 'threshold', name: 'fast', metric: 'http_req_duration', threshold: 'p(95)<300', during: 'hot' },
        { type: 'threshold', name: 'failed fast', metric: 'http_req_duration', threshold: 'p(95)<50', filter: { failed: true } },
        { type: 'circuit', name: 'breaker' },
      ],
    });
    expect(script).toContain('"startTime": "2000ms"');
    expect(script).toContain('"http_req_duration{phase:hot}": [\n      "p(95)<300"');
    expect(script).toContain('"http_req_duration{expected_response:false}"');
    // k6 wants whole rates: 2.5/s becomes 2500 per 1000 s.
    expect(script).toContain('"rate": 2500');
    expect(script).toContain('"timeUnit": "1000000ms"');
    expect(script).toMatch(/"weights": \{\s*"browse": 3,\s*"cart": 1\s*\}/);
    expect(script).toMatch(/"thinkTime": \{\s*"min": 1000,\s*"max": 2000\s*\}/);
    expect(script).toContain('//   - breaker (a circuit expectation');
  });

  it('give named clients their tag and every client stream one k6 scenario per phase, running its own function', () => {
    const script = scenarioScript('x.yaml', {
      name: 'x',
      seed: 3,
      phases: [
        { name: 'calm', duration: '2s' },
        { name: 'spike', duration: '3s' },
      ],
      load: {
        executor: 'constant-arrival-rate',
        journey: 'browse',
        rate: 2,
        preAllocatedVUs: 5,
        clients: { name: 'quiet', count: 4 },
        streams: [{ name: 'noisy-few', clients: 2, rate: 0, rates: { spike: 10 }, maxVUs: 30 }],
      },
      expectations: [
        { type: 'threshold', name: 'quiet fine', metric: 'http_req_failed', threshold: 'rate<0.01', during: 'spike', filter: { client: 'quiet' } },
        { type: 'threshold', name: 'none early', metric: 'requests_before_retry_after', threshold: 'count==0' },
      ],
    });
    expect(script).toMatch(/"spike": \{[^}]*"tags": \{\s*"phase": "spike",\s*"client": "quiet"/);
    // A phase at rate 0 has no scenario.
    expect(script).not.toContain('"noisy-few-calm"');
    expect(script).toMatch(/"noisy-few-spike": \{[^}]*"rate": 10,[^}]*"maxVUs": 30,[^}]*"startTime": "2000ms",\s*"exec": "noisyFewStream"/);
    expect(script).toContain('"http_req_failed{phase:spike,client:quiet}"');
    expect(script).toContain('//   - none early (requests_before_retry_after: counted by the lab');
    expect(script).toMatch(/const noisyFewStreamMix: ShopMix = \{[\s\S]*"clients": \{\s*"group": "noisy-few",\s*"count": 2/);
    expect(script).toContain('export function noisyFewStream(data: RunData): void {');
  });

  it('turn a named shape into whole-number k6 stages', () => {
    const config = parseExecutorConfig({ executor: 'ramping-arrival-rate', shape: { name: 'diurnal', peakRate: 7, duration: '24s' }, preAllocatedVUs: 2 });
    const scenario = k6Scenario(config) as { stages: Array<{ target: number; duration: string }>; timeUnit: string };
    expect(scenario.timeUnit).toBe('1000ms');
    expect(scenario.stages.every((s) => Number.isInteger(s.target))).toBe(true);
    expect(scenario.stages.reduce((sum, s) => sum + Number.parseInt(s.duration, 10), 0)).toBe(24_000);
  });

  it('name every bad path of a scenario they cannot be generated from', () => {
    const generate = () =>
      scenarioScript('bad.yaml', {
        name: 'bad',
        phases: [{ name: 'p', duration: 'long' }],
        load: { executor: 'constant-arrival-rate', journeys: { brwse: 1 }, rate: 1 },
        expectations: [],
      });
    expect(generate).toThrow(K6GenerateError);
    const problems = (() => {
      try {
        generate();
      } catch (error) {
        return (error as K6GenerateError).problems.join('\n');
      }
      return '';
    })();
    expect(problems).toMatch(/phases\.0\.duration/);
    expect(problems).toMatch(/load\.preAllocatedVUs/);
    expect(problems).toMatch(/load\.journeys.*brwse/);
  });
});
