// The scenario format: which resilience policies are on, a load profile, named
// phases, a fault timeline and expectations. Typed data with discriminated
// unions, unknown keys rejected, every bad path reported at once, shorthands
// ('30s', '99.9%') normalised, then frozen. Scenarios live in scenarios/*.yaml.

import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { parseDuration } from '../demo-services/kit/durations.ts';
import { durationMs, formatIssues, requiringUnits } from '../demo-services/kit/schema.ts';
import { compensationPolicySchema } from '../demo-services/checkout/compensation-policy.ts';
import { cachePolicySchema, catalogDatabasePolicySchema, coalescingPolicySchema } from '../demo-services/catalog/catalog-policy.ts';
import { gatewayPolicySchema } from '../demo-services/gateway/policy.ts';
import { bankBehaviourSchema } from '../demo-services/bank/behaviour.ts';
import { dependencyPolicySchema } from '../demo-services/resilience/policy-config.ts';
import { PROCESS_FAULT_ATTRIBUTES, PROCESS_FAULT_TYPES } from '../demo-services/kit/process-faults.ts';
import { asyncTelemetryPolicySchema } from '../demo-services/kit/telemetry-policy.ts';
import { eventLoopSheddingSchema } from '../demo-services/kit/event-loop-shedding.ts';
import { FAULT_TYPES } from '../chaos/fault.ts';
import { STREAMS } from '../chaos/fault-spec.ts';
import { PARTITION_MODES } from '../chaos/partitions.ts';
import { flattenFaultSteps, type GroupType } from '../chaos/fault-workflow.ts';
import { ERROR_CODE, FaultlineError } from './errors.ts';
import { executorDurationMs, parseExecutorConfig, type ExecutorConfig } from '../load/executors/index.ts';
import { LoadOptionsError } from '../load/schedule.ts';
import { journeyLoadFields, refineJourneyChoice } from '../load/journeys/mix.ts';
import { JOURNEY_NAMES } from '../load/journeys/definitions.ts';
import { PROJECT_ROOT } from './supervisor.ts';
import { pressureLimitsSchema } from './pressure.ts';
import { instanceNames, SERVICES } from './topology.ts';
import { CATEGORY_NAMES, SWITCH_NAMES } from './catalogue.ts';
import { byteSize, memoryLimitSchema } from './memory-limit.ts';
import { gatewayCallProblems, gatewayOnly } from '../demo-services/gateway/dependency-calls.ts';

export const SCENARIO_DIR = join(PROJECT_ROOT, 'scenarios');

const name = z.string().regex(/^[a-z][a-z0-9-]*$/, 'must be lowercase letters, digits and dashes');
const edge = z.string().regex(/^[a-z][a-z0-9-]*->[a-z][a-z0-9-]*$/, "must name an edge as 'caller->dependency'");

/** How many clients: enough for a crowd, few enough that their tokens are signed before the run in no time. */
const clientCount = z.int().min(1).max(1_000);

/**
 * A further stream of clients beside the main load, with its own identities (one bearer token, so one
 * rate-limit bucket, per client) and its own rate per phase: a few noisy clients that burst tenfold
 * in one phase. Its journeys are the main load's unless it names its own. Its requests are tagged
 * `client: <name>`, and its clients honour Retry-After (load/retry-after.ts).
 */
const streamSchema = z
  .strictObject({
    name,
    clients: clientCount,
    /** Journeys the whole stream starts per second, in every phase not named in `rates`. */
    rate: z.number().min(0),
    /** The stream's rate in named phases, e.g. `{ spike: 20 }`. */
    rates: z.record(name, z.number().min(0)).default({}),
    journey: journeyLoadFields.journey,
    journeys: journeyLoadFields.journeys,
    thinkTime: journeyLoadFields.thinkTime,
    /** Concurrency slots of the stream (an arrival that finds all busy is dropped, as in the main load). */
    maxVUs: z.int().min(1).default(100),
  })
  .refine((stream) => stream.journey === undefined || stream.journeys === undefined, { message: 'give either journey or journeys, not both', path: ['journeys'] });

/** Keys of a load section that are not the executor's. */
const NOT_EXECUTOR_KEYS = ['journey', 'journeys', 'thinkTime', 'requestTimeout', 'clients', 'streams'] as const;

/**
 * The journey and its request timeout; every other key is the executor's
 * (k6's names: executor, rate, stages, vus, ...), validated by
 * load/executors/index.ts. constant-arrival-rate and constant-vus run for the
 * phases' total; the others must add up to it.
 */
const loadSchema = z.looseObject({
  executor: z.string(),
  /** `journey: checkout`, or a weighted mix `journeys: { browse: 60, checkout: 5 }`, and `thinkTime: { min, max }` (load/journeys/mix.ts). */
  ...journeyLoadFields,
  /** Client-side timeout of one request. */
  requestTimeout: durationMs.default(5_000),
  /**
   * The main load's clients by name: its arrivals rotate over `count` clients, each with its own token,
   * tagged `client: <name>`, honouring Retry-After. Absent: every VU is a client of its own, as before.
   */
  clients: z.strictObject({ name, count: clientCount }).optional(),
  /** Further client streams beside the main load, run at the same time. */
  streams: z.array(streamSchema).default([]),
}).superRefine(refineJourneyChoice);

export type LoadStream = z.infer<typeof streamSchema>;

