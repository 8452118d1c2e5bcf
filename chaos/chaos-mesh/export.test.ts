import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { InvalidSpecError } from '../errors.ts';
import { CHAOS_MESH_SCHEMA_DIR, chaosMeshSchemasAvailable, loadChaosMeshCrds } from './crd-validation.ts';
import { type ChaosMeshManifest, exportChaosMesh, exportYaml } from './export.ts';
import { type ChaosMeshScenarioInput, fromScenario, parseChaosMeshScenario } from './faults.ts';
import { loadScenarioForExport, SCENARIO_DIR } from './scenario-file.ts';
import { flattenFaultSteps } from '../fault-workflow.ts';
import { GENERATED_DIR, renderChaosMeshFiles, writeChaosMeshExport } from './write.ts';

const EXAMPLES_DIR = new URL('./examples/', import.meta.url).pathname;
const schemas = await chaosMeshSchemasAvailable();
const SKIP_NOTE = `skipped: Chaos Mesh CRD schemas not found at ${CHAOS_MESH_SCHEMA_DIR}`;

/** A scenario with one fault of every kind, overlapping and back to back. */
const everyKind: ChaosMeshScenarioInput = {
  name: 'every-kind',
  durationMs: 120_000,
  source: 'test',
  faults: [
    { kind: 'latency', name: 'slow-bank', startMs: 0, durationMs: 10_000, edge: 'payment->bank', latencyMs: 250, jitterMs: 50 },
    { kind: 'latency', name: 'flaky-latency', startMs: 0, durationMs: 10_000, edge: 'checkout->payment', latencyMs: 100, rate: 0.25 },
    { kind: 'bandwidth', name: 'thin-pipe', startMs: 5_000, durationMs: 10_000, edge: 'checkout->payment', bytesPerSecond: 100_000 },
    { kind: 'loss', name: 'lossy', startMs: 10_000, durationMs: 5_000, edge: 'gateway->checkout', percent: 30 },
    { kind: 'blackhole', name: 'hole', startMs: 15_000, durationMs: 5_000, edge: 'payment->bank' },
    { kind: 'partition', name: 'split', startMs: 20_000, durationMs: 5_000, a: ['checkout', 'payment'], b: ['bank'], mode: 'refuse' },
    { kind: 'http_error', name: 'bank-503', startMs: 25_000, durationMs: 5_000, edge: 'payment->bank', status: 503, path: '/charges', method: 'POST' },
    { kind: 'http_error', name: 'lost-answer', startMs: 25_000, durationMs: 5_000, service: 'bank', status: 500, stream: 'downstream' },
    { kind: 'http_delay', name: 'slow-charges', startMs: 30_000, durationMs: 5_000, service: 'bank', delayMs: 1_500 },
    { kind: 'http_abort', name: 'cut-charges', startMs: 35_000, durationMs: 5_000, service: 'bank', rate: 0.5 },
    { kind: 'pod_kill', name: 'kill-payment', startMs: 40_000, durationMs: 1_000, service: 'payment' },
    { kind: 'pod_failure', name: 'fail-catalog', startMs: 45_000, durationMs: 30_000, service: 'catalog', count: 1 },
    { kind: 'container_kill', name: 'kill-checkout', startMs: 50_000, durationMs: 1_000, service: 'checkout', container: 'checkout' },
    { kind: 'cpu_stress', name: 'burn', startMs: 60_000, durationMs: 30_000, service: 'inventory', workers: 2, load: 80 },
    { kind: 'memory_stress', name: 'leak', startMs: 90_000, durationMs: 30_000, service: 'recommendation', size: '256MB' },
  ],
};

