// Preloaded with `node --import` before a service's own modules, so that the
// HTTP, express and undici instrumentations are in place before those
// modules are first loaded.
import { readServiceConfig } from './config.ts';
import { initTelemetry } from './telemetry.ts';

await initTelemetry(readServiceConfig());
