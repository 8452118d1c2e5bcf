// Alertmanager's configuration for docker-compose.yml: the SLO alerts' routing
// from slo/alertmanager.ts (grouping per SLO, a page inhibits the tickets of
// the same SLO), with its one receiver pointed at a service that exists in
// compose. Inside the alertmanager container 127.0.0.1 is Alertmanager itself,
// so the lab's local webhook (the runner's, 127.0.0.1:9095) would reach
// nothing; in compose the notifications go to the OpenTelemetry Collector's
// webhookevent receiver, which turns each into a log record in Loki
// (service_name="alertmanager" in Grafana's Explore).
//
// Run directly to rewrite deploy/alertmanager/alertmanager.yaml:
//   node deploy/alertmanager/render.ts
// test/integration/compose.test.ts fails while the committed file is stale.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { alertmanagerConfig } from '../../slo/alertmanager.ts';

/** The collector's webhookevent receiver (collector/otel-collector.yaml, receiver webhookevent/alertmanager). */
export const COMPOSE_ALERT_WEBHOOK = 'http://otel-collector:8088/alertmanager';

/**
 * Receivers outside compose that the file may name, each with why (the test
 * accepts a receiver URL only if it names a compose service or is listed here).
 * A URL listed here is written into the file's header as `# external: <url> (<why>)`.
 */
export const EXTERNAL_RECEIVERS: ReadonlyArray<{ url: string; why: string }> = [];

export const COMPOSE_ALERTMANAGER_FILE = join(import.meta.dirname, 'alertmanager.yaml');

export function renderComposeAlertmanagerConfig(): string {
  const header = [
    '# Alertmanager configuration for docker-compose.yml, written by deploy/alertmanager/render.ts',
    '# from slo/alertmanager.ts; do not edit by hand. A page inhibits the tickets of the same SLO.',
    `# Receiver: ${COMPOSE_ALERT_WEBHOOK}, the OpenTelemetry Collector's webhookevent receiver,`,
    '# which stores each notification as a log record in Loki (service_name="alertmanager").',
    ...EXTERNAL_RECEIVERS.map((receiver) => `# external: ${receiver.url} (${receiver.why})`),
  ].join('\n');
  return `${header}\n${stringify(alertmanagerConfig({ webhookUrl: COMPOSE_ALERT_WEBHOOK }), { lineWidth: 0 })}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(COMPOSE_ALERTMANAGER_FILE, renderComposeAlertmanagerConfig());
  process.stdout.write(`wrote ${COMPOSE_ALERTMANAGER_FILE}\n`);
}
