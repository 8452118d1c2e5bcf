// .github/workflows/scenarios.yml cannot run here (no GitHub runner): its
// structure is checked instead. The matrix lists exactly the scenarios of
// scenarios/, in both modes; every `faultline` command and flag it runs exists
// in the CLI (asked through `faultline run --help`, which starts nothing); the
// artefact it uploads is the --runs-dir the runs write to; the shell parses.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { listScenarioFiles, loadScenario } from '../runner/scenario.ts';

const ROOT = join(import.meta.dirname, '..');
const FILE = join(ROOT, '.github', 'workflows', 'scenarios.yml');

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
}
interface Job {
  'runs-on': string;
  'timeout-minutes'?: number;
  strategy?: { 'fail-fast'?: boolean; matrix: Record<string, unknown[]> };
  env?: Record<string, string>;
  steps: Step[];
}
const workflow = parse(readFileSync(FILE, 'utf8')) as { name: string; on: unknown; jobs: Record<string, Job> };
const jobs = Object.entries(workflow.jobs);
const job = workflow.jobs.scenario as Job;

/** A step's shell with the workflow's expressions filled in as a runner would for one matrix cell. */
function shell(step: Step, cell: Record<string, string>, env: Record<string, string>): string {
  return (step.run ?? '')
    .replace(/\$\{\{\s*matrix\.(\w+)\s*\}\}/g, (_, key: string) => cell[key] ?? '')
    .replace(/\$\{\{[^}]*\}\}/g, 'x')
    .replace(/\$(\w+)|\$\{(\w+)\}/g, (whole, a: string | undefined, b: string | undefined) => env[(a ?? b) as string] ?? whole);
}

/** Words of a command line, quotes removed (the workflow's commands need no more). */
const words = (line: string) => [...line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');

describe('.github/workflows/scenarios.yml', () => {
  it('is a GitHub Actions workflow: triggers, jobs with a runner and a time limit, steps that run or use a pinned action, shell that parses', () => {
    expect(workflow.name).toBe('scenarios');
    expect(workflow.on).toBeDefined();
    expect(jobs.length).toBeGreaterThan(0);
    for (const [name, each] of jobs) {
      expect(each['runs-on'], name).toBeTypeOf('string');
      expect(each['timeout-minutes'], `${name}: a time limit`).toBeGreaterThan(0);
      for (const step of each.steps) {
        expect(Number(step.run !== undefined) + Number(step.uses !== undefined), `${name}: ${step.name ?? '?'} runs or uses`).toBe(1);
        if (step.uses !== undefined) expect(step.uses).toMatch(/^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@(v\d+(\.\d+){0,2}|[a-f0-9]{40})$/);
        if (step.run !== undefined) {
          const check = spawnSync('bash', ['-n'], { input: shell(step, { scenario: 'payment-outage', mode: 'with' }, {}), encoding: 'utf8' });
          expect(check.status, `${name}: ${step.name ?? '?'}: bash -n: ${check.stderr}`).toBe(0);
        }
      }
    }
  });

  it('has a matrix of exactly the scenarios in scenarios/, each with and without its pattern, and every one can run without', async () => {
    const files = await listScenarioFiles();
    const names = files.map((file) => basename(file, '.yaml')).sort();
    expect([...(job.strategy?.matrix.scenario as string[])].sort()).toEqual(names);
    expect(job.strategy?.matrix.mode).toEqual(['with', 'without']);
    expect(job.strategy?.['fail-fast']).toBe(false);
    for (const file of files) expect((await loadScenario(file)).without?.length, file).toBeGreaterThan(0);
  });

  it('installs as .ci/run does: the Debian packages a run uses, then npm ci', () => {
    const ciRun = readFileSync(join(ROOT, '.ci', 'run'), 'utf8');
    const script = job.steps.map((step) => step.run ?? '').join('\n');
    for (const pkg of ['prometheus', 'prometheus-alertmanager']) {
      expect(ciRun, `.ci/run installs ${pkg}`).toContain(`:${pkg}`);
      expect(script).toMatch(new RegExp(`apt-get install [^\\n]*\\b${pkg}(\\s|$)`));
    }
    expect(script).toContain('npm ci');
    expect(script.indexOf('npm ci')).toBeLessThan(script.indexOf('npx faultline'));
  });

  it('runs each mode with a command the CLI has, every flag one `faultline run` accepts, and uploads the --runs-dir', () => {
    const help = spawnSync(join(ROOT, 'node_modules', '.bin', 'node'), [join(ROOT, 'scripts', 'faultline.js'), 'run', '--help'], { encoding: 'utf8', cwd: ROOT });
    expect(help.status, help.stderr).toBe(0);
    const accepted = new Set([...help.stdout.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]));
    const env = job.env ?? {};
    const runsDirs = new Set<string>();
    for (const mode of ['with', 'without']) {
      const steps = job.steps.filter((step) => step.run?.includes('npx faultline') && step.if?.includes(`'${mode}'`));
      expect(steps, mode).toHaveLength(1);
      for (const line of shell(steps[0] as Step, { scenario: 'payment-outage', mode }, env).split('\n').filter((l) => l.includes('npx faultline'))) {
        const [npx, cli, command, scenario, ...rest] = words(line.trim());
        expect([npx, cli, command, scenario]).toEqual(['npx', 'faultline', 'run', 'payment-outage']);
        for (const flag of rest.filter((word) => word.startsWith('--'))) expect(accepted.has(flag), `${line}: ${flag}`).toBe(true);
        expect(rest.includes('--without'), line).toBe(mode === 'without');
        const at = rest.indexOf('--runs-dir');
        expect(at, `${line}: writes its runs where the upload looks`).toBeGreaterThanOrEqual(0);
        runsDirs.add((rest[at + 1] as string).replace(/\/$/, ''));
      }
    }
    const upload = job.steps.find((step) => step.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.if).toBe('always()');
    expect([...runsDirs]).toEqual([String(upload?.with?.path).replace(/\/$/, '')]);
    expect(String(upload?.with?.name)).toContain('${{ matrix.scenario }}');
    expect(String(upload?.with?.name)).toContain('${{ matrix.mode }}');
  });
});
