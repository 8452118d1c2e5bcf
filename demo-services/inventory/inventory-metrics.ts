// The inventory's own metrics: operations by result (reservations taken,
// refused for lack of stock, replayed, confirmed, released, expired), and the
// stock of every SKU by state, read from the books at each scrape.

import client from 'prom-client';
import { SHOP_LABEL, SHOP_METRIC } from '../kit/conventions.ts';
import type { StockLevel } from './inventory-store.ts';

export type InventoryOperation = 'reserve' | 'confirm' | 'release' | 'expire';

export interface InventoryMetrics {
  operation(operation: InventoryOperation, result: string, count?: number): void;
}

export function createInventoryMetrics(registry: client.Registry<client.OpenMetricsContentType>, stock: () => StockLevel[]): InventoryMetrics {
  const operations = new client.Counter({
    name: SHOP_METRIC.inventoryOperations,
    help: 'Inventory operations, by operation and result.',
    labelNames: [SHOP_LABEL.operation, SHOP_LABEL.result],
    registers: [registry],
  });
  new client.Gauge({
    name: SHOP_METRIC.inventoryStockUnits,
    help: 'Units of a SKU, by state (on_hand, reserved, available).',
    labelNames: [SHOP_LABEL.sku, SHOP_LABEL.state],
    registers: [registry],
    collect() {
      for (const level of stock()) {
        this.set({ [SHOP_LABEL.sku]: level.sku, [SHOP_LABEL.state]: 'on_hand' }, level.onHand);
        this.set({ [SHOP_LABEL.sku]: level.sku, [SHOP_LABEL.state]: 'reserved' }, level.reserved);
        this.set({ [SHOP_LABEL.sku]: level.sku, [SHOP_LABEL.state]: 'available' }, level.available);
      }
    },
  });
  return {
    operation: (operation, result, count = 1) => operations.inc({ [SHOP_LABEL.operation]: operation, [SHOP_LABEL.result]: result }, count),
  };
}
