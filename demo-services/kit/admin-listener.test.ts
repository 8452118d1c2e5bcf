import { describe, expect, it } from 'vitest';
import { adminPolicyProblem, adminPolicySchema, canonicalPath, isAdminPath, isLoopbackHost } from './admin-listener.ts';

describe('isAdminPath: /admin in any spelling', () => {
  it.each([
    '/admin',
    '/admin/faults',
    '/ADMIN/Faults?x=1',
    '//admin/faults',
    '/./admin/faults',
    '/api/products/../../admin/faults',
    '/api/products/%2e%2e/%2E%2E/admin/faults',
    '/api/products/..%2f..%2fadmin%2ffaults',
    '/api/products/%252e%252e/%252e%252e/admin',
    '/%61%64%6d%69%6e/books',
    '/api\\..\\admin\\behaviour',
    '/api/..;/admin/faults',
    '/admin;jsessionid=1/faults',
    '/../../../admin',
    '/api/products/%2e%2e/%2e%2e/admin/%zz',
  ])('%s', (target) => {
    expect(isAdminPath(target)).toBe(true);
  });

  it.each(['/api/products/admin', '/api/administrator', '/administer', '/healthz', '/api/products/sku-1', '/metrics'])('not %s', (target) => {
    expect(isAdminPath(target)).toBe(false);
  });

  it('canonical paths resolve dot segments and merge slashes', () => {
    expect(canonicalPath('/a/b/../c//d/./e')).toBe('/a/c/d/e');
  });
});

describe('admin policy', () => {
  it('binds loopback on a free port by default', () => {
    const policy = adminPolicySchema.parse({});
    expect(policy).toEqual({ host: '127.0.0.1', port: 0 });
    expect(adminPolicyProblem(policy)).toBeUndefined();
  });

  it('wants a token off loopback, naming the field', () => {
    expect(adminPolicyProblem(adminPolicySchema.parse({ host: '0.0.0.0' }))).toMatch(/^policies\.admin\.token: required when the admin listener binds 0\.0\.0\.0/);
    expect(adminPolicyProblem(adminPolicySchema.parse({ host: '0.0.0.0', token: 'a-long-enough-token' }))).toBeUndefined();
    expect(adminPolicySchema.safeParse({ token: 'short' }).success).toBe(false);
  });

  it('knows loopback names', () => {
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '::1']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '10.0.0.1', 'example.com', '::']) expect(isLoopbackHost(host), host).toBe(false);
  });
});
