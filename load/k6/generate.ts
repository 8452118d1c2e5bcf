// Generates the k6 scripts in load/k6/ from the lab's own
// definitions, so k6 users run the same load as `faultline run`:
// - one script per scenario (scenarios/*.yaml): its executor with k6's field
//   names (constant-arrival-rate split into one k6 scenario per phase, tagged
//   `phase`, so phase-bound thresholds keep their window), its journey mix and
//   think times, and its threshold expectations in k6's syntax; named clients
//   (`load.clients`) tag their requests `client`, and every client stream
//   (`load.streams`) becomes one constant-arrival-rate k6 scenario per phase,
//   at that phase's rate, running its own function over its own mix;
// - shape.ts: any traffic shape of load/shapes.ts with the journey mix, chosen
//   with -e SHAPE=spike -e PEAK=50 -e DURATION=2m.
// The journeys themselves are not copied: the scripts import
// load/journeys/definitions.ts through lib/shop.ts.
//
//   node load/k6/generate.ts          rewrite the scripts
//   node load/k6/generate.ts --check  exit 1 if a committed script is stale
//
// load/k6/k6.test.ts fails while a committed script differs from what this
// produces.

import { readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../../demo-services/kit/durations.ts';
import { parseExecutorConfig } from '../executors/index.ts';
import type { ExecutorConfig } from '../executors/index.ts';
import { JOURNEY_LOAD_KEYS, parseJourneyMix } from '../journeys/mix.ts';
import { shapeStages } from '../shapes.ts';
import { parseThreshold } from '../thresholds.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

/** The k6 entry points every generated script ends with: set the run up, then one lab iteration per k6 iteration. */
const ENTRY_POINTS = [
  'export function setup(): RunData {',
  '  return setupRun();',
  '}',
  '',
  'export default function (data: RunData): void {',
  '  runIteration(mix, data);',
  '}',
  '',
];
export const K6_SCRIPTS_DIR = HERE;
/** Files in load/k6/ that are not k6 scripts. */
export const NOT_K6_SCRIPTS = ['generate.ts', 'k6.test.ts'];
const PROJECT_ROOT = join(HERE, '..', '..');
export const SCENARIOS_DIR = join(PROJECT_ROOT, 'scenarios');

/** Thresholds of shape.ts (a shape has no scenario to take them from): the lab's usual health bar. */
export const SHAPE_THRESHOLDS: Readonly<Record<string, readonly string[]>> = {
  http_req_failed: ['rate<0.01'],
  'http_req_duration{journey:checkout}': ['p(95)<500'],
  'http_req_duration{journey:browse}': ['p(95)<200'],
  dropped_iterations: ['count==0'],
};

/** The default mix of shape.ts (override with -e JOURNEYS=browse:60,checkout:40). */
export const SHAPE_MIX = { browse: 60, recommendations: 20, cart: 15, checkout: 5 } as const;

export class K6GenerateError extends Error {
  readonly code = 'FL_K6_GENERATE';
  readonly problems: readonly string[];

  constructor(file: string, problems: readonly string[]) {
    super(`${file}: ${problems.join('; ')}`);
    this.name = 'K6GenerateError';
    this.problems = problems;
  }
}

interface ScenarioDocument {
  name?: unknown;
  seed?: unknown;
  phases?: Array<{ name?: unknown; duration?: unknown }>;
  load?: Record<string, unknown>;
  expectations?: Array<Record<string, unknown>>;
}

const ms = (value: number): string => `${Math.round(value)}ms`;

/** k6 wants integer rates: a fractional rate per timeUnit becomes an integer rate per a longer timeUnit. */
function integerRate(rate: number, timeUnitMs: number): { rate: number; timeUnit: string } {
  if (Number.isInteger(rate)) return { rate, timeUnit: ms(timeUnitMs) };
  return { rate: Math.round(rate * 1_000), timeUnit: ms(timeUnitMs * 1_000) };
}

/**
 * A ramping-arrival-rate's stages cut at the phases' boundaries: for each phase, the rate the ramp has
 * where the phase begins and the stages (whole or cut, with the rate at the cut) within it, so one k6
 * scenario per phase, started at the phase, runs the same ramp. Stages past the phases are dropped.
 */
export function splitStagesByPhase(
  startRate: number,
  stages: ReadonlyArray<{ target: number; duration: number }>,
  phases: ReadonlyArray<{ name: string; durationMs: number }>,
): Array<{ phase: string; startMs: number; startRate: number; stages: Array<{ target: number; duration: number }> }> {
  // The ramp as points (time, rate): linear between them.
  const points: Array<[number, number]> = [[0, startRate]];
  for (const stage of stages) {
    const [at] = points[points.length - 1] as [number, number];
    points.push([at + stage.duration, stage.target]);
  }
  const rateAt = (t: number): number => {
    for (let i = 1; i < points.length; i += 1) {
      const [t0, r0] = points[i - 1] as [number, number];
      const [t1, r1] = points[i] as [number, number];
      if (t <= t1) return t1 === t0 ? r1 : r0 + ((r1 - r0) * (t - t0)) / (t1 - t0);
    }
    return (points[points.length - 1] as [number, number])[1];
  };
  const parts: Array<{ phase: string; startMs: number; startRate: number; stages: Array<{ target: number; duration: number }> }> = [];
  let from = 0;
  for (const phase of phases) {
    const to = from + phase.durationMs;
    const inside = points.filter(([t]) => t > from && t < to).map(([t]) => t);
    const cuts = [...inside, to];
    let previous = from;
    const phaseStages = cuts.map((t) => {
      const stage = { target: rateAt(t), duration: t - previous };
      previous = t;
      return stage;
    });
    parts.push({ phase: phase.name, startMs: from, startRate: rateAt(from), stages: phaseStages.filter((stage) => stage.duration > 0) });
    from = to;
  }
  return parts;
}

/** One lab executor config as a k6 scenario (k6 field names; durations as '<n>ms'). */
export function k6Scenario(config: ExecutorConfig): Record<string, unknown> {
  switch (config.executor) {
    case 'constant-arrival-rate':
      return {
        executor: config.executor,
        ...integerRate(config.rate, config.timeUnit),
        duration: ms(config.duration),
        preAllocatedVUs: config.preAllocatedVUs,
        maxVUs: config.maxVUs ?? config.preAllocatedVUs,
        gracefulStop: ms(config.gracefulStop),
      };
    case 'ramping-arrival-rate': {
      // Shapes are rates per second; k6 stage targets are whole numbers.
      const shaped = config.shape ? shapeStages(config.shape.name, config.shape.peakRate, config.shape.duration) : undefined;
      const startRate = shaped?.startRate ?? config.startRate;
      const stages = shaped?.stages ?? config.stages ?? [];
      return {
        executor: config.executor,
        startRate: Math.round(startRate),
        timeUnit: shaped ? '1000ms' : ms(config.timeUnit),
        stages: stages.map((s) => ({ target: Math.round(s.target), duration: ms(s.duration) })),
        preAllocatedVUs: config.preAllocatedVUs,
        maxVUs: config.maxVUs ?? config.preAllocatedVUs,
        gracefulStop: ms(config.gracefulStop),
      };
    }
    case 'constant-vus':
      return { executor: config.executor, vus: config.vus, duration: ms(config.duration), gracefulStop: ms(config.gracefulStop) };
    case 'ramping-vus':
      return {
        executor: config.executor,
        startVUs: config.startVUs,
        stages: config.stages.map((s) => ({ target: s.target, duration: ms(s.duration) })),
        gracefulRampDown: ms(config.gracefulRampDown),
        gracefulStop: ms(config.gracefulStop),
      };
    case 'per-vu-iterations':
      return { executor: config.executor, vus: config.vus, iterations: config.iterations, maxDuration: ms(config.maxDuration), gracefulStop: ms(config.gracefulStop) };
  }
}

function stringify(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** The k6 script of one scenario document (raw YAML data), or K6GenerateError naming each bad path. */
export function scenarioScript(file: string, document: ScenarioDocument): string {
  const problems: string[] = [];
  const name = typeof document.name === 'string' ? document.name : basename(file, '.yaml');
  const phases = (document.phases ?? []).map((phase, i) => {
    try {
      return { name: String(phase.name), durationMs: parseDuration(phase.duration as string | number, `phases.${i}.duration`) };
    } catch (error) {
      problems.push((error as Error).message);
      return { name: String(phase.name), durationMs: 0 };
    }
  });
  const totalMs = phases.reduce((sum, p) => sum + p.durationMs, 0);
  const load = document.load ?? {};
  const executorKeys = Object.fromEntries(Object.entries(load).filter(([key]) => !(JOURNEY_LOAD_KEYS as readonly string[]).includes(key) && !['requestTimeout', 'clients', 'streams'].includes(key)));
  const fixedTime = executorKeys.executor === 'constant-arrival-rate' || executorKeys.executor === 'constant-vus';
  let config: ExecutorConfig | undefined;
  let mix: ReturnType<typeof parseJourneyMix> | undefined;
  try {
    config = parseExecutorConfig(fixedTime ? { duration: totalMs, ...executorKeys } : executorKeys, 'load');
  } catch (error) {
    problems.push(...((error as { problems?: string[] }).problems ?? [(error as Error).message]));
  }
  try {
    mix = parseJourneyMix(Object.fromEntries(JOURNEY_LOAD_KEYS.filter((key) => key in load).map((key) => [key, load[key]])), 'load');
  } catch (error) {
    problems.push(...((error as { problems?: string[] }).problems ?? [(error as Error).message]));
  }
  let requestTimeoutMs = 5_000;
  try {
    if (load.requestTimeout !== undefined) requestTimeoutMs = parseDuration(load.requestTimeout as string | number, 'load.requestTimeout');
  } catch (error) {
    problems.push((error as Error).message);
  }
  const clients = clientsOf(load.clients, 'load.clients', problems);
  const streams = streamsOf(load.streams, problems);
  if (config === undefined || mix === undefined || problems.length > 0) throw new K6GenerateError(file, problems);
  const clientTag = clients ? { client: clients.group } : {};

  // constant-arrival-rate, and ramping-arrival-rate given as stages: one k6 scenario per phase, so
  // thresholds can name a phase (a ramp is cut where the phases meet, at the rate it has there).
  const rampByPhase = config.executor === 'ramping-arrival-rate' && !config.shape ? splitStagesByPhase(config.startRate, config.stages ?? [], phases) : undefined;
  const perPhase = config.executor === 'constant-arrival-rate' || rampByPhase !== undefined;
  const scenarios: Record<string, Record<string, unknown>> = {};
  if (config.executor === 'constant-arrival-rate') {
    let startMs = 0;
    for (const phase of phases) {
      scenarios[phase.name] = { ...k6Scenario({ ...config, duration: phase.durationMs }), startTime: ms(startMs), tags: { phase: phase.name, ...clientTag } };
      startMs += phase.durationMs;
    }
  } else if (config.executor === 'ramping-arrival-rate' && rampByPhase) {
    for (const part of rampByPhase) {
      scenarios[part.phase] = { ...k6Scenario({ ...config, startRate: part.startRate, stages: part.stages }), startTime: ms(part.startMs), tags: { phase: part.phase, ...clientTag } };
    }
  } else {
    scenarios.load = clients ? { ...k6Scenario(config), tags: clientTag } : k6Scenario(config);
  }
  // Each stream: one k6 scenario per phase at the phase's rate (none where it is 0), all running the stream's function.
  const streamMixes: string[] = [];
  for (const stream of streams) {
    let startMs = 0;
    for (const phase of phases) {
      const rate = stream.rates[phase.name] ?? stream.rate;
      if (rate > 0) {
        scenarios[`${stream.name}-${phase.name}`] = {
          ...k6Scenario({ executor: 'constant-arrival-rate', rate, timeUnit: 1_000, duration: phase.durationMs, preAllocatedVUs: Math.min(10, stream.maxVUs), maxVUs: stream.maxVUs, gracefulStop: config.executor === 'per-vu-iterations' ? 5_000 : config.gracefulStop, arrivals: 'even', seed: 1 }),
          startTime: ms(startMs),
          exec: stream.exec,
          tags: { phase: phase.name, client: stream.name },
        };
      }
      startMs += phase.durationMs;
    }
    let streamMix: ReturnType<typeof parseJourneyMix> = mix;
    try {
      if (stream.journeys !== undefined || stream.journey !== undefined || stream.thinkTime !== undefined) {
        const own = { ...(stream.journey === undefined && stream.journeys === undefined ? { journeys: mix.weights } : { journey: stream.journey, journeys: stream.journeys }), thinkTime: stream.thinkTime ?? load.thinkTime };
        streamMix = parseJourneyMix(Object.fromEntries(Object.entries(own).filter(([, value]) => value !== undefined)), `load.streams.${stream.index}`);
      }
    } catch (error) {
      throw new K6GenerateError(file, (error as { problems?: string[] }).problems ?? [(error as Error).message]);
    }
    streamMixes.push(
      `const ${stream.exec}Mix: ShopMix = ${stringify({ weights: streamMix.weights, thinkTime: streamMix.thinkTime, seed: (typeof document.seed === 'number' ? document.seed : 1) + 100 * (stream.index + 1), skuCount: 20, requestTimeoutMs, clients: { group: stream.name, count: stream.clients } })};`,
      '',
      `/** The ${stream.name} stream's iterations. */`,
      `export function ${stream.exec}(data: RunData): void {`,
      `  runIteration(${stream.exec}Mix, data);`,
      '}',
      '',
    );
  }

  const thresholds: Record<string, string[]> = {};
  const notInK6: string[] = [];
  for (const [i, expectation] of (document.expectations ?? []).entries()) {
    const label = `${String(expectation.name ?? `expectations.${i}`)}`;
    if (expectation.type !== 'threshold') {
      notInK6.push(`${label} (a ${String(expectation.type)} expectation: needs the lab's own telemetry)`);
      continue;
    }
    const source = String(expectation.threshold);
    try {
      parseThreshold(source);
    } catch (error) {
      throw new K6GenerateError(file, [`expectations.${i}.threshold: ${(error as Error).message}`]);
    }
    const tags: string[] = [];
    const during = expectation.during;
    if (typeof during === 'string') {
      if (!perPhase) {
        notInK6.push(`${label} (over phase ${during}: only arrival-rate scripts of fixed rates or stages are split by phase)`);
        continue;
      }
      tags.push(`phase:${during}`);
    } else if (during !== undefined) {
      notInK6.push(`${label} (over a window k6 cannot see: ${JSON.stringify(during)})`);
      continue;
    }
    if (expectation.metric === 'deferred_requests' || expectation.metric === 'requests_before_retry_after') {
      notInK6.push(`${label} (${String(expectation.metric)}: counted by the lab's clients, which share what each was told; k6 VUs share nothing)`);
      continue;
    }
    const failed = (expectation.filter as { failed?: boolean } | undefined)?.failed;
    if (failed !== undefined) tags.push(`expected_response:${failed ? 'false' : 'true'}`);
    // The shop's k6 requests carry their journey as a tag (lib/shop.ts), as the lab's do.
    const journey = (expectation.filter as { journey?: string } | undefined)?.journey;
    if (journey !== undefined) tags.push(`journey:${journey}`);
    const client = (expectation.filter as { client?: string } | undefined)?.client;
    if (client !== undefined) tags.push(`client:${client}`);
    const metric = `${String(expectation.metric)}${tags.length > 0 ? `{${tags.join(',')}}` : ''}`;
    (thresholds[metric] ??= []).push(source);
  }
  if (config.executor !== 'ramping-vus' && config.executor !== 'constant-vus' && config.executor !== 'per-vu-iterations' && config.arrivals === 'poisson') {
    notInK6.push('arrivals: poisson (k6 spaces arrivals evenly)');
  }

  const options = { scenarios, thresholds };
  const shopMix = { weights: mix.weights, thinkTime: mix.thinkTime, seed: typeof document.seed === 'number' ? document.seed : 1, skuCount: 20, requestTimeoutMs, ...(clients ? { clients } : {}) };
  return [
    `// GENERATED by \`node load/k6/generate.ts\` from scenarios/${basename(file)}: edit the scenario and`,
    '// generate again (load/k6/k6.test.ts fails while this file is stale).',
    '//',
    `//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e AUTH_SECRET=<from faultline up> load/k6/${name}.ts`,
    '//',
    "// The scenario's load and thresholds only: its faults are the lab's (inject them",
    '// through the fault proxy, or `faultline chaos export` them for Chaos Mesh).',
    ...(notInK6.length > 0 ? ['// Expectations k6 cannot check here (the lab does):', ...notInK6.map((line) => `//   - ${line}`)] : []),
    '',
    "import type { Options } from 'k6/options';",
    "import { runIteration, setupRun } from './lib/shop.ts';",
    "import type { RunData, ShopMix } from './lib/shop.ts';",
    '',
    `export const options: Options = ${stringify(options)};`,
    '',
    `const mix: ShopMix = ${stringify(shopMix)};`,
    '',
    ...streamMixes,
    ...ENTRY_POINTS,
  ].join('\n');
}

interface StreamDocument {
  index: number;
  name: string;
  /** The k6 function its scenarios run: the name in camelCase, then `Stream`. */
  exec: string;
  clients: number;
  rate: number;
  rates: Record<string, number>;
  maxVUs: number;
  journey?: unknown;
  journeys?: unknown;
  thinkTime?: unknown;
}

/** `load.clients` as the k6 mix names them, or undefined; a bad one adds its problems. */
function clientsOf(value: unknown, path: string, problems: string[]): { group: string; count: number } | undefined {
  if (value === undefined) return undefined;
  const { name, count } = (value ?? {}) as { name?: unknown; count?: unknown };
  if (typeof name !== 'string' || !/^[a-z][a-z0-9-]*$/.test(name)) problems.push(`${path}.name: must be lowercase letters, digits and dashes`);
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) problems.push(`${path}.count: must be a whole number >= 1`);
  return { group: String(name), count: Number(count) };
}

/** `load.streams`, checked as far as the script needs (the lab's schema checks the rest). */
function streamsOf(value: unknown, problems: string[]): StreamDocument[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    problems.push('load.streams: must be a list');
    return [];
  }
  return value.map((raw, index) => {
    const stream = (raw ?? {}) as Record<string, unknown>;
    const at = `load.streams.${index}`;
    const clients = clientsOf({ name: stream.name, count: stream.clients }, at, problems);
    const number = (field: string, fallback?: number): number => {
      const given = stream[field] ?? fallback;
      if (typeof given !== 'number' || !(given >= 0)) problems.push(`${at}.${field}: must be a number >= 0`);
      return Number(given);
    };
    const rates = (stream.rates ?? {}) as Record<string, number>;
    for (const [phase, rate] of Object.entries(rates)) if (typeof rate !== 'number' || !(rate >= 0)) problems.push(`${at}.rates.${phase}: must be a number >= 0`);
    const name = clients?.group ?? '';
    return {
      index,
      name,
      exec: `${name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())}Stream`,
      clients: clients?.count ?? 1,
      rate: number('rate'),
      rates,
      maxVUs: number('maxVUs', 100),
      journey: stream.journey,
      journeys: stream.journeys,
      thinkTime: stream.thinkTime,
    };
  });
}

