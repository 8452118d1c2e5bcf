// A run's id, which is also its folder under runs/: UTC start time, scenario
// (or `up`) and the CLI's pid, so ids sort by time and never collide on one machine.

export function newRunId(scenario: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${scenario}-${process.pid}`;
}
