// Writes a scenario's Chaos Mesh export as files, one manifest per file:
// `<outDir>/<scenario>/workflow.yaml` (or schedule.yaml) and one
// `<kind>-<fault>.yaml` per fault, each with a header saying where it came
// from and what it only approximates. Files of an earlier export that the new
// one no longer has are removed, so the folder is always one export.
// Rendering the files is pure (renderChaosMeshFiles), for the staleness test.
//
// Also a script: `node chaos/chaos-mesh/write.ts <scenario> [outDir]`
// regenerates the committed export (default outDir: chaos/chaos-mesh/generated).

import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ChaosMeshExport, type ChaosMeshOptions, exportChaosMesh, manifestYaml } from './export.ts';
import type { ChaosMeshScenario } from './faults.ts';
import { loadScenarioForExport, SCENARIO_DIR } from './scenario-file.ts';

export const GENERATED_DIR = fileURLToPath(new URL('./generated/', import.meta.url));

export interface WriteChaosMeshOptions extends ChaosMeshOptions {
  /** Where scenario names are looked up; default scenarios/. */
  scenarioDir?: string;
  /** Load the scenario another way, e.g. the runner's loadScenario followed by fromScenario. */
  load?: (scenarioName: string) => Promise<ChaosMeshScenario>;
}

export interface ChaosMeshFiles {
  /** The folder written: `<outDir>/<scenario name>`. */
  dir: string;
  /** File names written in it, sorted. */
  files: string[];
  warnings: string[];
}

/** File name -> content of an export; pure. */
export function renderChaosMeshFiles(scenario: ChaosMeshScenario, result: ChaosMeshExport): Map<string, string> {
  const files = new Map<string, string>();
  const origin = scenario.source === undefined ? `scenario ${scenario.name}` : scenario.source;
  for (const manifest of result.manifests) {
    const orchestrates = manifest.kind === 'Workflow' || manifest.kind === 'Schedule';
    const fault = manifest.metadata.labels['faultline.dev/fault'];
    const file = orchestrates ? `${manifest.kind.toLowerCase()}.yaml` : `${manifest.kind.toLowerCase()}-${fault}.yaml`;
    const approximation = manifest.metadata.annotations?.['faultline.dev/approximation'];
    const header = [
      `Generated from ${origin} by \`faultline chaos export ${scenario.name}\` (chaos/chaos-mesh/write.ts); do not edit.`,
      orchestrates ? `Replays the scenario's fault timeline; apply with: kubectl apply -f ${file}` : `One fault of the scenario on its own: kubectl apply -f ${file}`,
      ...(orchestrates ? result.warnings : (approximation ?? '').split('\n').filter((line) => line !== '')).map((line) => `Approximation: ${line}`),
    ];
    files.set(file, manifestYaml(manifest, header));
  }
  return files;
}

/** Export a scenario (by name or path) to `<outDir>/<scenario>/`. */
export async function writeChaosMeshExport(scenarioName: string, outDir: string, options: WriteChaosMeshOptions = {}): Promise<ChaosMeshFiles> {
  const scenario = options.load ? await options.load(scenarioName) : await loadScenarioForExport(scenarioName, options.scenarioDir ?? SCENARIO_DIR);
  const result = exportChaosMesh(scenario, options);
  const files = renderChaosMeshFiles(scenario, result);
  const dir = join(outDir, scenario.name);
  await mkdir(dir, { recursive: true });
  for (const stale of await readdir(dir)) {
    if (stale.endsWith('.yaml') && !files.has(stale)) await rm(join(dir, stale));
  }
  for (const [file, content] of files) await writeFile(join(dir, file), content);
  return { dir, files: [...files.keys()].sort(), warnings: result.warnings };
}

if (import.meta.main) {
  const [scenario, outDir = GENERATED_DIR] = process.argv.slice(2);
  if (scenario === undefined) {
    process.stderr.write('usage: node chaos/chaos-mesh/write.ts <scenario> [outDir]\n');
    process.exitCode = 2;
  } else {
    try {
      const written = await writeChaosMeshExport(scenario, outDir);
      process.stdout.write(`${written.files.map((file) => join(written.dir, file)).join('\n')}\n`);
      for (const warning of written.warnings) process.stderr.write(`approximation: ${warning}\n`);
    } catch (error) {
      process.stderr.write(`${(error as Error).message}\n`);
      process.exitCode = 1;
    }
  }
}
