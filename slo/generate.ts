// The SLO generator: specs in slo/specs/ to Prometheus rules, an Alertmanager
// configuration and promtool tests. Rendering is pure (renderRules,
// renderSloArtifacts); generateSloArtifacts writes the files and is what the
// `faultline slo generate` command calls. Two sets are committed: real time
// (slo/generated/production, what users deploy) and the lab's time scale
// (slo/generated/lab-x100, a 30-day SLO lived in 7h12m); a test fails when
// either is stale. Each holds rules/<id>.yaml, alertmanager.yaml and
// tests/<id>.test.yaml + tests/<id>.days.test.yaml for promtool, and beside
// the SLO rules the telemetry-loss alert (telemetry-alerts.ts), so that every
// Prometheus loading rules/*.yaml (the lab's, compose's, the Kubernetes
// overlay's) has it. Run directly: node slo/generate.ts [--time-scale N]
// [--out-dir DIR] [--webhook-url URL] [--evaluation-interval 1s] [--specs-dir DIR] [--alert-style tiers|sloth] [--all].
// --alert-style sloth writes Sloth's two alerts per SLO (page, ticket) instead of one per tier.

import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { parseDuration } from '../demo-services/kit/durations.ts';
import { renderAlertmanagerConfig } from './alertmanager.ts';
import { SLO_ERROR_CODE, SloError } from './errors.ts';
import { planFixtures, renderPromtoolTests } from './promtool-tests.ts';
import { ALERT_STYLES, type AlertStyle, renderRules, type RuleGroup, validateTimeScale } from './rules.ts';
import { loadSloSpecs, SLO_ROOT, type SloDefinition } from './spec.ts';
import { renderTelemetryAlertRules, TELEMETRY_RULES_ID, telemetryAlertGroup } from './telemetry-alerts.ts';

export { renderRules } from './rules.ts';
export type { RenderRulesOptions, RenderedRules } from './rules.ts';

/** The lab's time scale: 30 days lived in 7h12m, the 5-minute window in 3 s, evaluated every 600 ms. */
export const LAB_TIME_SCALE = 100;
export const GENERATED_DIR = join(SLO_ROOT, 'generated');
/** One rule file per SLO; Prometheus loads them with rule_files: ['<dir>/rules/*.yaml']. */
export const RULES_DIR = 'rules';
export const ALERTMANAGER_FILE = 'alertmanager.yaml';
export const TESTS_DIR = 'tests';
/** The same rules as the Prometheus Operator's PrometheusRule objects, one per rule file (deploy/kubernetes takes these groups too). */
export const PROMETHEUS_RULES_DIR = 'prometheus-operator';

/** The PrometheusRule of one rule file: `slo-<id>` for an SLO's, `faultline-<id>` for the telemetry alert's. */
export function prometheusRuleName(id: string): string {
  return id === TELEMETRY_RULES_ID ? `faultline-${id}` : `slo-${id}`;
}

/** One rule file's groups as a PrometheusRule: `kubectl apply` it where the Prometheus Operator runs. */
export function prometheusRuleManifest(id: string, groups: readonly RuleGroup[]): Record<string, unknown> {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    // The part-of label is what the overlay's Prometheus selects rules by (deploy/kubernetes).
    metadata: { name: prometheusRuleName(id), labels: { 'app.kubernetes.io/part-of': 'faultline' } },
    spec: { groups },
  };
}

/** Where a time scale's artefacts go unless told otherwise: generated/production for 1, generated/lab-x<N> otherwise. */
export function defaultOutDir(timeScale: number): string {
  return join(GENERATED_DIR, timeScale === 1 ? 'production' : `lab-x${timeScale}`);
}

/** The time scales whose artefacts are committed. */
export const COMMITTED_TIME_SCALES: readonly number[] = [1, LAB_TIME_SCALE];

