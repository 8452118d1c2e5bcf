// Faults injected inside a service process, for what a proxy in front of it
// cannot fake: a hot CPU, a blocked event loop, a request path that blocks it
// on every request (request_block), a growing heap, a service that
// sheds load early, one that serves a few requests at a time and queues the
// rest (worker_pool: a capacity no CPU speed moves), one bad replica among its good twins (error_rate: an
// edge fault acts on every replica a caller reaches). A fault timeline drives them through an admin API in the
// fault proxy's dialect (GET/POST /admin/faults, DELETE /admin/faults/{name}),
// served on the service's admin listener only (admin-listener.ts: loopback, or
// a token), never on its public port. Every fault ends by itself when its duration runs out
// and all end when the service shuts down; each is visible as
// chaos_fault_active{fault,target}, in the log, and as a span event on the
// requests it touches. A `poison` fault is bad data rather than a bad
// process: a read of one path crashes the instance (as a parser bug on a
// corrupt record would), and since the data outlives the process the lab
// applies it again to the instance it restarts (DATA_FAULT_TYPES).

import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type expressModule from 'express';
import type { NextFunction, Request, Response, Router } from 'express';
import { context, trace } from '@opentelemetry/api';
import client from 'prom-client';
import { z } from 'zod';
import { LAB_METRIC, LABEL, SPAN_ATTR, SPAN_EVENT } from './conventions.ts';
import type { Logger } from './logger.ts';
import { ProblemError, problemType } from './problem.ts';
import { durationMs } from './schema.ts';
import { parseOrProblem } from './validation.ts';
import { blockFor } from './thread-time.ts';
import { createWorkerPool, type WorkerPool } from './worker-pool.ts';

const require = createRequire(import.meta.url);
const express = require('express') as typeof expressModule;

export const PROCESS_FAULT_TYPES = ['cpu_burn', 'event_loop_block', 'memory_leak', 'concurrency_limit', 'error_rate', 'not_ready', 'poison', 'request_block', 'worker_pool'] as const;
export type ProcessFaultType = (typeof PROCESS_FAULT_TYPES)[number];

/** Faults that stand for bad data, not a bad process: a restarted instance reads the same data, so they are applied again after a restart. */
export const DATA_FAULT_TYPES: ReadonlySet<ProcessFaultType> = new Set(['poison']);

/** Exit code of an instance a poison request crashed (EX_SOFTWARE: an internal error, as an uncaught parser exception is). */
export const POISON_EXIT_CODE = 70;

const MIB = 1024 * 1024;
/** Period of the memory-leak allocator. */
const LEAK_TICK_MS = 100;
/** A leak tick the event loop delayed catches up at most this many ticks' worth (a second) at once. */
const LEAK_MAX_CATCH_UP_TICKS = 10;
/** Upper bounds that keep a typo from taking the host down. */
const MAX_BLOCK_MS = 30_000;
const MAX_LEAK_CAP_MIB = 2048;

const nameSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, dot, dash or underscore');
const positiveDuration = durationMs.refine((ms) => ms > 0, 'must be longer than 0 ms');

const cpuBurnAttributes = z.strictObject({
  /** Share of one core kept busy, in percent. */
  percent: z.number().min(1).max(100),
  /** Length of one busy-then-idle slice; shorter slices answer requests sooner. */
  slice: positiveDuration.refine((ms) => ms <= 1_000, 'must be at most 1s').default(100),
});
const eventLoopBlockAttributes = z.strictObject({
  /** One synchronous block. */
  block: positiveDuration.refine((ms) => ms <= MAX_BLOCK_MS, `must be at most ${MAX_BLOCK_MS} ms`),
  /** Repeat the block this often; once when absent. */
  every: positiveDuration.optional(),
});
const memoryLeakAttributes = z.strictObject({
  rateMiBPerSecond: z.number().positive().max(1024),
  capMiB: z.number().positive().max(MAX_LEAK_CAP_MIB),
});
const concurrencyLimitAttributes = z.strictObject({
  /** Requests in flight beyond this are answered 503. */
  maxInFlight: z.int().min(0).max(100_000),
});

const errorRateAttributes = z.strictObject({
  /** Share of requests answered with an error before the service does any work (a bad build, a broken disk). */
  rate: z.number().gt(0).max(1),
  status: z.int().min(500).max(599).default(500),
});

