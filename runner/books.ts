// `faultline check <run>`: whether the shop's books balance after a run, read
// from the databases the services left under runs/<id>/data/: every confirmed
// order charged exactly once, no charge without an order (unless refunded),
// no order left half-placed, no order still owing its compensation (a refund
// or release the checkout sweeper had not finished when the run ended), and
// the inventory's own invariants (stock never negative, no hold past its TTL,
// units accounted for).
//
// Each violation is one of two kinds. "In flight" is work the lab was doing
// when it stopped or crashed, which resuming it finishes: an order still
// pending or owing its compensation, the charge of such an order, a hold
// past its TTL (the inventory expires it when it runs). `faultline recover
// <run>` starts what is needed on the run's data to finish exactly these
// (runner/recover.ts). "Lost or doubled" is damage no resumption undoes: a
// confirmed order charged twice or never, a standing charge for an order that
// failed or that checkout never heard of, stock gone negative.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { checkInventoryInvariants } from '../demo-services/inventory/invariants.ts';

export type ViolationKind = 'in-flight' | 'lost-or-doubled';

export interface BooksViolation {
  code: string;
  message: string;
  kind: ViolationKind;
}

export interface BooksReport {
  ok: boolean;
  orders: { confirmed: number; failed: number; compensated: number; compensating: number; pending: number };
  charges: { total: number; refunded: number };
  violations: BooksViolation[];
  /** Violations by kind (in flight at the stop or crash; lost or doubled), counted before the listing was capped. */
  counts: Record<ViolationKind, number>;
  /** Databases that were not there (a lab that ran without that service). */
  missing: string[];
}

const MAX_LISTED = 20;

function open(path: string): DatabaseSync | undefined {
  return existsSync(path) ? new DatabaseSync(path, { readOnly: true }) : undefined;
}

/** Check the books of a run directory; `asOf` is when the run ended (holds are judged against it). */
export function checkBooks(runDir: string, asOf = Date.now()): BooksReport {
  const dataDir = join(runDir, 'data');
  const violations: BooksViolation[] = [];
  const missing: string[] = [];
  const counts: Record<ViolationKind, number> = { 'in-flight': 0, 'lost-or-doubled': 0 };
  const add = (code: string, message: string, kind: ViolationKind = 'lost-or-doubled') => {
    counts[kind] += 1;
    if (violations.filter((v) => v.code === code).length < MAX_LISTED) violations.push({ code, message, kind });
  };
  const orders = { confirmed: 0, failed: 0, compensated: 0, compensating: 0, pending: 0 };
  const charges = { total: 0, refunded: 0 };

  const checkout = open(join(dataDir, 'checkout.sqlite'));
  const bank = open(join(dataDir, 'bank.sqlite'));
  const inventory = open(join(dataDir, 'inventory.sqlite'));
  if (!checkout) missing.push('checkout');
  if (!bank) missing.push('bank');
  if (!inventory) missing.push('inventory');
  try {
    const orderRows = (checkout?.prepare('SELECT order_id, state FROM orders').all() ?? []) as Array<{ order_id: string; state: keyof typeof orders }>;
    for (const order of orderRows) orders[order.state] += 1;
    for (const order of orderRows.filter((o) => o.state === 'pending')) add('order-pending', `order ${order.order_id} was left half-placed (pending)`, 'in-flight');
    if (checkout) for (const owed of owedCompensations(checkout, orderRows)) add('compensation-owed', owed, 'in-flight');

    const chargeRows = (bank?.prepare('SELECT c.charge_id, c.order_id, r.refund_id FROM charges c LEFT JOIN refunds r ON r.charge_id = c.charge_id').all() ?? []) as Array<{
      charge_id: string;
      order_id: string;
      refund_id: string | null;
    }>;
    charges.total = chargeRows.length;
    charges.refunded = chargeRows.filter((c) => c.refund_id !== null).length;
    if (checkout && bank) {
      const state = new Map(orderRows.map((o) => [o.order_id, o.state]));
      const standing = new Map<string, number>();
      for (const charge of chargeRows) {
        if (charge.refund_id !== null) continue;
        standing.set(charge.order_id, (standing.get(charge.order_id) ?? 0) + 1);
        const orderState = state.get(charge.order_id);
        // The charge of an order still under way is settled when the order is: confirmed, or refunded.
        const kind = orderState === 'pending' || orderState === 'compensating' ? 'in-flight' : 'lost-or-doubled';
        if (orderState !== 'confirmed') add('charge-without-order', `charge ${charge.charge_id} for order ${charge.order_id} (${orderState ?? 'unknown order'}) was not refunded`, kind);
      }
      for (const order of orderRows.filter((o) => o.state === 'confirmed')) {
        const count = standing.get(order.order_id) ?? 0;
        if (count !== 1) add(count === 0 ? 'confirmed-not-charged' : 'charged-twice', `confirmed order ${order.order_id} has ${count} standing charges`);
      }
    }
    if (inventory) {
      for (const violation of checkInventoryInvariants(inventory, { now: asOf }).violations) {
        add(`inventory-${violation.code}`, violation.message, violation.code === 'overdue-hold' ? 'in-flight' : 'lost-or-doubled');
      }
    }
  } finally {
    checkout?.close();
    bank?.close();
    inventory?.close();
  }
  return { ok: violations.length === 0, orders, charges, violations, counts, missing };
}