export interface ArtifactOptions {
  timeScale?: number;
  evaluationIntervalMs?: number;
  scrapeIntervalMs?: number;
  /** Alertmanager's webhook receiver (the lab's runner). */
  webhookUrl?: string;
  /** One alert rule per tier (default) or Sloth's page and ticket rules. */
  alertStyle?: AlertStyle;
}

export interface RenderedArtifacts {
  /** Path relative to the output folder -> file content. */
  files: Map<string, string>;
  warnings: string[];
  timeScale: number;
  evaluationIntervalMs: number | undefined;
}

/** Every artefact for these SLOs at one time scale (pure). */
export function renderSloArtifacts(slos: readonly SloDefinition[], options: ArtifactOptions = {}): RenderedArtifacts {
  const timeScale = options.timeScale ?? 1;
  validateTimeScale(timeScale);
  const rules = renderRules(slos, {
    timeScale,
    ...(options.evaluationIntervalMs !== undefined ? { evaluationIntervalMs: options.evaluationIntervalMs } : {}),
    ...(options.scrapeIntervalMs !== undefined ? { scrapeIntervalMs: options.scrapeIntervalMs } : {}),
    ...(options.alertStyle !== undefined ? { alertStyle: options.alertStyle } : {}),
  });
  const files = new Map<string, string>();
  const warnings = [...rules.warnings];
  const telemetryOptions = { timeScale, ...(options.scrapeIntervalMs !== undefined ? { scrapeIntervalMs: options.scrapeIntervalMs } : {}) };
  const telemetry = { id: TELEMETRY_RULES_ID, groups: [telemetryAlertGroup(telemetryOptions)], yaml: renderTelemetryAlertRules(telemetryOptions) };
  for (const file of [...rules.files, telemetry]) {
    files.set(`${RULES_DIR}/${file.id}.yaml`, file.yaml);
    files.set(`${PROMETHEUS_RULES_DIR}/${file.id}.yaml`, `${file.yaml.split('\n').filter((line) => line.startsWith('#')).join('\n')}\n${stringify(prometheusRuleManifest(file.id, file.groups), { lineWidth: 0 })}`);
  }
  files.set(ALERTMANAGER_FILE, renderAlertmanagerConfig({ timeScale, ...(options.webhookUrl !== undefined ? { webhookUrl: options.webhookUrl } : {}) }));
  for (const slo of slos) {
    try {
      const plan = planFixtures(slo, { timeScale, evaluationIntervalMs: rules.evaluationIntervalMs });
      for (const [suffix, content] of renderPromtoolTests(plan, `../${RULES_DIR}/${slo.id}.yaml`, rules.alertStyle)) files.set(`${TESTS_DIR}/${slo.id}.${suffix}`, content);
    } catch (error) {
      if (!(error instanceof SloError)) throw error;
      warnings.push(`no promtool tests for ${slo.id}: ${error.message}`);
    }
  }
  return { files, warnings, timeScale, evaluationIntervalMs: rules.evaluationIntervalMs };
}

export interface GenerateOptions extends ArtifactOptions {
  /** Default: slo/generated/production at scale 1, slo/generated/lab-x<N> otherwise. */
  outDir?: string;
  /** Default: slo/specs. */
  specsDir?: string;
  /** Where warnings are printed; default stderr. Pass null for silence. */
  log?: ((line: string) => void) | null;
}

export interface GenerateResult {
  outDir: string;
  /** Absolute paths written. */
  files: string[];
  warnings: string[];
  timeScale: number;
  slos: string[];
}

