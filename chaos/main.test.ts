import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isReadyMessage, type ReadyMessage } from '../demo-services/kit/lifecycle.ts';
import { createChaosClient } from './admin-client.ts';
import { CHAOS_CONFIG_ENV, type ChaosConfig } from './config.ts';
import { send, startUpstream, type TestUpstream } from './test-support.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
}

let upstream: TestUpstream;
const children: ChildProcess[] = [];

function start(config: unknown): Started {
  const child = spawn(process.execPath, ['chaos/main.ts'], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, [CHAOS_CONFIG_ENV]: typeof config === 'string' ? config : JSON.stringify(config) },
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return { child, stdout: () => out, stderr: () => err };
}

function ready(child: ChildProcess): Promise<ReadyMessage> {
  return new Promise((resolve, reject) => {
    child.on('message', (message) => {
      if (isReadyMessage(message)) resolve(message);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before ready`)));
  });
}

function logLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeAll(async () => {
  upstream = await startUpstream();
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(async () => {
  await upstream.close();
});

describe('chaos main', () => {
  it('announces its ports, logs each fault as JSON, and exits 0 on SIGTERM', async () => {
    const config: ChaosConfig = { adminPort: 0, seed: 9, proxies: [{ name: 'bank', upstream: upstream.url }] };
    const { child, stdout } = start(config);
    const message = await ready(child);
    expect(message.name).toBe('chaos');
    expect(Object.keys(message.ports).sort()).toEqual(['admin', 'bank']);
    expect(message.ports.admin).toBeGreaterThan(0);
    expect(message.ports.bank).toBeGreaterThan(0);

    const client = createChaosClient(`http://127.0.0.1:${message.ports.admin}`);
    await client.addHttpFault('bank', { type: 'http_error', attributes: { status: 502 } });
    expect((await send(message.ports.bank as number)).status).toBe(502);

    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);

    const lines = logLines(stdout());
    expect(lines.every((line) => line.service === 'chaos')).toBe(true);
    const faultLines = lines.filter((line) => typeof line.event === 'string' && line.event.startsWith('fault_'));
    expect(faultLines.map((line) => [line.event, line.proxy, line.fault])).toEqual([
      ['fault_applied', 'bank', 'http_error_upstream'],
      ['fault_removed', 'bank', 'http_error_upstream'],
    ]);
    expect(faultLines[0]).toMatchObject({ type: 'http_error', stream: 'upstream', toxicity: 1, attributes: { status: 502 } });
  });

  it('starts tcp-mode proxies and logs partitions', async () => {
    const config: ChaosConfig = {
      adminPort: 0,
      proxies: [
        { name: 'checkout-payment', upstream: upstream.url, mode: 'tcp' },
        { name: 'payment-bank', upstream: upstream.url },
      ],
    };
    const { child, stdout } = start(config);
    const message = await ready(child);
    expect(Object.keys(message.ports).sort()).toEqual(['admin', 'checkout-payment', 'payment-bank']);
    const client = createChaosClient(`http://127.0.0.1:${message.ports.admin}`);
    expect((await client.getProxy('checkout-payment')).mode).toBe('tcp');
    expect((await send(message.ports['checkout-payment'] as number, { path: '/via-tcp' })).status).toBe(200);
    await client.addPartition({ name: 'cut', a: ['payment'], b: ['checkout'], mode: 'refuse' });
    await client.removePartition('cut');
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
    const partitionLines = logLines(stdout()).filter((line) => typeof line.event === 'string' && line.event.startsWith('partition_'));
    expect(partitionLines.map((line) => [line.event, line.proxy, line.partition, line.mode])).toEqual([
      ['partition_applied', 'checkout-payment', 'cut', 'refuse'],
      ['partition_removed', 'checkout-payment', 'cut', 'refuse'],
    ]);
  });

  it('exits 2 with one line naming every bad field of its config', async () => {
    const { child, stderr } = start({ adminPort: 70000, proxies: [{ name: 'admin', upstream: upstream.url }, { upstream: 5 }] });
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(2);
    const message = stderr().trim();
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toContain(`${CHAOS_CONFIG_ENV}.adminPort: must be 0..65535`);
    expect(message).toContain(`${CHAOS_CONFIG_ENV}.proxies.0.name: "admin" is reserved`);
    expect(message).toContain(`${CHAOS_CONFIG_ENV}.proxies.1.name: required`);
    expect(message).toContain(`${CHAOS_CONFIG_ENV}.proxies.1.upstream: must be a string`);
  });
});
