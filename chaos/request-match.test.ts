import { describe, expect, it } from 'vitest';
import { createRequestMatcher, requestView } from './request-match.ts';

const view = (method: string, url: string, headers: Record<string, string | string[]> = {}) => requestView(method, url, headers);

describe('request matching', () => {
  it('matches everything when nothing is given', () => {
    expect(createRequestMatcher({})(view('DELETE', '/anything?x=1'))).toBe(true);
  });

  it('treats a path without * as a prefix of whole segments', () => {
    const matches = createRequestMatcher({ path: '/charges' });
    expect(matches(view('GET', '/charges'))).toBe(true);
    expect(matches(view('GET', '/charges/42?full=1'))).toBe(true);
    expect(matches(view('GET', '/chargesheet'))).toBe(false);
    expect(matches(view('GET', '/'))).toBe(false);
    expect(createRequestMatcher({ path: '/charges/' })(view('GET', '/charges/1'))).toBe(true);
    expect(createRequestMatcher({ path: '/' })(view('GET', '/x/y'))).toBe(true);
  });

  it('treats * as one segment and ** as any number, anchored at both ends', () => {
    const one = createRequestMatcher({ path: '/orders/*/items' });
    expect(one(view('GET', '/orders/7/items'))).toBe(true);
    expect(one(view('GET', '/orders/7/8/items'))).toBe(false);
    expect(one(view('GET', '/orders/7/items/1'))).toBe(false);
    const any = createRequestMatcher({ path: '/orders/**' });
    expect(any(view('GET', '/orders/7/8/items'))).toBe(true);
    expect(createRequestMatcher({ path: '/a.b/*' })(view('GET', '/aXb/1'))).toBe(false);
  });

  it('matches methods case-insensitively from a list, and headers by presence or exact value', () => {
    expect(createRequestMatcher({ method: 'get, head' })(view('HEAD', '/'))).toBe(true);
    expect(createRequestMatcher({ method: 'POST' })(view('GET', '/'))).toBe(false);
    const present = createRequestMatcher({ header: 'X-Canary' });
    expect(present(view('GET', '/', { 'x-canary': '' }))).toBe(true);
    expect(present(view('GET', '/'))).toBe(false);
    const valued = createRequestMatcher({ header: 'x-tenant: acme' });
    expect(valued(view('GET', '/', { 'x-tenant': 'acme' }))).toBe(true);
    expect(valued(view('GET', '/', { 'x-tenant': 'acme2' }))).toBe(false);
    expect(valued(view('GET', '/', { 'x-tenant': ['b', 'acme'] }))).toBe(true);
  });

  it('requires every given condition', () => {
    const matches = createRequestMatcher({ path: '/charges', method: 'POST', header: 'x-tenant: acme' });
    expect(matches(view('POST', '/charges', { 'x-tenant': 'acme' }))).toBe(true);
    expect(matches(view('POST', '/charges', { 'x-tenant': 'other' }))).toBe(false);
  });
});
