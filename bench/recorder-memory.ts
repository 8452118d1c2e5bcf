// Memory of a load recorder over a long session: `faultline up`'s background
// load keeps one recorder for as long as the session lasts, so its heap must
// level off, not grow with the hours. Feeds a recorder synthetic requests at a
// steady rate on a simulated clock (no lab, no sockets: what is measured is the
// recorder's own state) and prints the heap after a full GC at each mark.
//
//   node --expose-gc bench/recorder-memory.ts [rate per second] [hours] [--max-seconds N]
//   defaults: 25 requests a second, 8 hours, the recorder as `up` makes it (600 s kept);
//   --max-seconds 0: every second kept, as a scenario run's recorder does.

import { parseArgs } from 'node:util';
import { createLoadRecorder } from '../load/recorder.ts';

const USAGE = 'usage: node --expose-gc bench/recorder-memory.ts [rate per second] [hours] [--max-seconds N]';
const { values, positionals } = parseArgs({ options: { 'max-seconds': { type: 'string', default: '600' } }, allowPositionals: true });
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error(`recorder-memory: run with --expose-gc\n${USAGE}`);
  process.exit(2);
}
const positive = (raw: string | undefined, fallback: number, name: string): number => {
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`recorder-memory: ${name} must be a whole number >= 0, got ${JSON.stringify(raw)}\n${USAGE}`);
    process.exit(2);
  }
  return value;
};
const rate = positive(positionals[0], 25, 'rate per second');
const hours = positive(positionals[1], 8, 'hours');
const maxSeconds = positive(values['max-seconds'], 600, '--max-seconds');

const recorder = createLoadRecorder({ maxSamples: 10_000, ...(maxSeconds > 0 ? { maxSeconds } : {}) });
const heapMiB = (): number => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
const T0 = 1_700_000_000_000;
const tags = { journey: 'browse', step: 'list' };
const start = heapMiB();
const marks = [0.25, 0.5, 1, 2, 4, 8, 16, 24].filter((h) => h <= hours);
let second = 0;
console.log(`| simulated | heap growth (MiB) |\n| --- | --- |`);
for (const mark of marks) {
  for (; second < mark * 3_600; second += 1) {
    for (let i = 0; i < rate; i += 1) {
      const intended = T0 + second * 1_000 + Math.floor((i * 1_000) / rate);
      // Latencies spread over 3-40 ms, one in fifty failing, so histograms and error kinds fill as in a session.
      const failed = i % 50 === 49;
      recorder.record({ intendedStartMs: intended, sentAtMs: intended + 1, endMs: intended + 3 + ((i * 7) % 37), status: failed ? 503 : 200, ok: !failed, tags });
    }
  }
  console.log(`| ${mark} h | ${(heapMiB() - start).toFixed(1)} |`);
}
console.log(`\nnode --expose-gc bench/recorder-memory.ts ${rate} ${hours} --max-seconds ${maxSeconds}; ${rate} requests a second, ${maxSeconds > 0 ? `${maxSeconds} s of per-second figures kept` : 'every second kept'}`);
