// Keeps the container deployment (docker-compose.yml and deploy/) in step with
// the lab it packages: every instance of runner/topology.ts runs, is scraped
// and reaches its dependencies only through the fault proxy, every image is
// pinned, and the configs pass the tools that own their formats (docker-compose,
// promtool, amtool) when those are installed. No container runs here.

import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseChaosConfig } from '../../chaos/config.ts';
import { COMPOSE_ALERTMANAGER_FILE, EXTERNAL_RECEIVERS, renderComposeAlertmanagerConfig } from '../../deploy/alertmanager/render.ts';
import { SERVICES, instanceNames, proxyName } from '../../runner/topology.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const PROMETHEUS_FILE = join(ROOT, 'deploy', 'prometheus', 'prometheus.yml');
const ALERTMANAGER_FILE = COMPOSE_ALERTMANAGER_FILE;
const RULES_DIR = join(ROOT, 'slo', 'generated', 'production', 'rules');
const CONFIG_FILES = [
  'docker-compose.yml',
  'collector/otel-collector.yaml',
  'deploy/prometheus/prometheus.yml',
  'deploy/loki/loki.yaml',
  'deploy/grafana/provisioning/datasources/datasources.yaml',
  'deploy/grafana/provisioning/dashboards/provider.yaml',
  'slo/generated/production/alertmanager.yaml',
  'deploy/alertmanager/alertmanager.yaml',
];
const SERVICE_PORT = 8080;
/** The gRPC port of services that serve gRPC (payment), the upstream of a tcp edge. */
const GRPC_PORT = 9090;

interface ComposeService {
  image?: string;
  command?: string[];
  depends_on?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
}

function hasCommand(command: string): boolean {
  return spawnSync(command, ['--version'], { stdio: 'ignore' }).error === undefined;
}

/** Compose's `${VAR:-default}` with VAR unset, as `docker-compose config` resolves it on a clean machine. */
function interpolateDefaults(text: string): string {
  return text.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
}

function readYaml<T>(relative: string): T {
  return parse(readFileSync(join(ROOT, relative), 'utf8'), { merge: true }) as T;
}

const compose = parse(interpolateDefaults(readFileSync(COMPOSE_FILE, 'utf8')), { merge: true }) as { services: Record<string, ComposeService> };
const services = compose.services;

function serviceConfig(instance: string): {
  name: string;
  instance: string;
  port: number;
  host: string;
  otlpEndpoint: string;
  dependencies: Record<string, string | string[]>;
  policies: Record<string, unknown>;
} {
  const raw = services[instance]?.environment?.FAULTLINE_SERVICE_CONFIG;
  expect(raw, `${instance}: FAULTLINE_SERVICE_CONFIG`).toBeTypeOf('string');
  return JSON.parse(raw as string) as ReturnType<typeof serviceConfig>;
}

const chaos = parseChaosConfig(JSON.parse(services.chaos?.environment?.FAULTLINE_CHAOS_CONFIG ?? 'null'));
const proxyByPort = new Map(chaos.proxies.map((proxy) => [proxy.listenPort, proxy]));

