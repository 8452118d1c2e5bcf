import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRIC } from './conventions.ts';
import { createDependencyClient, DependencyError } from './dependency-client.ts';
import { createServiceMetrics } from './metrics.ts';

let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/slow') return void setTimeout(() => res.end('late'), 500);
    res.statusCode = req.url === '/broken' ? 503 : req.url === '/missing' ? 404 : 200;
    res.end('{}');
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as { port: number }).port;
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

/** The label sets of the client histogram's _count series, each as `{...}` text. */
async function countSeries(metrics: ReturnType<typeof createServiceMetrics>): Promise<string[]> {
  const text = await metrics.render(false);
  return [...text.matchAll(new RegExp(`^${METRIC.httpClientDuration}_count(\\{[^}]*\\}) 1$`, 'gm'))].map((m) => m[1] as string);
}

describe('dependency client metrics (http.client.request.duration)', () => {
  it('labels every call with server_address and server_port, the status when one came back, and error_type only on failure', async () => {
    const metrics = createServiceMetrics({ defaultMetrics: false });
    const client = createDependencyClient('bank', `http://127.0.0.1:${port}`, metrics);
    try {
      await client.request({ method: 'GET', path: '/ok' });
      await client.request({ method: 'GET', path: '/missing' });
      await client.request({ method: 'POST', path: '/broken', body: {} });
      await expect(client.request({ method: 'GET', path: '/slow', signal: AbortSignal.timeout(50) })).rejects.toSatisfy((e) => e instanceof DependencyError && e.code === 'FL_DEP_TIMEOUT');
    } finally {
      await client.close();
    }
    const p = `server_port="${port}"`;
    expect((await countSeries(metrics)).sort()).toEqual(
      [
        `{http_request_method="GET",server_address="bank",${p},http_response_status_code="200"}`,
        `{http_request_method="GET",server_address="bank",${p},http_response_status_code="404",error_type="404"}`,
        `{http_request_method="POST",server_address="bank",${p},http_response_status_code="503",error_type="503"}`,
        `{http_request_method="GET",server_address="bank",${p},error_type="timeout"}`,
      ].sort(),
    );
  });

  it('says why a call got no response: a refused connection is connection_refused, with no status', async () => {
    // A port that was listening and is closed again: nothing accepts there.
    const probe = createTcpServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const closedPort = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const metrics = createServiceMetrics({ defaultMetrics: false });
    const client = createDependencyClient('bank', `http://127.0.0.1:${closedPort}`, metrics);
    try {
      await expect(client.request({ method: 'GET', path: '/' })).rejects.toBeInstanceOf(DependencyError);
    } finally {
      await client.close();
    }
    expect(await countSeries(metrics)).toEqual([`{http_request_method="GET",server_address="bank",server_port="${closedPort}",error_type="connection_refused"}`]);
  });
});
