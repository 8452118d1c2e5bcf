// Pass/fail criteria in k6's spelling ('p(95)<500', 'rate<0.01'), so a
// scenario reads like the k6 script a team may already have. Parsing happens
// once when the scenario is loaded (a typo fails the run before any traffic,
// with the string and what is wrong); evaluation is a pure function over
// whatever aggregates the caller computed (the recorder's distribution gives
// `p`, `avg`, `min`, `max`, `count`; its summary gives the failure `rate`).

export class ThresholdError extends Error {
  readonly code = 'FL_BAD_THRESHOLD';
  readonly source: string;

  constructor(source: string, reason: string) {
    super(`invalid threshold ${JSON.stringify(source)}: ${reason}`);
    this.name = 'ThresholdError';
    this.source = source;
  }
}

export type ThresholdAggregation =
  | { kind: 'percentile'; q: number }
  | { kind: 'avg' | 'min' | 'max' | 'med' | 'rate' | 'count' | 'value' };

export type ThresholdOperator = '<' | '<=' | '>' | '>=' | '==' | '!=';

export interface Threshold {
  /** As written. */
  source: string;
  /** Canonical spelling, e.g. 'p(99.9)<=1000'. */
  expression: string;
  aggregation: ThresholdAggregation;
  operator: ThresholdOperator;
  value: number;
}

/** Aggregates of one metric; supply the ones its thresholds use. `p(q)` takes q in 0..100. */
export interface ThresholdValues {
  p: (q: number) => number;
  avg?: number;
  min?: number;
  max?: number;
  rate?: number;
  count?: number;
  value?: number;
}

export interface ThresholdOutcome {
  ok: boolean;
  actual: number;
  expression: string;
}

const SHAPE = /^\s*([a-z]+)\s*(?:\(\s*([^)]*?)\s*\))?\s*(===|==|!=|<=|>=|<|>)\s*(.*?)\s*$/;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;
const PLAIN = new Set(['avg', 'min', 'max', 'med', 'rate', 'count', 'value']);

export function parseThreshold(source: string): Threshold {
  if (typeof source !== 'string') throw new ThresholdError(String(source), 'must be a string such as "p(95)<500"');
  if (source.trim() === '') throw new ThresholdError(source, 'is empty');
  const match = SHAPE.exec(source);
  if (match === null) {
    throw new ThresholdError(source, 'expected <aggregation><operator><number>, e.g. "p(95)<500", "rate<0.01", "count==0"');
  }
  const [, name = '', argument, rawOperator = '', rawValue = ''] = match;
  let aggregation: ThresholdAggregation;
  if (name === 'p') {
    if (argument === undefined) throw new ThresholdError(source, 'a percentile needs its argument in parentheses, e.g. p(95)');
    if (!NUMBER.test(argument)) throw new ThresholdError(source, `percentile ${JSON.stringify(argument)} is not a number`);
    const q = Number(argument);
    if (q < 0 || q > 100) throw new ThresholdError(source, `percentile ${q} is outside 0..100`);
    aggregation = { kind: 'percentile', q };
  } else if (PLAIN.has(name)) {
    if (argument !== undefined) throw new ThresholdError(source, `${name} takes no argument`);
    aggregation = { kind: name as 'avg' | 'min' | 'max' | 'med' | 'rate' | 'count' | 'value' };
  } else {
    throw new ThresholdError(source, `unknown aggregation "${name}" (use p(N), avg, min, max, med, rate, count or value)`);
  }
  if (rawValue === '') throw new ThresholdError(source, `nothing to compare with after "${rawOperator}"`);
  if (!NUMBER.test(rawValue)) throw new ThresholdError(source, `${JSON.stringify(rawValue)} is not a number`);
  const operator: ThresholdOperator = rawOperator === '===' ? '==' : (rawOperator as ThresholdOperator);
  const value = Number(rawValue);
  const head = aggregation.kind === 'percentile' ? `p(${aggregation.q})` : aggregation.kind;
  return { source, expression: `${head}${operator}${value}`, aggregation, operator, value };
}

/** Parse every threshold and report all bad ones at once. */
export function parseThresholds(sources: readonly string[]): Threshold[] {
  const parsed: Threshold[] = [];
  const errors: ThresholdError[] = [];
  for (const source of sources) {
    try {
      parsed.push(parseThreshold(source));
    } catch (error) {
      if (!(error instanceof ThresholdError)) throw error;
      errors.push(error);
    }
  }
  const [first] = errors;
  if (first !== undefined && errors.length === 1) throw first;
  if (errors.length > 1) {
    const combined = new ThresholdError(errors.map((e) => e.source).join(', '), '');
    combined.message = `invalid thresholds: ${errors.map((e) => e.message.replace(/^invalid threshold /, '')).join('; ')}`;
    throw combined;
  }
  return parsed;
}

export function evaluateThreshold(threshold: Threshold | string, values: ThresholdValues): ThresholdOutcome {
  const parsed = typeof threshold === 'string' ? parseThreshold(threshold) : threshold;
  const actual = actualOf(parsed, values);
  return { ok: compare(actual, parsed.operator, parsed.value), actual, expression: parsed.expression };
}

function actualOf(threshold: Threshold, values: ThresholdValues): number {
  const { aggregation } = threshold;
  if (aggregation.kind === 'percentile') return values.p(aggregation.q);
  if (aggregation.kind === 'med') return values.p(50);
  const actual = values[aggregation.kind];
  if (actual === undefined) {
    throw new ThresholdError(threshold.source, `this metric has no "${aggregation.kind}" value to compare`);
  }
  return actual;
}

function compare(actual: number, operator: ThresholdOperator, value: number): boolean {
  if (Number.isNaN(actual)) return false;
  switch (operator) {
    case '<':
      return actual < value;
    case '<=':
      return actual <= value;
    case '>':
      return actual > value;
    case '>=':
      return actual >= value;
    case '==':
      return actual === value;
    case '!=':
      return actual !== value;
  }
}
