// Preloaded with `node --import` before a service's own modules, so that the
// gRPC instrumentation is in place before grpc-js is first loaded, and the
// kit's HTTP spans are on before the first request.
import { readServiceConfig } from './config.ts';
import { failStartup } from './lifecycle.ts';
import { initTelemetry } from './telemetry.ts';

const config = readServiceConfig();
// A bad telemetry policy is one line naming its field, not a stack.
await initTelemetry(config).catch((error: unknown) => failStartup(config.instance, error));
