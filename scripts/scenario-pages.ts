// docs/scenarios/<name>.md, one page per scenario, and docs/scenarios/README.md
// (the index by category), generated from the scenarios' own fields: the
// description and the file's comments, phases, faults, policies, load,
// expectations, the catalogue fields and the `story:` prose, with the commands
// that run it with and without its pattern. Pure rendering, then writing:
//   node scripts/scenario-pages.ts --write   (npm run docs:scenarios)
//   node scripts/scenario-pages.ts --check   (exit 1 naming each stale, missing or extra page)
// scripts/scenario-pages.test.ts fails while a page is stale.

import { readdir, readFile, writeFile, mkdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isSeq, parseDocument, stringify, type Document } from 'yaml';
import { CATEGORIES, groupByCategory, withoutFlags } from '../runner/catalogue.ts';
import { faultTarget, faultWindows } from '../runner/fault-timeline.ts';
import { listScenarioFiles, loadScenario, phaseWindows, totalDurationMs, type Expectation, type FaultSpec, type Scenario } from '../runner/scenario.ts';
import { PROJECT_ROOT } from '../runner/supervisor.ts';
import { formatMiB } from '../runner/memory-limit.ts';

export const PAGES_DIR = join(PROJECT_ROOT, 'docs', 'scenarios');
export const INDEX_FILE = 'README.md';

/** A scenario as its page needs it: parsed, and the file's comments. */
export interface PageSource {
  scenario: Scenario;
  /** The comment above the file's first key: the scenario's story as its author told it. */
  header: string;
  /** Comments above an expectation, a phase or a fault, by index. */
  notes: { expectations: string[]; phases: string[]; faults: string[] };
  /** The load section as written. */
  load: unknown;
  /** The gateway section as written, when the file has one. */
  gateway?: unknown;
}

const comment = (text: string | null | undefined): string =>
  (text ?? '')
    .split('\n')
    .map((line) => line.replace(/^ ?/, '').trimEnd())
    .join('\n')
    .trim();

/** Comments of the items of a top-level sequence, by index; the key's own comment goes to the first item. */
function itemComments(document: Document, key: string): string[] {
  const node = document.get(key, true);
  if (!isSeq(node)) return [];
  return node.items.map((item) => comment((item as { commentBefore?: string | null }).commentBefore));
}

function keyComment(document: Document, key: string): string {
  if (!isMap(document.contents)) return '';
  const pair = document.contents.items.find((item) => (item.key as { value?: unknown }).value === key);
  return comment((pair?.key as { commentBefore?: string | null } | undefined)?.commentBefore);
}

/** Read a scenario file for its page: the parsed scenario (validated like `run` does) and its comments. */
export async function readPageSource(file: string): Promise<PageSource> {
  const [scenario, text] = await Promise.all([loadScenario(file), readFile(file, 'utf8')]);
  const document = parseDocument(text);
  const first = isMap(document.contents) ? (document.contents.items[0]?.key as { value?: unknown } | undefined)?.value : undefined;
  const raw = document.toJS() as { load?: unknown; gateway?: unknown };
  const withKeyNote = (key: string) => {
    const notes = itemComments(document, key);
    const above = keyComment(document, key);
    return above && notes.length ? [[above, notes[0]].filter(Boolean).join('\n\n'), ...notes.slice(1)] : notes;
  };
  return {
    scenario,
    header: comment(document.commentBefore) || (typeof first === 'string' ? keyComment(document, first) : ''),
    notes: { expectations: withKeyNote('expectations'), phases: withKeyNote('phases'), faults: withKeyNote('faults') },
    load: raw.load,
    ...(raw.gateway !== undefined ? { gateway: raw.gateway } : {}),
  };
}

/** Milliseconds as a scenario file writes them: 800ms, 1.5s, 12s. */
export function duration(ms: number): string {
  return ms < 1_000 ? `${ms}ms` : `${+(ms / 1_000).toFixed(3)}s`;
}

const percent = (ratio: number) => `${+(ratio * 100).toFixed(3)}%`;
const code = (text: string) => `\`${text}\``;
/** Prose as one paragraph (YAML folded text keeps a trailing newline). */
const paragraph = (text: string) => text.trim().replace(/\s*\n\s*/g, ' ');
const sentence = (text: string) => `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n+/g, ' ');

function table(head: string[], rows: string[][]): string[] {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`)];
}

