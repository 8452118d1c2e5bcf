// Reads a scenario file (scenarios/<name>.yaml) for the Chaos Mesh exporter.
// The runner owns the scenario format and its full validation; the chaos
// parts must not import the runner (lint keeps lab parts independent of it),
// so this reads only what the export needs (phases and faults, with the
// format's duration and ratio spellings from the kit) and lets fromScenario
// map it. A lead who prefers the runner's own loader passes it to
// writeChaosMeshExport as `load`.

import { readdir, readFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { durationMs, ratio } from '../../demo-services/kit/schema.ts';
import { InvalidSpecError, NotFoundError } from '../errors.ts';
import { parseWith } from '../fault-spec.ts';
import { flattenFaultSteps } from '../fault-workflow.ts';
import { type ChaosMeshScenario, fromScenario, type ScenarioLike } from './faults.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SCENARIO_DIR = join(PROJECT_ROOT, 'scenarios');

const faultEntrySchema = z.looseObject({
  type: z.string(),
  /** Suspend steps have none. */
  name: z.string().optional(),
  edge: z.string().optional(),
  target: z.string().optional(),
  action: z.string().optional(),
  attributes: z.record(z.string(), z.unknown()).optional(),
  phase: z.string().optional(),
  at: durationMs.optional(),
  duration: durationMs.optional(),
  status: z.int().optional(),
  rate: ratio.optional(),
  latency: durationMs.optional(),
  jitter: durationMs.optional(),
  toxicity: ratio.optional(),
  stream: z.string().optional(),
  a: z.array(z.string()).optional(),
  b: z.array(z.string()).optional(),
  mode: z.string().optional(),
  /** Serial and parallel groups (chaos/fault-workflow.ts). */
  get steps() {
    return z.array(faultEntrySchema).optional();
  },
});

const scenarioFileSchema = z.looseObject({
  name: z.string(),
  phases: z.array(z.looseObject({ name: z.string(), duration: durationMs })).min(1),
  faults: z.array(faultEntrySchema).default([]),
});

/** Load `scenarios/<name>.yaml` (or a path to a YAML file) as exporter input. */
export async function loadScenarioForExport(nameOrPath: string, scenarioDir = SCENARIO_DIR): Promise<ChaosMeshScenario> {
  const path = /[/\\]|\.ya?ml$/.test(nameOrPath) ? nameOrPath : join(scenarioDir, `${nameOrPath}.yaml`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    const known = (await readdir(scenarioDir).catch(() => [] as string[])).filter((file) => file.endsWith('.yaml')).map((file) => basename(file, '.yaml'));
    throw new NotFoundError(`no scenario '${nameOrPath}' (known: ${known.sort().join(', ') || 'none'})`);
  }
  const source = relative(PROJECT_ROOT, path).split('\\').join('/');
  try {
    const file = parseWith(scenarioFileSchema, parseYaml(text, { uniqueKeys: true }));
    // Groups laid flat on the run's clock, as the runner lays them; the tree becomes the Workflow's Serial/Parallel templates.
    const flat = flattenFaultSteps(file.faults, file.phases);
    if (flat.problems.length > 0) throw new InvalidSpecError(flat.problems);
    const faults = flat.faults.map((entry) => ({ ...entry.fault, name: entry.fault.name ?? '' }) as ScenarioLike['faults'][number]);
    return fromScenario({ ...file, faults }, source.startsWith('..') ? basename(path) : source, flat.workflow);
  } catch (error) {
    if (error instanceof InvalidSpecError) throw new InvalidSpecError([{ field: source, message: error.message }]);
    throw new InvalidSpecError([{ field: source, message: `not valid YAML (${(error as Error).message.split('\n')[0]})` }]);
  }
}
