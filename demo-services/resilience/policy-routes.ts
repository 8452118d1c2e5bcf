// /admin/policies: the live resilience policies of a service's guarded calls
// (live-policies.ts), read and changed over HTTP while traffic flows. Mounted
// on the admin listener only (kit/service.ts), whose guard admits loopback
// callers (or a token) and refuses a state-changing request from a foreign
// Origin. Refusals are problem+json naming the field:
// `retry.maxAttempts: must be <= 10`.
//
//   GET    /admin/policies               every dependency's policy, and the changes so far
//   GET    /admin/policies/:dependency   one policy
//   PATCH  /admin/policies/:dependency   a deep-partial policy merged over the current one (null: back to the default)
//   PUT    /admin/policies/:dependency   a whole policy, defaults filled
//   POST   /admin/policies/reset         every policy back to what the service started with

import { createRequire } from 'node:module';
import type expressModule from 'express';
import type { Request, Router } from 'express';
import { ProblemError, problemType, validationProblem } from '../kit/problem.ts';
import { PolicyValidationError, UnknownDependencyError, type PolicyChange, type PolicyRegistry } from './live-policies.ts';

const require = createRequire(import.meta.url);
const express = require('express') as typeof expressModule;

/** A registry error as the problem a client sees: 404 naming the known dependencies, 400 naming every bad field. */
function problemFor(error: unknown): unknown {
  if (error instanceof UnknownDependencyError) {
    return new ProblemError({ type: problemType('unknown-dependency'), title: 'Unknown dependency', status: 404, detail: error.message, known: error.known });
  }
  if (error instanceof PolicyValidationError) return validationProblem([...error.issues]);
  return error;
}

/** `work`'s result, or the problem a client sees for a policy error it threw (404, or 400 naming every bad field). */
export function answering<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw problemFor(error);
  }
}

/** The request's JSON object, or a 400 saying what was sent instead. */
export function bodyOf(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) return body as Record<string, unknown>;
  throw validationProblem([
    { field: 'body', message: body === undefined ? 'must be a JSON object, sent as application/json or application/merge-patch+json' : 'must be a JSON object' },
  ]);
}

const changeAnswer = (dependency: string, registry: PolicyRegistry, change: PolicyChange | undefined) => ({
  dependency,
  policy: registry.policy(dependency),
  change: change ?? null,
});

export function policyRoutes(registry: PolicyRegistry): Router {
  const router = express.Router();
  // The admin app parses application/json; a merge patch may say what it is.
  router.use(express.json({ type: 'application/merge-patch+json', limit: '64kb' }));
  const dependencyOf = (req: Request) => String(req.params.dependency);

  router.get('/', (_req, res) => {
    res.json({ policies: registry.policies(), history: registry.history() });
  });
  router.post('/reset', (_req, res) => {
    const changes = registry.reset();
    res.json({ policies: registry.policies(), changes });
  });
  router.get('/:dependency', (req, res) => {
    const dependency = dependencyOf(req);
    res.json({ dependency, policy: answering(() => registry.policy(dependency)) });
  });
  router.patch('/:dependency', (req, res) => {
    const dependency = dependencyOf(req);
    answering(() => registry.policy(dependency));
    const change = answering(() => registry.patch(dependency, bodyOf(req)));
    res.json(changeAnswer(dependency, registry, change));
  });
  router.put('/:dependency', (req, res) => {
    const dependency = dependencyOf(req);
    answering(() => registry.policy(dependency));
    const change = answering(() => registry.replace(dependency, bodyOf(req)));
    res.json(changeAnswer(dependency, registry, change));
  });
  return router;
}