/** The client groups a scenario names (the main load's `clients` and every stream), for `filter.client`. */
export function clientGroups(load: Pick<Scenario['load'], 'clients' | 'streams'>): string[] {
  return [...(load.clients ? [load.clients.name] : []), ...load.streams.map((stream) => stream.name)];
}

/** A stream's rate in each phase, in phase order. */
export function streamSegments(stream: Pick<LoadStream, 'rate' | 'rates'>, phases: ReadonlyArray<{ name: string; duration: number }>): Array<{ durationMs: number; rate: number }> {
  return phases.map((phase) => ({ durationMs: phase.duration, rate: stream.rates[phase.name] ?? stream.rate }));
}

/** The executor part of a scenario's load section, parsed; `duration` is the phases' total where the executor needs one. */
export function executorConfig(scenario: Pick<Scenario, 'load' | 'phases'>): ExecutorConfig {
  return parseExecutorConfig(executorInput(scenario.load, totalDurationMs(scenario)), 'load');
}

/** The executor's keys of a load section; executors that run for a fixed time get the phases' total as `duration`. */
function executorInput(load: Record<string, unknown>, durationMs: number | string): Record<string, unknown> {
  const rest = Object.fromEntries(Object.entries(load).filter(([key]) => !(NOT_EXECUTOR_KEYS as readonly string[]).includes(key)));
  const fixedTime = rest.executor === 'constant-arrival-rate' || rest.executor === 'constant-vus';
  return fixedTime ? { duration: durationMs, ...rest } : rest;
}

const faultTiming = {
  /** Active for the whole of this phase. */
  phase: name.optional(),
  /** Or: offset from the run start, and how long. */
  at: durationMs.optional(),
  duration: durationMs.optional(),
};

/** The lab's embedded collector (runner/lab.ts starts it under this name): a process fault may freeze or stop it. */
export const COLLECTOR_PROCESS = 'collector';

/** Toxiproxy toxics a scenario can put on an edge besides latency. */
export const TCP_TOXIC_TYPES = ['bandwidth', 'slow_close', 'timeout', 'reset_peer', 'slicer', 'limit_data'] as const;

const faultSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('http_error'),
    name,
    edge,
    ...faultTiming,
    status: z.int().min(400).max(599).default(503),
    /** Share of requests that get the error (Toxiproxy's toxicity). */
    rate: z.number().min(0).max(1).default(1),
  }),
  z.strictObject({
    /** A process fault on one instance, or on the collector: `kill` (SIGKILL, started again at the end unless restart is false) or `pause` (SIGSTOP, then SIGCONT). */
    type: z.literal('process'),
    name,
    target: name,
    action: z.enum(['kill', 'pause']),
    restart: z.boolean().default(true),
    ...faultTiming,
  }),
  // Faults inside one service instance, through its loopback-only /admin/faults.
  ...PROCESS_FAULT_TYPES.map((type) =>
    z.strictObject({ type: z.literal(type), name, target: name, attributes: PROCESS_FAULT_ATTRIBUTES[type], ...faultTiming }),
  ),
  z.strictObject({
    type: z.literal('latency'),
    name,
    edge,
    ...faultTiming,
    latency: durationMs,
    jitter: durationMs.default(0),
    rate: z.number().min(0).max(1).default(1),
    /** downstream (default) delays the answer, upstream the request. */
    stream: z.enum(STREAMS).default('downstream'),
  }),
  // Toxiproxy's other toxics on an edge, in its names, fields and units: `attributes` as its API takes them.
  ...TCP_TOXIC_TYPES.map((type) =>
    z.strictObject({
      type: z.literal(type),
      name,
      edge,
      ...faultTiming,
      stream: z.enum(STREAMS).default((FAULT_TYPES.get(type) as NonNullable<ReturnType<typeof FAULT_TYPES.get>>).defaultStream),
      /** Share of connections (tcp edges) or requests (http edges) the toxic acts on. */
      toxicity: z.number().min(0).max(1).default(1),
      attributes: (FAULT_TYPES.get(type) as NonNullable<ReturnType<typeof FAULT_TYPES.get>>).attributes.prefault({}),
    }),
  ),
  z.strictObject({
    /** The edge's proxies are disabled: connections refused until the fault ends. */
    type: z.literal('down'),
    name,
    edge,
    ...faultTiming,
  }),
  z.strictObject({
    /** Every edge between a service of `a` and one of `b` cut, both ways; healed when the fault ends. */
    type: z.literal('partition'),
    name,
    a: z.array(name).min(1),
    b: z.array(name).min(1),
    /** blackhole (default): calls hang until the caller's timeout; refuse: connections refused. */
    mode: z.enum(PARTITION_MODES).default('blackhole'),
    ...faultTiming,
  }),
]);

export type FaultSpec = z.infer<typeof faultSchema>;
export type EdgeFault = Extract<FaultSpec, { edge: string }>;

/** Faults on the calls of one edge `caller->dependency`, through the fault proxy. */
export function isEdgeFault(fault: FaultSpec): fault is EdgeFault {
  return 'edge' in fault;
}

/** A group of fault steps: serial (one after another) or parallel (together, each maybe `at` an offset), like Chaos Mesh workflows. */
export interface FaultGroup {
  type: GroupType;
  name: string;
  phase?: string | undefined;
  at?: number | undefined;
  duration?: number | undefined;
  steps: FaultEntry[];
}
/** A pause between the steps of a serial group. */
export interface FaultSuspend {
  type: 'suspend';
  duration: number;
}
export type FaultEntry = FaultSpec | FaultGroup | FaultSuspend;