/** Read the specs, render everything, and write it (replacing the output folder's previous tests). */
export async function generateSloArtifacts(options: GenerateOptions = {}): Promise<GenerateResult> {
  const timeScale = options.timeScale ?? 1;
  validateTimeScale(timeScale);
  const slos = await loadSloSpecs(options.specsDir);
  const rendered = renderSloArtifacts(slos, options);
  const outDir = options.outDir ?? defaultOutDir(timeScale);
  for (const dir of [TESTS_DIR, RULES_DIR, PROMETHEUS_RULES_DIR]) {
    await mkdir(join(outDir, dir), { recursive: true });
    for (const stale of await readdir(join(outDir, dir))) {
      if (stale.endsWith('.yaml') && !rendered.files.has(`${dir}/${stale}`)) await rm(join(outDir, dir, stale));
    }
  }
  const written: string[] = [];
  for (const [path, content] of rendered.files) {
    const target = join(outDir, path);
    await writeFile(target, content);
    written.push(target);
  }
  const log = options.log === undefined ? (line: string) => process.stderr.write(`${line}\n`) : options.log;
  for (const warning of rendered.warnings) log?.(`warning: ${warning}`);
  return { outDir, files: written, warnings: rendered.warnings, timeScale, slos: slos.map((s) => s.id) };
}

/** The CLI: returns the exit code (0 written, 2 bad input) and prints one line per known error. */
export async function runGenerateCli(argv: readonly string[], out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        'time-scale': { type: 'string' },
        'out-dir': { type: 'string' },
        'webhook-url': { type: 'string' },
        'evaluation-interval': { type: 'string' },
        'specs-dir': { type: 'string' },
        'alert-style': { type: 'string' },
        all: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    out(`slo generate: ${(error as Error).message}`);
    return 2;
  }
  const v = parsed.values;
  try {
    if (v.all && (v['time-scale'] !== undefined || v['out-dir'] !== undefined)) throw new SloError(SLO_ERROR_CODE.badOption, '--all writes the committed scales; it takes no --time-scale or --out-dir');
    const timeScale = v['time-scale'] === undefined ? 1 : Number(v['time-scale']);
    if (v['time-scale'] !== undefined && !(Number.isFinite(timeScale) && timeScale >= 1)) throw new SloError(SLO_ERROR_CODE.badOption, `--time-scale: must be a number >= 1 (got '${v['time-scale']}')`);
    const style = v['alert-style'];
    if (style !== undefined && !(ALERT_STYLES as readonly string[]).includes(style)) {
      throw new SloError(SLO_ERROR_CODE.badOption, `--alert-style: must be one of ${ALERT_STYLES.join(', ')} (got '${style}')`);
    }
    if (v.all && style !== undefined) throw new SloError(SLO_ERROR_CODE.badOption, '--all writes the committed sets, which use the default alert style; give --alert-style with --out-dir');
    const base: GenerateOptions = {
      ...(style !== undefined ? { alertStyle: style as AlertStyle } : {}),
      ...(v['webhook-url'] !== undefined ? { webhookUrl: v['webhook-url'] } : {}),
      ...(v['evaluation-interval'] !== undefined ? { evaluationIntervalMs: parseDuration(v['evaluation-interval'], '--evaluation-interval') } : {}),
      ...(v['specs-dir'] !== undefined ? { specsDir: v['specs-dir'] } : {}),
    };
    const runs: GenerateOptions[] = v.all
      ? COMMITTED_TIME_SCALES.map((scale) => ({ ...base, timeScale: scale }))
      : [{ ...base, timeScale, ...(v['out-dir'] !== undefined ? { outDir: v['out-dir'] } : {}) }];
    for (const run of runs) {
      const result = await generateSloArtifacts(run);
      out(`slo generate: ${result.slos.length} SLOs at time scale ${result.timeScale} -> ${relative(process.cwd(), result.outDir) || '.'} (${result.files.length} files, ${result.warnings.length} warnings)`);
    }
    return 0;
  } catch (error) {
    if (error instanceof SloError || (error as { code?: string }).code === 'FL_BAD_DURATION') {
      const problems = error instanceof SloError ? error.problems : [(error as Error).message];
      for (const problem of problems) out(`slo generate: ${problem}`);
      return 2;
    }
    throw error;
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await runGenerateCli(process.argv.slice(2));
}
