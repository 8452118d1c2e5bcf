// Serial and parallel fault steps, like Chaos Mesh workflows, laid flat on a
// run's clock. A scenario's fault list may hold groups: `serial` runs its steps
// one after another (a `suspend` step is a pause), `parallel` starts them
// together (each maybe `at` an offset inside the group). Groups nest. Flattening
// gives every fault an absolute start (`at`) and `duration`, which is all the
// runner's timeline needs, and keeps the tree (names only) for the Chaos Mesh
// export. Both the runner's scenario format and the exporter's file reader use
// it, so the two agree on when each fault runs.

/** A fault list entry as this module reads it; the scenario format adds each type's own fields. */
export interface StepInput {
  type: string;
  name?: string | undefined;
  phase?: string | undefined;
  at?: number | undefined;
  duration?: number | undefined;
  steps?: readonly StepInput[] | undefined;
}

export const GROUP_TYPES = ['serial', 'parallel'] as const;
export type GroupType = (typeof GROUP_TYPES)[number];
/** A pause inside a serial group. */
export const SUSPEND_TYPE = 'suspend';

/** The shape of the timeline: which fault belongs to which group, in order; times come from the flat faults. */
export type WorkflowNode =
  | { kind: 'fault'; name: string }
  /** A group spans startMs..endMs of the run (a serial group may open or close with a pause). */
  | { kind: GroupType; name: string; startMs: number; endMs: number; children: WorkflowNode[] };

export interface FlatFault<T> {
  /** The entry without `steps`, with `at` and `duration` set for steps of a group (top-level faults keep their own timing). */
  fault: T;
  /** Where the entry sits in the scenario document, e.g. `faults.1.steps.0`. */
  path: string;
}

export interface FlattenResult<T> {
  faults: Array<FlatFault<T>>;
  /** One node per top-level entry. */
  workflow: WorkflowNode[];
  problems: Array<{ field: string; message: string }>;
}

function isGroup(type: string): type is GroupType {
  return (GROUP_TYPES as readonly string[]).includes(type);
}

/**
 * Lay the entries flat. `phases` resolves `phase:` timing of groups (a top-level
 * fault keeps its phase; the caller checks it). Problems name their path.
 */
export function flattenFaultSteps<T extends StepInput>(
  entries: readonly T[],
  phases: ReadonlyArray<{ name: string; duration: number }>,
  root = 'faults',
): FlattenResult<Omit<T, 'steps'>> {
  const phaseStart = new Map<string, { startMs: number; endMs: number }>();
  let clock = 0;
  for (const phase of phases) {
    phaseStart.set(phase.name, { startMs: clock, endMs: clock + phase.duration });
    clock += phase.duration;
  }
  const faults: Array<FlatFault<Omit<T, 'steps'>>> = [];
  const groupNames = new Set<string>();
  const problems: FlattenResult<T>['problems'] = [];

  /** Lay out one step starting at `startMs`; `untilMs` is where an open-ended parallel child ends. Returns its node and end. */
  const place = (entry: T, path: string, startMs: number, untilMs: number | undefined, inSerial: boolean): { node?: WorkflowNode; endMs: number } => {
    if (entry.type === SUSPEND_TYPE) {
      if (!inSerial) problems.push({ field: `${path}.type`, message: 'a suspend step belongs in a serial group' });
      if (entry.duration === undefined) problems.push({ field: `${path}.duration`, message: 'a suspend step needs a duration' });
      return { endMs: startMs + (entry.duration ?? 0) };
    }
    if (isGroup(entry.type)) return placeGroup(entry, path, startMs, untilMs ?? (entry.duration === undefined ? undefined : startMs + entry.duration));
    let duration = entry.duration;
    if (duration === undefined) {
      if (untilMs === undefined || inSerial) {
        problems.push({ field: `${path}.duration`, message: inSerial ? 'a step of a serial group needs a duration' : 'needs a duration (the group has no fixed length)' });
        duration = 0;
      } else duration = untilMs - startMs;
    }
    const { steps: _steps, phase: _phase, ...fields } = entry;
    faults.push({ fault: { ...fields, at: startMs, duration } as Omit<T, 'steps'>, path });
    return { node: { kind: 'fault', name: entry.name ?? '' }, endMs: startMs + duration };
  };

  const placeGroup = (group: T, path: string, startMs: number, fixedEndMs: number | undefined): { node: WorkflowNode; endMs: number } => {
    const kind = group.type as GroupType;
    const steps = group.steps ?? [];
    const children: WorkflowNode[] = [];
    let endMs = startMs;
    if (steps.length === 0) problems.push({ field: `${path}.steps`, message: 'must hold at least one step' });
    steps.forEach((step, i) => {
      const at = `${path}.steps.${i}`;
      if (step.phase !== undefined) problems.push({ field: `${at}.phase`, message: 'a step inside a group is timed by its group; use at (parallel) or a suspend step (serial)' });
      if (kind === 'serial') {
        if (step.at !== undefined) problems.push({ field: `${at}.at`, message: 'steps of a serial group run one after another; use a suspend step for a pause' });
        const placed = place(step as T, at, endMs, undefined, true);
        if (placed.node) children.push(placed.node);
        endMs = placed.endMs;
      } else {
        const placed = place(step as T, at, startMs + (step.at ?? 0), fixedEndMs, false);
        if (placed.node) children.push(placed.node);
        endMs = Math.max(endMs, placed.endMs);
      }
    });
    if (fixedEndMs !== undefined && endMs > fixedEndMs) {
      problems.push({ field: path, message: `its steps take ${endMs - startMs} ms, longer than the ${fixedEndMs - startMs} ms it is given` });
    }
    const name = group.name ?? '';
    if (groupNames.has(name)) problems.push({ field: `${path}.name`, message: `'${name}' is used twice` });
    groupNames.add(name);
    const end = Math.max(endMs, fixedEndMs ?? endMs);
    return { node: { kind, name, startMs, endMs: end, children }, endMs: end };
  };

  const workflow: WorkflowNode[] = [];
  entries.forEach((entry, i) => {
    const path = `${root}.${i}`;
    if (entry.type === SUSPEND_TYPE) {
      problems.push({ field: `${path}.type`, message: 'a suspend step belongs in a serial group' });
      return;
    }
    if (!isGroup(entry.type)) {
      const { steps: _steps, ...fields } = entry;
      faults.push({ fault: fields, path });
      workflow.push({ kind: 'fault', name: entry.name ?? '' });
      return;
    }
    let startMs = entry.at ?? 0;
    let fixedEndMs = entry.duration === undefined ? undefined : startMs + entry.duration;
    if (entry.phase !== undefined) {
      const phase = phaseStart.get(entry.phase);
      if (!phase) problems.push({ field: `${path}.phase`, message: `no phase named '${entry.phase}'` });
      if (entry.at !== undefined || entry.duration !== undefined) problems.push({ field: path, message: 'give either phase or at/duration, not both' });
      startMs = phase?.startMs ?? 0;
      fixedEndMs = phase?.endMs;
    } else if (entry.at === undefined) {
      problems.push({ field: path, message: 'a group needs a phase or an at' });
    }
    workflow.push(placeGroup(entry, path, startMs, fixedEndMs).node);
  });
  const faultNames = new Set(faults.map((entry) => entry.fault.name));
  for (const name of groupNames) if (faultNames.has(name)) problems.push({ field: root, message: `'${name}' names both a group and a fault` });
  return { faults, workflow, problems };
}
