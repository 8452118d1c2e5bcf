// What a newcomer reads in the README matches what the project does: the
// engine warnings npm prints on the machine's Node 20 are explained (they
// come back whenever package.json or a dependency asks for a newer Node), and
// old runs have a clean-up command that exists.

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../runner/supervisor.ts';

const run = promisify(execFile);
const readme = () => readFile(join(PROJECT_ROOT, 'README.md'), 'utf8');

describe('README promises a newcomer relies on', () => {
  it('explains the EBADENGINE warnings while the project asks for a Node newer than 20', async () => {
    const pkg = JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { engines?: { node?: string } };
    const minimum = Number(/(\d+)/.exec(pkg.engines?.node ?? '')?.[1] ?? 0);
    if (minimum <= 20) return;
    const text = await readme();
    expect(text).toMatch(/EBADENGINE/);
    expect(text).toMatch(/harmless/);
    expect(text).toContain('--loglevel=error');
  });

  it('names the clean-up command for old runs, and the command exists', async () => {
    expect(await readme()).toMatch(/faultline runs prune --keep \d+ --older-than/);
    const { stdout } = await run(process.execPath, [join(PROJECT_ROOT, 'scripts/faultline.js'), 'runs', 'prune', '--help'], { cwd: PROJECT_ROOT });
    expect(stdout).toContain('--older-than');
  });
});