const notReadyAttributes = z.strictObject({
  /**
   * The instance reports not ready at once (its readiness probe sees what is wrong: a database pool
   * draining, a dependency it cannot reach) and fails requests only from this long after: a
   * balancer that checks readiness takes it out of rotation before anyone is hurt.
   */
  failAfter: durationMs.refine((ms) => ms <= 60_000, 'must be at most 60s').default(3_000),
});

const requestBlockAttributes = z.strictObject({
  /**
   * How long every request holds the event loop before its handler runs, as a synchronous call on
   * the request path does (a file read on a slow disk, execSync, a synchronous DNS lookup): the
   * instance serves at most 1 s / block requests a second however fast the machine is. Blocked,
   * not busy (thread-time.ts blockFor): it takes no CPU from the rest of the lab.
   */
  block: positiveDuration.refine((ms) => ms <= 1_000, 'must be at most 1s'),
});

const poisonAttributes = z.strictObject({
  /** The request path whose read crashes the instance (`/products/sku-13`): the one record a parser cannot take. */
  path: z.string().regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/, 'must be a request path such as /products/sku-13'),
});

const workerPoolAttributes = z.strictObject({
  /** Requests served at once; the rest wait in a queue without bound (worker-pool.ts). */
  workers: z.int().min(1).max(10_000),
  /** How long each request holds its worker before the service starts on it: capacity is workers / serviceTime a second, on any machine. */
  serviceTime: positiveDuration.refine((ms) => ms <= 60_000, 'must be at most 60s'),
});

/** Each in-service fault's attributes, for scenario files that schedule them. */
export const PROCESS_FAULT_ATTRIBUTES = {
  cpu_burn: cpuBurnAttributes,
  event_loop_block: eventLoopBlockAttributes,
  memory_leak: memoryLeakAttributes,
  concurrency_limit: concurrencyLimitAttributes,
  error_rate: errorRateAttributes,
  not_ready: notReadyAttributes,
  worker_pool: workerPoolAttributes,
  poison: poisonAttributes,
  request_block: requestBlockAttributes,
} as const;

const faultRequest = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ name: nameSchema, type: z.literal('cpu_burn'), attributes: cpuBurnAttributes, duration: positiveDuration.optional() }),
    z.strictObject({ name: nameSchema, type: z.literal('event_loop_block'), attributes: eventLoopBlockAttributes, duration: positiveDuration.optional() }),
    z.strictObject({ name: nameSchema, type: z.literal('memory_leak'), attributes: memoryLeakAttributes, duration: positiveDuration.optional() }),
    z.strictObject({ name: nameSchema, type: z.literal('concurrency_limit'), attributes: concurrencyLimitAttributes, duration: positiveDuration.optional() }),
    z.strictObject({ name: nameSchema, type: z.literal('error_rate'), attributes: errorRateAttributes, duration: positiveDuration.optional() }),
    z.strictObject({ name: nameSchema, type: z.literal('not_ready'), attributes: notReadyAttributes.prefault({}), duration: positiveDuration.optional() }),
    z.strictObject({ name: nameSchema, type: z.literal('worker_pool'), attributes: workerPoolAttributes, duration: positiveDuration.optional() }),
    z.strictObject({ name: nameSchema, type: z.literal('poison'), attributes: poisonAttributes, duration: positiveDuration.optional() }),
    z.strictObject({ name: nameSchema, type: z.literal('request_block'), attributes: requestBlockAttributes, duration: positiveDuration.optional() }),
  ],
  { error: `must be one of ${PROCESS_FAULT_TYPES.join(', ')}` },
);
export type ProcessFaultSpec = z.input<typeof faultRequest>;
type ParsedSpec = z.output<typeof faultRequest>;

export interface ProcessFaultView {
  name: string;
  type: ProcessFaultType;
  attributes: Record<string, unknown>;
  /** Milliseconds the fault lasts, or undefined for until removed. */
  durationMs?: number;
  appliedAt: string;
  /** Memory leak only: bytes currently retained. */
  retainedBytes?: number;
}

export class ProcessFaultError extends Error {
  readonly code: 'FAULT_UNKNOWN' | 'FAULT_DUPLICATE';
  constructor(code: 'FAULT_UNKNOWN' | 'FAULT_DUPLICATE', message: string) {
    super(message);
    this.name = 'ProcessFaultError';
    this.code = code;
  }
}