describe('compose deployment: config files', () => {
  it.each(CONFIG_FILES)('%s is YAML with a top-level mapping', (relative) => {
    expect(readYaml<unknown>(relative)).toBeTypeOf('object');
  });

  it('pins every image by a version tag (no latest), in compose and the Dockerfile', () => {
    const images = Object.entries(services).map(([name, service]) => [name, service.image ?? ''] as const);
    for (const [name, image] of images) expect(image, `${name}.image`).toMatch(/^[\w./-]+:(?!latest$)[\w][\w.-]*$/);
    const from = [...readFileSync(join(ROOT, 'Dockerfile'), 'utf8').matchAll(/^FROM\s+(\S+)/gm)].map((match) => match[1] as string);
    expect(from.length).toBeGreaterThan(0);
    for (const image of from) expect(image, `Dockerfile FROM ${image}`).toMatch(/^[\w./-]+:\d+\.\d+\.\d+[\w.-]*$/);
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/^USER node$/m);
  });

  it('publishes ports on 127.0.0.1 only: gateway 8080, grafana 3000, jaeger 16686, prometheus 9090, fault proxy admin 8474', () => {
    const published = Object.entries(services).flatMap(([name, service]) => (service.ports ?? []).map((port) => [name, port] as const));
    for (const [name, port] of published) expect(port, `${name}.ports`).toMatch(/^127\.0\.0\.1:/);
    expect(Object.fromEntries(published)).toEqual({
      gateway: '127.0.0.1:8080:8080',
      grafana: '127.0.0.1:3000:3000',
      jaeger: '127.0.0.1:16686:16686',
      prometheus: '127.0.0.1:9090:9090',
      chaos: '127.0.0.1:8474:8474',
    });
  });

  it('wires every collector pipeline to declared components, with Jaeger, Prometheus and Loki exporters', () => {
    type Section = Record<string, unknown>;
    const collector = readYaml<{ receivers: Section; processors: Section; exporters: Section; connectors: Section; service: { pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }> } }>(
      'collector/otel-collector.yaml',
    );
    const connectors = Object.keys(collector.connectors);
    for (const [name, pipeline] of Object.entries(collector.service.pipelines)) {
      for (const receiver of pipeline.receivers) expect([...Object.keys(collector.receivers), ...connectors], `${name}.receivers`).toContain(receiver);
      for (const processor of pipeline.processors) expect(Object.keys(collector.processors), `${name}.processors`).toContain(processor);
      for (const exporter of pipeline.exporters) expect([...Object.keys(collector.exporters), ...connectors], `${name}.exporters`).toContain(exporter);
      expect(pipeline.processors[0], `${name}: memory_limiter first`).toBe('memory_limiter');
    }
    const traces = collector.service.pipelines.traces?.exporters ?? [];
    expect(traces).toEqual(expect.arrayContaining(['otlp/jaeger', 'spanmetrics', 'servicegraph']));
    expect(collector.service.pipelines.metrics?.receivers).toEqual(expect.arrayContaining(['spanmetrics', 'servicegraph']));
    expect(collector.service.pipelines.logs?.exporters).toContain('otlphttp/loki');
  });

  it('links the Grafana datasources to each other by uids that exist', () => {
    const { datasources } = readYaml<{ datasources: Array<{ uid: string; jsonData?: Record<string, unknown> }> }>('deploy/grafana/provisioning/datasources/datasources.yaml');
    const uids = datasources.map((source) => source.uid);
    expect(uids).toEqual(expect.arrayContaining(['prometheus', 'jaeger', 'loki', 'alertmanager']));
    const linked = JSON.stringify(datasources.map((source) => source.jsonData ?? {}));
    const referenced = [...linked.matchAll(/"datasourceUid":"([^"]+)"/g)].map((match) => match[1]);
    expect(new Set(referenced)).toEqual(new Set(['jaeger', 'loki', 'prometheus']));
    for (const uid of referenced) expect(uids).toContain(uid);
  });
});

describe('compose deployment: the topology of runner/topology.ts', () => {
  const instances = SERVICES.flatMap((node) => instanceNames(node.name).map((instance) => ({ node, instance })));

  it.each(instances.map(({ node, instance }) => [instance, node] as const))('%s runs its service with the shared image and telemetry', (instance, node) => {
    const service = services[instance];
    expect(service, `compose service ${instance}`).toBeDefined();
    expect(service?.image).toBe(services.chaos?.image);
    expect(service?.command).toEqual(['node', '--import', './demo-services/kit/instrument.ts', `demo-services/${node.name}/main.ts`]);
    const config = serviceConfig(instance);
    expect(config).toMatchObject({ name: node.name, instance, host: '0.0.0.0', port: SERVICE_PORT, otlpEndpoint: 'http://otel-collector:4317' });
  });

  it.each(instances.map(({ node, instance }) => [instance, node] as const))('%s reaches each dependency instance through its own proxy', (instance, node) => {
    const { dependencies } = serviceConfig(instance);
    expect(Object.keys(dependencies).sort()).toEqual(node.calls.map((call) => call.service).sort());
    for (const call of node.calls) {
      const urls = ([] as string[]).concat(dependencies[call.service] ?? []);
      const targets = instanceNames(call.service);
      expect(urls).toHaveLength(targets.length);
      urls.forEach((url, i) => {
        const match = /^http:\/\/chaos:(\d+)$/.exec(url);
        expect(match, `${instance} -> ${call.service}: ${url} goes through the fault proxy`).not.toBeNull();
        const proxy = proxyByPort.get(Number(match?.[1]));
        expect(proxy?.name).toBe(proxyName(node.name, call.service, i + 1));
        // A tcp edge is a gRPC hop: it carries the stream to the target's gRPC port, which the target is configured to bind.
        if (call.mode === 'tcp') {
          expect(proxy?.upstream).toBe(`${targets[i]}:${GRPC_PORT}`);
          expect(serviceConfig(targets[i] as string).policies).toMatchObject({ grpc: { port: GRPC_PORT } });
        } else expect(proxy?.upstream).toBe(`http://${targets[i]}:${SERVICE_PORT}`);
        expect(proxy?.mode ?? 'http').toBe(call.mode);
      });
    }
  });

  it('the fault proxy has exactly one proxy per edge and dependency instance, and a token since it binds all interfaces', () => {
    const expected = SERVICES.flatMap((node) => node.calls.flatMap((call) => instanceNames(call.service).map((_, i) => proxyName(node.name, call.service, i + 1))));
    expect(chaos.proxies.map((proxy) => proxy.name).sort()).toEqual([...new Set(expected)].sort());
    expect(new Set(chaos.proxies.map((proxy) => proxy.listenPort)).size).toBe(chaos.proxies.length);
    expect(chaos).toMatchObject({ host: '0.0.0.0', adminPort: 8474 });
    expect(chaos.token).toBeTypeOf('string');
  });

  it('Prometheus scrapes every instance as job=<service>, instance=<instance id>, every 5s, and the collector', () => {
    const prometheus = readYaml<{ global: { scrape_interval: string }; scrape_configs: Array<{ job_name: string; scrape_interval?: string; static_configs: Array<{ targets: string[]; labels?: Record<string, string> }> }> }>(
      'deploy/prometheus/prometheus.yml',
    );
    const jobs = new Map(prometheus.scrape_configs.map((job) => [job.job_name, job]));
    for (const node of SERVICES) {
      const job = jobs.get(node.name);
      expect(job, `scrape job ${node.name}`).toBeDefined();
      expect(job?.scrape_interval ?? prometheus.global.scrape_interval).toBe('5s');
      const scraped = job?.static_configs.flatMap((group) => group.targets.map((target) => ({ target, instance: group.labels?.instance })));
      expect(scraped).toEqual(instanceNames(node.name).map((instance) => ({ target: `${instance}:${SERVICE_PORT}`, instance })));
    }
    const targets = prometheus.scrape_configs.flatMap((job) => job.static_configs.flatMap((group) => group.targets));
    expect(targets).toEqual(expect.arrayContaining(['otel-collector:8888', 'otel-collector:8889']));
  });

  it('mounts the generated SLO rules and Alertmanager config into their containers', () => {
    expect(services.prometheus?.volumes).toContain('./slo/generated/production/rules:/etc/faultline/slo/generated/production/rules:ro');
    expect(services.alertmanager?.volumes).toContain('./deploy/alertmanager/alertmanager.yaml:/etc/alertmanager/alertmanager.yaml:ro');
  });
});

