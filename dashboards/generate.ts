// The dashboards generator: every Faultline dashboard, rendered from its
// TypeScript module to dashboards/faultline/<name>.json, which Grafana's file
// provider loads (deploy/grafana/provisioning/dashboards/provider.yaml, the
// compose mount ./dashboards:/var/lib/grafana/dashboards). Rendering is pure
// (renderDashboardFiles); the output is committed and a test fails when it is
// stale. Run directly: node dashboards/generate.ts

import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chaos } from './chaos.ts';
import { collector } from './collector.ts';
import type { GrafanaDashboard } from './grafana.ts';
import { loadTest } from './load-test.ts';
import { resilience } from './resilience.ts';
import { runtime } from './runtime.ts';
import { serviceOverview } from './service-overview.ts';
import { slos } from './slos.ts';

export const DASHBOARDS_ROOT = dirname(fileURLToPath(import.meta.url));
/** The folder the provider shows as "faultline" (foldersFromFilesStructure). */
export const OUT_DIR = join(DASHBOARDS_ROOT, 'faultline');

/** Every dashboard, by file name (without .json), in the order an SRE reads them. */
export const DASHBOARDS: ReadonlyArray<{ name: string; build: () => GrafanaDashboard }> = [
  { name: 'service-overview', build: serviceOverview },
  { name: 'resilience', build: resilience },
  { name: 'slos', build: slos },
  { name: 'load-test', build: loadTest },
  { name: 'chaos', build: chaos },
  { name: 'runtime', build: runtime },
  { name: 'collector', build: collector },
];

export function renderDashboards(): Array<{ name: string; dashboard: GrafanaDashboard }> {
  return DASHBOARDS.map(({ name, build }) => ({ name, dashboard: build() }));
}

/** File name -> JSON text, exactly as committed. */
export function renderDashboardFiles(): Map<string, string> {
  return new Map(renderDashboards().map(({ name, dashboard }) => [`${name}.json`, `${JSON.stringify(dashboard, null, 2)}\n`]));
}

/** Writes every dashboard into `outDir` and removes JSON files no dashboard renders any more; returns the paths written. */
export async function generateDashboards(outDir = OUT_DIR): Promise<string[]> {
  const files = renderDashboardFiles();
  await mkdir(outDir, { recursive: true });
  for (const existing of await readdir(outDir)) {
    if (existing.endsWith('.json') && !files.has(existing)) await rm(join(outDir, existing));
  }
  const written: string[] = [];
  for (const [file, text] of files) {
    await writeFile(join(outDir, file), text);
    written.push(join(outDir, file));
  }
  return written;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const path of await generateDashboards()) process.stdout.write(`wrote ${relative(process.cwd(), path)}\n`);
}
