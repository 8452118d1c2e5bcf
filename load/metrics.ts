// The load generator's own Prometheus metrics, k6's metric names with a
// `loadgen_` prefix, so a dashboard can put offered load (what the generator
// sent, dropped and how many VUs it used) beside what the services saw. Its
// own registry: it never mixes with a service's metrics in the same process.
// Latency is measured from the intended start, like the recorder's honest
// percentiles. Fed by wrapping the recorder (record / recordDropped), the
// iteration function (iterations) and the executor runtime (VU gauges from
// onTick), so the executors stay unaware of Prometheus. Traffic whose rate
// is turned live (adjustable-arrival-rate.ts) also shows the rate it is set
// to, so a graph of achieved load has the target beside it.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { LATENCY_BUCKETS, LOAD_LABEL, LOAD_METRIC } from '../demo-services/kit/conventions.ts';
import type { ExecutorRuntime, IterationFunction } from './executors/constant-arrival-rate.ts';
import type { LoadRecorder, RequestSample } from './recorder.ts';

const { Counter, Gauge, Histogram, Registry } = client;

/** The part of LoadRecorder that receives data. */
export type LoadSink = Pick<LoadRecorder, 'record' | 'recordDropped'>;

export interface LoadMetrics {
  registry: client.Registry;
  /** A sink that only updates the metrics. */
  sink: LoadSink;
  /** A recorder that forwards everything to `recorder` and also updates the metrics. */
  tee(recorder: LoadRecorder): LoadRecorder;
  /** Count iterations (loadgen_iterations_total) as they finish, successful or not. */
  instrumentIteration(iteration: IterationFunction): IterationFunction;
  /** Keep loadgen_vus / loadgen_vus_max from the executor's onTick (the runtime's own onTick still runs). */
  instrumentRuntime(runtime: ExecutorRuntime): ExecutorRuntime;
  /** Set loadgen_target_rate (iterations a second); the gauge exists from the first call, so runs at a fixed rate do not show a 0. */
  setTargetRate(perSecond: number): void;
  /** Prometheus text exposition. */
  render(): Promise<string>;
}

export function createLoadMetrics(): LoadMetrics {
  const registry = new Registry();
  const registers = [registry];
  const reqs = new Counter({
    name: LOAD_METRIC.httpReqs,
    help: 'HTTP requests sent by the load generator, by journey, step and status (0: no response).',
    labelNames: [LOAD_LABEL.journey, LOAD_LABEL.step, LOAD_LABEL.status],
    registers,
  });
  const duration = new Histogram({
    name: LOAD_METRIC.httpReqDuration,
    help: 'HTTP request duration measured from the intended start (coordinated-omission corrected).',
    labelNames: [LOAD_LABEL.journey, LOAD_LABEL.step],
    buckets: [...LATENCY_BUCKETS],
    registers,
  });
  const iterations = new Counter({ name: LOAD_METRIC.iterations, help: 'Iterations that finished (successfully or not).', registers });
  const dropped = new Counter({ name: LOAD_METRIC.droppedIterations, help: 'Iterations not started because no VU was free.', registers });
  const vus = new Gauge({ name: LOAD_METRIC.vus, help: 'VUs busy running an iteration.', registers });
  const vusMax = new Gauge({ name: LOAD_METRIC.vusMax, help: 'VUs allocated.', registers });
  let targetRate: client.Gauge | undefined;

  // Labelled children bound once per (journey, step) and status: looking a
  // child up from a label object hashes the labels on every observation,
  // which at thousands of requests a second was a visible share of the CPU.
  interface Bound {
    duration: client.Histogram.Internal<string>;
    reqs: Map<number, client.Counter.Internal>;
    journey: string;
    step: string;
  }
  const bound = new Map<string, Map<string, Bound>>();
  function bind(journey: string, step: string): Bound {
    let steps = bound.get(journey);
    if (steps === undefined) {
      steps = new Map();
      bound.set(journey, steps);
    }
    let found = steps.get(step);
    if (found === undefined) {
      found = { duration: duration.labels({ journey, step }), reqs: new Map(), journey, step };
      steps.set(step, found);
    }
    return found;
  }

  const sink: LoadSink = {
    record(sample: RequestSample): void {
      const b = bind(sample.tags[LOAD_LABEL.journey] ?? '', sample.tags[LOAD_LABEL.step] ?? '');
      let counter = b.reqs.get(sample.status);
      if (counter === undefined) {
        counter = reqs.labels({ journey: b.journey, step: b.step, status: String(sample.status) });
        b.reqs.set(sample.status, counter);
      }
      counter.inc();
      b.duration.observe(Math.max(0, sample.endMs - sample.intendedStartMs) / 1_000);
    },
    recordDropped(): void {
      dropped.inc();
    },
  };

  return {
    registry,
    sink,
    tee(recorder) {
      return {
        ...recorder,
        summary: recorder.summary.bind(recorder),
        timeSeries: recorder.timeSeries.bind(recorder),
        distribution: recorder.distribution.bind(recorder),
        stats: recorder.stats.bind(recorder),
        record(sample) {
          recorder.record(sample);
          sink.record(sample);
        },
        recordDropped(intendedStartMs) {
          recorder.recordDropped(intendedStartMs);
          sink.recordDropped(intendedStartMs);
        },
      };
    },
    instrumentIteration(iteration) {
      return async (ctx) => {
        try {
          await iteration(ctx);
        } finally {
          iterations.inc();
        }
      };
    },
    instrumentRuntime(runtime) {
      const own = runtime.onTick;
      return {
        ...runtime,
        onTick: (snapshot) => {
          vus.set(snapshot.inFlight);
          vusMax.set(snapshot.allocatedVUs);
          own?.(snapshot);
        },
      };
    },
    setTargetRate(perSecond) {
      targetRate ??= new Gauge({ name: LOAD_METRIC.targetRate, help: 'Iterations a second the open-model executor is set to now (0: paused).', registers });
      targetRate.set(perSecond);
    },
    render: () => registry.metrics(),
  };
}

export interface LoadMetricsServerOptions {
  metrics: LoadMetrics;
  /** Loopback only; default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
}

export interface LoadMetricsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export class LoadMetricsServerError extends Error {
  readonly code = 'FL_LOAD_METRICS_SERVER';

  constructor(message: string) {
    super(message);
    this.name = 'LoadMetricsServerError';
  }
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Serve GET /metrics (Prometheus text) on a loopback address. */
export async function startLoadMetricsServer(options: LoadMetricsServerOptions): Promise<LoadMetricsServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  if (!LOOPBACK.has(host)) throw new LoadMetricsServerError(`host: must be a loopback address (127.0.0.1, ::1, localhost), got '${host}'`);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new LoadMetricsServerError(`port: must be an integer in [0, 65535], got ${String(port)}`);
  const { metrics } = options;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    metrics.render().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(error as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new LoadMetricsServerError(`listen ${host}:${port}: ${error.message}`)));
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${bound}`,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