describe('compose deployment: Alertmanager notifies something that exists in compose', () => {
  /** The config file compose mounts at Alertmanager's --config.file. */
  function mountedAlertmanagerConfig(): { file: string; config: { receivers?: Array<Record<string, unknown>> } } {
    const service = services.alertmanager;
    const configFlag = (service?.command ?? []).find((arg) => arg.startsWith('--config.file='))?.slice('--config.file='.length);
    const mount = (service?.volumes ?? []).map((volume) => volume.split(':')).find(([, inside]) => inside === configFlag);
    expect(mount, `a volume mounted at ${configFlag}`).toBeDefined();
    const file = (mount?.[0] ?? '').replace(/^\.\//, '');
    return { file, config: readYaml(file) };
  }

  /** Every URL a receiver posts to, whatever the integration (webhook, slack, pagerduty...). */
  function receiverUrls(receivers: Array<Record<string, unknown>>): Array<{ receiver: string; url: string }> {
    const found: Array<{ receiver: string; url: string }> = [];
    const walk = (receiver: string, value: unknown, key: string): void => {
      if (typeof value === 'string' && /(^|_)url$/.test(key)) found.push({ receiver, url: value });
      else if (Array.isArray(value)) for (const item of value) walk(receiver, item, key);
      else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(receiver, v, k);
    };
    for (const receiver of receivers) walk(String(receiver.name), receiver, '');
    return found;
  }

  /** Where the collector accepts webhooks: `port path` of each webhookevent receiver that feeds a pipeline. */
  function collectorWebhooks(): Set<string> {
    const collector = readYaml<{ receivers: Record<string, { endpoint?: string; path?: string }>; service: { pipelines: Record<string, { receivers: string[] }> } }>(
      'collector/otel-collector.yaml',
    );
    const wired = new Set(Object.values(collector.service.pipelines).flatMap((pipeline) => pipeline.receivers));
    return new Set(
      Object.entries(collector.receivers)
        .filter(([name]) => name.split('/')[0] === 'webhookevent' && wired.has(name))
        .map(([, receiver]) => `${(receiver.endpoint ?? '').split(':').pop()} ${receiver.path ?? '/events'}`),
    );
  }

  it('every receiver URL names a compose service listening there, or is documented as external', () => {
    const { file, config } = mountedAlertmanagerConfig();
    const urls = receiverUrls(config.receivers ?? []);
    expect(urls.length, `${file}: receivers`).toBeGreaterThan(0);
    const external = new Set(EXTERNAL_RECEIVERS.map((receiver) => receiver.url));
    const documented = readFileSync(join(ROOT, file), 'utf8');
    for (const { receiver, url } of urls) {
      if (external.has(url)) {
        expect(documented, `${file} documents external receiver ${url}`).toContain(`# external: ${url}`);
        continue;
      }
      const { hostname, port, pathname } = new URL(url);
      // Inside the alertmanager container, loopback is Alertmanager itself: nothing listens there.
      expect(['127.0.0.1', 'localhost', '[::1]'], `${receiver}: ${url} points at the alertmanager container itself`).not.toContain(hostname);
      expect(Object.keys(services), `${receiver}: ${url} names no compose service (add it to EXTERNAL_RECEIVERS in deploy/alertmanager/render.ts if it is outside compose)`).toContain(hostname);
      if (hostname === 'otel-collector') expect([...collectorWebhooks()], `${receiver}: ${url} is a webhookevent receiver in a collector pipeline`).toContain(`${port} ${pathname}`);
      expect(services.alertmanager?.depends_on ?? [], `alertmanager depends on ${hostname}`).toContain(hostname);
    }
  });

  it('the compose Alertmanager config is what deploy/alertmanager/render.ts writes from slo/alertmanager.ts (run it when this fails)', () => {
    expect(readFileSync(ALERTMANAGER_FILE, 'utf8')).toBe(renderComposeAlertmanagerConfig());
  });

  it('the collector turns notifications into Loki logs of service_name="alertmanager"', () => {
    const collector = readYaml<{ processors: Record<string, { attributes?: Array<{ key: string; value: string }> }>; service: { pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }> } }>(
      'collector/otel-collector.yaml',
    );
    const pipeline = Object.values(collector.service.pipelines).find((candidate) => candidate.receivers.includes('webhookevent/alertmanager'));
    expect(pipeline?.exporters).toContain('otlphttp/loki');
    const named = (pipeline?.processors ?? []).flatMap((processor) => collector.processors[processor]?.attributes ?? []);
    expect(named).toContainEqual(expect.objectContaining({ key: 'service.name', value: 'alertmanager' }));
  });
});

