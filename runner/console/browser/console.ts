// The console page's script: reads what the lab is (/api/describe), follows
// the live figures over server-sent events (/api/live), and turns clicks into
// the API's JSON requests. It draws the topology as SVG and the charts with
// uPlot (loaded by the page as a global), and keeps at most ten minutes of
// points so an eight-hour session stays flat in memory.

import type uPlotType from 'uplot';
import { drawTopology, type TopologyService } from './topology.ts';

declare const uPlot: typeof uPlotType;

interface EdgeFigures { caller: string; dependency: string; rate: number; errorRatio: number; p95Ms: number | null; retriesPerSecond: number; breaker?: string; ejected: string[] }
interface ServiceFigures { name: string; rate: number; errorRatio: number; p95Ms: number | null; instances: Array<{ id: string; state: string }> }
interface SloFigures {
  id: string;
  service: string;
  objective: number | null;
  budgetLeft: number | null;
  windows: Array<{ window: string; burnRate: number | null }>;
  tiers: Array<{ tier: string; severity: string; factor: number; longWindow: string; shortWindow: string; burning: boolean }>;
}
interface LiveFigures {
  timeMs: number;
  monitoring: boolean;
  problem?: string;
  services: ServiceFigures[];
  edges: EdgeFigures[];
  slos: SloFigures[];
  alerts: Array<{ name: string; state: string; severity: string; labels: Record<string, string> }>;
  notifications: Array<{ name: string; status: string; severity: string; at: number }>;
  /** The background load's recent seconds of intended start (live-state.ts LoadSecond). */
  load?: LoadSecond[];
}
interface LoadSecond { t: number; ok: number; failed: number; dropped: number; p50: number; p95: number; p99: number }
interface Change { timeMs: number; kind: string; text: string }
interface Preset { id: string; title: string; group: string; grade?: string; targets: string[] }
interface ActiveFault { name: string; title?: string; target: string; source?: string; type?: string }
interface Description {
  session: string;
  services: TopologyService[];
  presets: Preset[];
  journeys: Record<string, number>;
  monitoring: { prometheus?: string; alertmanager?: string; note?: string };
}

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
};
const escape = (text: string): string => text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c] as string);
const pct = (ratio: number | null | undefined): string => (ratio === null || ratio === undefined ? '–' : `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)}%`);
const fixed = (value: number | null | undefined, digits = 1): string => (value === null || value === undefined ? '–' : value.toFixed(digits));

/** A JSON request to the API; a refusal throws its problem's detail. */
async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
  if (!response.ok) throw new Error((parsed as { detail?: string } | undefined)?.detail ?? `${response.status} ${response.statusText}`);
  return parsed as T;
}

function showError(id: string, error: unknown): void {
  $(id).textContent = error instanceof Error ? error.message : String(error);
}

// Tabs.
for (const button of document.querySelectorAll<HTMLButtonElement>('nav.tabs button')) {
  button.addEventListener('click', () => {
    for (const other of document.querySelectorAll<HTMLButtonElement>('nav.tabs button')) other.setAttribute('aria-selected', String(other === button));
    for (const panel of document.querySelectorAll<HTMLElement>('section.panel')) panel.classList.toggle('active', panel.id === `panel-${button.dataset.tab ?? ''}`);
    if (button.dataset.tab === 'charts') for (const chart of charts) chart.resize();
    if (button.dataset.tab === 'patterns') void loadPolicies();
    if (button.dataset.tab === 'dashboards') void showDashboards();
    if (button.dataset.tab === 'scenarios') void loadScenarios();
  });
}

const description = await api<Description>('GET', '/api/describe');
$('session').textContent = description.session;
let activeFaults: ActiveFault[] = [];

// Faults.
const presetSelect = $<HTMLSelectElement>('fault-preset');
const targetSelect = $<HTMLSelectElement>('fault-target');
const groups = new Map<string, Preset[]>();
for (const preset of description.presets) groups.set(preset.group, [...(groups.get(preset.group) ?? []), preset]);
presetSelect.innerHTML = [...groups.entries()]
  .map(([group, presets]) => `<optgroup label="${escape(group)}">${presets.map((p) => `<option value="${escape(p.id)}">${escape(p.title)}</option>`).join('')}</optgroup>`)
  .join('');
