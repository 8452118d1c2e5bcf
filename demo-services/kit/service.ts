// The shared skeleton of a demo service: express with JSON bodies, request ids,
// RED metrics per route, /metrics, /healthz and /readyz, problem+json for every
// error, and a graceful shutdown that stops taking traffic, drains requests in
// flight and any work a service registered as begun (drainAlso: checkout's
// sagas), within a bound it announces to its supervisor, then flushes logs
// and telemetry before the process exits. The resilience policies of the calls
// a service registers can be tuned live on its admin listener (/admin/policies).

import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type expressModule from 'express';
import type { Express, NextFunction, Request, Response } from 'express';
import { context, trace } from '@opentelemetry/api';
import type { ServiceConfig } from './config.ts';
import { HEADER } from './conventions.ts';
import { adminPolicyProblem, adminPolicySchema, createAdminApp, publicAdminGuard, startAdminListener } from './admin-listener.ts';
import { announceReady, failStartup, onShutdown } from './lifecycle.ts';
import { createLogger, type Logger } from './logger.ts';
import { traceIncomingRequests } from './http-tracing.ts';
import { createServiceMetrics, serverDurationLabels, wantsOpenMetrics, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, type ServiceMetrics } from './metrics.ts';
import { ProblemError, problemType, useProblemHandlers } from './problem.ts';
import { formatIssues } from './schema.ts';
import { createProcessFaults, DEFAULT_EXEMPT } from './process-faults.ts';
import { createEventLoopShedding, eventLoopSheddingSchema } from './event-loop-shedding.ts';
import { shutdownTelemetry, spanFlushBeforeAnswer } from './telemetry.ts';
import { flushBeforeAnswer } from './flush-before-answer.ts';
import { createPolicyRegistry, type PolicyRegistry } from '../resilience/live-policies.ts';
import { policyRoutes } from '../resilience/policy-routes.ts';

// express is loaded through require, as CommonJS, like every instrumented library here.
const require = createRequire(import.meta.url);
const express = require('express') as typeof expressModule;

export interface ServiceContext {
  config: ServiceConfig;
  app: Express;
  /** Routes on the admin listener only (loopback, or a token), under /admin: knobs, books. Never on `app`. */
  admin: expressModule.Router;
  logger: Logger;
  metrics: ServiceMetrics;
  /** The service's guarded calls by dependency: register each, and an instructor can tune it live through /admin/policies. */
  policies: PolicyRegistry;
  /** Work to run during shutdown after requests have drained (close pools, databases). */
  onClose(task: () => Promise<void> | void): void;
  /**
   * Work a stop must also wait for besides open requests (checkout: orders
   * whose saga has not ended, even when their client hung up), for at most
   * `timeoutMs` (which then bounds this service's whole drain).
   */
  drainAlso(unfinished: () => number, timeoutMs: number): void;
  /** Whether the service is stopping: it takes no new work. */
  isStopping(): boolean;
  /** Another port this service listens on (e.g. `grpc`), announced with the HTTP port in the ready message. */
  announcePort(name: string, port: number): void;
}

export interface RunningService {
  port: number;
  context: ServiceContext;
  close(): Promise<void>;
}

const DRAIN_TIMEOUT_MS = 4_000;
/** Closing pools and databases and flushing telemetry after the drain. */
const STOP_MARGIN_MS = 3_000;

/** No request body of the shop nests deeper; deeper ones are hostile and would overflow the stack when re-serialised. */
const MAX_JSON_DEPTH = 32;

