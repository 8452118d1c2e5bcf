// How the supervisor names a process that exits before it is ready. A terminal's
// Ctrl-C reaches every process of the group, and a child still loading its
// modules dies of it, often before the CLI's own SIGINT handler has run: that
// is an interruption (exit 130, "lab stopped"), not a start-up failure (exit 2).
// CI once saw exactly that race as a wrong exit 2.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODE } from '../../runner/errors.ts';
import { createSupervisor } from '../../runner/supervisor.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'faultline-start-exit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a process that exits during start-up', () => {
  it('killed by SIGINT: rejects as an interruption, naming the process', async () => {
    const supervisor = createSupervisor({ logDir: join(dir, 'sigint') });
    const error = await supervisor.start({ name: 'bank', entry: 'test/fixtures/sigint-during-start.mjs', env: {}, readyTimeoutMs: 30_000 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ERROR_CODE.interrupted, message: 'bank got SIGINT during start-up' });
    await supervisor.stopAll();
  }, 40_000);

  it('failing on its own: rejects as a start failure with its last stderr line', async () => {
    const supervisor = createSupervisor({ logDir: join(dir, 'fails') });
    const error = await supervisor.start({ name: 'bank', entry: 'test/fixtures/fails-during-start.mjs', env: {}, readyTimeoutMs: 30_000 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ERROR_CODE.startFailed, message: 'boom: no config' });
    await supervisor.stopAll();
  }, 40_000);
});