const fillTargets = (): void => {
  const preset = description.presets.find((p) => p.id === presetSelect.value);
  targetSelect.innerHTML = (preset?.targets ?? []).map((t) => `<option>${escape(t)}</option>`).join('');
};
presetSelect.addEventListener('change', fillTargets);
fillTargets();
$('fault-form').addEventListener('submit', (event) => {
  event.preventDefault();
  $('fault-error').textContent = '';
  api('POST', '/api/faults', { preset: presetSelect.value, target: targetSelect.value }).then(refreshFaults, (error: unknown) => showError('fault-error', error));
});
$('reset-all').addEventListener('click', () => {
  api('POST', '/api/reset').then(refreshFaults, (error: unknown) => showError('fault-error', error));
});

async function refreshFaults(): Promise<void> {
  const state = await api<{ active: ActiveFault[] }>('GET', '/api/faults');
  activeFaults = state.active;
  const list = $('active-faults');
  list.innerHTML = activeFaults.length === 0 ? '<li class="muted">no fault active</li>' : activeFaults.map((f) => `<li data-fault="${escape(f.name)}"><b>${escape(f.title ?? f.type ?? f.name)}</b> on ${escape(f.target)} <span class="muted">${escape(f.source ?? '')}</span> <button type="button" data-remove="${escape(f.name)}">remove</button></li>`).join('');
  for (const button of list.querySelectorAll<HTMLButtonElement>('button[data-remove]')) {
    button.addEventListener('click', () => {
      api('DELETE', `/api/faults/${encodeURIComponent(button.dataset.remove ?? '')}`).then(refreshFaults, (error: unknown) => showError('fault-error', error));
    });
  }
}

// Game day.
$('game-day-presets').innerHTML = description.presets
  .map((p) => `<label><input type="checkbox" name="game-day-preset" value="${escape(p.id)}" ${/100%|kill|1 s latency|reset/i.test(p.title) ? 'checked' : ''}> ${escape(p.title)}</label>`)
  .join('<br>');
$('game-day-form').addEventListener('submit', (event) => {
  event.preventDefault();
  $('fault-error').textContent = '';
  const presets = [...document.querySelectorAll<HTMLInputElement>('input[name="game-day-preset"]:checked')].map((i) => i.value);
  const lengthMs = Number($<HTMLInputElement>('game-day-length').value) * 1_000;
  api('POST', '/api/game-day', {
    seed: Number($<HTMLInputElement>('game-day-seed').value),
    presets,
    meanInterval: Number($<HTMLInputElement>('game-day-gap').value) * 1_000,
    faultDuration: { min: Math.max(1_000, Math.round(lengthMs / 2)), max: lengthMs },
  }).then(refreshGameDay, (error: unknown) => showError('fault-error', error));
});
$('game-day-stop').addEventListener('click', () => {
  api('DELETE', '/api/game-day').then(refreshGameDay, (error: unknown) => showError('fault-error', error));
});
async function refreshGameDay(): Promise<void> {
  const state = await api<{ running: boolean; seed?: number; applied?: number; planned?: number; next?: { atMs: number; preset: string; target: string } | null }>('GET', '/api/game-day');
  $('game-day-state').textContent = state.running
    ? `running, seed ${state.seed ?? '?'}: ${state.applied ?? 0} of ${state.planned ?? '?'} faults so far${state.next ? `; next: ${state.next.preset} on ${state.next.target}` : ''}`
    : 'not running';
  $('game-day-state').dataset.running = String(state.running);
}

// Load.
$('mix-form').innerHTML = Object.entries(description.journeys)
  .map(([journey, weight]) => `<label>${escape(journey)} <input type="number" min="0" step="1" name="${escape(journey)}" value="${weight}"></label>`)
  .join('') + '<button type="submit">Set mix</button>';
$('load-form').addEventListener('submit', (event) => {
  event.preventDefault();
  api('POST', '/api/load', { rate: Number($<HTMLInputElement>('load-rate').value) }).then(refreshLoad, (error: unknown) => showError('fault-error', error));
});
$('load-stop').addEventListener('click', () => {
  api('POST', '/api/load', { rate: 0 }).then(refreshLoad, (error: unknown) => showError('fault-error', error));
});
$('mix-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const mix: Record<string, number> = {};
  for (const input of $('mix-form').querySelectorAll<HTMLInputElement>('input')) mix[input.name] = Number(input.value);
  api('POST', '/api/load', { mix }).then(refreshLoad, (error: unknown) => showError('fault-error', error));
});
async function refreshLoad(): Promise<void> {
  const state = await api<{ rate: number; started?: number; running?: boolean }>('GET', '/api/load');
  $('load-state').textContent = state.rate > 0 ? `${state.rate} journeys/s, ${state.started ?? 0} started` : `stopped (${state.started ?? 0} journeys so far)`;
  $('load-state').dataset.rate = String(state.rate);
}