/** Nesting depth of a parsed JSON value, measured without recursion. */
export function jsonDepth(value: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (current === null || typeof current !== 'object') continue;
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_JSON_DEPTH) return deepest;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** Build a service's app, bind it, announce readiness, and wire graceful shutdown. */
export async function startService(
  config: ServiceConfig,
  defineRoutes: (service: ServiceContext) => void | Promise<void>,
): Promise<RunningService> {
  const logger = createLogger(config.name, config.instance, config.logLevel);
  const metrics = createServiceMetrics();
  const closeTasks: Array<() => Promise<void> | void> = [];
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  let ready = false;
  let stopping = false;
  let inFlight = 0;
  const unfinishedWork: Array<() => number> = [];
  let drainTimeoutMs = DRAIN_TIMEOUT_MS;
  const parsedAdmin = adminPolicySchema.safeParse(config.policies.admin ?? {});
  if (!parsedAdmin.success) failStartup(config.instance, new Error(formatIssues(parsedAdmin.error, 'policies.admin').join('; ')));
  const adminPolicy = parsedAdmin.data;
  const adminProblem = adminPolicyProblem(adminPolicy);
  if (adminProblem) failStartup(config.instance, new Error(adminProblem));

  // Admin paths, in whatever spelling, are not served on the public port (admin-listener.ts).
  app.use(publicAdminGuard);

  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    inFlight += 1;
    const traceId = trace.getSpan(context.active())?.spanContext().traceId;
    const requestId = req.get(HEADER.requestId) ?? randomUUID();
    res.setHeader(HEADER.requestId, requestId);
    res.on('close', () => {
      inFlight -= 1;
      if (req.path === '/metrics') return;
      const route = routeOf(req) ?? 'unmatched';
      const labels = serverDurationLabels({ method: req.method, scheme: req.protocol, route, status: res.statusCode, headersSent: res.headersSent, finished: res.writableFinished });
      const seconds = (performance.now() - started) / 1000;
      metrics.httpServerDuration.observe({ labels, value: seconds, ...(traceId ? { exemplarLabels: { trace_id: traceId } } : {}) });
    });
    next();
  });

  // Admission on the event loop's delay (services.<name>.eventLoopShedding, off unless given): before any
  // work is done for a request, an injected fault's included, so a refusal costs next to nothing.
  const parsedShedding = eventLoopSheddingSchema.optional().safeParse(config.policies.eventLoopShedding);
  let lastShedLogAt = 0;
  if (!parsedShedding.success) failStartup(config.instance, new Error(formatIssues(parsedShedding.error, 'policies.eventLoopShedding').join('; ')));
  const shedding = parsedShedding.data?.enabled
    ? createEventLoopShedding({
        policy: parsedShedding.data,
        exempt: DEFAULT_EXEMPT,
        onShed: (delayMs, stallMs) => {
          metrics.resilience.call(config.name, 'rejected');
          // One line a second at most: a shedding service refuses many.
          const at = Date.now();
          if (at - lastShedLogAt < 1_000) return;
          lastShedLogAt = at;
          logger.warn({ delayMs: Math.round(delayMs), stallMs: Math.round(stallMs) }, 'event loop late: shedding load');
        },
      })
    : undefined;
  if (shedding) app.use(shedding.middleware);

  // In-process chaos (CPU burn, event-loop block, memory leak, concurrency limit), driven through the admin listener's /admin/faults.
  const faults = createProcessFaults({ target: config.instance, registry: metrics.registry, logger });
  app.use(faults.middleware);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'alive', service: config.name, instance: config.instance });
  });
  app.get('/readyz', (_req, res) => {
    // A not_ready fault fails the probe as a lost database connection would.
    const isReady = ready && faults.ready();
    res.status(isReady ? 200 : 503).json({ status: isReady ? 'ready' : 'not ready', service: config.name });
  });
  app.get('/metrics', async (req, res) => {
    const openMetrics = wantsOpenMetrics(req.get('accept'));
    const body = await metrics.render(openMetrics);
    res.type(openMetrics ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE).send(body);
  });
  // asyncTelemetry off: the shop's answers (not the probes or /metrics above) wait for their spans' export.
  const flushSpans = spanFlushBeforeAnswer();
  if (flushSpans) app.use(flushBeforeAnswer(flushSpans));
  // The body parser calls on from the request stream's 'end' event, which runs
  // outside the request's trace context: carry the context across it.
  const parseJson = express.json({ limit: '64kb' });
  app.use((req: Request, res: Response, next: NextFunction) => parseJson(req, res, context.bind(context.active(), next)));
  app.use((req: Request, _res: Response, next: NextFunction) => {
    if (jsonDepth(req.body) > MAX_JSON_DEPTH) {
      throw new ProblemError({ type: problemType('malformed-body'), title: 'Body nested too deeply', status: 400, detail: `body: nested deeper than ${MAX_JSON_DEPTH} levels` });
    }
    next();
  });
  const adminRoutes = express.Router();
  const policies = createPolicyRegistry({ metrics: metrics.resilience, logger });
  const adminApp = createAdminApp(adminPolicy, logger, (admin) => {
    admin.use('/admin/faults', faults.router());
    admin.use('/admin/policies', policyRoutes(policies));
    admin.use('/admin', adminRoutes);
  });

  const extraPorts: Record<string, number> = {};
  const service: ServiceContext = {
    config,
    app,
    admin: adminRoutes,
    logger,
    metrics,
    policies,
    onClose: (task) => closeTasks.push(task),
    drainAlso: (unfinished, timeoutMs) => {
      unfinishedWork.push(unfinished);
      drainTimeoutMs = Math.max(drainTimeoutMs, timeoutMs);
    },
    isStopping: () => stopping,
    announcePort: (name, port) => {
      extraPorts[name] = port;
    },
  };
  await defineRoutes(service);

  useProblemHandlers(app, logger);

  // Each request runs in its server span, named by the route it matched.
  const server: Server = createServer(traceIncomingRequests(app, (req: IncomingMessage) => routeOf(req as Request)));
  await new Promise<void>((resolve) => {
    server.once('listening', () => resolve());
    server.once('error', (error) => failStartup(config.instance, error, config.port));
    server.listen(config.port, config.host);
  });
  server.keepAliveTimeout = 65_000;
  const port = (server.address() as AddressInfo).port;
  const adminListener = await startAdminListener(adminPolicy, adminApp).catch((error: unknown) => failStartup(config.instance, error, adminPolicy.port));

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      ready = false;
      stopping = true;
      faults.removeAll();
      shedding?.stop();
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // In flight: open requests and begun work (a saga whose client hung up is still in flight).
      const unfinished = () => inFlight + unfinishedWork.reduce((sum, count) => sum + count(), 0);
      const deadline = Date.now() + drainTimeoutMs;
      while (unfinished() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      const left = unfinished();
      server.closeAllConnections();
      await drained;
      await adminListener.close();
      for (const task of closeTasks) await task();
      logger.info({ inFlightLeft: left }, 'drained and stopped');
      await shutdownTelemetry().catch((error: unknown) => logger.warn({ err: String(error) }, 'could not flush telemetry'));
      logger.flush();
    })();
    return closing;
  };

  onShutdown(async (reason) => {
    logger.info({ reason }, 'shutting down');
    await close();
  }, drainTimeoutMs + STOP_MARGIN_MS);

  ready = true;
  logger.info({ port }, 'listening');
  announceReady(config.instance, { ...extraPorts, http: port, admin: adminListener.port }, drainTimeoutMs + STOP_MARGIN_MS);
  return { port, context: service, close };
}

/** The route pattern a request matched (`/api/products/:sku`), once routing has run. */
function routeOf(req: Request): string | undefined {
  return req.route ? `${req.baseUrl}${String(req.route.path)}` : undefined;
}