export interface ProcessFaultsOptions {
  /** The service instance, label `target`. */
  target: string;
  registry?: client.Registry<client.OpenMetricsContentType>;
  logger?: Logger;
  /** Busy-waits for the given milliseconds; replaced in tests. */
  spin?: (ms: number) => void;
  /** request_block: blocks the thread for the given milliseconds without using a CPU; replaced in tests. */
  block?: (ms: number) => void;
  /** Asks for a garbage collection after a leak is released; best effort. */
  collectGarbage?: () => void;
  /** Draws for error_rate; Math.random unless a test or a seeded service gives one. */
  random?: () => number;
  /** Paths never limited nor marked (health and metrics, the admin API). */
  exempt?: (path: string) => boolean;
  /** Ends the process for a poison request; by default an uncaught exception (exit code POISON_EXIT_CODE). Replaced in tests. */
  crash?: (error: Error) => void;
}

export interface ProcessFaults {
  list(): ProcessFaultView[];
  /** Validates `body` (throws a 400 ProblemError naming the field) and applies it. */
  add(body: unknown): ProcessFaultView;
  remove(name: string): void;
  removeAll(): void;
  /** False while a not_ready fault is active: what /readyz answers. */
  ready(): boolean;
  /** Express middleware: concurrency limit, injected errors and span marking. Mount before the routes. */
  middleware(req: Request, res: Response, next: NextFunction): void;
  /** The admin API, to mount at /admin/faults of the admin listener (after its guard and JSON body parser). */
  router(): Router;
}

export function busySpin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Burning CPU is the point.
  }
}

/** True for a loopback remote address (IPv4 127/8, ::1, IPv4-mapped 127/8). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const mapped = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(mapped) === 4) return mapped.startsWith('127.');
  return mapped === '::1' || mapped === '0:0:0:0:0:0:0:1';
}

/** Paths no in-service fault or admission check touches: the probes, the metrics and the admin API. */
export const DEFAULT_EXEMPT = (path: string): boolean => path === '/healthz' || path === '/readyz' || path === '/metrics' || path.startsWith('/admin/');

let gcFunction: (() => void) | undefined;
function defaultCollectGarbage(): void {
  if (!gcFunction) {
    setFlagsFromString('--expose-gc');
    gcFunction = runInNewContext('gc') as () => void;
  }
  gcFunction();
}

interface ActiveFault {
  spec: ParsedSpec;
  appliedAt: Date;
  timers: Array<ReturnType<typeof setTimeout>>;
  retained: Buffer[];
  retainedBytes: number;
  stopped: boolean;
  /** worker_pool only. */
  pool?: WorkerPool;
}

/** What a poison request throws: the crash of a parser on a record it cannot take. */
export class PoisonRequestError extends Error {
  readonly code = 'FAULT_POISON';
  constructor(message: string) {
    super(message);
    this.name = 'PoisonRequestError';
  }
}

/** Dies at once, as a process does on an uncaught exception: the stack on stderr, no drain, no flush. */
function crashProcess(error: Error): never {
  process.stderr.write(`${error.stack ?? String(error)}\n`);
  process.exit(POISON_EXIT_CODE);
}

