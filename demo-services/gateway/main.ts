// gateway: the shop's HTTP entry. In request order: load shedding (503 when
// too many requests are in flight), bearer auth (401), per-client token-bucket
// rate limiting (429 with Retry-After), then routing with a per-route timeout
// to a replica picked by the client-side balancer, whose passive health checks
// eject an instance that keeps failing and bring it back later. Answers from
// the services (their problem+json included) are handed back unchanged.
// Recommendations are non-critical: when they fail or are slow, the
// storefront answers with popular items marked as a fallback (switchable:
// without it they fail the storefront like any other dependency).
// A scenario may give a dependency a bulkhead at the gateway
// (policies.gateway.<dependency>, dependency-calls.ts): at most that many
// requests to it in flight, the rest answered 503 bulkhead-full at once, so a
// slow dependency cannot take every slot of the load-shedding limit; and a
// retry, which sends a read whose connection was refused or closed (a dead
// replica) to a replica it has not tried. With `quarantine` on, a read that
// was on a replica when it died is not retried, and the read that killed it
// is answered 503 `quarantined` for a while without reaching the replicas
// (quarantine.ts): one query of death costs one crash, not the service.
// The rate limit and the shedding limit can be changed while traffic flows
// (live-admission.ts, /admin/admission on the admin listener).

import type { NextFunction, Request, Response } from 'express';
import { trace } from '@opentelemetry/api';
import { dependencyUrls, readServiceConfig } from '../kit/config.ts';
import { HEADER, PROBLEM_CONTENT_TYPE, SHOP_HEADER, SHOP_SPAN_ATTR, SPAN_ATTR, SPAN_EVENT } from '../kit/conventions.ts';
import { createBalancedClient, type BalancedClient } from '../kit/balanced-client.ts';
import type { DependencyClient } from '../kit/dependency-client.ts';
import { AuthError, verifyBearer } from '../kit/jwt.ts';
import { ProblemError, problemType } from '../kit/problem.ts';
import { startService } from '../kit/service.ts';
import { problemForFailure, upstreamErrorFor } from '../resilience/http-failures.ts';
import { popularRecommendations } from '../recommendation/recommend.ts';
import { withFallback } from '../resilience/fallback.ts';
import { z } from 'zod';
import { parseOrProblem } from '../kit/validation.ts';
import { gatewayPolicySchema } from './policy.ts';
import { BulkheadRejectedError } from '../resilience/bulkhead.ts';
import type { LiveCall, PolicyIssue } from '../resilience/live-policies.ts';
import type { DependencyPolicy } from '../resilience/policy-config.ts';
import { bulkheadFullProblem, gatewayCallPolicy, gatewayCallProblems, gatewayOnly, isConnectFailure, isRetriedMethod } from './dependency-calls.ts';
import { admissionRoutes, createLiveAdmission } from './live-admission.ts';
import { createQuarantine, createSharedReads, watchedAttempt, type Quarantine, type SharedReads } from './quarantine.ts';

/** Response headers of the services that mean something to the shop's clients. */
const RELAYED_HEADERS = ['retry-after', SHOP_HEADER.idempotentReplayed, SHOP_HEADER.cache] as const;

