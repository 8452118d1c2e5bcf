// checkout: places an order as a saga over two services: reserve stock
// (inventory) -> charge (payment) -> confirm the reservation. When a later
// step fails, the earlier ones are compensated: the charge is refunded and
// the reservation released. Orders are kept in SQLite with their
// Idempotency-Key, so a replayed request gets the first answer and never a
// second charge. The payment call carries the lab's resilience policies: a
// per-attempt timeout, retries with capped exponential backoff and jitter
// (safe because the charge is idempotent), optionally a retry budget, and a
// circuit breaker that fails fast while payment is down. Payment is called
// over gRPC, balanced over its instances with passive health checks; each
// attempt's gRPC deadline is what is left of the call's budget (the attempt
// timeout, cut to the policy's overall deadline and the caller's own).
// A compensation that fails is not given up: the order is left 'compensating'
// with what it still owes, and the compensation sweeper retries it with the
// same idempotency keys until it is done.
// Nothing is left half-placed by a stop or a crash. A stop (SIGTERM) takes no
// new order and waits, within SAGA_DRAIN_MS, until every saga under way has
// ended and every owed compensation is done ("in flight" counts unfinished
// orders, not open requests: a saga goes on when its client hangs up). A
// crash leaves orders 'pending' in the durable order log; the next start
// resumes each from its last recorded step with the original idempotency
// keys (policies.recovery switches this off, to show what it is for).
// Deadlines travel with every call (policies.deadlines): a header on the HTTP
// calls, the gRPC deadline on payment's; switched off, checkout still gives up
// on its own clock, but its dependencies never learn when it did.

import { randomUUID } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import client from 'prom-client';
import { z } from 'zod';
import { createBalancedClient, DEFAULT_BALANCING } from '../kit/balanced-client.ts';
import { dependencyUrls, readServiceConfig } from '../kit/config.ts';
import { deadlineHeader } from '../kit/schema.ts';
import { CHECKOUT_METRIC, GRPC_METADATA, HEADER, PROBLEM_CONTENT_TYPE, SHOP_HEADER, SHOP_LABEL, SHOP_METRIC, SHOP_SPAN_EVENT, SPAN_ATTR } from '../kit/conventions.ts';
import type { DependencyClient } from '../kit/dependency-client.ts';
import { createBalancedGrpcClient } from '../kit/grpc.ts';
import { GrpcRefusedError } from '../kit/grpc-status.ts';
import { ProblemError, problemType } from '../kit/problem.ts';
import { deriveSeed, mulberry32 } from '../kit/random.ts';
import { startService } from '../kit/service.ts';
import { parseOrProblem } from '../kit/validation.ts';
import { BulkheadRejectedError } from '../resilience/bulkhead.ts';
import { CircuitOpenError, UpstreamStatusError } from '../resilience/errors.ts';
import { isRefusalStatus, isTransient, problemForFailure, refusalFor, upstreamErrorFor } from '../resilience/http-failures.ts';
import type { LiveCall } from '../resilience/live-policies.ts';
import type { DependencyPolicy } from '../resilience/policy-config.ts';
import { loadPaymentService } from '../payment/proto.ts';
import { compensationPolicySchema, createCompensationSweeper, nextAttemptAt, type CompensationOutcome } from './compensation-sweeper.ts';
import { openOrderStore, requestHash, type Order, type OrderItem, type OrderState } from './order-store.ts';

const checkoutRequest = z.strictObject({
  userId: z.string().min(1).max(100),
  items: z
    .array(z.strictObject({ sku: z.string().min(1).max(64), quantity: z.int().min(1).max(100) }))
    .min(1)
    .max(50),
  amount: z.int().positive().max(100_000_000),
});
const idempotencyHeader = z.string().min(8).max(200).optional();
/** The longest a payment attempt may take when no policy bounds it. */
const UNBOUNDED_ATTEMPT_MS = 30_000;
const databasePolicy = z.object({ path: z.string().min(1).optional() }).loose();
/** `policies.recovery`: resume the sagas a previous process left pending (the pattern a crash scenario switches off). */
const recoveryPolicySchema = z.strictObject({ enabled: z.boolean().default(true) });
/**
 * `policies.idempotency`: every attempt of an order's charge carries the order's one key, so the bank
 * answers a retry with the first charge. Off, each retry gets a fresh key, as a client that makes the
 * key inside its retry loop does: an attempt that timed out after the bank charged is charged again.
 */
