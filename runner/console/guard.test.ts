import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { checkRequest, cookieValue, CONSOLE_COOKIE, splitHost } from './guard.ts';

const TOKEN = 'a'.repeat(48);
const options = { token: TOKEN, port: 9000 };

function request(method: string, url: string, headers: Record<string, string>): IncomingMessage {
  return { method, url, headers } as unknown as IncomingMessage;
}

describe('the console guard', () => {
  it('lets the printed URL in, and then its cookie, and a bearer header', () => {
    expect(checkRequest(request('GET', `/?token=${TOKEN}`, { host: '127.0.0.1:9000' }), options)).toEqual({ ok: true, tokenFromQuery: true });
    expect(checkRequest(request('GET', '/api/faults', { host: 'localhost:9000', cookie: `other=1; ${CONSOLE_COOKIE}=${TOKEN}` }), options)).toEqual({ ok: true, tokenFromQuery: false });
    expect(checkRequest(request('GET', '/api/faults', { host: '[::1]:9000', authorization: `Bearer ${TOKEN}` }), options).ok).toBe(true);
  });

  it('refuses a request without the token, or with another one, with 401', () => {
    expect(checkRequest(request('GET', '/', { host: '127.0.0.1:9000' }), options)).toMatchObject({ ok: false, status: 401, detail: expect.stringMatching(/no token/) });
    expect(checkRequest(request('GET', '/?token=nope', { host: '127.0.0.1:9000' }), options)).toMatchObject({ ok: false, status: 401, detail: expect.stringMatching(/wrong token/) });
    expect(checkRequest(request('GET', '/', { host: '127.0.0.1:9000', cookie: `${CONSOLE_COOKIE}=${'b'.repeat(48)}` }), options)).toMatchObject({ ok: false, status: 401 });
  });

  it('refuses a Host that is not its own loopback address and port (DNS rebinding), even with the token', () => {
    for (const host of ['evil.example:9000', '127.0.0.1:9001', '127.0.0.1', '10.0.0.5:9000']) {
      expect(checkRequest(request('GET', `/?token=${TOKEN}`, { host }), options)).toMatchObject({ ok: false, status: 403, detail: expect.stringMatching(/Host/) });
    }
    expect(checkRequest(request('GET', `/?token=${TOKEN}`, {}), options)).toMatchObject({ ok: false, status: 403 });
    expect(checkRequest(request('GET', `/?token=${TOKEN}`, { host: 'lab.internal:9000' }), { ...options, extraHosts: ['lab.internal'] }).ok).toBe(true);
  });

  it('refuses a change from a foreign Origin or a cross-site fetch, even with the cookie', () => {
    const base = { host: '127.0.0.1:9000', cookie: `${CONSOLE_COOKIE}=${TOKEN}`, 'content-type': 'application/json', 'content-length': '2' };
    expect(checkRequest(request('POST', '/api/faults', { ...base, origin: 'http://127.0.0.1:9000' }), options).ok).toBe(true);
    expect(checkRequest(request('POST', '/api/faults', { ...base, origin: 'http://evil.example' }), options)).toMatchObject({ ok: false, status: 403, detail: expect.stringMatching(/Origin 'http:\/\/evil.example'/) });
    expect(checkRequest(request('POST', '/api/faults', { ...base, origin: 'http://127.0.0.1:9001' }), options)).toMatchObject({ ok: false, status: 403 });
    expect(checkRequest(request('POST', '/api/faults', { ...base, origin: 'null' }), options)).toMatchObject({ ok: false, status: 403 });
    expect(checkRequest(request('DELETE', '/api/faults/x', { ...base, 'sec-fetch-site': 'cross-site' }), options)).toMatchObject({ ok: false, status: 403 });
    // A GET from elsewhere changes nothing and reads nothing a cookie-less page could use (SameSite=Strict).
    expect(checkRequest(request('GET', '/api/faults', { ...base, origin: 'http://evil.example' }), options).ok).toBe(true);
  });

  it('takes changes only as JSON, so no plain form can send one without a preflight', () => {
    const base = { host: '127.0.0.1:9000', authorization: `Bearer ${TOKEN}`, 'content-length': '10' };
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      expect(checkRequest(request('POST', '/api/faults', { ...base, 'content-type': type }), options)).toMatchObject({ ok: false, status: 415 });
    }
    expect(checkRequest(request('POST', '/api/faults', { ...base, 'content-type': 'application/json; charset=utf-8' }), options).ok).toBe(true);
    expect(checkRequest(request('POST', '/api/reset', { host: '127.0.0.1:9000', authorization: `Bearer ${TOKEN}`, 'content-length': '0' }), options).ok).toBe(true);
  });

  it('parses cookies and host headers', () => {
    expect(cookieValue('a=1; b = two%20words ;c=3', 'b')).toBe('two words');
    expect(cookieValue(undefined, 'b')).toBeUndefined();
    expect(splitHost('[::1]:80')).toEqual({ name: '::1', port: '80' });
    expect(splitHost('localhost')).toEqual({ name: 'localhost', port: undefined });
  });
});
