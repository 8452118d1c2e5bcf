// Running Prometheus' own tools over the generated artefacts: `promtool check
// rules`, `promtool test rules` and `amtool check-config`. The generator
// cannot prove its PromQL right by itself; these can. Each tool is looked up
// on PATH, and a missing tool is reported as such (the tests skip with a
// visible message, the CLI says which package to install).

import { execFile } from 'node:child_process';
import { access, constants, readdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { ALERTMANAGER_FILE, RULES_DIR, TESTS_DIR } from './generate.ts';

export interface ToolRun {
  tool: string;
  args: string[];
  ok: boolean;
  exitCode: number | null;
  output: string;
  durationMs: number;
}

export type ToolName = 'promtool' | 'amtool' | 'prometheus' | 'prometheus-alertmanager' | 'alertmanager' | 'setpriv';

/** Debian packages that provide each tool, for the message when one is missing. */
export const TOOL_PACKAGE: Readonly<Record<ToolName, string>> = {
  promtool: 'prometheus',
  prometheus: 'prometheus',
  amtool: 'prometheus-alertmanager',
  'prometheus-alertmanager': 'prometheus-alertmanager',
  alertmanager: 'prometheus-alertmanager',
  setpriv: 'util-linux',
};

/** The tool's absolute path on PATH, or undefined. */
export async function findTool(name: ToolName, path = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

export function runTool(tool: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<ToolRun> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(tool, args, { cwd: options.cwd, timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const exitCode = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ tool, args, ok: error === null, exitCode, output: `${stdout}${stderr}`, durationMs: performance.now() - started });
    });
  });
}

async function yamlFiles(dir: string, suffix = '.yaml'): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith(suffix)).sort().map((f) => join(dir, f));
}

/** `promtool check rules` over every rule file of a generated folder. Clean means exit 0 and no warning. */
export async function promtoolCheckRules(promtool: string, outDir: string): Promise<ToolRun & { clean: boolean }> {
  const run = await runTool(promtool, ['check', 'rules', ...(await yamlFiles(join(outDir, RULES_DIR)))]);
  return { ...run, clean: run.ok && !/warning/i.test(run.output) };
}

/** `promtool test rules` over every test file of a generated folder (or the ones given). */
export async function promtoolTestRules(promtool: string, outDir: string, files?: string[]): Promise<ToolRun> {
  return runTool(promtool, ['test', 'rules', ...(files ?? (await yamlFiles(join(outDir, TESTS_DIR), '.test.yaml')))], { cwd: outDir, timeoutMs: 300_000 });
}

export async function amtoolCheckConfig(amtool: string, outDir: string): Promise<ToolRun> {
  return runTool(amtool, ['check-config', join(outDir, ALERTMANAGER_FILE)]);
}