/** Every scenario fault type (toxics, down, partition) in serial and parallel groups, through fromScenario. */
function grouped(): ChaosMeshScenarioInput {
  const entries = [
    {
      type: 'serial',
      name: 'trouble',
      at: 2_000,
      steps: [
        { type: 'latency', name: 'jitter', edge: 'payment->bank', latency: 150, jitter: 100, duration: 4_000 },
        { type: 'suspend', duration: 1_000 },
        {
          type: 'parallel',
          name: 'together',
          duration: 5_000,
          steps: [
            { type: 'reset_peer', name: 'resets', edge: 'payment->bank', toxicity: 0.3, attributes: { timeout: 0 } },
            { type: 'bandwidth', name: 'thin', edge: 'gateway->catalog', attributes: { rate: 50 }, at: 1_000, duration: 2_000 },
            { type: 'timeout', name: 'hole', edge: 'cart->catalog', attributes: { timeout: 0 }, at: 2_000, duration: 1_000 },
          ],
        },
        { type: 'suspend', duration: 1_000 },
      ],
    },
    { type: 'slicer', name: 'sliced', edge: 'gateway->cart', attributes: { average_size: 64, delay: 500 }, at: 0, duration: 3_000 },
    { type: 'limit_data', name: 'cutoff', edge: 'gateway->cart', attributes: { bytes: 100 }, at: 3_000, duration: 3_000 },
    { type: 'slow_close', name: 'late-fin', edge: 'checkout->payment', attributes: { delay: 200 }, at: 0, duration: 3_000 },
    { type: 'down', name: 'bank-down', edge: 'payment->bank', at: 14_000, duration: 2_000 },
    { type: 'partition', name: 'split', a: ['checkout'], b: ['inventory'], mode: 'refuse', at: 16_000, duration: 2_000 },
  ];
  const phases = [{ name: 'all', duration: 20_000 }];
  const flat = flattenFaultSteps(entries, phases);
  expect(flat.problems).toEqual([]);
  return fromScenario({ name: 'grouped', phases, faults: flat.faults.map((entry) => ({ ...entry.fault, name: entry.fault.name ?? '' })) }, 'test', flat.workflow);
}

function byName(manifests: ChaosMeshManifest[], name: string): ChaosMeshManifest {
  const found = manifests.find((manifest) => manifest.metadata.name === name);
  if (!found) throw new Error(`no manifest ${name}`);
  return found;
}