const groupSchema = (type: GroupType) =>
  z.strictObject({
    type: z.literal(type),
    name,
    ...faultTiming,
    get steps() {
      return z.array(faultEntrySchema).min(1);
    },
  });
const faultEntrySchema: z.ZodType<FaultEntry, unknown> = z.lazy(() =>
  z.discriminatedUnion('type', [
    ...faultSchema.options,
    groupSchema('serial'),
    groupSchema('parallel'),
    z.strictObject({ type: z.literal('suspend'), duration: durationMs }),
  ]),
);

const windowSchema = z.union([
  name,
  z.strictObject({
    circuitOpen: z.strictObject({
      service: name,
      dependency: name,
      /**
       * Only while the breaker was open, not half-open, and each open stretch less this phase's
       * p95 latency (successful requests, this run) at its end: a request that arrives then may
       * reach the breaker after it went half-open and be let through as a probe. That time grows
       * with a busy machine, so it is measured, not fixed.
       */
      reachTimeFrom: name.optional(),
    }),
  }),
]);

const expectationSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('threshold'),
    name: z.string().min(1),
    /**
     * k6's metrics, and two counts of clients that honour Retry-After (load/retry-after.ts):
     * deferred_requests, held back while a client waited out a Retry-After; requests_before_retry_after,
     * sent before a Retry-After the client had been given had passed (with `count==0`).
     */
    metric: z.enum(['http_req_duration', 'http_req_failed', 'iterations', 'dropped_iterations', 'deferred_requests', 'requests_before_retry_after']),
    threshold: z.string().min(1),
    during: windowSchema.optional(),
    /** failed: only failed (or only successful) requests; problem: only failures whose problem+json type ends in this slug (dependency-circuit-open: the breaker short-circuited them). */
    /**
     * Latency only: the limit is the threshold (what the pattern itself may cost: timeouts, retries,
     * backoff) plus `factor` times the same figure of the successful requests of `phase` in this run
     * (what the shop's own work costs on this machine today), so a machine that slows everything
     * down moves the limit with it, and a missing pattern (seconds of hanging) still fails it. The
     * allowance is at most `max` (by default the threshold itself: the limit at most doubles). A pass
     * that needed the default cap is INCONCLUSIVE when the reference phase went over the pressure
     * limits and the window did not; an explicit `max` is the scenario's reasoned bound, and a pass
     * within it stands.
     */
    allowance: z.strictObject({ phase: name, factor: z.number().positive(), max: durationMs.optional() }).optional(),
    filter: z
      .strictObject({
        failed: z.boolean().optional(),
        problem: z.string().regex(/^[a-z0-9-]+$/, 'must be a problem type slug such as dependency-circuit-open').optional(),
        /** Only the requests of this journey (their `journey` tag): the storefront's browsing, not the checkouts beside it. */
        journey: z.enum(JOURNEY_NAMES).optional(),
        /** Only the requests of this client group (their `client` tag): `load.clients.name` or a stream's name. */
        client: name.optional(),
      })
      .optional(),
    /**
     * Error rates only: how slow this machine may be, as `factor` times the mean latency of `phase`'s
     * successful requests in this run. A failure answered `overloaded` (the gateway's shedding) is then
     * a fact about the shop, not the machine, when slowness alone could not have filled the gateway:
     * by Little's law the window's request rate times that latency, plus every slot the gateway's
     * bulkheads may hold, stays under its maxInFlight (runner/expectations.ts, sheddingBound). With
     * `problem: dependency-timeout`, a timeout is a fact about the shop when maxInFlight requests, one
     * after another, each at `phase`'s mean latency times `factor`, wait less than the route timeout (timeoutBound).
     */
    slowness: z.strictObject({ phase: name, factor: z.number().min(1) }).optional(),
  }),
  z.strictObject({
    type: z.literal('circuit'),
    name: z.string().min(1),
    service: name,
    dependency: name,
    /** Opens while this phase runs... */
    opensDuring: name,
    /** ...and is closed again after this phase ends, by the end of the run. */
    closesAfter: name,
  }),
  z.strictObject({
    /** The shop's books balance after the run (faultline check). */
    type: z.literal('books'),
    name: z.string().min(1),
  }),
  z.strictObject({
    type: z.literal('trace'),
    name: z.string().min(1),
    during: name,
    /** Client spans of service calling dependency; with operation, only that RPC method or route (Charge, not the compensating Refund). */
    count: z.strictObject({ service: name, dependency: name, operation: z.string().min(1).optional() }),
    /**
     * What one count covers: a trace started during the phase (the default), or a burst: the
     * counted spans started during the phase that overlap in time and carry the same values of
     * these span attributes, e.g. [db.namespace, faultline.store.key] for the reads of one key in
     * one database at once (with request coalescing, one per cache expiry).
     */
    per: z.strictObject({ overlapping: z.array(z.string().min(1)).min(1) }).optional(),
    /** Most attempts any one trace may make: a number, or `retry-policy` for what the caller's retry policy allows. */
    max: z.union([z.int().min(0), z.literal('retry-policy')]).optional(),
    /** Most attempts per trace on average: how much of the load reached the dependency (a breaker spares it). */
    mean: z.number().min(0).optional(),
  }).refine((e) => e.max !== undefined || e.mean !== undefined, { message: 'give max, mean or both', path: ['max'] }),
  z.strictObject({
    /**
     * Where the failures are: the server spans of `service` that started in the phase and were
     * answered with a 5xx (not a 504: a timeout is a slow machine's too), grouped by one span attribute. Holds when some carry
     * `attribute` = `value` (the trace search finds them by it) and at most `maxOther` carry another
     * value or none: the errors cluster on one product, one tenant, one key. A count, so no machine
     * is too slow for it.
     */
    type: z.literal('failed-spans'),
    name: z.string().min(1),
    during: name,
    service: name,
    /** A span attribute, e.g. faultline.sku. */
    attribute: z.string().regex(/^[a-z][a-z0-9_.]*$/, 'must be a span attribute name such as faultline.sku'),
    value: z.string().min(1),
    /** Most failed spans allowed with another value of the attribute, or without it. */
    maxOther: z.int().min(0),
  }),
  z.strictObject({
    /**
     * How a service answered: its server spans started in the phase with this HTTP status, counted
     * (at most `max`), e.g. the bank's 429 once an outage has ended. A count, but one a stalled
     * machine can raise (a caller frozen for a second sends a second's work at once), so over
     * the phase's pressure limits a failure is INCONCLUSIVE.
     */
    type: z.literal('answers'),
    name: z.string().min(1),
    during: name,
    service: name,
    status: z.int().min(100).max(599),
    max: z.int().min(0),
  }),
  z.strictObject({
    /**
     * Work done for a caller that had given up: calls of service to dependency started in the phase
     * whose client span failed (a timeout) while the dependency's server span for it succeeded and
     * began after the caller had stopped waiting. A count, so no machine is too slow for it.
     */
    type: z.literal('wasted-work'),
    name: z.string().min(1),
    during: name,
    service: name,
    dependency: name,
    /** Most such calls allowed in the phase. */
    max: z.int().min(0),
  }),
  z.strictObject({
    /**
     * The most resident memory (RSS) an instance held, as the lab's supervisor sampled it (every
     * ~250 ms, runner/memory-limit.ts), during a phase or the whole run: `max: 256MiB`. A size, not
     * a time: a busy machine cannot make a process hold more, so a failure is always a FAIL.
     */
    type: z.literal('memory'),
    name: z.string().min(1),
    instance: name,
    max: byteSize,
    during: name.optional(),
  }),
  z.strictObject({
    /** An alert (from the SLO rules, through Prometheus and Alertmanager) fires soon after a fault starts, and maybe resolves after it ends. */
    type: z.literal('alert'),
    name: z.string().min(1),
    /** The alertname, e.g. CheckoutAvailabilityBudgetBurn. */
    alert: z.string().min(1),
    /** Further labels the alert must carry, e.g. { severity: page }. */
    labels: z.record(z.string(), z.string()).default({}),
    /** The fault whose start (and end) the times are counted from. */
    fault: name,
    firesWithin: durationMs,
    /** Resolved at most this long after the fault ends. */
    resolvesWithin: durationMs.optional(),
  }),
  z.strictObject({
    /** No alert (or none matching) fires while a phase runs, e.g. the baseline. */
    type: z.literal('no-alert'),
    name: z.string().min(1),
    during: name,
    alert: z.string().min(1).optional(),
    labels: z.record(z.string(), z.string()).default({}),
  }),
]);

