// `faultline runs prune` on a real runs folder in a temp dir: by count, by age,
// both, dry run; a run in progress (a live lock or lab process) is never
// deleted, a killed run's stale lock is not a reason to keep it; and the CLI's
// answer to bad flags (one line naming the flag, exit 2).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../test/e2e/cli.ts';
import { newRunId } from './run-id.ts';
import { LAB_LOCK_FILE } from './run-lock.ts';
import { listRuns, parsePruneFlags, pruneRuns, renderPrune } from './runs-prune.ts';

const HOUR = 3_600_000;
// Real time: the CLI judges ages by its own clock.
const NOW = Date.now();

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid as number;
}

describe('runs prune', () => {
  let runsDir: string;
  const run = async (hoursAgo: number, scenario: string, files: Record<string, string> = { 'summary.json': '{"verdict":"pass"}' }): Promise<string> => {
    const id = newRunId(scenario, new Date(NOW - hoursAgo * HOUR));
    await mkdir(join(runsDir, id, 'logs'), { recursive: true });
    await writeFile(join(runsDir, id, 'logs', 'checkout.jsonl'), 'x'.repeat(1000));
    for (const [name, content] of Object.entries(files)) await writeFile(join(runsDir, id, name), content);
    return id;
  };
  const remaining = async (): Promise<string[]> => (await readdir(runsDir)).sort();

  beforeEach(async () => {
    runsDir = await mkdtemp(join(tmpdir(), 'faultline-runs-'));
  });

  afterEach(async () => {
    await rm(runsDir, { recursive: true, force: true });
  });

  it('keeps the N newest, deletes the rest, and leaves folders that are not runs', async () => {
    const ids = [await run(50, 'a'), await run(40, 'b'), await run(30, 'c'), await run(20, 'd')];
    await mkdir(join(runsDir, 'chaos-mesh'));
    const result = await pruneRuns(runsDir, { keep: 2, now: NOW });
    expect(result.removed.map((each) => each.id)).toEqual([ids[1], ids[0]]);
    expect(await remaining()).toEqual(['chaos-mesh', ids[2], ids[3]].sort());
    expect(renderPrune(result, false)).toMatch(/removed 2 runs \(0\.0 MB\); kept 2$/);
  });

  it('--older-than deletes by age, and with --keep only what both allow', async () => {
    const ids = [await run(72, 'a'), await run(30, 'b'), await run(2, 'c')];
    expect((await pruneRuns(runsDir, { olderThanMs: 24 * HOUR, keep: 2, now: NOW })).removed.map((each) => each.id)).toEqual([ids[0]]);
    expect((await pruneRuns(runsDir, { olderThanMs: 24 * HOUR, now: NOW })).removed.map((each) => each.id)).toEqual([ids[1]]);
    expect(await remaining()).toEqual([ids[2]]);
  });

  it('--dry-run deletes nothing', async () => {
    const ids = [await run(50, 'a'), await run(40, 'b')];
    const result = await pruneRuns(runsDir, { keep: 0, dryRun: true, now: NOW });
    expect(result.removed).toHaveLength(2);
    expect(renderPrune(result, true)).toContain(`would remove ${ids[0]}`);
    expect(await remaining()).toEqual(ids.sort());
  });

  it('never deletes a run in progress; a killed run with a stale lock goes', async () => {
    const live = await run(50, 'live-lock', { [LAB_LOCK_FILE]: JSON.stringify({ pid: process.pid }) });
    const orphaned = await run(49, 'live-process', { 'processes.json': JSON.stringify([{ name: 'bank', pid: process.pid }]) });
    const dead = await deadPid();
    const killed = await run(48, 'killed', { [LAB_LOCK_FILE]: JSON.stringify({ pid: dead }), 'processes.json': JSON.stringify([{ name: 'bank', pid: dead }]) });
    // Started seconds ago, before its lock could be written.
    const starting = newRunId('starting', new Date(NOW - 5_000));
    await mkdir(join(runsDir, starting));

    const result = await pruneRuns(runsDir, { keep: 0, now: NOW });
    expect(result.removed.map((each) => each.id)).toEqual([killed]);
    expect(result.inProgress.map((each) => each.id).sort()).toEqual([live, orphaned, starting].sort());
    expect(result.inProgress.find((each) => each.id === live)?.inProgress).toBe(`${LAB_LOCK_FILE} names live pid ${process.pid}`);
    expect(await remaining()).toEqual([live, orphaned, starting].sort());
    expect(renderPrune(result, false)).toContain(`left ${orphaned}: in progress (processes.json: bank (pid ${process.pid}) is alive)`);
  });

  it('lists runs newest first with size and state', async () => {
    const old = await run(3, 'payment-outage');
    const live = await run(1, 'up', { [LAB_LOCK_FILE]: JSON.stringify({ pid: process.pid }) });
    const runs = await listRuns(runsDir, NOW);
    expect(runs.map((each) => [each.id, each.verdict, each.inProgress !== undefined])).toEqual([
      [live, undefined, true],
      [old, 'pass', false],
    ]);
    expect(runs[1]?.bytes).toBe(1000 + '{"verdict":"pass"}'.length);
  });

  it('parses flags, naming the flag in each error', () => {
    expect(parsePruneFlags({ keep: '3', olderThan: '7d' })).toEqual({ keep: 3, olderThanMs: 7 * 24 * HOUR, dryRun: false });
    expect(() => parsePruneFlags({ keep: '-1' })).toThrow(/^--keep: must be a whole number >= 0, got "-1"$/);
    expect(() => parsePruneFlags({ keep: '2.5' })).toThrow(/^--keep: /);
    expect(() => parsePruneFlags({ olderThan: '7 days' })).toThrow(/^--older-than: invalid duration/);
  });

  it('the CLI: one line naming the flag and exit 2 for bad flags; prunes with good ones', async () => {
    const ids = [await run(50, 'a'), await run(40, 'b')];
    const badKeep = await runCli(['runs', 'prune', '--keep', 'lots', '--runs-dir', runsDir], { timeoutMs: 60_000 });
    expect(badKeep.code).toBe(2);
    expect(badKeep.stderr.trim().split('\n')).toEqual(['faultline: --keep: must be a whole number >= 0, got "lots"']);
    const badAge = await runCli(['runs', 'prune', '--older-than', '3 weeks', '--runs-dir', runsDir], { timeoutMs: 60_000 });
    expect(badAge.code).toBe(2);
    expect(badAge.stderr.trim().split('\n')).toHaveLength(1);
    expect(badAge.stderr).toMatch(/^faultline: --older-than: invalid duration "3 weeks"/);
    const neither = await runCli(['runs', 'prune', '--runs-dir', runsDir], { timeoutMs: 60_000 });
    expect(neither.code).toBe(2);
    expect(neither.stderr.trim()).toBe('faultline: runs prune: give --keep <n>, --older-than <duration>, or both');
    expect(await remaining()).toEqual(ids.sort());

    const pruned = await runCli(['runs', 'prune', '--keep', '1', '--runs-dir', runsDir], { timeoutMs: 60_000 });
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toContain(`removed ${ids[0]}`);
    expect(existsSync(join(runsDir, ids[0] as string))).toBe(false);
    const listed = await runCli(['runs', 'list', '--runs-dir', runsDir], { timeoutMs: 60_000 });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${ids[1]} .* pass\\n1 run, 0\\.0 MB\\n$`));
  });
});
