import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMITTED_TIME_SCALES, defaultOutDir, generateSloArtifacts, renderSloArtifacts, runGenerateCli } from './generate.ts';
import { loadSloSpecs, SLO_ROOT } from './spec.ts';

const run = promisify(execFile);

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) out.push(...(await listFiles(join(dir, entry.name), `${prefix}${entry.name}/`)));
    else out.push(`${prefix}${entry.name}`);
  }
  return out.sort();
}

describe('the committed artefacts', () => {
  it.each(COMMITTED_TIME_SCALES.map((scale) => [scale]))('at time scale %i are what the specs generate (run `node slo/generate.ts --all` if not)', async (timeScale) => {
    const rendered = renderSloArtifacts(await loadSloSpecs(), { timeScale });
    const dir = defaultOutDir(timeScale);
    expect(await listFiles(dir)).toEqual([...rendered.files.keys()].sort());
    for (const [path, content] of rendered.files) expect(await readFile(join(dir, path), 'utf8'), path).toBe(content);
    expect(rendered.warnings).toEqual([]);
  });
});

describe('generateSloArtifacts', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slo-generate-'));
    await mkdir(join(dir, 'specs'));
    await writeFile(
      join(dir, 'specs', 'loose.yaml'),
      'apiVersion: faultline/v1\nkind: SLO\nservice: shop\nname: loose\ndescription: d\nobjective: 90%\nwindow: 30d\nsli: { availability: { job: checkout } }\n',
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes rules, Alertmanager config and promtool tests, and prints and returns warnings', async () => {
    const lines: string[] = [];
    const out = join(dir, 'out');
    await mkdir(join(out, 'tests'), { recursive: true });
    await writeFile(join(out, 'tests', 'gone.test.yaml'), 'stale');
    const result = await generateSloArtifacts({ specsDir: join(dir, 'specs'), outDir: out, timeScale: 100, webhookUrl: 'http://127.0.0.1:7777/alerts', log: (l) => lines.push(l) });
    expect(await listFiles(out)).toEqual(['alertmanager.yaml', 'prometheus-operator/shop-loose.yaml', 'prometheus-operator/telemetry-alerts.yaml', 'rules/shop-loose.yaml', 'rules/telemetry-alerts.yaml', 'tests/shop-loose.days.test.yaml', 'tests/shop-loose.test.yaml']);
    expect(await readFile(join(out, 'alertmanager.yaml'), 'utf8')).toContain('url: http://127.0.0.1:7777/alerts');
    expect(result.slos).toEqual(['shop-loose']);
    expect(result.warnings).toEqual([expect.stringMatching(/^shop-loose: tier page-1h can never fire/)]);
    expect(lines).toEqual([`warning: ${result.warnings[0]}`]);
  });
});

describe('the CLI', () => {
  it('reports bad options in one line each and exits 2', async () => {
    const lines: string[] = [];
    expect(await runGenerateCli(['--time-scale', '0.5'], (l) => lines.push(l))).toBe(2);
    expect(await runGenerateCli(['--frobnicate'], (l) => lines.push(l))).toBe(2);
    expect(await runGenerateCli(['--all', '--time-scale', '5'], (l) => lines.push(l))).toBe(2);
    expect(await runGenerateCli(['--time-scale', '10', '--evaluation-interval', 'soon'], (l) => lines.push(l))).toBe(2);
    expect(await runGenerateCli(['--specs-dir', '/nonexistent/specs'], (l) => lines.push(l))).toBe(2);
    expect(await runGenerateCli(['--alert-style', 'three'], (l) => lines.push(l))).toBe(2);
    expect(lines).toEqual([
      "slo generate: --time-scale: must be a number >= 1 (got '0.5')",
      expect.stringMatching(/^slo generate: Unknown option '--frobnicate'/),
      'slo generate: --all writes the committed scales; it takes no --time-scale or --out-dir',
      expect.stringMatching(/^slo generate: --evaluation-interval: invalid duration "soon"/),
      'slo generate: no SLO spec folder at /nonexistent/specs',
      "slo generate: --alert-style: must be one of tiers, sloth (got 'three')",
    ]);
  });

  it('runs as a script', async () => {
    const out = await mkdtemp(join(tmpdir(), 'slo-cli-'));
    try {
      const { stdout } = await run(process.execPath, [join(SLO_ROOT, 'generate.ts'), '--time-scale', '60', '--out-dir', out]);
      expect(stdout).toMatch(/^slo generate: 6 SLOs at time scale 60 -> .* \(27 files, 0 warnings\)\n$/);
      expect(await readFile(join(out, 'rules', 'checkout-availability.yaml'), 'utf8')).toContain('[5s]');
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