describe('exportChaosMesh', () => {
  it('maps each fault kind onto its experiment, selecting services by label in the namespace', () => {
    const { manifests } = exportChaosMesh(parseChaosMeshScenario(everyKind), { namespace: 'shop', httpPort: 9000 });
    expect(manifests.map((manifest) => manifest.kind)).toEqual([
      ...['NetworkChaos', 'NetworkChaos', 'NetworkChaos', 'NetworkChaos', 'NetworkChaos', 'NetworkChaos'],
      ...['HTTPChaos', 'HTTPChaos', 'HTTPChaos', 'HTTPChaos'],
      ...['PodChaos', 'PodChaos', 'PodChaos', 'StressChaos', 'StressChaos', 'Workflow'],
    ]);
    expect(byName(manifests, 'every-kind-slow-bank').spec).toEqual({
      action: 'delay',
      delay: { latency: '250ms', jitter: '50ms', correlation: '0' },
      mode: 'all',
      selector: { namespaces: ['shop'], labelSelectors: { 'app.kubernetes.io/name': 'payment' } },
      direction: 'to',
      target: { mode: 'all', selector: { namespaces: ['shop'], labelSelectors: { 'app.kubernetes.io/name': 'bank' } } },
      duration: '10s',
    });
    expect(byName(manifests, 'every-kind-flaky-latency').spec).toMatchObject({ mode: 'fixed-percent', value: '25' });
    expect(byName(manifests, 'every-kind-thin-pipe').spec).toMatchObject({ action: 'bandwidth', bandwidth: { rate: '100000bps' } });
    expect(byName(manifests, 'every-kind-hole').spec).toMatchObject({ action: 'loss', loss: { loss: '100' } });
    expect(byName(manifests, 'every-kind-split').spec).toMatchObject({
      action: 'partition',
      direction: 'both',
      selector: { expressionSelectors: [{ key: 'app.kubernetes.io/name', operator: 'In', values: ['checkout', 'payment'] }] },
      target: { selector: { labelSelectors: { 'app.kubernetes.io/name': 'bank' } } },
    });
    expect(byName(manifests, 'every-kind-bank-503').spec).toMatchObject({
      selector: { labelSelectors: { 'app.kubernetes.io/name': 'bank' } },
      port: 9000,
      path: '/charges',
      method: 'POST',
      target: 'Response',
      replace: { code: 503 },
    });
    expect(byName(manifests, 'every-kind-slow-charges').spec).toMatchObject({ target: 'Request', delay: '1500ms' });
    expect(byName(manifests, 'every-kind-cut-charges').spec).toMatchObject({ target: 'Request', abort: true, mode: 'fixed-percent', value: '50' });
    const kill = byName(manifests, 'every-kind-kill-payment').spec;
    expect(kill).toMatchObject({ action: 'pod-kill', mode: 'fixed', value: '1', gracePeriod: 0 });
    expect(kill.duration).toBeUndefined();
    expect(byName(manifests, 'every-kind-fail-catalog').spec).toMatchObject({ action: 'pod-failure', duration: '30s' });
    expect(byName(manifests, 'every-kind-kill-checkout').spec).toMatchObject({ action: 'container-kill', containerNames: ['checkout'] });
    expect(byName(manifests, 'every-kind-burn').spec).toMatchObject({ stressors: { cpu: { workers: 2, load: 80 } } });
    expect(byName(manifests, 'every-kind-leak').spec).toMatchObject({ stressors: { memory: { workers: 1, size: '256MB' } } });
  });

  it('replays the timeline in a Workflow: one track per fault, a Suspend until it starts, deadlines matching', () => {
    const { manifests } = exportChaosMesh(parseChaosMeshScenario(everyKind));
    const workflow = manifests.at(-1) as ChaosMeshManifest;
    expect(workflow).toMatchObject({ kind: 'Workflow', metadata: { name: 'every-kind', namespace: 'faultline' } });
    const templates = (workflow.spec as { entry: string; templates: Array<Record<string, unknown>> }).templates;
    const template = (name: string): Record<string, unknown> => {
      const found = templates.find((candidate) => candidate.name === name);
      if (!found) throw new Error(`no template ${name}`);
      return found;
    };
    expect(workflow.spec.entry).toBe('timeline');
    expect(template('timeline')).toMatchObject({ templateType: 'Parallel', deadline: '2m' });
    const children = template('timeline').children as string[];
    expect(children).toHaveLength(everyKind.faults.length);
    // A fault at 0 runs straight away; a later one waits on its own track.
    expect(children[0]).toBe('fault-slow-bank');
    expect(template('fault-slow-bank')).toMatchObject({ templateType: 'NetworkChaos', deadline: '10s', networkChaos: { action: 'delay' } });
    expect(template('fault-slow-bank').networkChaos).not.toHaveProperty('duration');
    expect(template('track-fail-catalog')).toMatchObject({ templateType: 'Serial', deadline: '1m15s', children: ['wait-fail-catalog', 'fault-fail-catalog'] });
    expect(template('wait-fail-catalog')).toMatchObject({ templateType: 'Suspend', deadline: '45s' });
    expect(template('fault-fail-catalog')).toMatchObject({ templateType: 'PodChaos', deadline: '30s', podChaos: { action: 'pod-failure' } });
    expect(template('fault-burn')).toHaveProperty('stressChaos');
    expect(template('fault-cut-charges')).toHaveProperty('httpChaos');
    expect(new Set(templates.map((candidate) => candidate.name)).size).toBe(templates.length);
  });

  it('wraps the workflow in a Schedule when asked', () => {
    const { manifests } = exportChaosMesh(parseChaosMeshScenario(everyKind), { schedule: '@every 6h' });
    expect(manifests.at(-1)).toMatchObject({
      kind: 'Schedule',
      spec: { schedule: '@every 6h', type: 'Workflow', concurrencyPolicy: 'Forbid', workflow: { entry: 'timeline' } },
    });
  });

  it('reports every approximation, and says so on the manifest', () => {
    const { manifests, warnings } = exportChaosMesh(parseChaosMeshScenario(everyKind));
    expect(warnings).toEqual([
      'flaky-latency: a rate of 0.25 has no Chaos Mesh equivalent; exported as 25% of the pods (mode fixed-percent)',
      'split: Chaos Mesh partitions drop packets; the refusing partition is exported as a black hole (callers time out instead of being refused)',
      "bank-503: HTTPChaos replaces the status of bank's answers, so requests still reach it (the lab answers without forwarding)",
      "bank-503: HTTPChaos acts on bank's pods, so every caller of bank is affected, not only payment",
      'cut-charges: a rate of 0.5 has no Chaos Mesh equivalent; exported as 50% of the pods (mode fixed-percent)',
    ]);
    expect(byName(manifests, 'every-kind-split').metadata.annotations?.['faultline.dev/approximation']).toContain('refusing partition');
    expect(byName(manifests, 'every-kind-lossy').metadata.annotations).not.toHaveProperty('faultline.dev/approximation');
  });

  it('is pure and renders as a multi-document YAML stream', () => {
    const scenario = parseChaosMeshScenario(everyKind);
    expect(exportChaosMesh(scenario)).toEqual(exportChaosMesh(scenario));
    const documents = parseAllDocuments(exportYaml(exportChaosMesh(scenario)));
    expect(Array.isArray(documents) ? documents.length : 0).toBe(everyKind.faults.length + 1);
  });

  it('names every bad field of its input', () => {
    const bad = {
      name: 'Bad Name',
      durationMs: 10_000,
      faults: [
        { kind: 'latency', name: 'a', startMs: 0, durationMs: 5_000, edge: 'payment', latencyMs: -1 },
        { kind: 'http_error', name: 'b', startMs: 0, durationMs: 5_000 },
        { kind: 'teleport', name: 'c', startMs: 0, durationMs: 1 },
      ],
    };
    const error = (() => {
      try {
        parseChaosMeshScenario(bad);
      } catch (caught) {
        return caught as InvalidSpecError;
      }
      throw new Error('expected an error');
    })();
    expect(error).toBeInstanceOf(InvalidSpecError);
    expect(error.fields).toEqual(['name', 'faults.0.edge', 'faults.0.latencyMs', 'faults.1.edge', 'faults.2.kind']);
    expect(() =>
      parseChaosMeshScenario({ name: 'x', durationMs: 1_000, faults: [{ kind: 'blackhole', name: 'late', startMs: 900, durationMs: 200, edge: 'a->b' }] }),
    ).toThrow('faults.0: ends after the run (1000 ms)');
  });
});

