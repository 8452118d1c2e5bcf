// The carts, held in memory: one per user, each a handful of lines priced at
// the moment the product was added. Everything is bounded, because the cart
// takes writes from anyone: carts (the least recently touched is dropped),
// lines per cart, units per line, and the idempotency keys remembered per
// cart, which make a retried "add" (a client or a proxy replaying it) add once.

import { CURRENCY, type Product } from '../catalog/product.ts';

export interface CartLine {
  sku: string;
  name: string;
  priceCents: number;
  currency: string;
  quantity: number;
  lineTotalCents: number;
}

export interface Cart {
  userId: string;
  items: CartLine[];
  /** Units across all lines. */
  itemCount: number;
  totalCents: number;
  currency: string;
}

export type CartErrorCode = 'FL_CART_FULL' | 'FL_CART_QUANTITY_LIMIT' | 'FL_CART_IDEMPOTENCY_CONFLICT';

export class CartError extends Error {
  readonly code: CartErrorCode;
  constructor(code: CartErrorCode, message: string) {
    super(message);
    this.name = 'CartError';
    this.code = code;
  }
}

export interface CartStoreOptions {
  /** Carts kept; past it the least recently changed cart is forgotten. */
  maxCarts: number;
  /** Distinct SKUs per cart. */
  maxLines: number;
  /** Units of one SKU per cart. */
  maxQuantity: number;
  /** Idempotency keys remembered per cart. */
  maxKeys?: number;
}

export interface CartStore {
  get(userId: string): Cart;
  /** Add `quantity` units of `product`; with a key already used for the same addition, add nothing. */
  add(userId: string, product: Product, quantity: number, idempotencyKey?: string): { cart: Cart; replayed: boolean };
  /** Remove a SKU's line; removing what is not there leaves the cart as it is. */
  remove(userId: string, sku: string): Cart;
  /** Forget the cart; false when there was none. */
  clear(userId: string): boolean;
  readonly size: number;
}

interface StoredCart {
  lines: Map<string, Omit<CartLine, 'lineTotalCents'>>;
  /** Idempotency key -> what it added, in insertion order. */
  keys: Map<string, string>;
}

export function createCartStore(options: CartStoreOptions): CartStore {
  const carts = new Map<string, StoredCart>();
  const maxKeys = options.maxKeys ?? 100;

  const view = (userId: string, stored: StoredCart | undefined): Cart => {
    const items = [...(stored?.lines.values() ?? [])].map((line) => ({ ...line, lineTotalCents: line.priceCents * line.quantity }));
    return {
      userId,
      items,
      itemCount: items.reduce((sum, line) => sum + line.quantity, 0),
      totalCents: items.reduce((sum, line) => sum + line.lineTotalCents, 0),
      currency: CURRENCY,
    };
  };

  /** The user's cart, moved to the most recently used end; created when absent. */
  const touch = (userId: string): StoredCart => {
    const stored = carts.get(userId) ?? { lines: new Map(), keys: new Map() };
    carts.delete(userId);
    carts.set(userId, stored);
    while (carts.size > options.maxCarts) {
      const oldest = carts.keys().next();
      if (oldest.done) break;
      carts.delete(oldest.value);
    }
    return stored;
  };

  return {
    get: (userId) => view(userId, carts.get(userId)),
    add(userId, product, quantity, idempotencyKey) {
      const fingerprint = `${product.sku}:${quantity}`;
      const existing = carts.get(userId);
      if (idempotencyKey !== undefined && existing?.keys.has(idempotencyKey)) {
        if (existing.keys.get(idempotencyKey) !== fingerprint) {
          throw new CartError('FL_CART_IDEMPOTENCY_CONFLICT', `idempotency key already used to add ${existing.keys.get(idempotencyKey)}`);
        }
        return { cart: view(userId, existing), replayed: true };
      }
      const line = existing?.lines.get(product.sku);
      if (!line && (existing?.lines.size ?? 0) >= options.maxLines) {
        throw new CartError('FL_CART_FULL', `a cart holds at most ${options.maxLines} different products`);
      }
      const total = (line?.quantity ?? 0) + quantity;
      if (total > options.maxQuantity) {
        throw new CartError('FL_CART_QUANTITY_LIMIT', `at most ${options.maxQuantity} units of ${product.sku} per cart (would be ${total})`);
      }
      const stored = touch(userId);
      stored.lines.set(product.sku, { sku: product.sku, name: product.name, priceCents: product.priceCents, currency: product.currency, quantity: total });
      if (idempotencyKey !== undefined) {
        stored.keys.set(idempotencyKey, fingerprint);
        if (stored.keys.size > maxKeys) stored.keys.delete(stored.keys.keys().next().value as string);
      }
      return { cart: view(userId, stored), replayed: false };
    },
    remove(userId, sku) {
      const stored = carts.get(userId);
      stored?.lines.delete(sku);
      return view(userId, stored);
    },
    clear: (userId) => carts.delete(userId),
    get size() {
      return carts.size;
    },
  };
}