/** shape.ts: any shape of load/shapes.ts, computed in k6's init context from the lab's own shape functions. */
export function shapeScript(): string {
  for (const sources of Object.values(SHAPE_THRESHOLDS)) for (const source of sources) parseThreshold(source);
  return [
    '// GENERATED by `node load/k6/generate.ts` (load/k6/k6.test.ts fails while this file is stale).',
    '// A traffic shape of the lab (load/shapes.ts, imported as is) over the journey mix:',
    '//',
    '//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e AUTH_SECRET=<from faultline up> \\',
    '//     -e SHAPE=spike -e PEAK=50 -e DURATION=2m -e JOURNEYS=browse:60,checkout:40 load/k6/shape.ts',
    '//',
    `// SHAPE is one of load/shapes.ts SHAPE_NAMES (default average), PEAK the peak rate per second (default 10),`,
    `// DURATION the total (default 1m), JOURNEYS the weights (default ${Object.entries(SHAPE_MIX).map(([k, v]) => `${k}:${v}`).join(',')}),`,
    '// THINK_MIN / THINK_MAX the think time between steps (default 100ms / 500ms), SEED (default 1).',
    '',
    "import type { Options } from 'k6/options';",
    "import { parseDuration } from '../../demo-services/kit/durations.ts';",
    "import { shapeStages } from '../shapes.ts';",
    "import { runIteration, setupRun } from './lib/shop.ts';",
    "import type { RunData, ShopMix } from './lib/shop.ts';",
    '',
    `const THRESHOLDS = ${stringify(SHAPE_THRESHOLDS)};`,
    '',
    `const DEFAULT_MIX = ${stringify(SHAPE_MIX)};`,
    '',
    "const shapeName = __ENV.SHAPE ?? 'average';",
    "const peak = Number(__ENV.PEAK ?? '10');",
    "const shape = shapeStages(shapeName, peak, parseDuration(__ENV.DURATION ?? '1m', 'DURATION'));",
    '',
    'function weights(spec: string | undefined): ShopMix[\'weights\'] {',
    '  if (spec === undefined) return DEFAULT_MIX;',
    '  return Object.fromEntries(',
    "    spec.split(',').map((entry) => {",
    "      const [journey, weight] = entry.split(':');",
    '      return [String(journey).trim(), Number(weight)];',
    '    }),',
    '  );',
    '}',
    '',
    'export const options: Options = {',
    '  scenarios: {',
    '    [shapeName]: {',
    "      executor: 'ramping-arrival-rate',",
    '      startRate: Math.round(shape.startRate),',
    "      timeUnit: '1s',",
    '      stages: shape.stages.map((stage) => ({ target: Math.round(stage.target), duration: `${stage.duration}ms` })),',
    '      preAllocatedVUs: Math.max(1, Math.ceil(peak)),',
    '      maxVUs: Math.max(10, Math.ceil(peak * 10)),',
    '    },',
    '  },',
    '  thresholds: THRESHOLDS,',
    '};',
    '',
    'const mix: ShopMix = {',
    '  weights: weights(__ENV.JOURNEYS),',
    "  thinkTime: { min: parseDuration(__ENV.THINK_MIN ?? '100ms', 'THINK_MIN'), max: parseDuration(__ENV.THINK_MAX ?? '500ms', 'THINK_MAX') },",
    "  seed: Number(__ENV.SEED ?? '1'),",
    '  skuCount: 20,',
    '  requestTimeoutMs: 5_000,',
    '};',
    '',
    ...ENTRY_POINTS,
  ].join('\n');
}

