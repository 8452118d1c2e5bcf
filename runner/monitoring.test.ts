// The Prometheus configuration a run writes: targets come from a file_sd file
// whose labels name job and instance as deploy/prometheus/prometheus.yml does.

import { describe, expect, it } from 'vitest';
import { renderPrometheusConfig, renderScrapeTargets } from './monitoring.ts';

describe('renderScrapeTargets', () => {
  it('gives every target its job, instance and metrics path as labels', () => {
    const groups = JSON.parse(
      renderScrapeTargets([
        { job: 'payment', instance: 'payment-1', address: '127.0.0.1:4001' },
        { job: 'loadgen', instance: 'loadgen', address: '127.0.0.1:4002', metricsPath: '/load/metrics' },
      ]),
    ) as unknown;
    expect(groups).toEqual([
      { targets: ['127.0.0.1:4001'], labels: { job: 'payment', instance: 'payment-1', __metrics_path__: '/metrics' } },
      { targets: ['127.0.0.1:4002'], labels: { job: 'loadgen', instance: 'loadgen', __metrics_path__: '/load/metrics' } },
    ]);
  });

  it('writes an empty list when nothing is scraped yet', () => {
    expect(JSON.parse(renderScrapeTargets([]))).toEqual([]);
  });
});

describe('renderPrometheusConfig', () => {
  it('reads the targets from the file and sends alerts to the Alertmanager', () => {
    const config = renderPrometheusConfig({ scrapeIntervalMs: 1_000, timeScale: 100, targetsFile: '/run/monitoring/targets.json', alertmanager: '127.0.0.1:9093' });
    expect(config).toContain('file_sd_configs:');
    expect(config).toContain('- files: ["/run/monitoring/targets.json"]');
    expect(config).toContain('targets: ["127.0.0.1:9093"]');
    expect(config).toContain('scrape_interval: 1000ms');
  });
});