/** A pattern's name as the catalogue writes it, in camelCase like the policies: circuitBreaker, retryBudget, loadShedding. */
const patternName = z.string().regex(/^[a-z][a-zA-Z0-9]*$/, 'must be a pattern name in camelCase, such as circuitBreaker or retryBudget');
const prose = z.string().trim().min(1);

/**
 * What a scenario's page says that its other fields cannot: what you will see (in prose, and the
 * signals by name, each checked to exist by scripts/scenario-pages.test.ts), why the pattern
 * contains the failure, and the fix in a real system.
 */
const storySchema = z.strictObject({
  see: prose,
  signals: z
    .strictObject({
      /** Prometheus metric names (demo-services/kit/conventions.ts). */
      metrics: z.array(z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'must be a Prometheus metric name')).default([]),
      /** Dashboard panels as '<dashboard> / <panel>', titles without the 'Faultline / ' prefix (dashboards/faultline/*.json). */
      panels: z.array(z.string().regex(/^[^/]+ \/ .+$/, "must be '<dashboard> / <panel title>'")).default([]),
      /** Alert names from the SLO specs (slo/specs). */
      alerts: z.array(z.string().regex(/^[A-Z][A-Za-z0-9]*$/, 'must be an alert name such as CheckoutAvailabilityBudgetBurn')).default([]),
      /** `faultline traces <run>` flags that find the traces to look at, e.g. '--phase outage --status error'. */
      traces: z.array(z.string().trim().min(1)).default([]),
    })
    .prefault({}),
  why: prose,
  realFix: prose,
});

