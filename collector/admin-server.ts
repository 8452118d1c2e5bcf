// The collector's admin HTTP endpoint: GET /metrics for Prometheus and
// GET /healthz for the supervisor. Plain node:http; two read-only routes do not
// need a framework. Binds 127.0.0.1 unless told otherwise.
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { PROBLEM_CONTENT_TYPE } from '../demo-services/kit/conventions.ts';
import { listenHttp } from './listen.ts';

export interface AdminServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  registry: Registry;
}

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const route = path === '/metrics' || path === '/healthz' ? path : undefined;
    if (route === undefined) {
      sendProblem(response, 404, 'Not Found', `no route ${path}`);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      sendProblem(response, 405, 'Method Not Allowed', `${route} accepts GET`);
      return;
    }
    if (route === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    options.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
      (error: unknown) => sendProblem(response, 500, 'Internal Server Error', `metrics collection failed: ${(error as Error).message}`),
    );
  });

  const port = await listenHttp(server, options.port, host, 'collector admin HTTP');

  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function sendProblem(response: ServerResponse, status: number, title: string, detail: string): void {
  response
    .writeHead(status, { 'content-type': PROBLEM_CONTENT_TYPE })
    .end(JSON.stringify({ type: 'about:blank', title, status, detail }));
}
