// The CLI's contract for bad input and interruptions: one line naming the
// problem, a non-zero exit, and no process left behind.

import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../../runner/topology.ts';
import { isAlive, ROOT, runCli, startUp } from './cli.ts';
import { monitoringAvailability } from '../../runner/monitoring.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'faultline-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('faultline CLI errors', () => {
  it('--help lists the commands', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    for (const command of ['run', 'up', 'list']) expect(result.stdout).toContain(command);
  });

  it('list shows each scenario on one line, grouped by category, with its pattern(s)', async () => {
    const result = await runCli(['list']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^payment-outage\s+\[circuitBreaker\]\s+The bank/m);
    const lines = result.stdout.trim().split('\n');
    const dependencyFailures = lines.indexOf(lines.find((line) => line.startsWith('dependency-failure: ')) as string);
    expect(dependencyFailures).toBeGreaterThanOrEqual(0);
    expect(lines.findIndex((line) => line.startsWith('payment-outage '))).toBeGreaterThan(dependencyFailures);
    // One line per scenario file, beside the category headings.
    const scenarios = (await readdir(join(ROOT, 'scenarios'))).filter((file) => file.endsWith('.yaml'));
    expect(lines.filter((line) => !/^[a-z-]+: /.test(line))).toHaveLength(scenarios.length);
  });

  it('a missing scenario is one line and exit 2', async () => {
    const result = await runCli(['run', 'no-such-scenario']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/no scenario 'no-such-scenario' \(known: [a-z, -]*payment-outage/);
  });

  it('a malformed scenario file names the file and line', async () => {
    const file = join(dir, 'broken.yaml');
    await writeFile(file, 'name: broken\nphases: [\n  - oops\n');
    const result = await runCli(['run', file]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/broken\.yaml: malformed YAML at line \d+/);
  });

  it('an invalid scenario reports every bad path at once', async () => {
    const file = join(dir, 'invalid.yaml');
    await writeFile(
      file,
      [
        'name: invalid',
        'description: bad fields',
        'phases: [{ name: a, duration: soon }]',
        'load: { executor: constant-arrival-rate, journey: checkout, rate: -1, preAllocatedVUs: 1 }',
        'expectations: [{ type: threshold, name: x, metric: http_req_failed, threshold: "rate<0.1", colour: red }]',
      ].join('\n'),
    );
    const result = await runCli(['run', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('phases.0.duration');
    expect(result.stderr).toContain('load.rate');
    expect(result.stderr).toContain('expectations.0');
    expect(result.stderr).toContain('colour');
  });

  it('an unknown policy for --disable is a usage error: exit 2', async () => {
    const result = await runCli(['run', 'payment-outage', '--disable', 'magic']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('must be one of timeout, retry, circuitBreaker');
  });

  it('usage errors exit 2, as the README says; --help exits 0', async () => {
    const missing = await runCli(['run']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'scenario'");
    const unknown = await runCli(['check', 'x', '--colour']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--colour'");
    const badPort = await runCli(['up', '--gateway-port', 'eighty']);
    expect(badPort.code).toBe(2);
    expect((await runCli(['run', '--help'])).code).toBe(0);
  });

  it('a duration without a unit in a scenario file is an error naming its path', async () => {
    const file = join(dir, 'unitless.yaml');
    const text = (await readFile(join(ROOT, 'scenarios/payment-instance-crash.yaml'), 'utf8')).replace('{ name: baseline, duration: 6s }', '{ name: baseline, duration: 12 }');
    expect(text).toContain('duration: 12 }');
    await writeFile(file, text);
    const result = await runCli(['run', file]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain("phases.0.duration: 12 has no unit: write '12ms' or '12s'");
  });

  it('up on a port already in use says which port, exits non-zero, and leaves nothing running', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const runsDir = join(dir, 'up-busy');
      const result = await runCli(['up', '--gateway-port', String(port), '--collector-port', '0', '--collector-http-port', '0', '--chaos-port', '0', '--console-port', '0', '--prometheus-port', '0', '--alertmanager-port', '0', '--runs-dir', runsDir], { timeoutMs: 60_000 });
      expect(result.code).toBe(2);
      expect(result.stderr.trim()).toBe(`faultline: gateway: port ${port} is already in use (change it with --gateway-port <port>, or --gateway-port 0 for any free port)`);
      // Reported before anything started: no session record, no process log.
      expect(existsSync(runsDir), result.stdout).toBe(false);
    } finally {
      blocker.close();
    }
  });

  it('up checks every fixed port first and names the flag of each one in use', async () => {
    const blockers = await Promise.all([0, 1].map(() => new Promise<Server>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => resolve(server));
    })));
    const [chaosPort, collectorPort] = blockers.map((server) => (server.address() as { port: number }).port);
    try {
      const runsDir = join(dir, 'up-busy-2');
      const result = await runCli(['up', '--gateway-port', '0', '--collector-port', String(collectorPort), '--collector-http-port', '0', '--chaos-port', String(chaosPort), '--console-port', '0', '--no-monitoring', '--runs-dir', runsDir], { timeoutMs: 60_000 });
      expect(result.code).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toContain(`collector OTLP/gRPC: port ${collectorPort} is already in use (change it with --collector-port`);
      expect(result.stderr).toContain(`fault proxy admin: port ${chaosPort} is already in use (change it with --chaos-port`);
      expect(existsSync(runsDir)).toBe(false);
    } finally {
      for (const server of blockers) server.close();
    }
  });

  it('up prints every URL, and SIGTERM stops every process it started', async () => {
    const { child, stdout, pids } = await startUp(join(dir, 'up-ok'));
    try {
      expect(stdout).toMatch(/gateway \(shop API\)\s+http:\/\/127\.0\.0\.1:\d+\/api\/checkout/);
      expect(stdout).toMatch(/fault proxy admin \(Toxiproxy API\)\s+http:\/\/127\.0\.0\.1:\d+\/proxies/);
      // In-service faults are on each instance's loopback admin listener, never on its public port.
      expect(stdout).toMatch(/bank faults \(admin, loopback\)\s+http:\/\/127\.0\.0\.1:\d+\/admin\/faults/);
      expect(stdout).toMatch(/curl -s -X POST http:\/\/127\.0\.0\.1:\d+\/api\/checkout .*authorization: Bearer /);
      // collector and fault proxy, every instance, and Prometheus and Alertmanager where installed.
      const monitoring = (await monitoringAvailability()).available ? 2 : 0;
      expect(pids.length).toBe(2 + SERVICES.reduce((sum, service) => sum + service.instances, 0) + monitoring);
      if (monitoring) expect(stdout).toMatch(/prometheus \S+ \(SLO rules at lab scale\)\s+http:\/\/127\.0\.0\.1:\d+\/(classic\/)?alerts/);
    } finally {
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
  });

  it('a SIGKILLed CLI leaves no orphans: children notice and exit', async () => {
    const { child, pids } = await startUp(join(dir, 'up-killed'));
    child.kill('SIGKILL');
    const deadline = Date.now() + 10_000;
    while (pids.some(isAlive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(pids.filter(isAlive)).toEqual([]);
  });
});