export const scenarioSchema = z.strictObject({
  name,
  description: z.string().min(1),
  /** The catalogue (runner/catalogue.ts): the kind of failure, the pattern(s) that contain it, and the `--disable` switch(es) that remove them. */
  category: z.enum(CATEGORY_NAMES).optional(),
  demonstrates: z.array(patternName).min(1).optional(),
  without: z.array(z.enum(SWITCH_NAMES)).min(1).optional(),
  /** The prose of the scenario's page (docs/scenarios/<name>.md). */
  story: storySchema.optional(),
  seed: z.int().default(1),
  /** caller service -> dependency -> policy. */
  policies: z.record(name, z.record(name, dependencyPolicySchema)).default({}),
  /**
   * Patterns of a service as a whole, not of one of its calls: checkout's crash recovery (resume the
   * sagas a dead process left pending) and its compensation sweeper (retry owed refunds and releases
   * until done, with its own backoff).
   */
  services: z
    .record(
      name,
      z.strictObject({
        recovery: z.strictObject({ enabled: z.boolean().default(true) }).optional(),
        compensation: compensationPolicySchema.optional(),
        /** checkout: one idempotency key per order for every attempt of its charge (off: a fresh key per retry, the bug that charges twice). */
        idempotency: z.strictObject({ enabled: z.boolean().default(true) }).optional(),
        /** checkout: send its deadline with every call (off: it still times out, but its dependencies never learn when). */
        deadlines: z.strictObject({ enabled: z.boolean().default(true) }).optional(),
        /** catalog: its read cache (TTL, jitter), request coalescing (the `coalescing` switch), and its store's read latency (the lab sets the database file). */
        cache: cachePolicySchema.optional(),
        coalescing: coalescingPolicySchema.optional(),
        database: catalogDatabasePolicySchema.omit({ path: true }).optional(),
        /** bank: its latency, a share of charges it fails, and its rate limit (charges a second, a token bucket; one more is answered 429). */
        behaviour: bankBehaviourSchema.optional(),
        /** Any service: the most resident memory each instance may hold; over it the lab's supervisor kills it (SIGKILL, as an OOM killer would) and starts it again (runner/memory-limit.ts). */
        memoryLimit: memoryLimitSchema.optional(),
        /** Any service: refuse new requests (503 overloaded) while its event loop runs later than maxDelay (demo-services/kit/event-loop-shedding.ts). */
        eventLoopShedding: eventLoopSheddingSchema.optional(),
        /** Any service: its spans leave off the request path, through a bounded queue (off: exported as they end, and flushed before each answer). */
        asyncTelemetry: asyncTelemetryPolicySchema.optional(),
      }),
    )
    .default({}),
  /** The gateway's own policies: auth, rate limiting, load shedding, timeouts, balancing. */
  gateway: gatewayPolicySchema.prefault({}),
  phases: z.array(z.strictObject({ name, duration: durationMs })).min(1),
  load: loadSchema,
  /** Faults, or serial/parallel groups of them; laid flat on the run's clock by parseScenario. */
  faults: z.array(faultEntrySchema).default([]),
  expectations: z.array(expectationSchema).min(1),
  /** How busy the machine may be while a phase is measured before its timing-sensitive failures are INCONCLUSIVE (runner/pressure.ts). */
  pressure: pressureLimitsSchema.prefault({}),
});

/** A parsed scenario; its faults are flat (groups laid out: each step has its own at and duration). */
export type Scenario = Omit<z.infer<typeof scenarioSchema>, 'faults'> & {
  faults: FaultSpec[];
  /** Patterns `run --disable` switched off, as `caller->dependency policy` (set by adjustScenario, for the banner and the record). */
  switchedOff?: string[];
};
export type Expectation = Scenario['expectations'][number];
export type Window = z.infer<typeof windowSchema>;

export interface PhaseWindow {
  name: string;
  startMs: number;
  endMs: number;
}

/** Phases laid end to end, as offsets from the run start. */
export function phaseWindows(scenario: Pick<Scenario, 'phases'>): PhaseWindow[] {
  let at = 0;
  return scenario.phases.map((phase) => {
    const window = { name: phase.name, startMs: at, endMs: at + phase.duration };
    at += phase.duration;
    return window;
  });
}

export function totalDurationMs(scenario: Pick<Scenario, 'phases'>): number {
  return scenario.phases.reduce((sum, phase) => sum + phase.duration, 0);
}

/** What is wrong with the executor part of a raw scenario document's load section, if it has one. */
function executorProblems(document: unknown): string[] {
  const load = (document as { load?: unknown } | null)?.load;
  if (typeof load !== 'object' || load === null) return [];
  try {
    // The phases may be invalid too: any positive duration lets the executor's own keys be checked
    // (spelt with its unit, as a file must spell it).
    parseExecutorConfig(executorInput(load as Record<string, unknown>, '1s'), 'load');
    return [];
  } catch (error) {
    if (error instanceof LoadOptionsError) return [...error.problems];
    throw error;
  }
}

