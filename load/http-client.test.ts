import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from './clock.ts';
import { classifyNetworkError, createHttpClient } from './http-client.ts';
import type { HttpClient } from './http-client.ts';
import { createLoadRecorder } from './recorder.ts';
import { closedPort, startTestServer } from './test-server.ts';
import type { TestServer } from './test-server.ts';

const TAGS = { journey: 'test', step: 'one' };
let servers: TestServer[] = [];
let clients: HttpClient[] = [];

async function serve(...args: Parameters<typeof startTestServer>): Promise<TestServer> {
  const server = await startTestServer(...args);
  servers.push(server);
  return server;
}

function client(options: Parameters<typeof createHttpClient>[0] = {}): HttpClient {
  const created = createHttpClient(options);
  clients.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  clients = [];
});

describe('createHttpClient', () => {
  it('records a success with latency from the intended start it is given', async () => {
    const server = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url, method: req.method, type: req.headers['content-type'] }));
    });
    const recorder = createLoadRecorder();
    const http = client({ recorder });
    const intendedStartMs = systemClock.wallNow() - 100; // this iteration was due 100 ms ago
    const result = await http.request({ method: 'POST', url: `${server.url}/x?y=1`, json: { a: 1 }, intendedStartMs, tags: TAGS });
    expect(result).toMatchObject({ ok: true, status: 200 });
    expect(result.response?.json()).toEqual({ path: '/x?y=1', method: 'POST', type: 'application/json' });
    const sample = result.sample!;
    expect(sample).toMatchObject({ ok: true, status: 200, tags: TAGS, intendedStartMs });
    expect(sample.sentAtMs).toBeGreaterThanOrEqual(intendedStartMs + 100);
    expect(sample.endMs).toBeGreaterThanOrEqual(sample.sentAtMs);
    const summary = recorder.summary();
    expect(summary.count).toBe(1);
    expect(summary.latency.max).toBeGreaterThanOrEqual(100);
    expect(summary.naiveLatency.max).toBeLessThan(100);
  });

  it('classifies an unexpected status, a refused connection, a reset and a timeout without throwing', async () => {
    const unavailable = await serve((_req, res) => res.writeHead(503).end('down'));
    const resetting = await serve((req) => req.socket.destroy());
    const silent = await serve(() => {});
    const refusedPort = await closedPort();
    const recorder = createLoadRecorder();
    const http = client({ recorder, timeoutMs: 300 });
    const now = systemClock.wallNow();
    const started = performance.now();
    const [status, refused, reset, timeout] = await Promise.all([
      http.request({ url: unavailable.url, intendedStartMs: now, tags: TAGS }),
      http.request({ url: `http://127.0.0.1:${refusedPort}/`, intendedStartMs: now, tags: TAGS }),
      http.request({ url: resetting.url, intendedStartMs: now, tags: TAGS }),
      http.request({ url: silent.url, intendedStartMs: now, tags: TAGS }),
    ]);
    expect(status).toMatchObject({ ok: false, status: 503, errorClass: 'status', failure: 'unexpected status 503' });
    expect(status.response?.body).toBe('down');
    expect(refused).toMatchObject({ ok: false, status: 0, errorClass: 'refused' });
    expect(refused.failure).toContain('ECONNREFUSED');
    expect(reset).toMatchObject({ ok: false, status: 0, errorClass: 'reset' });
    expect(timeout).toMatchObject({ ok: false, status: 0, errorClass: 'timeout' });
    expect(timeout.sample!.endMs - now).toBeGreaterThanOrEqual(299);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(recorder.summary().errors).toEqual({ status: 1, timeout: 1, refused: 1, reset: 1, other: 0 });
  });

  it('applies expectStatus and check', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/created') res.writeHead(201, { 'content-type': 'application/json' }).end('{"status":"pending"}');
      else res.writeHead(200).end('not json');
    });
    const http = client({ recorder: createLoadRecorder() });
    const now = systemClock.wallNow();
    const wrongStatus = await http.request({ url: `${server.url}/ok`, intendedStartMs: now, tags: TAGS, expectStatus: 201 });
    expect(wrongStatus).toMatchObject({ ok: false, status: 200, errorClass: 'status' });
    const listed = await http.request({ url: `${server.url}/ok`, intendedStartMs: now, tags: TAGS, expectStatus: [200, 204] });
    expect(listed.ok).toBe(true);
    expect(listed.response?.json()).toBeUndefined();
    const checked = await http.request({
      url: `${server.url}/created`,
      intendedStartMs: now,
      tags: TAGS,
      expectStatus: (s) => s === 201,
      check: (response) => ((response.json() as { status: string }).status === 'confirmed' ? true : 'not confirmed'),
    });
    expect(checked).toMatchObject({ ok: false, status: 201, errorClass: 'other', failure: 'not confirmed' });
    const throwing = await http.request({
      url: `${server.url}/created`,
      intendedStartMs: now,
      tags: TAGS,
      check: () => {
        throw new Error('bad check');
      },
    });
    expect(throwing).toMatchObject({ ok: false, errorClass: 'other', failure: 'check threw: bad check' });
  });

  it('stamps sentAt when the request reaches a connection, so queueing shows only in the honest latency', async () => {
    const server = await serve((_req, res) => setTimeout(() => res.writeHead(200).end(), 200));
    const recorder = createLoadRecorder();
    const http = client({ recorder, connections: 1 });
    const now = systemClock.wallNow();
    const [first, second] = await Promise.all([
      http.request({ url: server.url, intendedStartMs: now, tags: TAGS }),
      http.request({ url: server.url, intendedStartMs: now, tags: TAGS }),
    ]);
    // The second waited ~200 ms for the one connection, then took ~200 ms itself.
    expect(second!.sample!.sentAtMs).toBeGreaterThanOrEqual(first!.sample!.endMs - 1);
    expect(second!.sample!.endMs - second!.sample!.intendedStartMs).toBeGreaterThanOrEqual(390);
    expect(second!.sample!.endMs - second!.sample!.sentAtMs).toBeLessThan(350);
  });

  it('times a request out at its deadline even while it is still queued for a connection', async () => {
    const server = await serve((_req, res) => setTimeout(() => res.writeHead(200).end(), 600));
    const http = client({ recorder: createLoadRecorder(), connections: 1 });
    const now = systemClock.wallNow();
    const started = performance.now();
    const first = http.request({ url: server.url, intendedStartMs: now, tags: TAGS });
    const queued = await http.request({ url: server.url, intendedStartMs: now, tags: TAGS, timeoutMs: 150 });
    expect(queued).toMatchObject({ ok: false, errorClass: 'timeout' });
    expect(performance.now() - started).toBeLessThan(500);
    expect((await first).ok).toBe(true);
  });

  it('keeps to the connection limit: requests beyond it wait in arrival order, and one that times out while waiting is never sent', async () => {
    const sockets = new Set<unknown>();
    const seen: string[] = [];
    let open = 0;
    let maxOpen = 0;
    const server = await serve((req, res) => {
      sockets.add(req.socket);
      seen.push(req.url ?? '');
      open += 1;
      maxOpen = Math.max(maxOpen, open);
      setTimeout(() => {
        open -= 1;
        res.writeHead(200).end();
      }, 40);
    });
    const http = client({ recorder: createLoadRecorder(), connections: 2 });
    const now = systemClock.wallNow();
    const send = (path: string, timeoutMs?: number) =>
      http.request({ url: `${server.url}/${path}`, intendedStartMs: now, tags: TAGS, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
    // Two fill the connections; `gone` waits behind them and expires before either frees up.
    const results = await Promise.all([send('a'), send('b'), send('gone', 10), send('c'), send('d'), send('e'), send('f')]);
    expect(results.map((r) => r.ok)).toEqual([true, true, false, true, true, true, true]);
    expect(results[2]).toMatchObject({ errorClass: 'timeout' });
    expect(maxOpen).toBe(2);
    expect(sockets.size).toBe(2);
    expect(seen.slice(0, 2).sort()).toEqual(['/a', '/b']);
    expect(seen.slice(2)).toEqual(['/c', '/d', '/e', '/f']);
  });

  it('hands a connection on after a request on it timed out, and fails the requests waiting when closed', async () => {
    const server = await serve((req, res) => {
      if (req.url !== '/hang') res.writeHead(200).end('ok');
    });
    const http = createHttpClient({ recorder: createLoadRecorder(), connections: 1, timeoutMs: 100 });
    const now = systemClock.wallNow();
    const hung = http.request({ url: `${server.url}/hang`, intendedStartMs: now, tags: TAGS });
    const next = http.request({ url: `${server.url}/ok`, intendedStartMs: now, tags: TAGS, timeoutMs: 2_000 });
    expect(await hung).toMatchObject({ ok: false, errorClass: 'timeout' });
    expect(await next).toMatchObject({ ok: true, status: 200 });
    // Closing fails what still waits for the one connection, as a destroyed client does.
    const busy = http.request({ url: `${server.url}/hang`, intendedStartMs: now, tags: TAGS, timeoutMs: 5_000 });
    const waiting = http.request({ url: `${server.url}/ok`, intendedStartMs: now, tags: TAGS, timeoutMs: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await http.close();
    expect(await busy).toMatchObject({ ok: false, errorClass: 'reset' });
    expect(await waiting).toMatchObject({ ok: false, errorClass: 'reset' });
    expect(await http.request({ url: `${server.url}/ok`, intendedStartMs: now, tags: TAGS })).toMatchObject({ ok: false, errorClass: 'reset' });
  });

  it('classifies every request queued behind a refused connection as refused', async () => {
    const port = await closedPort();
    const recorder = createLoadRecorder();
    const http = client({ recorder, connections: 2 });
    const results = await Promise.all(Array.from({ length: 10 }, () => http.request({ url: `http://127.0.0.1:${port}/`, intendedStartMs: systemClock.wallNow(), tags: TAGS })));
    expect(results.map((r) => r.errorClass)).toEqual(Array.from({ length: 10 }, () => 'refused'));
    expect(recorder.summary().errors.refused).toBe(10);
  });

  it('keeps every request to its own deadline when timeouts differ and requests end out of order', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/fast') res.writeHead(200).end('ok');
    });
    const http = client({ recorder: createLoadRecorder(), timeoutMs: 300 });
    const started = performance.now();
    const at = (): number => performance.now() - started;
    const ended = (result: Promise<{ ok: boolean; errorClass?: string }>) => result.then((r) => ({ ...r, at: at() }));
    const long = ended(http.request({ url: `${server.url}/hang`, intendedStartMs: systemClock.wallNow(), tags: TAGS }));
    const short = ended(http.request({ url: `${server.url}/hang`, intendedStartMs: systemClock.wallNow(), tags: TAGS, timeoutMs: 100 }));
    const fast = await http.request({ url: `${server.url}/fast`, intendedStartMs: systemClock.wallNow(), tags: TAGS });
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Same timeout as `long` but started later: it must not expire with it.
    const later = ended(http.request({ url: `${server.url}/hang`, intendedStartMs: systemClock.wallNow(), tags: TAGS }));
    expect(fast.ok).toBe(true);
    const [l, s, t] = await Promise.all([long, short, later]);
    expect(s).toMatchObject({ ok: false, errorClass: 'timeout' });
    expect(l).toMatchObject({ ok: false, errorClass: 'timeout' });
    expect(t).toMatchObject({ ok: false, errorClass: 'timeout' });
    expect(s.at).toBeGreaterThanOrEqual(95);
    expect(s.at).toBeLessThan(l.at);
    expect(l.at).toBeGreaterThanOrEqual(295);
    expect(t.at - l.at).toBeGreaterThanOrEqual(80);
  });

  it('leaves no timer behind once nothing is in flight', async () => {
    const server = await serve((_req, res) => res.writeHead(200).end('ok'));
    const http = client({ recorder: createLoadRecorder() });
    const timers = (): number => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
    const before = timers();
    const results = await Promise.all(Array.from({ length: 20 }, () => http.request({ url: server.url, intendedStartMs: systemClock.wallNow(), tags: TAGS })));
    expect(results.every((r) => r.ok)).toBe(true);
    // At most as many as before: a timer an earlier test left (undici's connect timer, a server's) may expire meanwhile on a slow machine.
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('keeps a body that came in several chunks, up to maxResponseBytes', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('ab');
      setTimeout(() => res.write('cd'), 20);
      setTimeout(() => res.end('ef'), 40);
    });
    const whole = await client().request({ url: server.url, intendedStartMs: systemClock.wallNow(), tags: TAGS });
    expect(whole.response?.body).toBe('abcdef');
    const capped = await client({ maxResponseBytes: 3 }).request({ url: server.url, intendedStartMs: systemClock.wallNow(), tags: TAGS });
    expect(capped.response?.body).toBe('abc');
    expect(capped.response?.json()).toBeUndefined();
  });

  it('does not record requests cut off by the run stopping', async () => {
    const server = await serve(() => {});
    const recorder = createLoadRecorder();
    const http = client({ recorder });
    const run = new AbortController();
    const pending = http.request({ url: server.url, intendedStartMs: systemClock.wallNow(), tags: TAGS, signal: run.signal });
    setTimeout(() => run.abort(new Error('run over')), 50);
    const result = await pending;
    expect(result).toMatchObject({ ok: false, status: 0, failure: 'not recorded: run over' });
    expect(result.sample).toBeUndefined();
    const already = await http.request({ url: server.url, intendedStartMs: systemClock.wallNow(), tags: TAGS, signal: AbortSignal.abort() });
    expect(already.sample).toBeUndefined();
    expect(recorder.stats().recorded).toBe(0);
  });

  it('rejects programming errors instead of recording them', async () => {
    const http = client();
    await expect(http.request({ url: 'not a url', intendedStartMs: 1, tags: TAGS })).rejects.toThrow(TypeError);
    await expect(http.request({ url: 'http://127.0.0.1:1/', intendedStartMs: Number.NaN, tags: TAGS })).rejects.toThrow(/intendedStartMs/);
  });
});

describe('classifyNetworkError', () => {
  it('looks through causes and aggregate errors', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(classifyNetworkError(new AggregateError([refused, refused]))).toBe('refused');
    expect(classifyNetworkError(new Error('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }) }))).toBe('reset');
    expect(classifyNetworkError(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }))).toBe('reset');
    expect(classifyNetworkError(Object.assign(new Error('t'), { code: 'UND_ERR_HEADERS_TIMEOUT' }))).toBe('timeout');
    expect(classifyNetworkError(new DOMException('t', 'TimeoutError'))).toBe('timeout');
    expect(classifyNetworkError(new Error('weird'))).toBe('other');
    expect(classifyNetworkError('string')).toBe('other');
  });
});
