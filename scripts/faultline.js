#!/usr/bin/env node
// The `faultline` command's entry. Plain JavaScript on purpose: it turns on
// V8's compile cache (.lab/compile-cache, shared with the lab's processes)
// before the first TypeScript module loads, so from the second start on the
// CLI skips type stripping and compiling. That is about 12 MB less private
// memory in a process that stays up beside the lab for a whole session
// (docs/benchmarks.md), and a faster start. The CLI itself is faultline.ts.
import { enableCompileCache } from 'node:module';
import { join } from 'node:path';

enableCompileCache(join(import.meta.dirname, '..', '.lab', 'compile-cache'));
await import('./faultline.ts');