/** Checks that need the whole scenario: names that refer to phases, fault timing. */
function crossCheck(scenario: Scenario, faultPaths: readonly string[] = []): string[] {
  const faultPath = (i: number) => faultPaths[i] ?? `faults.${i}`;
  const errors: string[] = [];
  const phases = new Set(scenario.phases.map((phase) => phase.name));
  const total = totalDurationMs(scenario);
  if (phases.size !== scenario.phases.length) errors.push('phases: names must be unique');
  scenario.faults.forEach((fault, i) => {
    const at = faultPath(i);
    if (fault.phase !== undefined) {
      if (!phases.has(fault.phase)) errors.push(`${at}.phase: no phase named '${fault.phase}'`);
      if (fault.at !== undefined || fault.duration !== undefined) errors.push(`${at}: give either phase or at/duration, not both`);
    } else if (fault.at === undefined || fault.duration === undefined) {
      errors.push(`${at}: needs a phase, or both at and duration`);
    } else if (fault.at + fault.duration > total) {
      errors.push(`${at}: ends after the last phase (${total} ms)`);
    }
  });
  const instances = new Set(SERVICES.flatMap((service) => instanceNames(service.name)));
  const services = new Set(SERVICES.map((service) => service.name));
  scenario.faults.forEach((fault, i) => errors.push(...faultTargetProblems(fault, faultPath(i), instances, services)));
  try {
    const config = executorConfig(scenario);
    const total = totalDurationMs(scenario);
    if (executorDurationMs(config) !== total && config.executor !== 'per-vu-iterations') {
      errors.push(`load: the executor runs for ${executorDurationMs(config)} ms but the phases add up to ${total} ms`);
    }
  } catch (error) {
    if (!(error instanceof LoadOptionsError)) throw error;
    errors.push(...error.problems);
  }
  errors.push(...catalogueProblems(scenario));
  const groups = clientGroups(scenario.load);
  groups.forEach((group, i) => {
    if (groups.indexOf(group) !== i) errors.push(`load.streams: the client group '${group}' is named twice`);
  });
  scenario.load.streams.forEach((stream, i) => {
    for (const phase of Object.keys(stream.rates)) if (!phases.has(phase)) errors.push(`load.streams.${i}.rates.${phase}: no phase named '${phase}'`);
  });
  const names = new Set<string>();
  scenario.faults.forEach((fault, i) => {
    if (names.has(fault.name)) errors.push(`${faultPath(i)}.name: '${fault.name}' is used twice`);
    names.add(fault.name);
  });
  scenario.expectations.forEach((expectation, i) => {
    const at = `expectations.${i}`;
    const refs: Array<[string, string]> = [];
    if (expectation.type === 'circuit') refs.push(['opensDuring', expectation.opensDuring], ['closesAfter', expectation.closesAfter]);
    if (expectation.type === 'trace' || expectation.type === 'wasted-work' || expectation.type === 'failed-spans' || expectation.type === 'answers') refs.push(['during', expectation.during]);
    if (expectation.type === 'threshold' && typeof expectation.during === 'string') refs.push(['during', expectation.during]);
    if (expectation.type === 'threshold' && typeof expectation.during === 'object' && expectation.during.circuitOpen.reachTimeFrom !== undefined) {
      refs.push(['during.circuitOpen.reachTimeFrom', expectation.during.circuitOpen.reachTimeFrom]);
    }
    if (expectation.type === 'threshold' && expectation.slowness) {
      refs.push(['slowness.phase', expectation.slowness.phase]);
      if (expectation.metric !== 'http_req_failed') errors.push(`${at}.slowness: only for http_req_failed thresholds`);
    }
    if (expectation.type === 'threshold' && expectation.allowance) {
      refs.push(['allowance.phase', expectation.allowance.phase]);
      if (expectation.metric !== 'http_req_duration') errors.push(`${at}.allowance: only for http_req_duration thresholds`);
    }
    if (expectation.type === 'threshold' && expectation.filter?.client !== undefined && !groups.includes(expectation.filter.client)) {
      errors.push(`${at}.filter.client: no client group '${expectation.filter.client}' (${groups.length ? `groups: ${groups.join(', ')}` : 'name them in load.clients or load.streams'})`);
    }
    if (expectation.type === 'threshold' && BACKOFF_METRICS.has(expectation.metric)) {
      const { client: _client, ...others } = expectation.filter ?? {};
      if (Object.keys(others).length) errors.push(`${at}.filter: ${expectation.metric} counts by client group and window only (no ${Object.keys(others).join(', ')})`);
      if (expectation.allowance || expectation.slowness) errors.push(`${at}: ${expectation.metric} is a count: no allowance or slowness`);
    }
    if (expectation.type === 'no-alert') refs.push(['during', expectation.during]);
    if (expectation.type === 'memory' && expectation.during !== undefined) refs.push(['during', expectation.during]);
    if (expectation.type === 'memory' && !instances.has(expectation.instance)) errors.push(`${at}.instance: no instance '${expectation.instance}' (instances: ${[...instances].join(', ')})`);
    for (const [field, phase] of refs) if (!phases.has(phase)) errors.push(`${at}.${field}: no phase named '${phase}'`);
    if (expectation.type === 'alert' && !names.has(expectation.fault)) errors.push(`${at}.fault: no fault named '${expectation.fault}'`);
  });
  return errors;
}

/** Threshold metrics that count what clients honouring Retry-After did, not requests. */
const BACKOFF_METRICS: ReadonlySet<string> = new Set(['deferred_requests', 'requests_before_retry_after']);

/** The catalogue's fields go together, name nothing twice, and `without` names switches that are on in this scenario. */
function catalogueProblems(scenario: Scenario): string[] {
  const errors: string[] = [];
  const given = (['category', 'demonstrates', 'without'] as const).filter((field) => scenario[field] !== undefined);
  if (given.length > 0 && given.length < 3) {
    errors.push(`${given.join(', ')}: the catalogue's fields go together: give category, demonstrates and without (missing ${['category', 'demonstrates', 'without'].filter((f) => !given.includes(f as never)).join(', ')})`);
  }
  if (scenario.story !== undefined && given.length === 0) errors.push('story: only for a scenario of the catalogue (give category, demonstrates and without too)');
  for (const field of ['demonstrates', 'without'] as const) {
    const list: readonly string[] = scenario[field] ?? [];
    list.forEach((item, i) => {
      if (list.indexOf(item) !== i) errors.push(`${field}.${i}: '${item}' is named twice`);
    });
  }
  (scenario.without ?? []).forEach((name, i) => {
    if (switchedOnAt(scenario, name).length === 0) errors.push(`without.${i}: '${name}' is not switched on anywhere in this scenario, so running without it changes nothing`);
  });
  return errors;
}

