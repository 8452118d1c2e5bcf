// The shop stands on its own: no module under demo-services/ imports from the
// load generator, the runner, the CLI or the benchmarks. Shared data (prices,
// SKUs) lives with the shop and the load side imports it. eslint.config.js has
// the same rule; this test holds it even where lint is not run.

import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const HERE = import.meta.dirname;
const ROOT = resolve(HERE, '..');
const FORBIDDEN = ['load', 'runner', 'scripts', 'bench'];

/** Every module specifier of a file: static imports and re-exports, dynamic import(), import type. */
export function specifiers(source: string): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"]*?\sfrom\s*['"]([^'"]+)['"]/g)) found.push(match[1] as string);
  for (const match of source.matchAll(/(?:^|[\s;])import\s*['"]([^'"]+)['"]/g)) found.push(match[1] as string);
  for (const match of source.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(match[1] as string);
  return found;
}

/** The top-level folder of the project a relative specifier of `file` lands in, if any. */
function landsIn(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const target = relative(ROOT, resolve(dirname(file), specifier));
  return target.startsWith('..') ? undefined : target.split(/[\\/]/)[0];
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile() && /\.[cm]?[jt]s$/.test(entry.name) && !entry.parentPath.includes('node_modules')).map((entry) => join(entry.parentPath, entry.name));
}

describe('demo-services import direction', () => {
  it('finds every kind of import (the scan itself works)', () => {
    const source = [
      "import { a } from '../../load/x.ts';",
      "import type { B } from '../runner/y.ts';",
      "export { c } from '../../scripts/z.ts';",
      "import '../../bench/side-effect.ts';",
      "const m = await import('../../load/dyn.ts');",
      "import {\n  d,\n  e,\n} from './local.ts';",
    ].join('\n');
    expect(specifiers(source)).toEqual(expect.arrayContaining(['../../load/x.ts', '../runner/y.ts', '../../scripts/z.ts', '../../bench/side-effect.ts', '../../load/dyn.ts', './local.ts']));
    expect(landsIn(join(ROOT, 'demo-services/catalog/product.ts'), '../../load/journeys/checkout.ts')).toBe('load');
  });

  it('no module in demo-services imports from load/, runner/, scripts/ or bench/', async () => {
    const offending: string[] = [];
    for (const file of await sourceFiles(join(ROOT, 'demo-services'))) {
      for (const specifier of specifiers(await readFile(file, 'utf8'))) {
        const folder = landsIn(file, specifier);
        if (folder !== undefined && FORBIDDEN.includes(folder)) offending.push(`${relative(ROOT, file)} imports ${specifier}`);
      }
    }
    expect(offending).toEqual([]);
  });
});
