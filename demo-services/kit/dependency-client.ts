// Outgoing HTTP calls from one service to a dependency: a keep-alive undici
// pool per dependency, the client-duration metric labelled as the semantic
// conventions ask (server_address = the dependency's name, server_port,
// error_type on failures), JSON in and out, and network failures turned into
// errors with stable codes that the resilience policies classify. Each call
// is a CLIENT span carrying the trace context onward (http-tracing.ts).

import { Pool, errors as undiciErrors } from 'undici';
import { LABEL, type ErrorType } from './conventions.ts';
import { dependencyOrigin, endClientSpan, startClientSpan } from './http-tracing.ts';
import type { ServiceMetrics } from './metrics.ts';

export type DependencyErrorCode = 'FL_DEP_REFUSED' | 'FL_DEP_RESET' | 'FL_DEP_TIMEOUT' | 'FL_DEP_ABORTED' | 'FL_DEP_NETWORK';

/** error_type of a call that got no answer, by its error code. */
const ERROR_TYPE_OF: Record<DependencyErrorCode, ErrorType> = {
  FL_DEP_TIMEOUT: 'timeout',
  FL_DEP_REFUSED: 'connection_refused',
  FL_DEP_RESET: 'connection_reset',
  FL_DEP_ABORTED: 'aborted',
  FL_DEP_NETWORK: '_OTHER',
};

/**
 * Labels of http.client.request.duration: method, server_address and
 * server_port always; the status only when a response came back; error_type
 * on a 4xx or 5xx (the status), or what went wrong when no response (or no
 * whole body) came back.
 */
export function clientDurationLabels(method: string, dependency: string, port: string, status: number, failure: DependencyError | undefined): Record<string, string> {
  const errorType = status >= 400 ? String(status) : failure ? ERROR_TYPE_OF[failure.code] : status === 0 ? '_OTHER' : undefined;
  return {
    [LABEL.method]: method,
    [LABEL.serverAddress]: dependency,
    [LABEL.serverPort]: port,
    ...(status > 0 ? { [LABEL.status]: String(status) } : {}),
    ...(errorType !== undefined ? { [LABEL.errorType]: errorType } : {}),
  };
}

/** A call that got no HTTP answer at all. */
export class DependencyError extends Error {
  readonly code: DependencyErrorCode;
  readonly dependency: string;
  constructor(code: DependencyErrorCode, dependency: string, message: string) {
    super(`${dependency}: ${message}`);
    this.name = 'DependencyError';
    this.code = code;
    this.dependency = dependency;
  }
}

export interface DependencyResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

export interface DependencyRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /**
   * Over replicas (balanced-client.ts): the instances earlier attempts of this call went to,
   * passed over while another is in rotation; this attempt's instance is added, so a retry goes
   * to a replica not yet tried. A single-instance client ignores it.
   */
  triedInstances?: Set<string>;
  /** Over replicas: told the instance picked for this attempt, before it is sent (the gateway's quarantine). */
  onInstance?: (instance: string) => void;
}

export interface DependencyClient {
  readonly name: string;
  request<T = unknown>(request: DependencyRequest): Promise<DependencyResponse<T>>;
  close(): Promise<void>;
}

export function createDependencyClient(name: string, baseUrl: string, metrics: ServiceMetrics, options: { connections?: number } = {}): DependencyClient {
  const pool = new Pool(baseUrl, { connections: options.connections ?? 64, keepAliveTimeout: 30_000 });
  const target = dependencyOrigin(name, baseUrl);
  const url = new URL(baseUrl);
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
  return {
    name,
    async request<T>(request: DependencyRequest): Promise<DependencyResponse<T>> {
      const started = performance.now();
      let status = 0;
      const headers: Record<string, string> = { ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}), ...request.headers };
      const span = startClientSpan(target, request.method, request.path, headers);
      let failure: DependencyError | undefined;
      try {
        const response = await pool.request({
          method: request.method,
          path: request.path,
          headers,
          ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
          ...(request.signal ? { signal: request.signal } : {}),
        });
        status = response.statusCode;
        const text = await response.body.text();
        let body: unknown = text;
        if (text !== '' && /json/.test(String(response.headers['content-type'] ?? ''))) {
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
        }
        return { status, headers: response.headers, body: body as T };
      } catch (error) {
        failure = classify(name, error, request.signal);
        throw failure;
      } finally {
        endClientSpan(span, status, failure);
        metrics.httpClientDuration.observe({
          labels: clientDurationLabels(request.method, name, port, status, failure),
          value: (performance.now() - started) / 1000,
        });
      }
    },
    close: () => pool.close(),
  };
}

function classify(dependency: string, error: unknown, signal: AbortSignal | undefined): DependencyError {
  if (signal?.aborted) {
    const reason = signal.reason as { name?: string } | undefined;
    return reason?.name === 'TimeoutError'
      ? new DependencyError('FL_DEP_TIMEOUT', dependency, 'timed out')
      : new DependencyError('FL_DEP_ABORTED', dependency, 'aborted');
  }
  const code = (error as { code?: string }).code;
  if (code === 'ECONNREFUSED') return new DependencyError('FL_DEP_REFUSED', dependency, 'connection refused');
  if (code === 'ECONNRESET' || code === 'EPIPE' || error instanceof undiciErrors.SocketError) {
    return new DependencyError('FL_DEP_RESET', dependency, 'connection reset');
  }
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
    return new DependencyError('FL_DEP_TIMEOUT', dependency, 'timed out');
  }
  return new DependencyError('FL_DEP_NETWORK', dependency, (error as Error).message);
}