/** Where a `--disable` switch is on in a scenario: `caller->dependency` for a call policy, the service for its own pattern. */
export function switchedOnAt(scenario: Pick<Scenario, 'policies' | 'services' | 'gateway'>, name: string): string[] {
  return switchPlaces(scenario, name)
    .filter((place) => place.setting.enabled)
    .map((place) => place.at);
}

/** The gateway's own patterns a switch names, and their field in its policy. */
const GATEWAY_SWITCHES: Readonly<Record<string, 'rateLimit' | 'loadShedding' | 'recommendationFallback' | 'outlierDetection' | 'healthChecks' | 'quarantine'>> = {
  rateLimit: 'rateLimit',
  loadShedding: 'loadShedding',
  fallback: 'recommendationFallback',
  outlierDetection: 'outlierDetection',
  healthChecks: 'healthChecks',
  quarantine: 'quarantine',
};

/**
 * A retry policy's jitter as a switch: on while it is anything but `none`; switched off, `none`, so
 * callers that failed (or were told to wait) together come back together.
 */
function jitterSwitch(retry: { enabled: boolean; jitter: 'none' | 'full' | 'equal' | 'decorrelated' }): { enabled: boolean } {
  return {
    // A retry policy that is off has no jitter to switch.
    get enabled() {
      return retry.enabled && retry.jitter !== 'none';
    },
    set enabled(on: boolean) {
      if (!on) retry.jitter = 'none';
    },
  };
}

/** Every place in a scenario a switch acts on, with its `{ enabled }` setting (the scenario's own object, so a copy can be changed). */
function switchPlaces(scenario: Pick<Scenario, 'policies' | 'services' | 'gateway'>, name: string): Array<{ at: string; setting: { enabled: boolean } }> {
  const places: Array<{ at: string; setting: { enabled: boolean } }> = [];
  const isSetting = (value: unknown): value is { enabled: boolean } => typeof value === 'object' && value !== null && typeof (value as { enabled?: unknown }).enabled === 'boolean';
  for (const [service, patterns] of Object.entries(scenario.services)) {
    const setting = (patterns as Record<string, unknown>)[name];
    if (isSetting(setting)) places.push({ at: service, setting });
  }
  for (const [caller, dependencies] of Object.entries(scenario.policies)) {
    for (const [dependency, settings] of Object.entries(dependencies)) {
      // The retry budget lives inside the retry policy; so does its jitter.
      const setting = name === 'retryBudget' ? settings.retry.budget : name === 'jitter' ? jitterSwitch(settings.retry) : (settings as unknown as Record<string, unknown>)[name];
      if (isSetting(setting)) places.push({ at: `${caller}->${dependency}`, setting });
    }
  }
  const gatewayField = GATEWAY_SWITCHES[name];
  if (gatewayField) places.push({ at: 'gateway', setting: scenario.gateway[gatewayField] });
  return places;
}

/** What is wrong with what a fault acts on: an instance, an edge the shop has (in the mode its toxic needs), or two groups of services. */
function faultTargetProblems(fault: FaultSpec, at: string, instances: ReadonlySet<string>, services: ReadonlySet<string>): string[] {
  if (fault.type === 'partition') {
    const unknown = [...fault.a, ...fault.b].filter((service) => !services.has(service));
    const shared = fault.a.filter((service) => fault.b.includes(service));
    return [
      ...(unknown.length ? [`${at}: names services the shop does not have (${unknown.join(', ')})`] : []),
      ...(shared.length ? [`${at}.b: ${shared.join(', ')} cannot be on both sides`] : []),
      ...(unknown.length || shared.length || SERVICES.some((s) => s.calls.some((call) => (fault.a.includes(s.name) && fault.b.includes(call.service)) || (fault.b.includes(s.name) && fault.a.includes(call.service))))
        ? []
        : [`${at}.b: no service of a calls one of b or the other way round, so nothing would be cut`]),
    ];
  }
  if (fault.type === 'process' && fault.target === COLLECTOR_PROCESS) {
    // The lab's collector is no service instance: it can be frozen or stopped, but the lab cannot start it again on its port.
    return fault.action === 'kill' && fault.restart ? [`${at}.restart: the ${COLLECTOR_PROCESS} cannot be started again; pause it, or kill it with restart: false`] : [];
  }
  if (!isEdgeFault(fault)) return instances.has(fault.target) ? [] : [`${at}.target: no instance '${fault.target}' (instances: ${[...instances].join(', ')}${fault.type === 'process' ? `, and ${COLLECTOR_PROCESS} for process faults` : ''})`];
  const [caller, dependency] = fault.edge.split('->') as [string, string];
  if (!services.has(caller) || !services.has(dependency)) return [`${at}.edge: '${fault.edge}' names a service the shop does not have`];
  const call = SERVICES.find((s) => s.name === caller)?.calls.find((c) => c.service === dependency);
  if (!call) return [`${at}.edge: ${caller} does not call ${dependency}`];
  const toxic = FAULT_TYPES.get(fault.type);
  if (toxic && !toxic.modes.includes(call.mode)) return [`${at}.type: ${fault.type} needs a ${toxic.modes.join(' or ')} edge; ${fault.edge} is carried as ${call.mode}`];
  return [];
}

