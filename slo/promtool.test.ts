// Prometheus' own tools over the committed artefacts: the rules parse and lint
// clean, every SLO's generated stories pass `promtool test rules` at both time
// scales, a rule broken on purpose fails them, and Alertmanager accepts its
// configuration. Skipped, with a message saying which package to install,
// where the tools are missing (CI installs them).

import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMITTED_TIME_SCALES, defaultOutDir, RULES_DIR, TESTS_DIR } from './generate.ts';
import { amtoolCheckConfig, findTool, promtoolCheckRules, promtoolTestRules, TOOL_PACKAGE } from './tools.ts';

const promtool = await findTool('promtool');
const amtool = await findTool('amtool');
if (promtool === undefined) console.warn(`SKIPPED: promtool is not on PATH (apt-get install ${TOOL_PACKAGE.promtool}); the SLO rules are not checked by Prometheus here.`);
if (amtool === undefined) console.warn(`SKIPPED: amtool is not on PATH (apt-get install ${TOOL_PACKAGE.amtool}); the Alertmanager configuration is not checked here.`);

describe.skipIf(promtool === undefined)('promtool', () => {
  const tool = promtool as string;

  it.each(COMMITTED_TIME_SCALES.map((s) => [s]))('checks the rules at time scale %i clean', async (timeScale) => {
    const result = await promtoolCheckRules(tool, defaultOutDir(timeScale));
    expect(result.output).toMatch(/SUCCESS: 21 rules found/);
    // The telemetry-loss alert, beside the SLO rules.
    expect(result.output).toMatch(/telemetry-alerts\.yaml\n\s+SUCCESS: 1 rules found/);
    expect(result.clean, result.output).toBe(true);
  });

  it('passes every generated story of every SLO, at real time and at the lab scale', async () => {
    const runs = await Promise.all(COMMITTED_TIME_SCALES.map((timeScale) => promtoolTestRules(tool, defaultOutDir(timeScale))));
    for (const run of runs) {
      expect(run.ok, run.output).toBe(true);
      expect(run.output.match(/SUCCESS/g)?.length).toBe(12);
    }
  }, 180_000);

  describe('on a rule broken on purpose', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'slo-promtool-'));
      await cp(defaultOutDir(1), dir, { recursive: true });
      const rules = join(dir, RULES_DIR, 'checkout-availability.yaml');
      // The 1h/5m page at 60x instead of 14.4x: it would page minutes later than the arithmetic says.
      await writeFile(rules, (await readFile(rules, 'utf8')).replaceAll('(14.4 * 0.001)', '(60 * 0.001)'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('fails the generated stories', async () => {
      const run = await promtoolTestRules(tool, dir, [join(dir, TESTS_DIR, 'checkout-availability.test.yaml')]);
      expect(run.ok).toBe(false);
      expect(run.output).toMatch(/FAILED/);
    }, 60_000);
  });
});

describe.skipIf(amtool === undefined)('amtool', () => {
  it.each(COMMITTED_TIME_SCALES.map((s) => [s]))('accepts the Alertmanager configuration at time scale %i', async (timeScale) => {
    const result = await amtoolCheckConfig(amtool as string, defaultOutDir(timeScale));
    expect(result.ok, result.output).toBe(true);
    expect(result.output).toMatch(/1 inhibit rules/);
  });
});
