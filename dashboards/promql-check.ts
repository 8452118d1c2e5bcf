// Prometheus' own parser over the dashboards' PromQL, since Grafana cannot run
// here: every expression becomes a recording rule in its own group of a
// temporary rule file, `promtool check rules` parses them all, and each error
// it reports is mapped back to the dashboard and panel the expression came from.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runTool } from '../slo/tools.ts';
import type { DashboardQuery } from './queries.ts';

export interface PromqlProblem {
  dashboard: string;
  panel: string;
  expr: string;
  message: string;
}

export interface PromqlCheck {
  /** How many expressions promtool accepted. */
  parsed: number;
  problems: PromqlProblem[];
  /** promtool's own output, for when it fails in a way no expression explains. */
  output: string;
  ok: boolean;
}

const GROUP_PREFIX = 'dashboard-query-';

export async function checkPromql(promtool: string, queries: readonly DashboardQuery[]): Promise<PromqlCheck> {
  const dir = await mkdtemp(join(tmpdir(), 'faultline-dashboards-'));
  try {
    const file = join(dir, 'dashboard-queries.yaml');
    const groups = queries.map((query, index) => ({ name: `${GROUP_PREFIX}${index}`, rules: [{ record: `dashboard:query_${index}`, expr: query.expr }] }));
    await writeFile(file, stringify({ groups }, { lineWidth: 0 }));
    const run = await runTool(promtool, ['check', 'rules', file], { timeoutMs: 30_000 });
    const problems: PromqlProblem[] = [];
    for (const line of run.output.split('\n')) {
      const match = new RegExp(`group "${GROUP_PREFIX}(\\d+)", rule \\d+, "[^"]*": (.*)$`).exec(line);
      if (!match) continue;
      const query = queries[Number(match[1])];
      if (query) problems.push({ ...query, message: match[2] as string });
    }
    const found = /SUCCESS: (\d+) rules found/.exec(run.output);
    return { parsed: found ? Number(found[1]) : queries.length - problems.length, problems, output: run.output, ok: run.ok && problems.length === 0 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One line per problem: `<dashboard> / <panel>: <promtool's message>`. */
export function formatProblems(problems: readonly PromqlProblem[]): string {
  return problems.map((p) => `${p.dashboard} / ${p.panel}: ${p.message}\n    ${p.expr}`).join('\n');
}