export function createProcessFaults(options: ProcessFaultsOptions): ProcessFaults {
  const spin = options.spin ?? busySpin;
  const block = options.block ?? blockFor;
  const crash = options.crash ?? crashProcess;
  const exempt = options.exempt ?? DEFAULT_EXEMPT;
  const random = options.random ?? Math.random;
  const faults = new Map<string, ActiveFault>();
  const expiryTimers = new Map<string, ReturnType<typeof setTimeout>>();
  let inFlight = 0;
  const gauge = options.registry
    ? new client.Gauge({
        name: LAB_METRIC.chaosFaultActive,
        help: 'Fault injection state: 1 while the fault is active on the target, 0 after removal.',
        labelNames: [LABEL.fault, LABEL.target],
        registers: [options.registry],
      })
    : undefined;

  const view = (fault: ActiveFault): ProcessFaultView => ({
    name: fault.spec.name,
    type: fault.spec.type,
    attributes: { ...fault.spec.attributes },
    ...(fault.spec.duration !== undefined ? { durationMs: fault.spec.duration } : {}),
    appliedAt: fault.appliedAt.toISOString(),
    ...(fault.spec.type === 'memory_leak' ? { retainedBytes: fault.retainedBytes } : {}),
  });

  const later = (fault: ActiveFault, ms: number, task: () => void): void => {
    if (fault.stopped) return;
    fault.timers.push(setTimeout(() => {
      if (!fault.stopped) task();
    }, ms));
  };

  const start = (fault: ActiveFault): void => {
    const { spec } = fault;
    switch (spec.type) {
      case 'cpu_burn': {
        const busy = (spec.attributes.slice * spec.attributes.percent) / 100;
        const slice = (): void => {
          fault.timers.length = 0;
          spin(busy);
          later(fault, spec.attributes.slice - busy, slice);
        };
        later(fault, 0, slice);
        break;
      }
      case 'event_loop_block': {
        const { block, every } = spec.attributes;
        const blockOnce = (): void => {
          fault.timers.length = 0;
          spin(block);
          if (every !== undefined) later(fault, every, blockOnce);
        };
        // Deferred, so the admin request that applied the fault is answered first.
        later(fault, 0, blockOnce);
        break;
      }
      case 'memory_leak': {
        const cap = spec.attributes.capMiB * MIB;
        const step = Math.max(1, Math.round((spec.attributes.rateMiBPerSecond * MIB * LEAK_TICK_MS) / 1000));
        // The rate is per second of wall-clock time: a tick a busy event loop delayed catches up
        // (a few ticks' worth at most), so a slow machine slows the leak down far less.
        let last = performance.now();
        const grow = (): void => {
          fault.timers.length = 0;
          const now = performance.now();
          const due = Math.min(LEAK_MAX_CATCH_UP_TICKS, Math.max(1, Math.round((now - last) / LEAK_TICK_MS)));
          last = now;
          const size = Math.min(step * due, cap - fault.retainedBytes);
          if (size <= 0) return;
          // Filled, not just reserved: untouched pages would not count towards RSS.
          fault.retained.push(Buffer.alloc(size, 0xa5));
          fault.retainedBytes += size;
          later(fault, LEAK_TICK_MS, grow);
        };
        later(fault, 0, grow);
        break;
      }
      case 'concurrency_limit':
      case 'error_rate':
      case 'not_ready':
      case 'poison':
      case 'request_block':
        break;
      case 'worker_pool':
        fault.pool = createWorkerPool({ workers: spec.attributes.workers, serviceTimeMs: spec.attributes.serviceTime });
        break;
    }
  };

  const stop = (fault: ActiveFault, reason: string): void => {
    fault.stopped = true;
    // Requests still queued go on at once: the capacity the fault stood for is back.
    fault.pool?.close();
    for (const timer of fault.timers) clearTimeout(timer);
    fault.timers.length = 0;
    faults.delete(fault.spec.name);
    const released = fault.retainedBytes;
    fault.retained.length = 0;
    fault.retainedBytes = 0;
    if (released > 0) {
      try {
        (options.collectGarbage ?? defaultCollectGarbage)();
      } catch (error) {
        options.logger?.warn({ err: String(error) }, 'could not collect garbage after a memory leak');
      }
    }
    gauge?.set({ [LABEL.fault]: fault.spec.name, [LABEL.target]: options.target }, 0);
    options.logger?.warn({ fault: fault.spec.name, faultType: fault.spec.type, reason, ...(released > 0 ? { releasedBytes: released } : {}) }, 'process fault removed');
  };

  const add = (body: unknown): ProcessFaultView => {
    const spec = parseOrProblem(faultRequest, body, 'body');
    if (faults.has(spec.name)) throw new ProcessFaultError('FAULT_DUPLICATE', `fault ${spec.name} already exists`);
    const fault: ActiveFault = { spec, appliedAt: new Date(), timers: [], retained: [], retainedBytes: 0, stopped: false };
    faults.set(spec.name, fault);
    start(fault);
    // Its own timer, outside fault.timers, which the periodic work resets.
    if (spec.duration !== undefined) {
      const expiry = setTimeout(() => {
        expiryTimers.delete(spec.name);
        if (!fault.stopped) stop(fault, 'expired');
      }, spec.duration);
      expiryTimers.set(spec.name, expiry);
    }
    gauge?.set({ [LABEL.fault]: spec.name, [LABEL.target]: options.target }, 1);
    options.logger?.warn({ fault: spec.name, faultType: spec.type, attributes: spec.attributes, durationMs: spec.duration }, 'process fault applied');
    return view(fault);
  };

  const remove = (name: string): void => {
    const fault = faults.get(name);
    if (!fault) throw new ProcessFaultError('FAULT_UNKNOWN', `no fault named ${name}`);
    clearTimeout(expiryTimers.get(name));
    expiryTimers.delete(name);
    stop(fault, 'removed');
  };

  const removeAll = (): void => {
    for (const name of [...faults.keys()]) remove(name);
  };

  // Counts every non-exempt request, so a limit applied under load sees the requests already in flight.
  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    if (exempt(req.path)) {
      next();
      return;
    }
    const span = trace.getSpan(context.active());
    for (const fault of faults.values()) {
      // A poison touches only the reads of its path.
      if (fault.spec.type === 'poison' && fault.spec.attributes.path !== req.path) continue;
      span?.addEvent(SPAN_EVENT.faultInjected, { [SPAN_ATTR.faultName]: fault.spec.name, [SPAN_ATTR.faultType]: fault.spec.type });
    }
    const poison = [...faults.values()].find((fault) => fault.spec.type === 'poison' && fault.spec.attributes.path === req.path);
    if (poison) {
      // No answer, no flush: the process dies with the request (and every other one) in flight.
      const error = new PoisonRequestError(`poison fault ${poison.spec.name}: cannot read ${req.path}`);
      options.logger?.fatal({ fault: poison.spec.name, path: req.path }, 'crashed on a poison request');
      crash(error);
      return;
    }
    const limits = [...faults.values()].flatMap((fault) => (fault.spec.type === 'concurrency_limit' ? [fault.spec.attributes.maxInFlight] : []));
    const limit = limits.length > 0 ? Math.min(...limits) : Infinity;
    for (const fault of faults.values()) {
      if (fault.spec.type === 'not_ready' && Date.now() - fault.appliedAt.getTime() >= fault.spec.attributes.failAfter) {
        next(new ProblemError({ type: problemType('not-ready'), title: 'Not ready', status: 503, detail: `not_ready fault ${fault.spec.name}: this instance cannot serve` }));
        return;
      }
      if (fault.spec.type !== 'error_rate' || random() >= fault.spec.attributes.rate) continue;
      next(new ProblemError({ type: problemType('fault-injected'), title: 'Injected error', status: fault.spec.attributes.status, detail: `error_rate fault ${fault.spec.name} failed this request` }));
      return;
    }
    if (inFlight >= limit) {
      next(new ProblemError(
        { type: problemType('overloaded'), title: 'Service overloaded', status: 503, detail: `more than ${limit} requests in flight (concurrency_limit fault)` },
        { 'retry-after': '1' },
      ));
      return;
    }
    inFlight += 1;
    let done = false;
    res.on('close', () => {
      if (!done) inFlight -= 1;
      done = true;
    });
    // The request holds the event loop before its handler: whatever waits behind it waits this long.
    for (const fault of faults.values()) if (fault.spec.type === 'request_block') block(fault.spec.attributes.block);
    // A request holds its worker (or its place in the queue) until it is answered or its client leaves.
    const pool = [...faults.values()].find((fault) => fault.pool !== undefined)?.pool;
    if (pool) {
      const ticket = pool.enter(() => next());
      res.once('close', () => ticket.done());
      return;
    }
    next();
  };

  const router = (): Router => {
    const admin = express.Router();
    const translate = (error: unknown): never => {
      if (error instanceof ProcessFaultError) {
        throw new ProblemError({
          type: problemType(error.code === 'FAULT_DUPLICATE' ? 'fault-exists' : 'unknown-fault'),
          title: error.code === 'FAULT_DUPLICATE' ? 'Fault exists' : 'Unknown fault',
          status: error.code === 'FAULT_DUPLICATE' ? 409 : 404,
          detail: error.message,
        });
      }
      throw error;
    };
    admin.get('/', (_req, res) => {
      res.json({ faults: [...faults.values()].map(view) });
    });
    admin.post('/', (req, res) => {
      try {
        res.status(201).json(add(req.body));
      } catch (error) {
        translate(error);
      }
    });
    admin.delete('/:name', (req, res) => {
      try {
        remove(req.params.name as string);
        res.status(204).end();
      } catch (error) {
        translate(error);
      }
    });
    return admin;
  };

  const ready = (): boolean => ![...faults.values()].some((fault) => fault.spec.type === 'not_ready');

  return { list: () => [...faults.values()].map(view), add, remove, removeAll, ready, middleware, router };
}