function faultDetails(fault: FaultSpec): string {
  const skip = new Set(['name', 'type', 'edge', 'target', 'a', 'b', 'phase', 'at', 'duration']);
  return Object.entries(fault)
    .filter(([key, value]) => !skip.has(key) && value !== undefined)
    .map(([key, value]) => {
      if (key === 'latency' || key === 'jitter') return `${key} ${duration(value as number)}`;
      if (key === 'rate' || key === 'toxicity') return `${key} ${percent(value as number)}`;
      if (typeof value === 'object') return `${key} ${JSON.stringify(value)}`;
      return `${key} ${String(value)}`;
    })
    .join(', ');
}

/** What one expectation checks, in words and the scenario's own terms. */
export function expectationText(expectation: Expectation): string {
  switch (expectation.type) {
    case 'threshold': {
      const window =
        expectation.during === undefined
          ? 'over the whole run'
          : typeof expectation.during === 'string'
            ? `during ${expectation.during}`
            : `while the ${expectation.during.circuitOpen.service}->${expectation.during.circuitOpen.dependency} breaker is open`;
      const filter = expectation.filter
        ? `, only ${[expectation.filter.failed === undefined ? '' : expectation.filter.failed ? 'failed' : 'successful', expectation.filter.journey ? `${code(expectation.filter.journey)} requests` : 'requests', expectation.filter.problem ? `answered ${code(expectation.filter.problem)}` : ''].filter(Boolean).join(' ')}`
        : '';
      const allowance = expectation.allowance ? ` (plus ${expectation.allowance.factor}x the same figure of the ${expectation.allowance.phase} phase's successful requests, at most the threshold again)` : '';
      const slowness = expectation.slowness
        ? ` (an ${code('overloaded')} failure is the shop's, not a slow machine's, while the window's request rate times ${expectation.slowness.factor}x the ${expectation.slowness.phase} phase's mean latency, plus the gateway's bulkhead slots, stays under its shedding limit)`
        : '';
      return `${code(`${expectation.metric} ${expectation.threshold}`)} ${window}${filter}${allowance}${slowness}`;
    }
    case 'circuit':
      return `the ${expectation.service}->${expectation.dependency} breaker opens during ${expectation.opensDuring} and is closed again after ${expectation.closesAfter} ends`;
    case 'books':
      return 'the books balance (`faultline check`): every confirmed order charged once, no stray charge, stock consistent';
    case 'trace': {
      const burst = expectation.per?.overlapping;
      const unit = burst ? `calls per burst (calls at once with the same ${burst.map(code).join(', ')})` : 'attempts per trace';
      const calls = `${expectation.count.service}->${expectation.count.dependency}${expectation.count.operation ? ` ${expectation.count.operation}` : ''} ${unit} during ${expectation.during}`;
      const limits = [
        expectation.max === undefined ? '' : expectation.max === 'retry-policy' ? 'at most what the retry policy allows' : `at most ${expectation.max}`,
        expectation.mean === undefined ? '' : `at most ${expectation.mean} on average`,
      ].filter(Boolean);
      return `${calls}: ${limits.join(', ')}`;
    }
    case 'failed-spans':
      return `the failed ${expectation.service} spans during ${expectation.during} are found by ${code(`${expectation.attribute}=${expectation.value}`)}: some carry it, and at most ${expectation.maxOther} carry another value or none`;
    case 'wasted-work':
      return `at most ${expectation.max} ${expectation.service}->${expectation.dependency} calls during ${expectation.during} done by ${expectation.dependency} after ${expectation.service} had given up (its call failed before the work began)`;
    case 'alert': {
      const labels = Object.entries(expectation.labels).map(([k, v]) => `${k}=${v}`).join(',');
      const resolve = expectation.resolvesWithin === undefined ? '' : `, resolved within ${duration(expectation.resolvesWithin)} of its end`;
      return `${code(`${expectation.alert}${labels ? `{${labels}}` : ''}`)} fires within ${duration(expectation.firesWithin)} of ${code(expectation.fault)} starting${resolve}`;
    }
    case 'no-alert': {
      const labels = Object.entries(expectation.labels).map(([k, v]) => `${k}=${v}`).join(',');
      return `no alert ${code(`${expectation.alert ?? ''}${labels ? `{${labels}}` : ''}`)} fires during ${expectation.during}`;
    }
    case 'answers':
      return `at most ${expectation.max} ${expectation.service} answers with status ${expectation.status} during ${expectation.during} (its server spans, counted)`;
    case 'memory':
      return `${expectation.instance} holds at most ${formatMiB(expectation.max)} of resident memory ${expectation.during === undefined ? 'over the whole run' : `during ${expectation.during}`} (the supervisor's samples)`;
  }
}

