// main.ts as the supervisor runs it: a child process with an IPC channel,
// config in FAULTLINE_COLLECTOR_CONFIG, a ready message with its ports, and a
// clean exit on SIGTERM that writes every accepted span first.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isReadyMessage } from '../demo-services/kit/lifecycle.ts';
import type { ReadyMessage } from '../demo-services/kit/lifecycle.ts';
import { createSampleProvider, makeTempDir } from './test-fixtures.ts';
import { readSpans } from './trace-query.ts';

const MAIN = join(import.meta.dirname, 'main.ts');

interface Started {
  child: ChildProcess;
  stdout: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startMain(config: unknown): Started {
  const child = spawn(process.execPath, [MAIN], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, FAULTLINE_COLLECTOR_CONFIG: typeof config === 'string' ? config : JSON.stringify(config) },
  });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, exit };
}

function waitForReady(started: Started, timeoutMs = 10_000): Promise<ReadyMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready message; output:\n${started.stdout()}`)), timeoutMs);
    started.child.on('message', (message) => {
      if (!isReadyMessage(message)) return;
      clearTimeout(timer);
      resolve(message);
    });
    void started.exit.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready; output:\n${started.stdout()}`));
    });
  });
}

describe('collector main', () => {
  let runDir: string;
  let running: Started | undefined;

  beforeEach(async () => {
    runDir = await makeTempDir('main');
  });

  afterEach(async () => {
    if (running && running.child.exitCode === null && running.child.signalCode === null) {
      running.child.kill('SIGKILL');
      await running.exit;
    }
    running = undefined;
    await rm(runDir, { recursive: true, force: true });
  });

  it('announces its ports, and on SIGTERM writes every accepted span and exits 0', async () => {
    // A flush interval longer than the test: only the shutdown flush can write the spans.
    running = startMain({ grpcPort: 0, httpPort: 0, runDir, flushIntervalMs: 600_000 });
    const ready = await waitForReady(running);
    expect(ready.name).toBe('collector');
    expect(ready.ports.grpc).toBeGreaterThan(0);
    expect(ready.ports.http).toBeGreaterThan(0);
    expect(ready.ports.otlpHttp).toBeGreaterThan(0);
    const health = await fetch(`http://127.0.0.1:${ready.ports.http}/healthz`);
    expect(health.status).toBe(200);

    const exporter = new OTLPTraceExporter({ url: `http://127.0.0.1:${ready.ports.grpc}` });
    const { provider } = createSampleProvider([new SimpleSpanProcessor({ exporter })]);
    const tracer = provider.getTracer('main-test');
    for (const name of ['one', 'two', 'three']) tracer.startSpan(name).end();
    await provider.forceFlush();
    await provider.shutdown();
    const metrics = await (await fetch(`http://127.0.0.1:${ready.ports.http}/metrics`)).text();
    expect(metrics).toMatch(/^collector_received_total\{signal="traces"\} 3$/m);
    expect(metrics).toMatch(/^collector_exported_total\{signal="traces"\} 0$/m);
    expect(metrics).toMatch(/^process_cpu_seconds_total /m);

    running.child.kill('SIGTERM');
    expect(await running.exit).toEqual({ code: 0, signal: null });

    expect((await readSpans(join(runDir, 'traces.jsonl'))).map((span) => span.name).sort()).toEqual(['one', 'three', 'two']);
    const logs = running
      .stdout()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { service?: string; msg?: string; stats?: unknown });
    expect(logs.every((line) => line.service === 'collector')).toBe(true);
    expect(logs.find((line) => line.msg === 'collector stopped; telemetry flushed')?.stats).toMatchObject({
      traces: { received: 3, stored: 3, dropped: 0 },
      logs: { received: 0 },
      rejectedRequests: 0,
    });
  });

  it('exits 2 with one log line naming the bad field when the config is invalid', async () => {
    running = startMain({ grpcPort: 'x', runDir });
    expect((await running.exit).code).toBe(2);
    const lines = running.stdout().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ code: 'INVALID_CONFIG', msg: expect.stringContaining('grpcPort:') as string });
  });
});
