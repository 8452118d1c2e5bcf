import { describe, expect, it } from 'vitest';
import { SEED_PRODUCTS, type Product } from '../catalog/product.ts';
import { CartError, createCartStore } from './cart-store.ts';

const [p1, p2, p3] = SEED_PRODUCTS as [Product, Product, Product];
const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    if (error instanceof CartError) return error.code;
    throw error;
  }
  return undefined;
};

describe('cart store', () => {
  it('adds, totals, removes and clears', () => {
    const carts = createCartStore({ maxCarts: 10, maxLines: 5, maxQuantity: 10 });
    expect(carts.get('u1')).toEqual({ userId: 'u1', items: [], itemCount: 0, totalCents: 0, currency: 'EUR' });
    carts.add('u1', p1, 2);
    const { cart } = carts.add('u1', p2, 1);
    expect(cart.items.map((line) => [line.sku, line.quantity, line.lineTotalCents])).toEqual([
      [p1.sku, 2, p1.priceCents * 2],
      [p2.sku, 1, p2.priceCents],
    ]);
    expect(cart).toMatchObject({ itemCount: 3, totalCents: p1.priceCents * 2 + p2.priceCents });
    expect(carts.add('u1', p1, 3).cart.items[0]?.quantity).toBe(5);
    expect(carts.remove('u1', p1.sku).items.map((line) => line.sku)).toEqual([p2.sku]);
    expect(carts.remove('u1', 'sku-404').itemCount).toBe(1);
    expect(carts.clear('u1')).toBe(true);
    expect(carts.clear('u1')).toBe(false);
    expect(carts.get('u1').items).toEqual([]);
  });

  it('adds once per idempotency key and refuses the key for another addition', () => {
    const carts = createCartStore({ maxCarts: 10, maxLines: 5, maxQuantity: 10 });
    expect(carts.add('u1', p1, 2, 'key-1').replayed).toBe(false);
    const again = carts.add('u1', p1, 2, 'key-1');
    expect(again.replayed).toBe(true);
    expect(again.cart.itemCount).toBe(2);
    expect(codeOf(() => carts.add('u1', p2, 1, 'key-1'))).toBe('FL_CART_IDEMPOTENCY_CONFLICT');
  });

  it('bounds lines, units and carts', () => {
    const carts = createCartStore({ maxCarts: 2, maxLines: 2, maxQuantity: 4 });
    carts.add('u1', p1, 4);
    expect(codeOf(() => carts.add('u1', p1, 1))).toBe('FL_CART_QUANTITY_LIMIT');
    carts.add('u1', p2, 1);
    expect(codeOf(() => carts.add('u1', p3, 1))).toBe('FL_CART_FULL');
    expect(carts.get('u1').itemCount).toBe(5);
    carts.add('u2', p1, 1);
    carts.add('u1', p2, 1);
    carts.add('u3', p1, 1);
    expect(carts.size).toBe(2);
    expect(carts.get('u2').items).toEqual([]);
    expect(carts.get('u1').itemCount).toBe(6);
  });
});