// Live figures.
const changesSeen: Change[] = [];
function showChanges(fresh: Change[]): void {
  changesSeen.push(...fresh);
  if (changesSeen.length > 200) changesSeen.splice(0, changesSeen.length - 200);
  $('activity').innerHTML = changesSeen
    .slice(-12)
    .reverse()
    .map((c) => `<li><span class="muted">${new Date(c.timeMs).toLocaleTimeString()}</span> ${escape(c.text)}</li>`)
    .join('');
}

function showSlos(figures: LiveFigures): void {
  if (!figures.monitoring) {
    $('slos').innerHTML = `<span class="muted">${escape(description.monitoring.note ?? 'No Prometheus in this session: install prometheus and prometheus-alertmanager to see SLOs and alerts.')}</span>`;
    return;
  }
  if (figures.slos.length === 0) {
    $('slos').textContent = figures.problem ?? 'no SLO has data yet';
    return;
  }
  const windows = [...new Set(figures.slos.flatMap((s) => s.windows.map((w) => w.window)))];
  const rows = figures.slos.map((slo) => {
    const cells = windows.map((w) => {
      const burn = slo.windows.find((x) => x.window === w)?.burnRate ?? null;
      const over = slo.tiers.some((t) => (t.longWindow === w || t.shortWindow === w) && burn !== null && burn > t.factor);
      return `<td class="${over ? 'burning' : ''}" data-window="${w}">${fixed(burn, burn !== null && burn < 10 ? 2 : 0)}</td>`;
    });
    const tiers = slo.tiers.map((t) => `<span class="${t.burning ? 'burning' : 'muted'}" data-tier="${escape(t.tier)}" title="${t.longWindow} and ${t.shortWindow} over ${t.factor}x">${escape(t.tier)}${t.burning ? ' (burning)' : ''}</span>`).join(' ');
    const objective = slo.objective === null ? '–' : `${Number((slo.objective * 100).toFixed(3))}%`;
    const left = slo.budgetLeft === null ? '–' : slo.budgetLeft < 0 ? `spent (${pct(slo.budgetLeft)})` : pct(slo.budgetLeft);
    return `<tr data-slo="${escape(slo.id)}"><td>${escape(slo.id)}</td><td>${objective}</td><td class="${slo.budgetLeft !== null && slo.budgetLeft < 0 ? 'burning' : ''}">${left}</td>${cells.join('')}<td>${tiers}</td></tr>`;
  });
  $('slos').innerHTML = `<table class="compact"><thead><tr><th>SLO</th><th>objective</th><th>budget left</th>${windows.map((w) => `<th>burn ${w}</th>`).join('')}<th>alert tiers (burning?)</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function showAlerts(figures: LiveFigures): void {
  const firing = figures.alerts.map((a) => `<li class="${a.state === 'firing' ? 'burning' : ''}" data-alert="${escape(a.name)}" data-state="${escape(a.state)}">${escape(a.name)} <b>${escape(a.state)}</b> ${escape(a.severity)} ${escape(a.labels.slo_tier ?? '')}</li>`);
  const sent = figures.notifications.slice(0, 8).map((n) => `<li class="muted">${new Date(n.at).toLocaleTimeString()} Alertmanager: ${escape(n.name)} ${escape(n.status)} (${escape(n.severity)})</li>`);
  $('alerts').innerHTML = firing.length + sent.length === 0 ? '<span class="muted">none</span>' : `<ul>${firing.join('')}${sent.join('')}</ul>`;
}

// Charts: ten minutes of the live figures, with the session's changes marked.
const WINDOW_POINTS = 600;
interface LiveChart { resize(): void; push(figures: LiveFigures): void }
const charts: LiveChart[] = [];
const edge = (f: LiveFigures, caller: string, dependency: string) => f.edges.find((e) => e.caller === caller && e.dependency === dependency);
const service = (f: LiveFigures, name: string) => f.services.find((s) => s.name === name);
const burn = (f: LiveFigures, id: string, window: string) => f.slos.find((s) => s.id === id)?.windows.find((w) => w.window === window)?.burnRate ?? null;
const BREAKER_LEVEL: Record<string, number> = { closed: 0, half_open: 0.5, open: 1 };

/** A uPlot chart in a card, with the session's changes marked and an optional threshold line; x is in epoch seconds. */
function chartPlot(title: string, unit: string, series: Array<{ label: string; color: string }>, threshold?: { value: number; label: string }, note?: string): { plot: uPlotType; box: HTMLDivElement } {
  const box = document.createElement('div');
  box.className = 'card chart';
  box.innerHTML = `<h2>${escape(title)}</h2>${note ? `<p class="muted">${escape(note)}</p>` : ''}`;
  box.dataset.chart = title;
  $('charts').append(box);
  const marks = {
    hooks: {
      draw: [
        (u: uPlotType) => {
          const ctx = u.ctx;
          ctx.save();
          for (const change of changesSeen) {
            const x = Math.round(u.valToPos(change.timeMs / 1_000, 'x', true));
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
            ctx.strokeStyle = change.kind === 'fault' || change.kind === 'game-day' ? '#be123c' : change.kind === 'pattern' ? '#7c3aed' : '#0369a1';
            ctx.setLineDash([4, 3]);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
          }
          if (threshold) {
            const y = Math.round(u.valToPos(threshold.value, 'y', true));
            if (y >= u.bbox.top && y <= u.bbox.top + u.bbox.height) {
              ctx.strokeStyle = '#be123c';
              ctx.setLineDash([2, 2]);
              ctx.beginPath();
              ctx.moveTo(u.bbox.left, y);
              ctx.lineTo(u.bbox.left + u.bbox.width, y);
              ctx.stroke();
              ctx.fillStyle = '#be123c';
              ctx.fillText(threshold.label, u.bbox.left + 4, y - 4);
            }
          }
          ctx.restore();
        },
      ],
    },
  };
  const plot = new uPlot(
    {
      width: Math.max(300, box.clientWidth - 24),
      height: 200,
      scales: { x: { time: true } },
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: false }))],
      axes: [{}, { label: unit, size: 60 }],
      plugins: [marks],
    },
    [[], ...series.map(() => [])] as unknown as uPlotType.AlignedData,
    box,
  );
  return { plot, box };
}

/** A chart of one figure per reading, ten minutes of them. */
function liveChart(title: string, unit: string, series: Array<{ label: string; color: string; value: (f: LiveFigures) => number | null }>, threshold?: { value: number; label: string }): void {
  const { plot, box } = chartPlot(title, unit, series, threshold);
  const data: Array<Array<number | null>> = [[], ...series.map(() => [])];
  charts.push({
    resize: () => plot.setSize({ width: Math.max(300, box.clientWidth - 24), height: 200 }),
    push(figures) {
      (data[0] as number[]).push(figures.timeMs / 1_000);
      series.forEach((s, i) => (data[i + 1] as Array<number | null>).push(s.value(figures)));
      if ((data[0] as number[]).length > WINDOW_POINTS) for (const column of data) column.shift();
      plot.setData(data as uPlotType.AlignedData);
    },
  });
}

liveChart('Requests / s', 'req/s', [
  { label: 'gateway', color: '#2563eb', value: (f) => service(f, 'gateway')?.rate ?? null },
  { label: 'checkout', color: '#16a34a', value: (f) => service(f, 'checkout')?.rate ?? null },
  { label: 'payment → bank', color: '#d97706', value: (f) => edge(f, 'payment', 'bank')?.rate ?? null },
]);
liveChart('Errors', '%', [
  { label: 'gateway 5xx', color: '#dc2626', value: (f) => (service(f, 'gateway')?.errorRatio ?? 0) * 100 },
  { label: 'checkout 5xx', color: '#9333ea', value: (f) => (service(f, 'checkout')?.errorRatio ?? 0) * 100 },
  { label: 'payment → bank failed calls', color: '#d97706', value: (f) => (edge(f, 'payment', 'bank')?.errorRatio ?? 0) * 100 },
]);
liveChart('Latency p95', 'ms', [
  { label: 'gateway', color: '#2563eb', value: (f) => service(f, 'gateway')?.p95Ms ?? null },
  { label: 'checkout', color: '#16a34a', value: (f) => service(f, 'checkout')?.p95Ms ?? null },
  { label: 'checkout → payment', color: '#d97706', value: (f) => edge(f, 'checkout', 'payment')?.p95Ms ?? null },
]);
liveChart('Retries and breaker', 'per s / state', [
  { label: 'retries checkout → payment /s', color: '#0891b2', value: (f) => edge(f, 'checkout', 'payment')?.retriesPerSecond ?? null },
  { label: 'retries payment → bank /s', color: '#4f46e5', value: (f) => edge(f, 'payment', 'bank')?.retriesPerSecond ?? null },
  { label: 'payment → bank breaker (0 closed, 0.5 half open, 1 open)', color: '#be123c', value: (f) => BREAKER_LEVEL[edge(f, 'payment', 'bank')?.breaker ?? ''] ?? null },
]);
liveChart('Checkout availability: burn rate', 'x budget', [
  { label: '5m window (lab scale)', color: '#dc2626', value: (f) => burn(f, 'checkout-availability', '5m') },
  { label: '1h window (lab scale)', color: '#9333ea', value: (f) => burn(f, 'checkout-availability', '1h') },
], { value: 14.4, label: 'page: 14.4x' });

/**
 * The report's first two charts (issue 10), live, from the background load: per second of
 * intended start, so a request is charged to the second the schedule wanted it in, and a second
 * is redrawn while its slow requests end (each reading sends the recent seconds again).
 */
function loadChart(title: string, unit: string, note: string, series: Array<{ label: string; color: string; value: (s: LoadSecond) => number | null }>): void {
  const { plot, box } = chartPlot(title, unit, series, undefined, note);
  const seconds = new Map<number, LoadSecond>();
  charts.push({
    resize: () => plot.setSize({ width: Math.max(300, box.clientWidth - 24), height: 200 }),
    push(figures) {
      if (!figures.load?.length) return;
      for (const second of figures.load) seconds.set(second.t, second);
      const newest = Math.max(...seconds.keys());
      for (const t of seconds.keys()) if (t <= newest - WINDOW_POINTS) seconds.delete(t);
      const ts = [...seconds.keys()].sort((a, b) => a - b);
      plot.setData([ts, ...series.map((s) => ts.map((t) => s.value(seconds.get(t) as LoadSecond)))] as unknown as uPlotType.AlignedData);
    },
  });
}
// The report's colours (report-html/model.ts COLOR).
loadChart('Requests by outcome (the background load)', 'req/s', 'Per second of intended start: a request is charged to the second the schedule wanted it in.', [
  { label: 'ok', color: '#16a34a', value: (s) => s.ok },
  { label: 'failed', color: '#dc2626', value: (s) => s.failed },
  { label: 'dropped', color: '#9333ea', value: (s) => s.dropped },
]);
loadChart('Latency from the intended start (the background load)', 'ms', 'From when the schedule wanted each request to start, queueing included: what its users waited.', [
  { label: 'p50', color: '#2563eb', value: (s) => (s.ok + s.failed > 0 ? s.p50 : null) },
  { label: 'p95', color: '#d97706', value: (s) => (s.ok + s.failed > 0 ? s.p95 : null) },
  { label: 'p99', color: '#dc2626', value: (s) => (s.ok + s.failed > 0 ? s.p99 : null) },
]);

let ticks = 0;
function onFigures(figures: LiveFigures, fresh: Change[]): void {
  // The load's counts every 5 s: a glance, not a chart.
  if (++ticks % 5 === 0) void refreshLoad();
  if (fresh.length > 0) {
    showChanges(fresh);
    void refreshFaults();
    void refreshGameDay();
  }
  drawTopology($<SVGSVGElement & HTMLElement>('topology') as unknown as SVGSVGElement, description.services, figures, activeFaults);
  showSlos(figures);
  showAlerts(figures);
  for (const chart of charts) chart.push(figures);
}

function connect(): void {
  const source = new EventSource('/api/live');
  source.onopen = () => {
    $('connection').textContent = 'live';
    $('connection').dataset.state = 'live';
  };
  source.onmessage = (event: MessageEvent<string>) => {
    const message = JSON.parse(event.data) as { figures: LiveFigures; changes: Change[] };
    onFigures(message.figures, message.changes);
  };
  source.onerror = () => {
    $('connection').textContent = 'connection lost: retrying';
    $('connection').dataset.state = 'lost';
  };
}

// Patterns.
type FieldKind = 'bool' | 'number' | 'jitter';
type Settings = Record<string, unknown>;
interface PolicyView { service: string; dependency: string; policy: Settings }
/** The fields the forms show, by their path in the scenario schema. */
const POLICY_FIELDS: Array<[string, FieldKind]> = [
  ['timeout.enabled', 'bool'],
  ['timeout.timeout', 'number'],
  ['retry.enabled', 'bool'],
  ['retry.maxAttempts', 'number'],
  ['retry.baseDelay', 'number'],
  ['retry.maxDelay', 'number'],
  ['retry.jitter', 'jitter'],
  ['retry.budget.enabled', 'bool'],
  ['retry.budget.capacity', 'number'],
  ['retry.budget.retryCost', 'number'],
  ['circuitBreaker.enabled', 'bool'],
  ['circuitBreaker.failureRateThreshold', 'number'],
  ['circuitBreaker.minimumCalls', 'number'],
  ['circuitBreaker.openDuration', 'number'],
  ['bulkhead.enabled', 'bool'],
  ['bulkhead.maxConcurrent', 'number'],
  ['bulkhead.maxQueued', 'number'],
];
/** The gateway's admission control (its /admin/admission). */
const ADMISSION_FIELDS: Array<[string, FieldKind]> = [
  ['rateLimit.enabled', 'bool'],
  ['rateLimit.ratePerSecond', 'number'],
  ['rateLimit.burst', 'number'],
  ['loadShedding.enabled', 'bool'],
  ['loadShedding.maxInFlight', 'number'],
];
const valueAt = (settings: Settings, path: string): unknown => path.split('.').reduce<unknown>((at, key) => (at as Settings | undefined)?.[key], settings);
/** Form inputs for the fields a policy has (a field it lacks, as a gateway's call without a breaker, is left out). */
function fieldInputs(settings: Settings, fields: Array<[string, FieldKind]>): string {
  return fields
    .filter(([path]) => valueAt(settings, path) !== undefined)
    .map(([path, kind]) => {
      const value = valueAt(settings, path);
      if (kind === 'bool') return `<label>${escape(path)} <input type="checkbox" name="${path}" ${value ? 'checked' : ''}></label>`;
      if (kind === 'jitter') return `<label>${escape(path)} <select name="${path}">${['none', 'full', 'equal', 'decorrelated'].map((j) => `<option ${j === value ? 'selected' : ''}>${j}</option>`).join('')}</select></label>`;
      return `<label>${escape(path)} <input type="number" step="any" name="${path}" value="${escape(String(value ?? ''))}"></label>`;
    })
    .join('');
}
/** The change a form asks for, as a nested object of the fields it shows. */
function formPatch(form: HTMLFormElement, fields: Array<[string, FieldKind]>): Settings {
  const patch: Settings = {};
  for (const [path, kind] of fields) {
    const input = form.elements.namedItem(path) as HTMLInputElement | HTMLSelectElement | null;
    if (!input) continue;
    const keys = path.split('.');
    const leaf = keys.pop() as string;
    let at = patch;
    for (const key of keys) at = (at[key] ??= {}) as Settings;
    at[leaf] = kind === 'bool' ? (input as HTMLInputElement).checked : kind === 'jitter' ? input.value : Number(input.value);
  }
  return patch;
}
async function loadAdmission(): Promise<void> {
  const form = $('admission') as HTMLFormElement;
  try {
    const { admission } = await api<{ admission: Settings }>('GET', '/api/admission');
    form.innerHTML = `<b>gateway: admission (every request)</b>${fieldInputs(admission, ADMISSION_FIELDS)}<button type="submit">Apply</button>`;
  } catch (error) {
    form.innerHTML = '';
    showError('policy-error', error);
  }
}
($('admission') as HTMLFormElement).addEventListener('submit', (event) => {
  event.preventDefault();
  $('policy-error').textContent = '';
  api('PATCH', '/api/admission', formPatch($('admission') as HTMLFormElement, ADMISSION_FIELDS)).then(loadAdmission, (error: unknown) => showError('policy-error', error));
});
/** The gateway applies only a bulkhead and a retry of reads to its calls (its route timeout is the one deadline): its forms show those. */
const fieldsFor = (service: string): Array<[string, FieldKind]> =>
  service === 'gateway' ? POLICY_FIELDS.filter(([path]) => path.startsWith('retry.') || path.startsWith('bulkhead.')) : POLICY_FIELDS;
async function loadPolicies(): Promise<void> {
  void loadAdmission();
  let views: PolicyView[];
  try {
    views = (await api<{ policies: PolicyView[] }>('GET', '/api/policies')).policies;
  } catch (error) {
    showError('policy-error', error);
    return;
  }
  $('policies').innerHTML = views
    .map((view) => `<form class="row card" data-service="${escape(view.service)}" data-dependency="${escape(view.dependency)}"><b>${escape(view.service)} → ${escape(view.dependency)}</b>${fieldInputs(view.policy, fieldsFor(view.service))}<button type="submit">Apply</button></form>`)
    .join('');
  for (const form of $('policies').querySelectorAll<HTMLFormElement>('form')) {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      $('policy-error').textContent = '';
      api('PATCH', `/api/policies/${encodeURIComponent(form.dataset.service ?? '')}/${encodeURIComponent(form.dataset.dependency ?? '')}`, formPatch(form, POLICY_FIELDS)).then(loadPolicies, (error: unknown) => showError('policy-error', error));
    });
  }
}
$('policies-reset').addEventListener('click', () => {
  api('POST', '/api/policies/reset').then(loadPolicies, (error: unknown) => showError('policy-error', error));
});

// Traces.
for (const select of document.querySelectorAll<HTMLSelectElement>('#trace-form select[name="service"], #log-form select[name="service"]')) {
  select.innerHTML += description.services.map((s) => `<option>${escape(s.name)}</option>`).join('');
}
interface TraceSummary { traceId: string; root: string; service: string; durationMs: number; status: string; spanCount: number; startMs: number; faults: string[] }
$('trace-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void searchTraces();
});
async function searchTraces(): Promise<void> {
  $('trace-error').textContent = '';
  const form = new FormData($<HTMLFormElement>('trace-form'));
  const params = new URLSearchParams();
  for (const key of ['service', 'status', 'minDuration', 'attr']) {
    const value = String(form.get(key) ?? '');
    if (value !== '') params.set(key, value);
  }
  const window = String(form.get('window') ?? '');
  if (window !== '') params.set('since', String(Date.now() - Number(window)));
  try {
    const listing = await api<{ matched: number; traces: TraceSummary[] }>('GET', `/api/traces?${params}`);
    $('trace-results').innerHTML = `<p class="muted">${listing.matched} traces matched; the slowest ${listing.traces.length}:</p><table class="compact"><thead><tr><th>duration</th><th>root</th><th>service</th><th>status</th><th>spans</th><th>started</th><th>faults</th></tr></thead><tbody>${listing.traces
      .map((t) => `<tr><td><a href="#" data-trace="${t.traceId}">${t.durationMs.toFixed(1)} ms</a></td><td>${escape(t.root)}</td><td>${escape(t.service)}</td><td class="${t.status === 'error' ? 'burning' : ''}">${t.status}</td><td>${t.spanCount}</td><td>${new Date(t.startMs).toLocaleTimeString()}</td><td>${escape(t.faults.join(', '))}</td></tr>`)
      .join('')}</tbody></table>`;
    for (const link of $('trace-results').querySelectorAll<HTMLAnchorElement>('a[data-trace]')) {
      link.addEventListener('click', (e) => {
        e.preventDefault();
        void showTrace(link.dataset.trace ?? '');
      });
    }
  } catch (error) {
    showError('trace-error', error);
  }
}
async function showTrace(traceId: string): Promise<void> {
  try {
    const view = await api<{ html: string; spanCount: number }>('GET', `/api/traces/${traceId}`);
    $('trace-view').innerHTML = view.html;
    $('trace-view').classList.remove('muted');
  } catch (error) {
    $('trace-view').textContent = error instanceof Error ? error.message : String(error);
  }
}

// Logs.
interface LogRecord { timeMs: number; service: string; severityText: string; message: string; traceId?: string }
const logLine = (r: LogRecord): string =>
  `<div class="${escape(r.severityText.toLowerCase())}">${new Date(r.timeMs).toLocaleTimeString()} ${escape(r.service.padEnd(14))} ${escape(r.severityText.padEnd(5))} ${escape(r.message)}${r.traceId ? ` <a href="#" data-trace="${r.traceId}">trace</a>` : ''}</div>`;
function linkLogTraces(): void {
  for (const link of $('log-lines').querySelectorAll<HTMLAnchorElement>('a[data-trace]')) {
    link.onclick = (e) => {
      e.preventDefault();
      (document.querySelector('nav.tabs button[data-tab="traces"]') as HTMLButtonElement).click();
      void showTrace(link.dataset.trace ?? '');
    };
  }
}
function logParams(): URLSearchParams {
  const form = new FormData($<HTMLFormElement>('log-form'));
  const params = new URLSearchParams();
  for (const key of ['service', 'level', 'text', 'trace']) {
    const value = String(form.get(key) ?? '');
    if (value !== '') params.set(key, value);
  }
  return params;
}
$('log-form').addEventListener('submit', (event) => {
  event.preventDefault();
  $('log-error').textContent = '';
  api<{ matched: number; records: LogRecord[] }>('GET', `/api/logs?${logParams()}`).then(
    (result) => {
      $('log-lines').innerHTML = `<div class="muted">${result.matched} lines matched; the newest ${result.records.length}:</div>${result.records.map(logLine).join('')}`;
      linkLogTraces();
    },
    (error: unknown) => showError('log-error', error),
  );
});
let tail: EventSource | undefined;
$<HTMLInputElement>('log-tail').addEventListener('change', (event) => {
  tail?.close();
  tail = undefined;
  if (!(event.target as HTMLInputElement).checked) return;
  tail = new EventSource('/api/logs/tail');
  tail.onmessage = (message: MessageEvent<string>) => {
    const { records } = JSON.parse(message.data) as { records: LogRecord[] };
    const params = logParams();
    const level = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].indexOf(params.get('level') ?? '');
    const shown = records.filter(
      (r) =>
        (!params.get('service') || r.service === params.get('service')) &&
        (level < 0 || ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].indexOf(r.severityText.toUpperCase()) >= level) &&
        (!params.get('text') || r.message.toLowerCase().includes((params.get('text') ?? '').toLowerCase())) &&
        (!params.get('trace') || r.traceId === params.get('trace')),
    );
    const lines = $('log-lines');
    lines.insertAdjacentHTML('afterbegin', shown.reverse().map(logLine).join(''));
    while (lines.childElementCount > 500) lines.lastElementChild?.remove();
    linkLogTraces();
  };
});

// Dashboards.
let dashboardsShown = false;
async function showDashboards(): Promise<void> {
  if (dashboardsShown) return;
  dashboardsShown = true;
  const { showDashboardPicker } = await import('./dashboards.ts');
  await showDashboardPicker($<HTMLSelectElement>('dashboard-pick'), $('dashboard'), api);
}

// Scenarios.
interface RunView { id: number; name: string; verdict: string; report: boolean; tail: string[] }
let scenariosLoaded = false;
async function loadScenarios(): Promise<void> {
  const state = await api<{ scenarios: Array<{ name: string; description: string }>; runs: RunView[] }>('GET', '/api/scenarios');
  if (!scenariosLoaded) {
    $<HTMLSelectElement>('scenario-pick').innerHTML = state.scenarios.map((s) => `<option value="${escape(s.name)}" title="${escape(s.description)}">${escape(s.name)}</option>`).join('');
    scenariosLoaded = true;
  }
  $('scenario-runs').innerHTML = state.runs
    .slice()
    .reverse()
    .map((r) => `<div class="card" data-run="${r.id}"><b>${escape(r.name)}</b>: <span class="${r.verdict === 'FAIL' ? 'burning' : r.verdict === 'PASS' ? 'ok' : ''}">${escape(r.verdict)}</span> ${r.report ? `<a href="/api/scenarios/runs/${r.id}/report" target="_blank" rel="noopener">report</a>` : ''}<pre class="output">${escape(r.tail.join('\n'))}</pre></div>`)
    .join('');
  if (state.runs.some((r) => r.verdict === 'running')) setTimeout(() => void loadScenarios(), 1_000);
}
$('scenario-form').addEventListener('submit', (event) => {
  event.preventDefault();
  $('scenario-error').textContent = '';
  const form = new FormData(event.target as HTMLFormElement);
  api('POST', '/api/scenarios/run', { name: String(form.get('name')), timeScale: Number(form.get('timeScale')) }).then(loadScenarios, (error: unknown) => showError('scenario-error', error));
});

await Promise.all([refreshFaults(), refreshGameDay(), refreshLoad(), api<{ changes: Change[] }>('GET', '/api/changes').then((c) => showChanges(c.changes))]);
connect();
