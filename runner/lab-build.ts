// Which file a lab process runs: the compiled JavaScript under .lab/build when
// it is at least as new as every TypeScript source it was built from (no
// type stripping in the process, ~15 MB less memory each), else the .ts
// source itself, which Node 24 runs directly. Decided once per supervisor.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const SOURCE_DIRS = ['demo-services', 'collector', 'chaos', 'load'];

function newestSource(root: string): number {
  let newest = 0;
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const dir of SOURCE_DIRS) walk(join(root, dir));
  return newest;
}

export function createEntryResolver(root: string): (path: string) => string {
  let fresh: boolean | undefined;
  const isFresh = (): boolean => {
    if (fresh === undefined) {
      try {
        fresh = statSync(join(root, '.lab/build.tsbuildinfo')).mtimeMs >= newestSource(root);
      } catch {
        fresh = false;
      }
    }
    return fresh;
  };
  return (path) => {
    const relative = path.replace(/^\.\//, '');
    if (!relative.endsWith('.ts') || !SOURCE_DIRS.some((dir) => relative.startsWith(`${dir}/`)) || !isFresh()) return join(root, relative);
    return join(root, '.lab/build', relative.replace(/\.ts$/, '.js'));
  };
}