function policyLines(scenario: Scenario): string[] {
  const lines: string[] = [];
  const off = (name: string) => (scenario.without?.includes(name as never) ? ` (the pattern: ${code(`--disable ${name}`)} removes it)` : '');
  for (const [service, patterns] of Object.entries(scenario.services)) {
    if (patterns.recovery) lines.push(`- ${service}: crash recovery ${patterns.recovery.enabled ? 'on' : 'off'}${off('recovery')}`);
    if (patterns.deadlines) lines.push(`- ${service}: deadlines sent with its calls ${patterns.deadlines.enabled ? 'on' : 'off'}${off('deadlines')}`);
    if (patterns.cache) lines.push(`- ${service}: read cache ${patterns.cache.enabled ? `on, entries live ${duration(patterns.cache.ttl)} give or take ${percent(patterns.cache.jitter)}, at most ${patterns.cache.maxEntries}` : 'off'}`);
    if (patterns.coalescing) lines.push(`- ${service}: request coalescing (concurrent misses of one key share one store read) ${patterns.coalescing.enabled ? 'on' : 'off'}${off('coalescing')}`);
    if (patterns.memoryLimit) {
      const m = patterns.memoryLimit;
      lines.push(`- ${service}: memory limit ${m.enabled ? `${formatMiB(m.limit)} per instance, sampled every ${duration(m.interval)}; over it the instance is killed (SIGKILL) and started again, at most ${m.restart.maxRestarts} times, backing off from ${duration(m.restart.backoff)} to ${duration(m.restart.maxBackoff)}` : 'off'}${off('memoryLimit')}`);
    }
    if (patterns.database) lines.push(`- ${service}: every store read takes ${duration(patterns.database.readLatency)} more`);
  }
  for (const [caller, dependencies] of Object.entries(scenario.policies)) {
    for (const [dependency, p] of Object.entries(dependencies)) {
      const parts = [
        p.timeout.enabled ? `timeout ${duration(p.timeout.timeout)}${off('timeout')}` : 'no timeout',
        p.retry.enabled
          ? `retry: ${p.retry.maxAttempts} attempts at most, backoff ${duration(p.retry.baseDelay)} to ${duration(p.retry.maxDelay)}, ${p.retry.jitter} jitter${p.retry.budget.enabled ? `; retry budget: ${p.retry.budget.capacity} tokens, ${p.retry.budget.retryCost} a retry (${p.retry.budget.timeoutRetryCost} after a timeout), ${p.retry.budget.successRefill} back a success${off('retryBudget')}` : ''}${off('retry')}`
          : 'no retry',
        p.circuitBreaker.enabled
          ? `circuit breaker: opens at ${percent(p.circuitBreaker.failureRateThreshold)} failures of the last ${p.circuitBreaker.windowSize} calls (at least ${p.circuitBreaker.minimumCalls}), open ${duration(p.circuitBreaker.openDuration)}, ${p.circuitBreaker.halfOpenProbes} half-open probes${off('circuitBreaker')}`
          : 'no circuit breaker',
        p.bulkhead.enabled ? `bulkhead: ${p.bulkhead.maxConcurrent} concurrent, ${p.bulkhead.maxQueued} queued for at most ${duration(p.bulkhead.queueTimeout)}${off('bulkhead')}` : '',
        p.deadline === undefined ? '' : `deadline ${duration(p.deadline)} for the whole call`,
      ].filter(Boolean);
      lines.push(`- ${caller}->${dependency}: ${parts.join('; ')}`);
    }
  }
  // The gateway's own patterns, when the scenario is about one of them.
  const gateway = scenario.gateway;
  if (scenario.without?.includes('fallback')) lines.push(`- gateway: recommendations fall back to popular items after ${duration(gateway.recommendationTimeout)} or on any failure${off('fallback')}`);
  if (scenario.without?.includes('rateLimit')) lines.push(`- gateway: rate limit ${gateway.rateLimit.ratePerSecond}/s per client, burst ${gateway.rateLimit.burst}${off('rateLimit')}`);
  if (scenario.without?.includes('loadShedding')) lines.push(`- gateway: sheds load beyond ${gateway.loadShedding.maxInFlight} requests in flight${off('loadShedding')}`);
  return lines.length ? lines : ['- none beyond the defaults of each service'];
}

