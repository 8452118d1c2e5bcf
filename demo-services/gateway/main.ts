// gateway: the shop's HTTP entry. Routes public API calls to the services
// behind it with a per-route timeout, and hands their answers (including
// their problem+json errors) back unchanged.

import type { Request, Response } from 'express';
import { dependencyUrl, readServiceConfig } from '../kit/config.ts';
import { HEADER, PROBLEM_CONTENT_TYPE } from '../kit/conventions.ts';
import { createDependencyClient, type DependencyClient } from '../kit/dependency-client.ts';
import { startService } from '../kit/service.ts';
import { problemForFailure } from '../resilience/http-failures.ts';
import { z } from 'zod';
import { durationMs } from '../kit/schema.ts';

const gatewayPolicy = z.strictObject({ routeTimeout: durationMs.default(5_000) });

const config = readServiceConfig();
await startService(config, ({ app, metrics, onClose }) => {
  const policy = gatewayPolicy.parse(config.policies.routes ?? {});
  const checkout = createDependencyClient('checkout', dependencyUrl(config, 'checkout'), metrics);
  onClose(() => checkout.close());

  const forward = (target: DependencyClient, path: string) => async (req: Request, res: Response) => {
    const key = req.get(HEADER.idempotencyKey);
    try {
      const response = await target.request({
        method: req.method as 'POST',
        path,
        body: req.body,
        headers: key ? { [HEADER.idempotencyKey]: key } : {},
        signal: AbortSignal.timeout(policy.routeTimeout),
      });
      const contentType = String(response.headers['content-type'] ?? 'application/json');
      res.status(response.status).type(contentType.includes('problem') ? PROBLEM_CONTENT_TYPE : 'application/json');
      res.send(typeof response.body === 'string' ? response.body : JSON.stringify(response.body));
    } catch (error) {
      throw problemForFailure(target.name, error);
    }
  };

  app.post('/api/checkout', forward(checkout, '/checkout'));
});
