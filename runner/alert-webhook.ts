// The runner's end of Alertmanager's webhook: every notification Alertmanager
// posts (firing or resolved) is written to runs/<id>/alerts.jsonl, one line per
// alert, with the time it arrived, so a run's record says which alerts fired
// and resolved and when. Bound to loopback; a body that is not Alertmanager's
// webhook JSON gets a 400 naming what is wrong and is not recorded.

import { appendFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { formatIssues } from '../demo-services/kit/schema.ts';

export const ALERTS_FILE_NAME = 'alerts.jsonl';
const MAX_BODY_BYTES = 1024 * 1024;

/** One alert as Alertmanager's webhook (version 4) sends it. */
const webhookAlert = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()).default({}),
  startsAt: z.string(),
  endsAt: z.string().default(''),
  fingerprint: z.string().default(''),
});

const webhookMessage = z.object({
  receiver: z.string(),
  status: z.enum(['firing', 'resolved']),
  alerts: z.array(webhookAlert),
  groupKey: z.string().default(''),
});

/** One line of alerts.jsonl. */
export interface AlertEvent {
  /** When the notification reached the runner (ms since the epoch). */
  receivedAt: number;
  status: 'firing' | 'resolved';
  alertname: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** When Prometheus says the alert started firing, and (once resolved) ended (ms since the epoch). */
  startsAt: number;
  endsAt: number | null;
  fingerprint: string;
}

export interface AlertWebhook {
  /** The URL to put in Alertmanager's webhook_configs. */
  url: string;
  file: string;
  /** Every alert event received so far, in arrival order. */
  events(): AlertEvent[];
  close(): Promise<void>;
}

export interface AlertWebhookOptions {
  /** alerts.jsonl is appended to here. */
  file: string;
  host?: string;
  port?: number;
  now?: () => number;
}

export async function startAlertWebhook(options: AlertWebhookOptions): Promise<AlertWebhook> {
  const events: AlertEvent[] = [];
  const now = options.now ?? Date.now;
  // Appends are chained so lines keep arrival order and close() can wait for the last one.
  let writing: Promise<void> = Promise.resolve();
  const server = createServer((request, response) => {
    const reply = (status: number, message: string) => {
      response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${message}\n`);
    };
    if (request.method !== 'POST') return reply(405, `method ${request.method ?? ''}: the webhook takes POST`);
    readBody(request).then(
      (body) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body);
        } catch (error) {
          return reply(400, `body: not JSON (${(error as Error).message})`);
        }
        const result = webhookMessage.safeParse(parsed);
        if (!result.success) return reply(400, formatIssues(result.error).join('; '));
        const receivedAt = now();
        const received = result.data.alerts.map((alert): AlertEvent => ({
          receivedAt,
          status: alert.status,
          alertname: alert.labels.alertname ?? '',
          labels: alert.labels,
          annotations: alert.annotations,
          startsAt: Date.parse(alert.startsAt),
          endsAt: alert.status === 'resolved' && alert.endsAt ? Date.parse(alert.endsAt) : null,
          fingerprint: alert.fingerprint,
        }));
        events.push(...received);
        const lines = received.map((event) => `${JSON.stringify(event)}\n`).join('');
        writing = writing.then(() => appendFile(options.file, lines)).catch(() => undefined);
        writing.then(() => reply(200, 'ok'), () => reply(500, 'could not record the alerts'));
      },
      (error: Error) => reply(413, error.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}/alerts`,
    file: options.file,
    events: () => [...events],
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await writing;
    },
  };
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        // Drain the rest unread, so the 413 still reaches the sender.
        request.removeAllListeners('data');
        request.resume();
        reject(new Error(`body: larger than ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
