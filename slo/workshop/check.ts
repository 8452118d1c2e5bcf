// The workshop's checker: node slo/workshop/check.ts <exercise-N> <answer.yaml> [--run runs/<id>]
// Prints one line per item checked (a hint where it is wrong, never the
// answer) and exits 0 when everything is right, 1 when something is not,
// 2 when the answer file cannot be read or is not valid.

import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SloError } from '../errors.ts';
import { checkAnswer, EXERCISES, type CheckResult } from './exercises.ts';

const USAGE = `usage: node slo/workshop/check.ts <${EXERCISES.join('|')}> <answer.yaml> [--run runs/<id>]`;

export function renderResult(result: CheckResult): string {
  const lines = result.items.map((item) => `${item.ok ? '  ok  ' : '  NO  '} ${item.message}`);
  const right = result.items.filter((i) => i.ok).length;
  lines.push(result.ok ? `PASS: ${result.exercise}, all ${right} checks right` : `NOT YET: ${result.exercise}, ${right} of ${result.items.length} checks right`);
  return lines.join('\n');
}

export async function runCheckCli(argv: readonly string[], out: (text: string) => void = (t) => process.stdout.write(`${t}\n`)): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: { run: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (error) {
    out(`check: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const [exercise, answer, ...rest] = parsed.positionals;
  if (exercise === undefined || answer === undefined || rest.length > 0) {
    out(USAGE);
    return 2;
  }
  try {
    const result = await checkAnswer(exercise, answer, parsed.values.run === undefined ? {} : { run: parsed.values.run });
    out(renderResult(result));
    return result.ok ? 0 : 1;
  } catch (error) {
    if (error instanceof SloError) {
      for (const problem of error.problems) out(`check: ${problem}`);
      return 2;
    }
    throw error;
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await runCheckCli(process.argv.slice(2));
}
