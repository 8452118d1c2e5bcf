// Just enough PromQL reading for the SLO tooling: find the vector selectors
// (metric name and label matchers) and grouping labels in an SLI query, and
// decide whether a concrete series matches a selector. The conventions test
// uses it to prove every metric and label a spec names exists; the promtool
// fixtures and the workshop checker use it to know which series a request
// increments and which query counts it. A full PromQL parser would be a Go
// dependency (promtool parses the generated rules for real in the tests).

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  label: string;
  op: MatchOp;
  value: string;
}

export interface Selector {
  /** Undefined when the selector names no metric (`{__name__=~"..."}` or only labels). */
  name: string | undefined;
  matchers: LabelMatcher[];
}

export interface QueryNames {
  selectors: Selector[];
  /** Labels named in by(...), without(...), on(...), ignoring(...), group_left(...), group_right(...). */
  groupingLabels: string[];
}

/** A concrete series: a metric name and its labels (an absent label reads as ''). */
export interface Series {
  name: string;
  labels: Readonly<Record<string, string>>;
}

export class PromqlReadError extends Error {
  readonly code = 'FL_SLO_PROMQL';
  constructor(message: string) {
    super(message);
    this.name = 'PromqlReadError';
  }
}

/** Sloth's placeholder for the window of a range selector: `rate(x[{{.window}}])`. */
export const WINDOW_PLACEHOLDER = '{{.window}}';
const PLACEHOLDER_PATTERN = /\{\{\s*\.window\s*\}\}/g;

/** Put a window (Prometheus duration) where the query says `{{.window}}`. */
export function renderWindow(query: string, window: string): string {
  return query.replace(PLACEHOLDER_PATTERN, window);
}

export function hasWindowPlaceholder(query: string): boolean {
  return new RegExp(PLACEHOLDER_PATTERN.source).test(query);
}

type Token = { kind: 'ident' | 'string' | 'number' | 'punct'; text: string; at: number };

const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set([...GROUPING, 'and', 'or', 'unless', 'bool', 'offset', 'atan2']);
const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);
const PUNCT = ['!=', '!~', '=~', '==', '>=', '<=', '(', ')', '{', '}', '[', ']', ',', '=', '>', '<', '+', '-', '*', '/', '%', '^', ':', '@'];

function tokenize(query: string): Token[] {
  const text = renderWindow(query, '5m');
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i += 1;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      const start = i;
      let value = '';
      i += 1;
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\' && c !== '`') {
          const next = text[i + 1];
          value += next === 'n' ? '\n' : next === 't' ? '\t' : (next ?? '');
          i += 2;
        } else {
          value += text[i];
          i += 1;
        }
      }
      if (i >= text.length) throw new PromqlReadError(`unterminated string at offset ${start}`);
      i += 1;
      tokens.push({ kind: 'string', text: value, at: start });
      continue;
    }
    if (/[0-9.]/.test(c)) {
      const match = /^[0-9.][0-9a-zA-Z.+]*/.exec(text.slice(i)) as RegExpExecArray;
      tokens.push({ kind: 'number', text: match[0], at: i });
      i += match[0].length;
      continue;
    }
    if (/[a-zA-Z_:]/.test(c)) {
      const match = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(text.slice(i)) as RegExpExecArray;
      tokens.push({ kind: 'ident', text: match[0], at: i });
      i += match[0].length;
      continue;
    }
    const punct = PUNCT.find((p) => text.startsWith(p, i));
    if (punct === undefined) throw new PromqlReadError(`unexpected '${c}' at offset ${i}`);
    tokens.push({ kind: 'punct', text: punct, at: i });
    i += punct.length;
  }
  return tokens;
}

/** The selectors and grouping labels of a PromQL expression. */
export function readQuery(query: string): QueryNames {
  const tokens = tokenize(query);
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];
  let i = 0;
  const peek = (offset = 0) => tokens[i + offset];

  const readMatchers = (): LabelMatcher[] => {
    const open = peek() as Token;
    i += 1;
    const matchers: LabelMatcher[] = [];
    while (peek() !== undefined && peek()?.text !== '}') {
      const label = peek();
      const op = peek(1);
      const value = peek(2);
      if (label?.kind !== 'ident' && label?.kind !== 'string') throw new PromqlReadError(`expected a label name at offset ${label?.at ?? open.at}`);
      if (op === undefined || !['=', '!=', '=~', '!~'].includes(op.text)) throw new PromqlReadError(`expected =, !=, =~ or !~ after '${label.text}'`);
      if (value?.kind !== 'string') throw new PromqlReadError(`expected a quoted value after '${label.text}${op.text}'`);
      matchers.push({ label: label.text, op: op.text as MatchOp, value: value.text });
      i += 3;
      if (peek()?.text === ',') i += 1;
    }
    if (peek()?.text !== '}') throw new PromqlReadError(`unclosed '{' at offset ${open.at}`);
    i += 1;
    return matchers;
  };

  while (i < tokens.length) {
    const token = tokens[i] as Token;
    if (token.kind === 'punct' && token.text === '[') {
      while (i < tokens.length && tokens[i]?.text !== ']') i += 1;
      i += 1;
      continue;
    }
    if (token.kind === 'punct' && token.text === '{') {
      const matchers = readMatchers();
      const name = matchers.find((m) => m.label === '__name__' && m.op === '=')?.value;
      selectors.push({ name, matchers: matchers.filter((m) => !(m.label === '__name__' && m.op === '=')) });
      continue;
    }
    if (token.kind !== 'ident') {
      i += 1;
      continue;
    }
    const next = peek(1);
    if (GROUPING.has(token.text) && next?.text === '(') {
      i += 2;
      while (i < tokens.length && tokens[i]?.text !== ')') {
        const label = tokens[i] as Token;
        if (label.kind === 'ident') groupingLabels.push(label.text);
        i += 1;
      }
      i += 1;
      continue;
    }
    if (next?.text === '(' || KEYWORDS.has(token.text) || (AGGREGATIONS.has(token.text) && (next?.text === 'by' || next?.text === 'without'))) {
      i += 1;
      continue;
    }
    i += 1;
    const matchers = peek()?.text === '{' ? readMatchers() : [];
    selectors.push({ name: token.text, matchers });
  }
  return { selectors, groupingLabels };
}

function regexFor(value: string): RegExp {
  return new RegExp(`^(?:${value})$`, 's');
}

export function matcherMatches(matcher: LabelMatcher, labelValue: string): boolean {
  switch (matcher.op) {
    case '=':
      return labelValue === matcher.value;
    case '!=':
      return labelValue !== matcher.value;
    case '=~':
      return regexFor(matcher.value).test(labelValue);
    case '!~':
      return !regexFor(matcher.value).test(labelValue);
  }
}

/** True when the series is one the selector selects. */
export function selectorMatches(selector: Selector, series: Series): boolean {
  if (selector.name !== undefined && selector.name !== series.name) return false;
  return selector.matchers.every((m) => matcherMatches(m, m.label === '__name__' ? series.name : (series.labels[m.label] ?? '')));
}

/** `name{a="1",b="2"}` with labels sorted, in the series notation promtool reads. */
export function formatSeries(series: Series): string {
  const labels = Object.entries(series.labels)
    .filter(([, value]) => value !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([label, value]) => `${label}=${JSON.stringify(value)}`);
  return `${series.name}{${labels.join(',')}}`;
}

/** A selector written back as PromQL, matchers in the given order. */
export function formatSelector(name: string, matchers: readonly LabelMatcher[]): string {
  return `${name}{${matchers.map((m) => `${m.label}${m.op}${JSON.stringify(m.value)}`).join(',')}}`;
}