/** The commands that run a scenario with its pattern and without it. */
export function scenarioCommands(scenario: Pick<Scenario, 'name' | 'without'>): { with: string; without: string[] } {
  return {
    with: `npx faultline run ${scenario.name}`,
    without: scenario.without ? [`npx faultline run ${scenario.name} ${withoutFlags(scenario).join(' ')}`, `npx faultline run ${scenario.name} --without`] : [],
  };
}

const DASHBOARD_FILES: Record<string, string> = {
  Chaos: 'chaos.json',
  Collector: 'collector.json',
  'Load test': 'load-test.json',
  'Dependencies and resilience': 'resilience.json',
  Runtime: 'runtime.json',
  'Service overview': 'service-overview.json',
  SLOs: 'slos.json',
};

/** The dashboard file a '<dashboard> / <panel>' reference points into. */
export function dashboardFile(panel: string): string | undefined {
  const file = DASHBOARD_FILES[panel.split(' / ')[0] as string];
  return file ? `dashboards/faultline/${file}` : undefined;
}

export function renderScenarioPage(source: PageSource): string {
  const { scenario, notes } = source;
  const name = scenario.name;
  const out: string[] = [
    `<!-- GENERATED by \`npm run docs:scenarios\` from scenarios/${name}.yaml: edit the scenario and generate again (scripts/scenario-pages.test.ts fails while this page is stale). -->`,
    '',
    `# ${name}`,
    '',
    `> ${paragraph(scenario.description)}`,
    '',
  ];
  if (scenario.category) {
    out.push(
      `- **Category:** [${scenario.category}](README.md#${scenario.category}): ${CATEGORIES[scenario.category]}`,
      `- **Demonstrates:** ${(scenario.demonstrates ?? []).map(code).join(', ')}`,
      `- **Without it:** ${code(withoutFlags(scenario).join(' '))}`,
      '',
    );
  }
  if (source.header) out.push('## The story', '', ...source.header.split(/\n{2,}/).map(paragraph).flatMap((p) => [p, '']));

  const commands = scenarioCommands(scenario);
  out.push('## Run it', '', '```sh', `${commands.with}   # with the pattern: PASS (exit 0)`);
  if (commands.without.length) {
    out.push(`${commands.without[0]}   # without it: FAIL (exit 1)`, `${commands.without[1]}   # the same, judged as the catalogue does: exit 0 when it FAILs`);
  }
  out.push('```', '', 'Add `--time-scale 0.5` to run every phase half as long.', '');

  const windows = faultWindows(scenario);
  out.push(
    '## Timeline',
    '',
    ...table(
      ['phase', 'from', 'to', 'faults active', 'note'],
      phaseWindows(scenario).map((phase, i) => [
        phase.name,
        `+${duration(phase.startMs)}`,
        `+${duration(phase.endMs)}`,
        windows.filter((w) => w.startMs < phase.endMs && w.endMs > phase.startMs).map((w) => w.name).join(', ') || '-',
        notes.phases[i] ? paragraph(notes.phases[i]) : '',
      ]),
    ),
    '',
    `${duration(totalDurationMs(scenario))} in all, after a warm-up that is not measured.`,
    '',
  );

  if (scenario.faults.length) {
    out.push(
      '## Faults',
      '',
      ...table(
        ['fault', 'type', 'on', 'when', 'details'],
        scenario.faults.map((fault, i) => {
          const window = windows[i] as { startMs: number; endMs: number };
          const when = fault.phase !== undefined ? `phase ${fault.phase}` : `+${duration(window.startMs)} to +${duration(window.endMs)}`;
          return [fault.name, fault.type, faultTarget(fault), when, faultDetails(fault) || '-'];
        }),
      ),
      '',
    );
    const faultNotes = notes.faults.filter(Boolean);
    if (faultNotes.length) out.push(...faultNotes.map((note) => `${paragraph(note)}`).flatMap((p) => [p, '']));
  }

  out.push('## Policies', '', ...policyLines(scenario), '');
  if (source.gateway !== undefined) out.push('Gateway, as the file sets it:', '', '```yaml', stringify(source.gateway).trimEnd(), '```', '');
  out.push('## Load', '', '```yaml', stringify({ load: source.load }).trimEnd(), '```', '');

  out.push('## Expectations', '', 'Each is a test case of the run\'s junit.xml; the run passes when every one holds.', '');
  scenario.expectations.forEach((expectation, i) => {
    out.push(`${i + 1}. **${expectation.name}**: ${expectationText(expectation)}.`);
    if (notes.expectations[i]) out.push(`   ${paragraph(notes.expectations[i])}`);
  });
  out.push('');

  const story = scenario.story;
  if (story) {
    out.push('## What you will see', '', paragraph(story.see), '');
    const { metrics, panels, alerts, traces } = story.signals;
    if (metrics.length) out.push(`- Metrics: ${metrics.map(code).join(', ')}`);
    if (panels.length) out.push(`- Dashboard panels (Grafana, in the compose stack): ${panels.map((panel) => `${code(panel)} (${dashboardFile(panel) ?? '?'})`).join(', ')}`);
    if (alerts.length) out.push(`- Alerts (slo/specs, when Prometheus and Alertmanager are installed): ${alerts.map(code).join(', ')}`);
    for (const query of traces) out.push(`- Traces: ${code(`npx faultline traces runs/<id> ${query}`)}`);
    out.push('- Everything above, on one time axis with the faults marked: the run\'s `runs/<id>/report.html`.', '');
    out.push('## Why the pattern contains it', '', paragraph(story.why), '', '## The fix in a real system', '', paragraph(story.realFix), '');
  }
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

export function renderIndex(scenarios: readonly Scenario[]): string {
  const out = [
    '<!-- GENERATED by `npm run docs:scenarios` from scenarios/*.yaml (scripts/scenario-pages.test.ts fails while it is stale). -->',
    '',
    '# The scenario catalogue',
    '',
    'Each scenario passes with its pattern and fails without it. `npx faultline list` shows the same grouping;',
    '`npx faultline run --all` runs them all (one combined junit.xml), `npx faultline run --all --without` runs each',
    'without its pattern and passes when every one of them FAILs.',
    '',
  ];
  for (const group of groupByCategory(scenarios)) {
    out.push(`## ${group.category}`, '', group.category === 'uncategorised' ? 'Scenarios without a category.' : `${sentence(CATEGORIES[group.category])}.`, '');
    out.push(
      ...table(
        ['scenario', 'demonstrates', 'without', 'what happens'],
        group.entries.map((s) => [`[${s.name}](${s.name}.md)`, (s.demonstrates ?? []).map(code).join(', ') || '-', s.without ? code(withoutFlags(s).join(' ')) : '-', paragraph(s.description)]),
      ),
      '',
    );
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/** Every page as it should be: file name in docs/scenarios -> content. */
export async function generatePages(files?: readonly string[]): Promise<Map<string, string>> {
  const sources = await Promise.all((files ?? (await listScenarioFiles())).map(readPageSource));
  const pages = new Map<string, string>();
  for (const source of sources) pages.set(`${source.scenario.name}.md`, renderScenarioPage(source));
  pages.set(INDEX_FILE, renderIndex(sources.map((source) => source.scenario)));
  return pages;
}

/** What differs between the pages and docs/scenarios: stale, missing, or a page no scenario makes. */
export async function pageProblems(pages: Map<string, string>, dir = PAGES_DIR): Promise<string[]> {
  const onDisk = (await readdir(dir).catch(() => [] as string[])).filter((file) => file.endsWith('.md'));
  const problems: string[] = [];
  for (const [file, content] of pages) {
    const text = await readFile(join(dir, file), 'utf8').catch(() => undefined);
    if (text === undefined) problems.push(`${file}: missing`);
    else if (text !== content) problems.push(`${file}: stale`);
  }
  for (const file of onDisk) if (!pages.has(file)) problems.push(`${file}: no scenario makes it (scenarios/${basename(file, '.md')}.yaml is gone?)`);
  return problems;
}

export async function main(args: readonly string[]): Promise<number> {
  const mode = args[0];
  if (mode !== '--write' && mode !== '--check') {
    process.stderr.write('usage: node scripts/scenario-pages.ts --write | --check\n');
    return 2;
  }
  let pages: Map<string, string>;
  try {
    pages = await generatePages();
  } catch (error) {
    process.stderr.write(`scenario-pages: ${(error as Error).message}\n`);
    return 2;
  }
  if (mode === '--check') {
    const problems = await pageProblems(pages);
    for (const problem of problems) process.stderr.write(`docs/scenarios/${problem}\n`);
    if (problems.length) process.stderr.write('run `npm run docs:scenarios` to regenerate\n');
    return problems.length ? 1 : 0;
  }
  await mkdir(PAGES_DIR, { recursive: true });
  for (const file of (await readdir(PAGES_DIR)).filter((f) => f.endsWith('.md') && !pages.has(f))) await rm(join(PAGES_DIR, file));
  for (const [file, content] of pages) await writeFile(join(PAGES_DIR, file), content);
  process.stdout.write(`wrote ${pages.size} pages to docs/scenarios\n`);
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv.slice(2));
}