const config = readServiceConfig();
await startService(config, ({ app, admin, metrics, logger, policies, onClose }) => {
  const policy = gatewayPolicySchema.parse(config.policies.gateway ?? {});
  if (policy.auth.enabled && !policy.auth.secret) {
    process.stderr.write('FAULTLINE_SERVICE_CONFIG.policies.gateway.auth.secret: required when auth is enabled\n');
    process.exit(2);
  }

  /**
   * The calls forwarded to each dependency, under policies.gateway.<dependency> (a bulkhead, a retry
   * of reads), tunable live (/admin/policies) within what the gateway applies. A dependency whose
   * policy has neither is forwarded bare, under the route timeout alone.
   */
  const guards = new Map<string, LiveCall>();
  /** The parts of a change the gateway does not apply, refused as a scenario's are (dependency-calls.ts). */
  const refusedAtGateway = (dependency: string) => (change: Readonly<Record<string, unknown>>): PolicyIssue[] =>
    gatewayCallProblems({ policies: { gateway: { [dependency]: change } } }).map((problem) => {
      const [field = '', ...message] = problem.replace(`policies.gateway.${dependency}.`, '').split(': ');
      return { field, message: message.join(': ') };
    });
  /** With gateway.quarantine on: each balanced dependency's quarantine of reads, and its client (to take a dead replica out). */
  const quarantines = new Map<string, { quarantine: Quarantine; client: BalancedClient; reads: SharedReads }>();
  /** One client per replica of a dependency, behind a balancer. */
  const upstream = (dependency: string, forwarded = true): DependencyClient => {
    const client = createBalancedClient(dependency, dependencyUrls(config, dependency), { metrics, logger }, {
      strategy: policy.balancing.strategy,
      consecutiveFailures: policy.balancing.consecutiveFailures,
      ejectionMs: policy.balancing.ejection,
      ejection: policy.outlierDetection.enabled,
      failurePercentage: policy.outlierDetection.failurePercentage,
      requestVolume: policy.outlierDetection.requestVolume,
    }, policy.healthChecks.enabled ? { path: '/readyz', intervalMs: policy.healthChecks.interval, timeoutMs: policy.healthChecks.timeout } : undefined);
    onClose(() => client.close());
    if (policy.quarantine.enabled) {
      const quarantine = createQuarantine({
        durationMs: policy.quarantine.duration,
        strikes: policy.quarantine.strikes,
        onConvicted: (key) => logger.warn({ dependency, key, durationMs: policy.quarantine.duration }, 'read quarantined: it was on a replica that died'),
      });
      quarantines.set(dependency, { quarantine, client, reads: createSharedReads() });
    }
    // policies.gateway.<dependency> of a scenario: a bulkhead around every call forwarded to it (dependency-calls.ts).
    if (forwarded) {
      // The route timeout is the call's one deadline: it covers the wait for a slot too.
      const withRouteTimeout = (calls: DependencyPolicy): DependencyPolicy => ({ ...calls, deadline: policy.routeTimeout });
      guards.set(dependency, policies.register({
        dependency,
        policy: withRouteTimeout(gatewayCallPolicy(config.policies[dependency])),
        retryable: isConnectFailure,
        rules: { refuse: refusedAtGateway(dependency), shape: (calls, written) => withRouteTimeout(gatewayOnly(calls, written)) },
      }));
    }
    return client;
  };

  // Rate limit and load shedding, tunable live on the admin listener (/admin/admission).
  const admission = createLiveAdmission({ rateLimit: policy.rateLimit, loadShedding: policy.loadShedding }, logger);
  admin.use('/admission', admissionRoutes(admission));

  let inFlight = 0;
  app.use('/api', (_req: Request, res: Response, next: NextFunction) => {
    if (admission.sheds(inFlight)) {
      metrics.resilience.call('gateway', 'rejected');
      throw new ProblemError(
        { type: problemType('overloaded'), title: 'Overloaded', status: 503, detail: `more than ${admission.settings().loadShedding.maxInFlight} requests in flight; shedding load` },
        { 'retry-after': '1' },
      );
    }
    inFlight += 1;
    res.once('close', () => (inFlight -= 1));
    next();
  });

  app.use('/api', async (req: Request, res: Response, next: NextFunction) => {
    let client = req.ip ?? 'unknown';
    if (policy.auth.enabled) {
      try {
        client = await verifyBearer(policy.auth.secret as string, req.get('authorization'));
        res.locals.user = client;
      } catch (error) {
        if (!(error instanceof AuthError)) throw error;
        throw new ProblemError({ type: problemType('unauthorized'), title: 'Unauthorized', status: 401, detail: error.message }, { 'www-authenticate': 'Bearer realm="faultline"' });
      }
    }
    const verdict = admission.admit(client);
    if (!verdict.allowed) {
      metrics.resilience.rateLimited();
      trace.getActiveSpan()?.addEvent('rate_limited', { client });
      throw new ProblemError(
        { type: problemType('rate-limited'), title: 'Too many requests', status: 429, detail: `rate limit of ${admission.settings().rateLimit.ratePerSecond}/s exceeded` },
        { 'retry-after': String(Math.max(1, Math.ceil(verdict.retryAfterMs / 1_000))) },
      );
    }
    next();
  });

  /** `watched`: a read of one record (a product), which the quarantine judges; a list is no one record's fault. */
  const forward = (target: DependencyClient, path: (req: Request, user: string) => string, options: { watched?: boolean } = {}) => {
    return async (req: Request, res: Response) => {
      const key = req.get(HEADER.idempotencyKey);
      const user = res.locals.user as string | undefined;
      const targetPath = path(req, user ?? 'anonymous');
      const watch = req.method === 'GET' && options.watched ? quarantines.get(target.name) : undefined;
      if (watch) refuseQuarantined(target.name, targetPath, watch.quarantine);
      try {
        // A retried read goes to a replica it has not tried yet.
        const triedInstances = new Set<string>();
        const request = (signal: AbortSignal, onInstance?: (instance: string) => void) =>
          target.request({
            method: req.method as 'GET' | 'POST' | 'PUT' | 'DELETE',
            path: targetPath,
            ...(req.method === 'GET' || req.method === 'DELETE' ? {} : { body: req.body }),
            headers: { ...(key ? { [HEADER.idempotencyKey]: key } : {}), ...(user ? { 'x-user-id': user } : {}) },
            signal,
            triedInstances,
            ...(onInstance ? { onInstance } : {}),
          });
        const send = (signal: AbortSignal) =>
          watch
            ? watchedAttempt(watch.quarantine, { dependency: target.name, key: targetPath }, (onInstance) => request(signal, onInstance), {
                isCutOff: isConnectFailure,
                onDeath: (instance) => watch.client.markDown(instance),
              })
            : request(signal);
        const live = guards.get(target.name);
        const guard = live && (live.policy.bulkhead.enabled || live.policy.retry.enabled) ? live : undefined;
        const call = () => (guard ? guard.execute((signal) => send(signal), undefined, { retry: isRetriedMethod(req.method) }) : send(AbortSignal.timeout(policy.routeTimeout)));
        // Under watch, reads of one record in flight at once share one upstream read: a burst of a
        // query of death cannot reach two replicas before the first death is seen.
        const response = watch ? await watch.reads.share(targetPath, call) : await call();
        for (const header of RELAYED_HEADERS) {
          const value = response.headers[header];
          if (value !== undefined) res.setHeader(header, value);
        }
        const contentType = String(response.headers['content-type'] ?? 'application/json');
        res.status(response.status).type(contentType.includes('problem') ? PROBLEM_CONTENT_TYPE : 'application/json');
        res.send(typeof response.body === 'string' ? response.body : JSON.stringify(response.body));
      } catch (error) {
        if (error instanceof BulkheadRejectedError) throw bulkheadFullProblem(target.name, error);
        throw problemForFailure(target.name, error);
      }
    };
  };

  /** A quarantined read is answered at once, 503 with Retry-After, and never reaches the dependency. */
  const refuseQuarantined = (dependency: string, key: string, quarantine: Quarantine): void => {
    const remaining = quarantine.remainingMs(key);
    if (remaining === undefined) return;
    metrics.resilience.call(dependency, 'rejected');
    trace.getActiveSpan()?.addEvent(SPAN_EVENT.quarantined, { [SPAN_ATTR.quarantineKey]: key });
    throw new ProblemError(
      { type: problemType('quarantined'), title: `${dependency} read quarantined`, status: 503, detail: `${key} was being read when a ${dependency} replica died; it is not sent to ${dependency} for ${Math.ceil(remaining / 1_000)} s more` },
      { 'retry-after': String(Math.max(1, Math.ceil(remaining / 1_000))) },
    );
  };

  const query = (req: Request) => {
    const search = new URL(req.originalUrl, 'http://gateway').search;
    return search;
  };
  const param = (req: Request, name: string) => encodeURIComponent(String(req.params[name]));

  // A lab may run only part of the shop (a scenario that needs only checkout):
  // routes exist for the services this gateway was given.
  const has = (dependency: string) => config.dependencies[dependency] !== undefined;
  if (has('checkout')) {
    app.post('/api/checkout', forward(upstream('checkout'), () => '/checkout'));
  }
  if (has('catalog')) {
    const catalog = upstream('catalog');
    app.get('/api/products', forward(catalog, (req) => `/products${query(req)}`));
    // The product on the gateway's span too: failures found by product (`faultline traces --attr`), even those that never reached the catalog.
    app.get('/api/products/:sku', (req, _res, next) => {
      trace.getActiveSpan()?.setAttribute(SHOP_SPAN_ATTR.sku, String(req.params.sku));
      next();
    }, forward(catalog, (req) => `/products/${param(req, 'sku')}`, { watched: true }));
  }
  if (has('cart')) {
    const cart = upstream('cart');
    app.get('/api/cart', forward(cart, (_req, user) => `/carts/${encodeURIComponent(user)}`));
    app.post('/api/cart/items', forward(cart, (_req, user) => `/carts/${encodeURIComponent(user)}/items`));
    app.delete('/api/cart/items/:sku', forward(cart, (req, user) => `/carts/${encodeURIComponent(user)}/items/${param(req, 'sku')}`));
  }
  // Recommendations always answer: with no recommendation service, popular items (a fallback).
  // Its calls go through the fallback below, not through a guard.
  const recommendation = has('recommendation') ? upstream('recommendation', false) : undefined;
  // A decimal count only: z.coerce would also take '0x10' or ' 1'.
  const recommendationsQuery = z.strictObject({
    limit: z.string().regex(/^\d{1,2}$/, 'must be a whole number from 1 to 20').transform(Number).pipe(z.int().min(1).max(20)).default(4),
  });
  app.get('/api/recommendations', async (req: Request, res: Response) => {
    const { limit } = parseOrProblem(recommendationsQuery, req.query, 'query');
    const user = (res.locals.user as string | undefined) ?? 'anonymous';
    const recommend = async (signal: AbortSignal) => {
      if (!recommendation) throw new Error('no recommendation service in this lab');
      const response = await recommendation.request<{ items: unknown[] }>({
        method: 'GET',
        path: `/recommendations?userId=${encodeURIComponent(user)}&limit=${limit}`,
        signal,
      });
      if (response.status !== 200) throw upstreamErrorFor('recommendation', response);
      return { ...response.body, fallback: false };
    };
    if (!policy.recommendationFallback.enabled) {
      // Without the fallback, recommendations fail the storefront like any other dependency.
      try {
        res.json(await recommend(AbortSignal.timeout(policy.routeTimeout)));
      } catch (error) {
        throw problemForFailure('recommendation', error);
      }
      return;
    }
    const answer = await withFallback(
      recommend,
      () => popularRecommendations(user, limit),
      { dependency: 'recommendation', metrics: metrics.resilience, timeoutMs: policy.recommendationTimeout, recordSuccess: true, onFallback: (error) => logger.warn({ err: String(error) }, 'recommendations fell back to popular items') },
    );
    res.json(answer);
  });
});