/** One line per order still 'compensating': what it owes and after how many attempts (from `compensations` when the database has it). */
function owedCompensations(checkout: DatabaseSync, orderRows: Array<{ order_id: string; state: string }>): string[] {
  const compensating = orderRows.filter((o) => o.state === 'compensating');
  if (compensating.length === 0) return [];
  const hasTable = checkout.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'compensations'").get() !== undefined;
  const owed = new Map<string, { refund_owed: number; release_owed: number; attempts: number; last_error: string | null }>();
  if (hasTable) {
    const rows = checkout.prepare('SELECT order_id, refund_owed, release_owed, attempts, last_error FROM compensations').all() as Array<{
      order_id: string;
      refund_owed: number;
      release_owed: number;
      attempts: number;
      last_error: string | null;
    }>;
    for (const row of rows) owed.set(row.order_id, row);
  }
  return compensating.map((order) => {
    const row = owed.get(order.order_id);
    if (!row) return `order ${order.order_id} is still compensating (nothing recorded as owed)`;
    const what = [row.refund_owed ? 'a refund' : '', row.release_owed ? 'a release' : ''].filter(Boolean).join(' and ');
    return `order ${order.order_id} still owes ${what} after ${row.attempts} attempts${row.last_error ? ` (last: ${row.last_error})` : ''}`;
  });
}

function inFlightLine(counts: Record<ViolationKind, number>): string {
  const lost = `${counts['lost-or-doubled']} lost or doubled`;
  if (counts['in-flight'] === 0) return lost;
  return `${counts['in-flight']} in flight when the lab stopped (\`faultline recover <run>\` finishes them), ${lost}`;
}

export function renderBooks(report: BooksReport): string {
  const lines = [
    `orders: ${report.orders.confirmed} confirmed, ${report.orders.compensated} compensated, ${report.orders.compensating} still compensating, ${report.orders.failed} failed, ${report.orders.pending} pending`,
    `charges: ${report.charges.total} (${report.charges.refunded} refunded)`,
    ...(report.missing.length ? [`not in this run: ${report.missing.join(', ')}`] : []),
    ...report.violations.filter((v) => v.kind === 'lost-or-doubled').map((v) => `VIOLATION ${v.code}: ${v.message}`),
    ...report.violations.filter((v) => v.kind === 'in-flight').map((v) => `IN FLIGHT ${v.code}: ${v.message}`),
    report.ok ? 'the books balance' : `the books do not balance: ${inFlightLine(report.counts)}`,
  ];
  return lines.join('\n');
}