const composeMissing = !hasCommand('docker-compose');
const promtoolMissing = !hasCommand('promtool');
const amtoolMissing = !hasCommand('amtool');
const skipped = (tool: string, missing: boolean, title: string) => (missing ? `${title} (SKIPPED: ${tool} is not installed)` : title);
for (const [tool, missing] of [['docker-compose', composeMissing], ['promtool', promtoolMissing], ['amtool', amtoolMissing]] as const) {
  if (missing) process.stderr.write(`compose.test.ts: SKIPPING the ${tool} check: ${tool} is not installed (apt-get install ${tool === 'docker-compose' ? 'docker-compose' : tool === 'promtool' ? 'prometheus' : 'prometheus-alertmanager'})\n`);
}

describe('compose deployment: checked by the owning tools', () => {
  it.skipIf(composeMissing)(skipped('docker-compose', composeMissing, 'docker-compose config -q accepts the file, and its resolved environment is JSON'), () => {
    execFileSync('docker-compose', ['-f', COMPOSE_FILE, 'config', '-q'], { cwd: ROOT, stdio: 'pipe' });
    const resolved = parse(execFileSync('docker-compose', ['-f', COMPOSE_FILE, 'config'], { cwd: ROOT, encoding: 'utf8' })) as { services: Record<string, ComposeService> };
    for (const { name } of SERVICES) {
      for (const instance of instanceNames(name)) {
        expect(JSON.parse(resolved.services[instance]?.environment?.FAULTLINE_SERVICE_CONFIG ?? 'null')).toMatchObject({ name, instance });
      }
    }
    expect(parseChaosConfig(JSON.parse(resolved.services.chaos?.environment?.FAULTLINE_CHAOS_CONFIG ?? 'null')).proxies).toHaveLength(chaos.proxies.length);
  });

  it.skipIf(promtoolMissing)(skipped('promtool', promtoolMissing, 'promtool check config accepts prometheus.yml and every generated rule file'), () => {
    const result = spawnSync('promtool', ['check', 'config', PROMETHEUS_FILE], { encoding: 'utf8' });
    expect(result.status, result.stderr + result.stdout).toBe(0);
    const ruleFiles = readdirSync(RULES_DIR).filter((file) => file.endsWith('.yaml'));
    expect(ruleFiles.length).toBeGreaterThan(0);
    expect(result.stdout + result.stderr).toContain(`SUCCESS: ${ruleFiles.length} rule files found`);
  });

  it.skipIf(amtoolMissing)(skipped('amtool', amtoolMissing, 'amtool check-config accepts the Alertmanager config compose mounts'), () => {
    const result = spawnSync('amtool', ['check-config', ALERTMANAGER_FILE], { encoding: 'utf8' });
    expect(result.status, result.stderr + result.stdout).toBe(0);
  });
});
