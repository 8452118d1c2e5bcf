// The configuration a service process receives from the supervisor, in one
// JSON environment variable. Policies are passed through untyped here and
// validated by the module that owns them, so the kit does not need to know
// every service's knobs.

import { readJsonEnv } from './lifecycle.ts';

export const SERVICE_CONFIG_ENV = 'FAULTLINE_SERVICE_CONFIG';

export interface ServiceConfig {
  /** Service name, used as service.name in traces, `service` in logs and the job in metrics. */
  name: string;
  /** Instance id, distinct per replica (e.g. `payment-1`). */
  instance: string;
  host: string;
  /** Port to bind; 0 picks a free one, reported through the ready message. */
  port: number;
  /** OTLP/gRPC endpoint of the collector, e.g. `http://127.0.0.1:4317`; absent means no trace export. */
  otlpEndpoint?: string;
  /** Telemetry switched off entirely (benchmarks compare with and without). */
  telemetry: boolean;
  /** Base URLs of the dependencies this service calls, by dependency name; a list for a replicated dependency. */
  dependencies: Record<string, string | string[]>;
  /** Resilience and behaviour knobs, by dependency or feature name. */
  policies: Record<string, unknown>;
  logLevel: string;
}

export function readServiceConfig(): ServiceConfig {
  const raw = readJsonEnv<Partial<ServiceConfig>>(SERVICE_CONFIG_ENV);
  if (typeof raw.name !== 'string' || raw.name === '') {
    process.stderr.write(`${SERVICE_CONFIG_ENV}.name: must be a non-empty string\n`);
    process.exit(2);
  }
  return {
    name: raw.name,
    instance: raw.instance ?? raw.name,
    host: raw.host ?? '127.0.0.1',
    port: raw.port ?? 0,
    ...(raw.otlpEndpoint ? { otlpEndpoint: raw.otlpEndpoint } : {}),
    telemetry: raw.telemetry ?? true,
    dependencies: raw.dependencies ?? {},
    policies: raw.policies ?? {},
    logLevel: raw.logLevel ?? 'info',
  };
}

/** The URLs of a dependency's instances, or a clear exit when the supervisor did not wire it. */
export function dependencyUrls(config: ServiceConfig, dependency: string): string[] {
  const value = config.dependencies[dependency];
  const urls = value === undefined ? [] : Array.isArray(value) ? value : [value];
  if (urls.length === 0) {
    process.stderr.write(`${SERVICE_CONFIG_ENV}.dependencies.${dependency}: missing; ${config.name} cannot start without it\n`);
    process.exit(2);
  }
  return urls;
}

/** The URL of a dependency that runs as one instance. */
export function dependencyUrl(config: ServiceConfig, dependency: string): string {
  return dependencyUrls(config, dependency)[0] as string;
}
