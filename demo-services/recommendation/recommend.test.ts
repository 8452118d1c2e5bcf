import { describe, expect, it } from 'vitest';
import { SEED_PRODUCTS } from '../catalog/product.ts';
import { popularRecommendations, recommend } from './recommend.ts';

describe('recommend', () => {
  it('is stable for a user, distinct between users, and bounded by limit', () => {
    const a = recommend('user-1', SEED_PRODUCTS, 5);
    expect(a.items).toHaveLength(5);
    expect(new Set(a.items.map((p) => p.sku)).size).toBe(5);
    expect(recommend('user-1', [...SEED_PRODUCTS].reverse(), 5)).toEqual(a);
    const others = ['user-2', 'user-3', 'user-4'].map((user) => recommend(user, SEED_PRODUCTS, 5).items.map((p) => p.sku).join());
    expect(others.some((skus) => skus !== a.items.map((p) => p.sku).join())).toBe(true);
  });

  it('returns what exists when the catalog holds fewer products than asked', () => {
    expect(recommend('user-1', SEED_PRODUCTS.slice(0, 2), 10).items).toHaveLength(2);
    expect(recommend('user-1', [], 3).items).toEqual([]);
  });

  it('falls back to the best sellers, the same for everyone', () => {
    const fallback = popularRecommendations('user-7', 3);
    expect(fallback.userId).toBe('user-7');
    expect(fallback.items.map((p) => p.sku)).toEqual(['sku-3', 'sku-1', 'sku-11']);
    expect(popularRecommendations('user-8', 3).items).toEqual(fallback.items);
  });
});
