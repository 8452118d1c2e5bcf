// gateway: the shop's HTTP entry. In request order: load shedding (503 when
// too many requests are in flight), bearer auth (401), per-client token-bucket
// rate limiting (429 with Retry-After), then routing with a per-route timeout
// to a replica picked by the client-side balancer, whose passive health checks
// eject an instance that keeps failing and bring it back later. Answers from
// the services (their problem+json included) are handed back unchanged.

import type { NextFunction, Request, Response } from 'express';
import { trace } from '@opentelemetry/api';
import { dependencyUrls, readServiceConfig } from '../kit/config.ts';
import { HEADER, PROBLEM_CONTENT_TYPE } from '../kit/conventions.ts';
import { createDependencyClient, type DependencyClient } from '../kit/dependency-client.ts';
import { AuthError, verifyBearer } from '../kit/jwt.ts';
import { ProblemError, problemType } from '../kit/problem.ts';
import { startService } from '../kit/service.ts';
import { problemForFailure } from '../resilience/http-failures.ts';
import { createBalancer, type Balancer } from '../resilience/balancer.ts';
import { gatewayPolicySchema } from './policy.ts';
import { createRateLimiter } from './token-bucket.ts';

const config = readServiceConfig();
await startService(config, ({ app, metrics, logger, onClose }) => {
  const policy = gatewayPolicySchema.parse(config.policies.gateway ?? {});
  if (policy.auth.enabled && !policy.auth.secret) {
    process.stderr.write('FAULTLINE_SERVICE_CONFIG.policies.gateway.auth.secret: required when auth is enabled\n');
    process.exit(2);
  }

  /** One client per replica of a dependency, behind a balancer. */
  const upstream = (dependency: string): { balancer: Balancer; clients: Map<string, DependencyClient> } => {
    const urls = dependencyUrls(config, dependency);
    const clients = new Map(urls.map((url) => [url, createDependencyClient(dependency, url, metrics)]));
    for (const client of clients.values()) onClose(() => client.close());
    const balancer = createBalancer(urls, {
      strategy: policy.balancing.strategy,
      consecutiveFailures: policy.balancing.consecutiveFailures,
      ejectionMs: policy.balancing.ejection,
    });
    balancer.onEvent((event) => logger.warn({ dependency, instance: event.instance }, `instance ${event.event}`));
    return { balancer, clients };
  };

  let inFlight = 0;
  app.use('/api', (_req: Request, res: Response, next: NextFunction) => {
    if (policy.loadShedding.enabled && inFlight >= policy.loadShedding.maxInFlight) {
      metrics.resilience.call('gateway', 'rejected');
      throw new ProblemError(
        { type: problemType('overloaded'), title: 'Overloaded', status: 503, detail: `more than ${policy.loadShedding.maxInFlight} requests in flight; shedding load` },
        { 'retry-after': '1' },
      );
    }
    inFlight += 1;
    res.once('close', () => (inFlight -= 1));
    next();
  });

  const limiter = createRateLimiter({ ratePerSecond: policy.rateLimit.ratePerSecond, burst: policy.rateLimit.burst });
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
    if (policy.rateLimit.enabled) {
      const admission = limiter.take(client);
      if (!admission.allowed) {
        metrics.resilience.rateLimited();
        trace.getActiveSpan()?.addEvent('rate_limited', { client });
        throw new ProblemError(
          { type: problemType('rate-limited'), title: 'Too many requests', status: 429, detail: `rate limit of ${policy.rateLimit.ratePerSecond}/s exceeded` },
          { 'retry-after': String(Math.max(1, Math.ceil(admission.retryAfterMs / 1_000))) },
        );
      }
    }
    next();
  });

  const forward = (dependency: string, path: (req: Request) => string) => {
    const { balancer, clients } = upstream(dependency);
    return async (req: Request, res: Response) => {
      const lease = balancer.pick();
      const target = clients.get(lease.instance) as DependencyClient;
      const key = req.get(HEADER.idempotencyKey);
      const user = res.locals.user as string | undefined;
      try {
        const response = await target.request({
          method: req.method as 'GET' | 'POST' | 'PUT' | 'DELETE',
          path: path(req),
          ...(req.method === 'GET' || req.method === 'DELETE' ? {} : { body: req.body }),
          headers: { ...(key ? { [HEADER.idempotencyKey]: key } : {}), ...(user ? { 'x-user-id': user } : {}) },
          signal: AbortSignal.timeout(policy.routeTimeout),
        });
        lease.done(response.status < 500);
        const contentType = String(response.headers['content-type'] ?? 'application/json');
        res.status(response.status).type(contentType.includes('problem') ? PROBLEM_CONTENT_TYPE : 'application/json');
        res.send(typeof response.body === 'string' ? response.body : JSON.stringify(response.body));
      } catch (error) {
        lease.done(false);
        throw problemForFailure(dependency, error);
      }
    };
  };

  app.post('/api/checkout', forward('checkout', () => '/checkout'));
});