/**
 * Parse a scenario document; throws one FaultlineError listing every problem with its path.
 * `fromFile`: the document is a file a person wrote, so every duration in it must carry its unit
 * (`duration: 12` is an error naming its path, not 12 ms); code may hand over milliseconds.
 */
export function parseScenario(document: unknown, source: string, options: { fromFile?: boolean } = {}): Scenario {
  const read = <T>(parse: () => T): T => (options.fromFile ? requiringUnits(parse) : parse());
  const result = read(() => scenarioSchema.safeParse(document));
  if (!result.success) {
    // The executor's own problems too, so that every bad path is reported at once.
    const problems = [...formatIssues(result.error), ...read(() => executorProblems(document))];
    throw new FaultlineError(ERROR_CODE.scenarioInvalid, `${source}: ${[...new Set(problems)].join('; ')}`);
  }
  // Serial and parallel groups laid flat: every step gets its own at and duration.
  const flat = flattenFaultSteps(result.data.faults, result.data.phases);
  // The gateway applies only a bulkhead and, when written, a retry of reads per dependency: the rest is off (and refused when written).
  const written = (document as { policies?: { gateway?: Record<string, unknown> } }).policies?.gateway ?? {};
  const policies = result.data.policies.gateway
    ? { ...result.data.policies, gateway: Object.fromEntries(Object.entries(result.data.policies.gateway).map(([dependency, policy]) => [dependency, gatewayOnly(policy, written[dependency])])) }
    : result.data.policies;
  const scenario: Scenario = { ...result.data, policies, faults: flat.faults.map((entry) => entry.fault as FaultSpec) };
  const errors = [
    ...flat.problems.map((problem) => `${problem.field}: ${problem.message}`),
    // The load section's executor keys are the executor's: checked here as written, units and all.
    ...(options.fromFile ? read(() => executorProblems(document)) : []),
    ...crossCheck(scenario, flat.faults.map((entry) => entry.path)),
    ...gatewayCallProblems(document),
  ];
  if (errors.length) throw new FaultlineError(ERROR_CODE.scenarioInvalid, `${source}: ${[...new Set(errors)].join('; ')}`);
  return deepFreeze(scenario);
}

/** A scenario by name (scenarios/<name>.yaml) or by path to a YAML file. */
/** The file a scenario name or path refers to: a path as given, a name inside scenarios/. */
export function scenarioPath(nameOrPath: string): string {
  return /[/\\]|\.ya?ml$/.test(nameOrPath) ? nameOrPath : join(SCENARIO_DIR, `${nameOrPath}.yaml`);
}

export async function loadScenario(nameOrPath: string): Promise<Scenario> {
  const path = scenarioPath(nameOrPath);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    const known = (await listScenarioFiles()).map((file) => basename(file, '.yaml'));
    throw new FaultlineError(ERROR_CODE.scenarioNotFound, `no scenario '${nameOrPath}' (known: ${known.join(', ') || 'none'})`);
  }
  let document: unknown;
  try {
    document = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    const detail = error instanceof YAMLParseError ? `line ${error.linePos?.[0]?.line ?? '?'}: ${error.message.split('\n')[0]}` : String(error);
    throw new FaultlineError(ERROR_CODE.scenarioInvalid, `${path}: malformed YAML at ${detail}`);
  }
  return parseScenario(document, path, { fromFile: true });
}

export async function listScenarioFiles(): Promise<string[]> {
  const entries = await readdir(SCENARIO_DIR).catch(() => []);
  return entries.filter((entry) => entry.endsWith('.yaml')).sort().map((entry) => join(SCENARIO_DIR, entry));
}

/** A copy of the scenario with policies switched off or durations scaled, for `run --disable` and `--time-scale`. */
export function adjustScenario(scenario: Scenario, changes: { disable?: string[]; timeScale?: number }): Scenario {
  const copy = structuredClone(scenario) as Scenario;
  const switchedOff: string[] = [];
  for (const policy of changes.disable ?? []) {
    const places = switchPlaces(copy, policy);
    if (places.length === 0) throw new FaultlineError(ERROR_CODE.badOption, `--disable ${policy}: no policy of that name in scenario '${scenario.name}' (try ${SWITCH_NAMES.join(', ')})`);
    for (const place of places) {
      if (place.setting.enabled) switchedOff.push(`${place.at} ${policy}`);
      place.setting.enabled = false;
    }
  }
  const scale = changes.timeScale ?? 1;
  if (!(scale > 0)) throw new FaultlineError(ERROR_CODE.badOption, `--time-scale ${scale}: must be a number > 0`);
  if (scale !== 1) {
    for (const phase of copy.phases) phase.duration = Math.round(phase.duration * scale);
    // Ramping executors carry their own stage durations: they shrink with the phases.
    const stages = (copy.load as { stages?: Array<{ duration: string | number }> }).stages;
    for (const stage of stages ?? []) stage.duration = Math.round(parseDuration(stage.duration) * scale);
    for (const fault of copy.faults) {
      if (fault.at !== undefined) fault.at = Math.round(fault.at * scale);
      if (fault.duration !== undefined) fault.duration = Math.round(fault.duration * scale);
    }
  }
  if (switchedOff.length) copy.switchedOff = switchedOff;
  return deepFreeze(copy);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