const idempotencyPolicySchema = z.strictObject({ enabled: z.boolean().default(true) });
/**
 * `policies.deadlines`: each call carries the moment checkout stops waiting for it (HEADER.deadline,
 * the gRPC deadline), so a dependency drops work nobody waits for. Off, checkout times out just the
 * same, on its own clock, but sends no deadline (gRPC: a distant one), as a client without deadline
 * propagation does: the dependency works on for a caller that is gone.
 */
const deadlinesPolicySchema = z.strictObject({ enabled: z.boolean().default(true) });
/**
 * How long a stop waits for the sagas under way and the compensations owed:
 * a saga's steps and undoing, each with its policy's attempts and backoff,
 * fit in it with the lab's policies. A saga still unfinished then stays
 * 'pending' in the log, and the next start resumes it.
 */
const SAGA_DRAIN_MS = 15_000;
/** A resumed saga waits at most this long for the dead process's last attempt to pass its deadline. */
const MAX_RECOVERY_SETTLE_MS = 5_000;
/** Sagas resumed at once after a restart: enough to catch up quickly, few enough to leave room for new orders. */
const RECOVERY_CONCURRENCY = 8;

const config = readServiceConfig();
await startService(config, ({ app, metrics, logger, policies, onClose, drainAlso, isStopping }) => {
  const seed = Number(process.env.FAULTLINE_SEED ?? 1);
  const store = openOrderStore(parseOrProblem(databasePolicy, config.policies.database ?? {}, 'policies.database').path);
  const compensationPolicy = parseOrProblem(compensationPolicySchema, config.policies.compensation ?? {}, 'policies.compensation');
  const compensationRandom = mulberry32(deriveSeed(seed, `${config.instance}:compensation`));
  const recoveryPolicy = parseOrProblem(recoveryPolicySchema, config.policies.recovery ?? {}, 'policies.recovery');
  const idempotencyPolicy = parseOrProblem(idempotencyPolicySchema, config.policies.idempotency ?? {}, 'policies.idempotency');
  const deadlinesPolicy = parseOrProblem(deadlinesPolicySchema, config.policies.deadlines ?? {}, 'policies.deadlines');
  const orders = new client.Counter({ name: SHOP_METRIC.checkoutOrders, help: 'Orders by final state.', labelNames: [SHOP_LABEL.state], registers: [metrics.registry] });
  const steps = new client.Counter({
    name: SHOP_METRIC.sagaSteps,
    help: 'Saga steps by step and result.',
    labelNames: ['step', SHOP_LABEL.result],
    registers: [metrics.registry],
  });
  new client.Gauge({
    name: CHECKOUT_METRIC.compensationsOwed,
    help: "Orders whose compensation (refund, release) is not done yet: state 'compensating'.",
    registers: [metrics.registry],
    collect() {
      this.set(store.owedCount());
    },
  });
  const compensationRetries = new client.Counter({
    name: CHECKOUT_METRIC.compensationRetries,
    help: 'Compensations retried by the sweeper, by result (done, partial, failed).',
    labelNames: [SHOP_LABEL.result],
    registers: [metrics.registry],
  });
  // Orders owing a refund or a release are retried until done (compensate is defined below, with the clients it calls).
  const sweeper = createCompensationSweeper({
    store,
    compensate: (owed) => compensate(owed.orderId, owed.idempotencyKey, owed.reservationId, owed),
    policy: compensationPolicy,
    random: compensationRandom,
    onRetry: (_owed, result) => compensationRetries.inc({ [SHOP_LABEL.result]: result }),
    logger,
    hurry: isStopping,
  });
  // Registered before the clients: the sweep in flight finishes before they, and the store, close.
  onClose(async () => {
    await sweeper.stop();
    store.close();
  });

  const dependency = (name: string): DependencyClient => {
    const balanced = createBalancedClient(name, dependencyUrls(config, name), { metrics, logger });
    onClose(() => balanced.close());
    return balanced;
  };
  /** A policy's attempt timeout: what the deadline sent with each call is computed from. */
  const attemptTimeout = (policy: DependencyPolicy): number | undefined => (policy.timeout.enabled ? policy.timeout.timeout : undefined);
  // Live (/admin/policies): each call reads the policy it starts under, as the guarded call does.
  const guarded = (name: string, defaults: unknown): LiveCall =>
    policies.register({
      dependency: name,
      policy: config.policies[name] ?? defaults,
      retryable: isTransient,
      // A declined charge or a refused reservation is an answer, not a sign of ill health.
      isFailure: (error) => !(error instanceof ProblemError),
      seed,
    });
  const payment = createBalancedGrpcClient({ dependency: 'payment', urls: dependencyUrls(config, 'payment'), service: loadPaymentService(), metrics, logger, balancing: DEFAULT_BALANCING });
  onClose(() => payment.close());
  const inventory = dependency('inventory');
  const paymentCall = guarded('payment', {});
  const inventoryCall = guarded('inventory', { circuitBreaker: { enabled: false } });

  /** POST to a dependency through its policies; 4xx answers become ProblemErrors with the dependency's problem. */
  const post = async <T>(call: LiveCall, target: DependencyClient, path: string, body: unknown, key: string): Promise<T> => {
    const timeout = attemptTimeout(call.policy);
    return call.execute(async (signal) => {
      // The deadline travels with the call, so work that arrives after this attempt gave up is refused rather than done.
      const headers = { [HEADER.idempotencyKey]: key, ...(timeout !== undefined && deadlinesPolicy.enabled ? { [HEADER.deadline]: String(Date.now() + timeout) } : {}) };
      const response = await target.request<T>({ method: 'POST', path, body, headers, signal });
      // A refusal (validation, stock, unknown product) passes through with its fields; a 401/404 is the dependency failing us (http-failures.ts).
      if (isRefusalStatus(response.status)) throw refusalFor(target.name, response.status, response.body);
      if (response.status >= 400) throw upstreamErrorFor(target.name, response);
      return response.body;
    });
  };

  /**
   * A gRPC call to payment through its policies. Refusals (invalid, declined)
   * become ProblemErrors exactly as payment's HTTP 4xx answers did.
   */
  const callPayment = async <T>(
    method: 'Charge' | 'Refund',
    request: Record<string, unknown>,
    key: string,
    callerDeadline: number | undefined,
    /** Set when any attempt failed in a way that may have charged (a timeout): the last attempt's error alone does not tell. */
    outcome?: { mayHaveCharged: boolean },
  ): Promise<T> => {
    const policy = paymentCall.policy;
    const budget = policy.deadline;
    const callDeadline = Math.min(callerDeadline ?? Infinity, budget !== undefined ? Date.now() + budget : Infinity);
    let attempt = 0;
    // A retry goes to another payment instance: the one that just failed this call is likely down.
    const triedInstances = new Set<string>();
    return paymentCall.execute(async (attemptSignal) => {
      const localDeadline = Math.min(callDeadline, Date.now() + (attemptTimeout(policy) ?? UNBOUNDED_ATTEMPT_MS));
      // Without deadline propagation the attempt still ends at its deadline, here, but payment is told a distant one.
      const deadline = deadlinesPolicy.enabled ? localDeadline : Date.now() + UNBOUNDED_ATTEMPT_MS;
      const signal = deadlinesPolicy.enabled ? attemptSignal : AbortSignal.any([attemptSignal, AbortSignal.timeout(Math.max(0, localDeadline - Date.now()))]);
      attempt += 1;
      // Without idempotency a retried charge is a new charge to the bank (refunds keep the order's key, so they miss it).
      const attemptKey = method === 'Charge' && !idempotencyPolicy.enabled && attempt > 1 ? `${key}:retry-${attempt - 1}` : key;
      try {
        return await payment.unary<Record<string, unknown>, T>({ method, request: { ...request, idempotencyKey: attemptKey }, deadline, metadata: { [GRPC_METADATA.idempotencyKey]: attemptKey }, signal, triedInstances });
      } catch (error) {
        if (outcome && !(error instanceof GrpcRefusedError) && mayHaveCharged(error) !== false) outcome.mayHaveCharged = true;
        if (!(error instanceof GrpcRefusedError)) throw error;
        // The same pass-through rule as for an HTTP refusal.
        throw refusalFor('payment', error.httpStatus, {
          ...(error.problemType ? { type: error.problemType } : {}),
          ...(error.problemTitle ? { title: error.problemTitle } : {}),
          detail: error.details,
        });
      }
    });
  };

  const step = (name: string, result: string, attributes: Record<string, string> = {}) => {
    steps.inc({ step: name, [SHOP_LABEL.result]: result });
    trace.getActiveSpan()?.addEvent(SHOP_SPAN_EVENT.sagaStep, { step: name, result, ...attributes });
  };

  /** The saga's end in the log: its state and the answer a replay gets. */
  const record = (order: Order, { state, status, body }: SagaOutcome) => {
    // 'compensating' was recorded with what is owed (the sweeper may even have finished it since): not overwritten here.
    store.update(order.orderId, { ...(state === 'compensating' ? {} : { state }), response: { status, body } });
    orders.inc({ [SHOP_LABEL.state]: state });
  };
  const problemBody = (error: unknown, dependencyName: string) => {
    const problem = error instanceof ProblemError ? error : problemForFailure(dependencyName, error);
    return { status: problem.problem.status, body: { type: 'about:blank', ...problem.problem, instance: '/checkout', trace_id: trace.getActiveSpan()?.spanContext().traceId } };
  };

  /**
   * Undo what is owed: refund whatever may have been charged under the key,
   * then release the reservation (even if the refund failed: the stock must
   * not stay held). Answers what is still owed. The saga and the sweeper
   * both come here, with the same keys, so a retry never undoes twice. A
   * refusal (a 4xx answer: the units were already sold, say) is not owed any
   * more, since no retry can change it, but the order cannot be 'compensated'.
   */
  const compensate = async (orderId: string, key: string, reservationId: string, owed: { refund: boolean; release: boolean }): Promise<CompensationOutcome> => {
    const left: CompensationOutcome = { refund: false, release: false };
    const errors: string[] = [];
    /** One part of the undoing; a failure leaves it owed, a refusal ends it. */
    const undo = async (part: 'refund' | 'release', action: () => Promise<unknown>): Promise<void> => {
      try {
        await action();
        step(part, 'ok');
      } catch (error) {
        const refused = error instanceof ProblemError;
        if (refused) left.refused = true;
        else left[part] = true;
        errors.push(`${part}: ${String(error)}`);
        step(part, refused ? 'refused' : 'failed');
        logger.error({ orderId, err: String(error) }, `compensation ${refused ? 'refused' : 'failed'}: ${part}`);
      }
    };
    // Undoing is owed whether or not the caller still waits: no caller deadline here.
    if (owed.refund) await undo('refund', () => callPayment('Refund', {}, key, undefined));
    if (owed.release) await undo('release', () => post(inventoryCall, inventory, `/reservations/${reservationId}/release`, {}, `${key}:release`));
    return errors.length ? { ...left, error: errors.join('; ') } : left;
  };

  /**
   * The saga's own compensation, answering the order's state: 'compensated'
   * when everything was undone, 'failed' when a part was refused, else
   * 'compensating', recorded as owing the rest, for the sweeper.
   */
  const compensateOrder = async (order: Order, key: string, reservationId: string, charged: boolean | 'unknown'): Promise<OrderState> => {
    const left = await compensate(order.orderId, key, reservationId, { refund: charged !== false, release: true });
    if (!left.refund && !left.release) return left.refused ? 'failed' : 'compensated';
    store.oweCompensation({
      orderId: order.orderId,
      idempotencyKey: key,
      reservationId,
      refund: left.refund,
      release: left.release,
      nextAttemptAt: nextAttemptAt(Date.now(), 1, compensationPolicy, compensationRandom),
      ...(left.refused ? { refused: true } : {}),
      ...(left.error ? { lastError: left.error } : {}),
    });
    return 'compensating';
  };

  if (compensationPolicy.enabled) sweeper.start();
  else logger.warn('compensations that fail stay owed: the compensation sweeper is off (policies.compensation.enabled)');

  /** Whether a failed charge may still have gone through at the bank (a timeout or a lost answer). */
  const mayHaveCharged = (error: unknown): boolean | 'unknown' => {
    if (error instanceof ProblemError || error instanceof CircuitOpenError || error instanceof BulkheadRejectedError) return false;
    if (error instanceof UpstreamStatusError && error.status !== 504) return false;
    return 'unknown';
  };

  /** What a saga ends with: the order's state and the answer its client gets (now, or on a replay). */
  interface SagaOutcome {
    state: OrderState;
    status: number;
    body: Record<string, unknown>;
    problem: boolean;
  }
  const failed = (state: OrderState, order: Order, error: unknown, dependencyName: string): SagaOutcome => {
    const failure = problemBody(error, dependencyName);
    store.update(order.orderId, { failure: String(failure.body.detail) });
    return { state, status: failure.status, body: failure.body, problem: true };
  };

  /**
   * The saga, from wherever the order's log says it stands: a step whose
   * result is recorded (the reservation, the payment) is not taken again;
   * every other step is taken with the order's own idempotency keys, so a
   * resumed saga that repeats a step the dead process had begun gets the
   * first result back (inventory and bank answer replays) and never a second
   * reservation or charge.
   */
  const runSaga = async (order: Order, items: OrderItem[], key: string, callerDeadline: number | undefined): Promise<SagaOutcome> => {
    // 1. Reserve the stock (idempotent per order id).
    let reservationId = order.reservationId;
    if (reservationId === undefined) {
      try {
        const reservation = await post<{ id: string }>(inventoryCall, inventory, '/reservations', { orderId: order.orderId, items }, `${key}:reserve`);
        reservationId = reservation.id;
        store.update(order.orderId, { reservationId });
        step('reserve', 'ok');
      } catch (error) {
        step('reserve', 'failed');
        return failed('failed', order, error, 'inventory');
      }
    }

    // 2. Charge (idempotent per key: retries never charge twice).
    let paymentId = order.paymentId;
    if (paymentId === undefined) {
      // An attempt that timed out may have charged even when a later one was short-circuited by the breaker.
      const attempts = { mayHaveCharged: false };
      try {
        const paid = await callPayment<{ paymentId: string }>('Charge', { orderId: order.orderId, amount: order.amount }, key, callerDeadline, attempts);
        paymentId = paid.paymentId;
        store.update(order.orderId, { paymentId });
        step('charge', 'ok');
      } catch (error) {
        step('charge', 'failed');
        const state = await compensateOrder(order, key, reservationId, attempts.mayHaveCharged ? 'unknown' : mayHaveCharged(error));
        const outcome = failed(state, order, error, 'payment');
        logger.warn({ orderId: order.orderId, err: String(outcome.body.detail) }, 'order failed');
        return outcome;
      }
    }

    // 3. Confirm the reservation: the units leave the shelf.
    try {
      await post(inventoryCall, inventory, `/reservations/${reservationId}/confirm`, {}, `${key}:confirm`);
      step('confirm', 'ok');
    } catch (error) {
      step('confirm', 'failed');
      const state = await compensateOrder(order, key, reservationId, true);
      return failed(state, order, error, 'inventory');
    }

    logger.info({ orderId: order.orderId, paymentId }, 'order confirmed');
    return { state: 'confirmed', status: 201, body: { orderId: order.orderId, status: 'confirmed', paymentId, reservationId }, problem: false };
  };

  // Sagas under way in this process: a stop waits for them (and for owed
  // compensations), even when their client has hung up, for at most SAGA_DRAIN_MS.
  const sagas = new Set<Promise<unknown>>();
  const track = <T>(saga: Promise<T>): Promise<T> => {
    sagas.add(saga);
    const forget = () => sagas.delete(saga);
    saga.then(forget, forget);
    return saga;
  };
  // With the sweeper off nothing will pay what is owed: a stop waits for the sagas only.
  drainAlso(() => sagas.size + (compensationPolicy.enabled && store.isOpen() ? store.owedCount() : 0), SAGA_DRAIN_MS);

  /**
   * Crash recovery: orders a previous process left 'pending' (it died, or
   * its stop ran out of time, mid-saga) are resumed from the log, a few at a
   * time, and end confirmed or compensated like any other; their answer is
   * recorded, so the client's retry with the same key gets it. Each waits
   * until an attempt the dead process may still have had in flight is past
   * its deadline (payment refuses it then), so a resumed saga never races it.
   * A stop meanwhile lets them finish (they are in flight like any saga).
   */
  const recoverPendingOrders = async (pending: Order[]): Promise<void> => {
    const settleMs = Math.min(attemptTimeout(paymentCall.policy) ?? UNBOUNDED_ATTEMPT_MS, MAX_RECOVERY_SETTLE_MS);
    const queue = [...pending];
    const worker = async (): Promise<void> => {
      for (let order = queue.shift(); order; order = queue.shift()) await recoverOne(order, settleMs);
    };
    await Promise.all(Array.from({ length: RECOVERY_CONCURRENCY }, worker));
  };
  const recoverOne = async (order: Order, settleMs: number): Promise<void> => {
    const wait = Date.parse(order.updatedAt) + settleMs - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (!order.items && order.reservationId === undefined) {
      // Written before items were kept: the reservation cannot be replayed, so it is left to a person (and the hold to its TTL).
      logger.error({ orderId: order.orderId }, 'a pending order without its items cannot be resumed');
      return;
    }
    try {
      const outcome = await runSaga(order, order.items ?? [], order.idempotencyKey, undefined);
      record(order, outcome);
      logger.info({ orderId: order.orderId, state: outcome.state }, 'order recovered after a restart');
    } catch (error) {
      logger.error({ orderId: order.orderId, err: String(error) }, 'order recovery failed; it stays pending');
    }
  };
  const left = store.pending();
  if (left.length > 0 && recoveryPolicy.enabled) {
    logger.warn({ orders: left.length }, 'resuming orders a previous process left pending');
    // After start-up: the service answers while it recovers.
    setImmediate(() => void track(recoverPendingOrders(left)));
  } else if (left.length > 0) {
    logger.warn({ orders: left.length }, 'orders a previous process left pending stay pending: recovery is off');
  }

  app.post('/checkout', async (req, res) => {
    const headerKey = parseOrProblem(idempotencyHeader, req.get(HEADER.idempotencyKey), `header.${HEADER.idempotencyKey}`);
    const body = parseOrProblem(checkoutRequest, req.body, 'body');
    const callerDeadline = parseOrProblem(deadlineHeader, req.get(HEADER.deadline), `header.${HEADER.deadline}`);
    const key = headerKey ?? `order-${randomUUID()}`;
    const hash = requestHash(body);

    const replay = (existing: Order) => {
      if (existing.requestHash !== hash) {
        throw new ProblemError({ type: problemType('idempotency-conflict'), title: 'Idempotency key reused', status: 409, detail: 'this key was used for a different order' });
      }
      if (!existing.response) {
        throw new ProblemError({ type: problemType('order-in-progress'), title: 'Order in progress', status: 409, detail: `order ${existing.orderId} is still being placed` }, { 'retry-after': '1' });
      }
      res.setHeader(SHOP_HEADER.idempotentReplayed, 'true');
      const problem = existing.response.status >= 400;
      res.status(existing.response.status).type(problem ? PROBLEM_CONTENT_TYPE : 'application/json').send(JSON.stringify(existing.response.body));
    };
    const existing = store.byKey(key);
    if (existing) return replay(existing);
    // A stopping checkout begins no new saga (its callers retry elsewhere, or later).
    if (isStopping()) {
      throw new ProblemError({ type: problemType('shutting-down'), title: 'Shutting down', status: 503, detail: 'checkout is stopping and takes no new orders' }, { 'retry-after': '1' });
    }
    const order = store.create({ orderId: randomUUID(), idempotencyKey: key, requestHash: hash, userId: body.userId, amount: body.amount, items: body.items });
    if (!order) return replay(store.byKey(key) as Order);
    trace.getActiveSpan()?.setAttributes({ [SPAN_ATTR.orderId]: order.orderId, [SPAN_ATTR.idempotencyKey]: key });

    const outcome = await track(runSaga(order, body.items, key, callerDeadline));
    record(order, outcome);
    res.status(outcome.status).type(outcome.problem ? PROBLEM_CONTENT_TYPE : 'application/json').send(JSON.stringify(outcome.body));
  });
});