describe('fromScenario', () => {
  it('maps the scenario fault types http_error and latency, with phase timing and the format defaults', () => {
    const scenario = fromScenario(
      {
        name: 'demo',
        phases: [
          { name: 'baseline', duration: 5_000 },
          { name: 'outage', duration: 10_000 },
        ],
        faults: [
          { type: 'http_error', name: 'down', edge: 'payment->bank', phase: 'outage' },
          { type: 'latency', name: 'slow', edge: 'checkout->payment', at: 1_000, duration: 2_000, latency: 300, jitter: 20, rate: 0.5 },
        ],
      },
      'scenarios/demo.yaml',
    );
    expect(scenario).toEqual({
      name: 'demo',
      durationMs: 15_000,
      source: 'scenarios/demo.yaml',
      faults: [
        { kind: 'http_error', name: 'down', startMs: 5_000, durationMs: 10_000, edge: 'payment->bank', status: 503, stream: 'upstream', rate: 1 },
        { kind: 'latency', name: 'slow', startMs: 1_000, durationMs: 2_000, edge: 'checkout->payment', latencyMs: 300, jitterMs: 20, rate: 0.5 },
      ],
    });
  });

  it('names a fault type it cannot map', () => {
    expect(() =>
      fromScenario({ name: 'x', phases: [{ name: 'p', duration: 1_000 }], faults: [{ type: 'pause', name: 'zzz', edge: 'a->b', phase: 'p' }] }),
    ).toThrow(/^faults\.0\.type: no Chaos Mesh mapping for 'pause' \(mapped: http_error, latency, process, cpu_burn, memory_leak, bandwidth/);
  });

  it('maps process faults on an instance to PodChaos on its service', () => {
    const exported = fromScenario({
      name: 'x',
      phases: [{ name: 'p', duration: 1_000 }],
      faults: [
        { type: 'process', name: 'crash', target: 'payment-1', action: 'kill', phase: 'p' },
        { type: 'process', name: 'freeze', target: 'bank', action: 'pause', phase: 'p' },
      ],
    });
    expect(exported.faults.map((fault) => [fault.kind, 'service' in fault ? fault.service : undefined])).toEqual([
      ['pod_kill', 'payment'],
      ['pod_failure', 'bank'],
    ]);
  });

  it("maps a process fault on the lab's collector to PodChaos on the cluster's otel-collector", () => {
    const exported = fromScenario({
      name: 'x',
      phases: [{ name: 'p', duration: 1_000 }],
      faults: [{ type: 'process', name: 'collector-frozen', target: 'collector', action: 'pause', phase: 'p' }],
    });
    expect(exported.faults).toMatchObject([{ kind: 'pod_failure', service: 'otel-collector', count: 1 }]);
    const podChaos = exportChaosMesh(exported).manifests[0] as ChaosMeshManifest;
    expect(podChaos.kind).toBe('PodChaos');
    expect(podChaos.spec).toMatchObject({ action: 'pod-failure', selector: { labelSelectors: { 'app.kubernetes.io/name': 'otel-collector' } } });
  });

  it('maps a worker_pool to an HTTP delay of its service time on a share of the pods, saying the queue is not exported', () => {
    const exported = fromScenario({
      name: 'x',
      phases: [{ name: 'p', duration: 1_000 }],
      faults: [
        { type: 'worker_pool', name: 'two-workers', target: 'catalog-1', attributes: { workers: 2, serviceTime: '300ms' }, phase: 'p' },
        { type: 'worker_pool', name: 'one-worker', target: 'bank', attributes: { workers: 1, serviceTime: 50 }, phase: 'p' },
      ],
    });
    expect(exported.faults).toMatchObject([
      { kind: 'http_delay', service: 'catalog', delayMs: 300, rate: 0.5, approximates: expect.stringContaining('the queue, and so the overload, is not exported') },
      { kind: 'http_delay', service: 'bank', delayMs: 50, rate: 1 },
    ]);
    expect(() =>
      fromScenario({ name: 'x', phases: [{ name: 'p', duration: 1_000 }], faults: [{ type: 'worker_pool', name: 'w', target: 'bank', attributes: { workers: 1, serviceTime: 'soon' }, phase: 'p' }] }),
    ).toThrow(/faults\.0\.attributes\.serviceTime/);
  });
});

describe('serial and parallel groups', () => {
  it('become Serial and Parallel templates, with a Suspend for every pause and late start, deadlines matching', () => {
    const { manifests, warnings } = exportChaosMesh(parseChaosMeshScenario(grouped()));
    const workflow = manifests.at(-1) as ChaosMeshManifest;
    const templates = new Map((workflow.spec.templates as Array<{ name: string; templateType: string; deadline: string; children?: string[] }>).map((t) => [t.name, t]));
    const summary = (name: string) => {
      const template = templates.get(name);
      return template ? [template.templateType, template.deadline, template.children ?? []] : undefined;
    };
    expect(summary('timeline')).toEqual(['Parallel', '20s', ['track-group-trouble', 'fault-sliced', 'track-cutoff', 'fault-late-fin', 'track-bank-down', 'track-split']]);
    expect(summary('track-group-trouble')).toEqual(['Serial', '13s', ['wait-group-trouble', 'group-trouble']]);
    expect(summary('wait-group-trouble')).toEqual(['Suspend', '2s', []]);
    // jitter 4 s, a 1 s pause, the parallel group 5 s, and the closing 1 s pause.
    expect(summary('group-trouble')).toEqual(['Serial', '11s', ['fault-jitter', 'wait-group-together', 'group-together', 'rest-trouble']]);
    // The pause before the parallel group is a Suspend, the one after it the group's last step.
    expect(summary('wait-group-together')).toEqual(['Suspend', '1s', []]);
    expect(summary('rest-trouble')).toEqual(['Suspend', '1s', []]);
    expect(summary('group-together')).toEqual(['Parallel', '5s', ['fault-resets', 'track-thin', 'track-hole']]);
    expect(summary('track-thin')).toEqual(['Serial', '3s', ['wait-thin', 'fault-thin']]);
    expect(summary('wait-hole')).toEqual(['Suspend', '2s', []]);
    expect(summary('fault-resets')?.[1]).toBe('5s');
    expect(byName(manifests, 'grouped-thin').spec).toMatchObject({ action: 'bandwidth', bandwidth: { rate: '50000bps' } });
    expect(byName(manifests, 'grouped-hole').spec).toMatchObject({ action: 'loss', loss: { loss: '100' } });
    expect(byName(manifests, 'grouped-resets')).toMatchObject({ kind: 'HTTPChaos', spec: { abort: true, mode: 'fixed-percent', value: '30' } });
    expect(byName(manifests, 'grouped-jitter').spec).toMatchObject({ action: 'delay', delay: { latency: '150ms', jitter: '100ms' } });
    expect(byName(manifests, 'grouped-bank-down').spec).toMatchObject({ action: 'partition', direction: 'both' });
    expect(byName(manifests, 'grouped-split').spec).toMatchObject({ action: 'partition' });
    for (const approximated of ['sliced', 'cutoff', 'late-fin', 'bank-down']) expect(warnings.some((line) => line.startsWith(`${approximated}:`)), approximated).toBe(true);
  });

  it('refuses a workflow that does not hold every fault exactly once', () => {
    const input = grouped();
    expect(() => parseChaosMeshScenario({ ...input, workflow: [{ kind: 'fault', name: 'ghost' }] })).toThrow(/workflow: must hold fault 'jitter' exactly once.*workflow: names no fault 'ghost'/);
  });
});

describe('writeChaosMeshExport', () => {
  it('writes one file per manifest and removes files of an earlier export', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faultline-chaos-mesh-'));
    try {
      const stale = join(dir, 'payment-outage');
      await writeChaosMeshExport('payment-outage', dir);
      await writeFile(join(stale, 'networkchaos-gone.yaml'), 'kind: NetworkChaos\n');
      const written = await writeChaosMeshExport('payment-outage', dir);
      expect(written.files).toEqual(['httpchaos-bank-outage.yaml', 'workflow.yaml']);
      expect((await readdir(stale)).sort()).toEqual(written.files);
      expect(written.warnings).toHaveLength(2);
      const workflow = await readFile(join(stale, 'workflow.yaml'), 'utf8');
      expect(workflow).toMatch(/^# Generated from scenarios\/payment-outage\.yaml by `faultline chaos export payment-outage`/);
      expect(parseYaml(workflow)).toMatchObject({ kind: 'Workflow', metadata: { name: 'payment-outage' } });
      await expect(writeChaosMeshExport('no-such-scenario', dir)).rejects.toThrow(/^no scenario 'no-such-scenario' \(known: .*payment-outage/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('every committed export is up to date (regenerate: node chaos/chaos-mesh/write.ts <scenario>)', async () => {
    const generated = (await readdir(GENERATED_DIR)).sort();
    expect(generated).toEqual(expect.arrayContaining(['payment-outage', 'checkout-inventory-partition', 'packet-trouble']));
    for (const name of generated) {
      const scenario = await loadScenarioForExport(name);
      const expected = renderChaosMeshFiles(scenario, exportChaosMesh(scenario));
      const dir = join(GENERATED_DIR, name);
      const committed = (await readdir(dir)).filter((file) => file.endsWith('.yaml')).sort();
      expect(committed, name).toEqual([...expected.keys()].sort());
      for (const [file, content] of expected) expect(await readFile(join(dir, file), 'utf8'), `${name}/${file}`).toBe(content);
    }
  });
});

describe('Chaos Mesh CRD schemas', () => {
  it.skipIf(!schemas)(`accepts every generated manifest${schemas ? '' : ` (${SKIP_NOTE})`}`, async () => {
    const crds = await loadChaosMeshCrds();
    // Every scenario of scenarios/, whatever its fault kinds and groups.
    const scenarios = (await readdir(SCENARIO_DIR)).filter((file) => file.endsWith('.yaml'));
    expect(scenarios.length).toBeGreaterThanOrEqual(5);
    const perScenario = await Promise.all(scenarios.map(async (file) => exportChaosMesh(await loadScenarioForExport(join(SCENARIO_DIR, file))).manifests));
    const manifests = [
      ...exportChaosMesh(parseChaosMeshScenario(everyKind)).manifests,
      ...exportChaosMesh(parseChaosMeshScenario(everyKind), { schedule: '@every 6h' }).manifests.slice(-1),
      ...exportChaosMesh(parseChaosMeshScenario(grouped())).manifests,
      ...perScenario.flat(),
    ];
    for (const manifest of manifests) expect(crds.validate(manifest), `${manifest.kind} ${manifest.metadata.name}`).toEqual([]);
  });

  it.skipIf(!schemas)(`accepts every committed manifest, examples and generated${schemas ? '' : ` (${SKIP_NOTE})`}`, async () => {
    const crds = await loadChaosMeshCrds();
    const files = [
      ...(await readdir(EXAMPLES_DIR)).map((file) => join(EXAMPLES_DIR, file)),
      ...(await readdir(join(GENERATED_DIR, 'payment-outage'))).map((file) => join(GENERATED_DIR, 'payment-outage', file)),
    ].filter((file) => file.endsWith('.yaml'));
    const kinds = new Set<string>();
    for (const file of files) {
      const manifest = parseYaml(await readFile(file, 'utf8')) as ChaosMeshManifest;
      kinds.add(manifest.kind);
      expect(crds.validate(manifest), file).toEqual([]);
    }
    expect([...kinds].sort()).toEqual(['HTTPChaos', 'NetworkChaos', 'PodChaos', 'Schedule', 'StressChaos', 'Workflow']);
  });

  it.skipIf(!schemas)(`rejects what Chaos Mesh would reject, naming the field${schemas ? '' : ` (${SKIP_NOTE})`}`, async () => {
    const crds = await loadChaosMeshCrds();
    const good = exportChaosMesh(parseChaosMeshScenario(everyKind)).manifests[0] as ChaosMeshManifest;
    expect(crds.validate({ ...good, spec: { ...good.spec, action: 'teleport' } })).toEqual([
      'spec.action: must be equal to one of the allowed values (netem, delay, loss, duplicate, corrupt, partition, bandwidth)',
    ]);
    expect(crds.validate({ ...good, spec: { ...good.spec, labelSelector: {} } })).toEqual(['spec: must NOT have additional properties (labelSelector)']);
    expect(crds.validate({ ...good, spec: { ...good.spec, delay: { latency: '2 seconds' } } })[0]).toMatch(/^spec\.delay\.latency: must match pattern/);
    expect(crds.validate({ ...good, kind: 'KernelChaos' })[0]).toMatch(/^kind: KernelChaos is not one of /);
    // Experiments embedded in a Workflow are checked as deeply as standalone ones.
    const workflow = exportChaosMesh(parseChaosMeshScenario(everyKind)).manifests.at(-1) as ChaosMeshManifest;
    const templates = structuredClone(workflow.spec.templates) as Array<Record<string, Record<string, unknown>>>;
    const http = templates.find((template) => template.httpChaos !== undefined)?.httpChaos as Record<string, unknown>;
    http.target = 'Both';
    expect(crds.validate({ ...workflow, spec: { ...workflow.spec, templates } })).toEqual([
      expect.stringMatching(/^spec\.templates\.\d+\.httpChaos\.target: must be equal to one of the allowed values \(Request, Response\)$/),
    ]);
    expect(crds.validate({ ...good, metadata: { ...good.metadata, name: 'Not_A_Name' } })).toEqual([
      'metadata.name: must be a DNS subdomain (lowercase letters, digits, dashes and dots)',
    ]);
  });
});