/** Every generated script: path (absolute) -> content. */
export async function generateK6Scripts(scenariosDir = SCENARIOS_DIR): Promise<Map<string, string>> {
  const files = (await readdir(scenariosDir)).filter((f) => f.endsWith('.yaml')).sort();
  const scripts = new Map<string, string>();
  for (const file of files) {
    const path = join(scenariosDir, file);
    const document = parseYaml(await readFile(path, 'utf8')) as ScenarioDocument;
    const name = typeof document.name === 'string' ? document.name : basename(file, '.yaml');
    scripts.set(join(K6_SCRIPTS_DIR, `${name}.ts`), scenarioScript(path, document));
  }
  scripts.set(join(K6_SCRIPTS_DIR, 'shape.ts'), shapeScript());
  return scripts;
}

/** Generated scripts that are missing or differ on disk (relative paths). */
export async function staleK6Scripts(scripts: Map<string, string>): Promise<string[]> {
  const stale: string[] = [];
  for (const [path, content] of scripts) {
    const current = await readFile(path, 'utf8').catch(() => undefined);
    if (current !== content) stale.push(relative(PROJECT_ROOT, path));
  }
  return stale;
}

async function main(args: string[]): Promise<number> {
  const check = args.includes('--check');
  const unknown = args.filter((a) => a !== '--check');
  if (unknown.length > 0) {
    process.stderr.write(`k6 generate: unknown argument ${unknown.join(' ')} (only --check)\n`);
    return 2;
  }
  let scripts: Map<string, string>;
  try {
    scripts = await generateK6Scripts();
  } catch (error) {
    if (!(error instanceof K6GenerateError)) throw error;
    process.stderr.write(`k6 generate: ${error.message}\n`);
    return 2;
  }
  const stale = await staleK6Scripts(scripts);
  if (check) {
    for (const path of stale) process.stderr.write(`k6 generate: ${path} is stale; run node load/k6/generate.ts\n`);
    return stale.length > 0 ? 1 : 0;
  }
  for (const [path, content] of scripts) await writeFile(path, content);
  process.stdout.write(`k6 generate: ${scripts.size} scripts in ${relative(process.cwd(), K6_SCRIPTS_DIR) || '.'} (${stale.length} changed)\n`);
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv.slice(2));
}
