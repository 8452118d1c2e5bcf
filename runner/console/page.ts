// The console's one page: a shell of panels that browser/console.ts fills
// from the API and keeps live. Laid out for a projector: the topology and the
// SLOs at the top, the controls beside them, charts, traces and logs below.

import { STYLE } from '../report-html/html.ts';
import { dashboardClientScript } from './dashboard-client.ts';

const CONSOLE_STYLE = `
body { margin: 0; max-width: none; padding: 0; }
#slos { overflow-x: auto; }
header.bar { display: flex; gap: 1rem; align-items: center; padding: .5rem 1rem; border-bottom: 1px solid var(--line, #ccc); position: sticky; top: 0; background: var(--bg, #fff); z-index: 5; }
header.bar h1 { font-size: 1.1rem; margin: 0; }
header.bar .spacer { flex: 1; }
#connection[data-state="live"] { color: #15803d; }
#connection[data-state="lost"] { color: #b91c1c; }
nav.tabs { display: flex; gap: .25rem; padding: .25rem 1rem; flex-wrap: wrap; }
nav.tabs button[aria-selected="true"] { font-weight: bold; border-bottom: 2px solid currentColor; }
main { padding: 0 1rem 2rem; }
section.panel { display: none; }
section.panel.active { display: block; }
.grid { display: grid; grid-template-columns: minmax(640px, 5fr) minmax(340px, 2fr); gap: 1rem; }
.card { border: 1px solid var(--line, #ccc); border-radius: 6px; padding: .5rem .75rem; margin: .5rem 0; }
.card h2 { font-size: 1rem; margin: .25rem 0 .5rem; }
svg#topology { width: 100%; height: 460px; }
svg#topology text { font: 12px system-ui, sans-serif; fill: currentColor; paint-order: stroke; stroke: var(--bg, #fff); stroke-width: 4px; stroke-linejoin: round; }
svg#topology .node rect { fill: var(--bg, #fff); stroke: #64748b; rx: 6; }
svg#topology .instance.down { fill: #9ca3af; }
svg#topology .instance.paused { fill: #2563eb; }
svg#topology .instance.up { fill: #16a34a; }
svg#topology .edge line { stroke: #64748b; stroke-width: 2; }
svg#topology .edge[data-breaker="open"] line { stroke: #be123c; stroke-width: 4; }
svg#topology .edge[data-breaker="half_open"] line { stroke: #ca8a04; stroke-width: 4; stroke-dasharray: 6 3; }
svg#topology .edge .fault { fill: #be123c; font-weight: bold; }
.burning { color: #be123c; font-weight: bold; }
.ok { color: #15803d; }
table.compact td, table.compact th { padding: .15rem .4rem; }
.chart { min-height: 220px; }
.muted { opacity: .7; }
form.row { display: flex; gap: .5rem; flex-wrap: wrap; align-items: end; margin: .25rem 0; }
form.row label { display: flex; flex-direction: column; font-size: .85rem; }
#log-lines { font: 12px ui-monospace, monospace; max-height: 420px; overflow: auto; white-space: pre-wrap; }
#log-lines .error, #log-lines .fatal { color: #b91c1c; }
#log-lines .warn { color: #a16207; }
.error-text { color: #b91c1c; }
pre.output { max-height: 300px; overflow: auto; font-size: 12px; }
.fl-grid { grid-auto-rows: 46px !important; } /* Grafana's 30 px rows leave the plots no room beside the lab's long legends */
.fl-panel { border: 1px solid var(--line, #ccc); border-radius: 4px; padding: .25rem; overflow: hidden; }
.fl-stat-value { font-size: 1.6rem; font-weight: bold; }
.fl-reason { opacity: .75; font-size: .85rem; }
`;

const TABS: Array<[string, string]> = [
  ['overview', 'Overview'],
  ['charts', 'Charts'],
  ['patterns', 'Patterns'],
  ['traces', 'Traces'],
  ['logs', 'Logs'],
  ['dashboards', 'Dashboards'],
  ['scenarios', 'Scenarios'],
];

export function renderConsolePage(): string {
  const tabs = TABS.map(([id, label], i) => `<button type="button" role="tab" data-tab="${id}" aria-selected="${i === 0}">${label}</button>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Faultline console</title>
<link rel="stylesheet" href="/static/uplot.css">
<style>${STYLE}${CONSOLE_STYLE}</style>
</head>
<body>
<header class="bar">
  <h1>Faultline console</h1>
  <span id="connection" data-state="connecting">connecting…</span>
  <span id="session" class="muted"></span>
  <span class="spacer"></span>
  <button type="button" id="reset-all" title="Remove every fault, stop the game day">Reset everything</button>
</header>
<nav class="tabs" role="tablist">${tabs}</nav>
<main>
<section class="panel active" id="panel-overview">
  <div class="grid">
    <div>
      <div class="card"><h2>Topology</h2><svg id="topology" role="img" aria-label="services, instances and edges with live figures"></svg>
        <p class="muted">Each edge: calls/s · error % · p95. Red edge: breaker open; amber: half open. Instances: green up, blue paused, grey down. <span class="fault-key">⚡</span> marks an active fault.</p></div>
      <div class="card"><h2>SLOs</h2><div id="slos" class="muted">waiting for Prometheus…</div></div>
      <div class="card"><h2>Alerts</h2><div id="alerts" class="muted">none</div></div>
    </div>
    <div>
      <div class="card"><h2>Faults</h2>
        <form class="row" id="fault-form">
          <label>Fault <select id="fault-preset" name="preset"></select></label>
          <label>Target <select id="fault-target" name="target"></select></label>
          <button type="submit" id="fault-apply">Apply</button>
        </form>
        <p id="fault-error" class="error-text" role="alert"></p>
        <ul id="active-faults"></ul>
      </div>
      <div class="card"><h2>Game day</h2>
        <form class="row" id="game-day-form">
          <label>Seed <input id="game-day-seed" name="seed" type="number" value="42" min="0" step="1"></label>
          <label>Mean gap (s) <input id="game-day-gap" name="gap" type="number" value="20" min="1"></label>
          <label>Fault length (s) <input id="game-day-length" name="length" type="number" value="15" min="1"></label>
          <button type="submit" id="game-day-start">Start</button>
          <button type="button" id="game-day-stop">Stop</button>
        </form>
        <details><summary>Faults it picks from</summary><div id="game-day-presets"></div></details>
        <div id="game-day-state" class="muted"></div>
      </div>
      <div class="card"><h2>Load</h2>
        <form class="row" id="load-form">
          <label>Journeys / s <input id="load-rate" name="rate" type="number" value="10" min="0" step="1"></label>
          <button type="submit" id="load-apply">Set rate</button>
          <button type="button" id="load-stop">Stop</button>
        </form>
        <form class="row" id="mix-form"></form>
        <div id="load-state" class="muted"></div>
      </div>
      <div class="card"><h2>Activity</h2><ul id="activity"></ul></div>
    </div>
  </div>
</section>
<section class="panel" id="panel-charts"><div id="charts"></div></section>
<section class="panel" id="panel-patterns">
  <div class="card"><h2>Resilience patterns, live</h2>
    <p class="muted">Each caller's policy on each dependency, as the scenario schema writes it. A change applies to new calls at once; calls in flight finish under the old one.</p>
    <form id="admission" class="row card"></form>
    <div id="policies"></div>
    <button type="button" id="policies-reset">Every policy back to how the lab started</button>
    <p id="policy-error" class="error-text" role="alert"></p>
  </div>
</section>
<section class="panel" id="panel-traces">
  <div class="card"><h2>Trace search</h2>
    <form class="row" id="trace-form">
      <label>Service <select name="service"><option value="">any</option></select></label>
      <label>Status <select name="status"><option value="">any</option><option>error</option><option>ok</option></select></label>
      <label>Min duration <input name="minDuration" placeholder="250ms"></label>
      <label>Attribute <input name="attr" placeholder="key=value"></label>
      <label>Last <select name="window"><option value="">whole session</option><option value="60000">1 min</option><option value="300000">5 min</option><option value="900000">15 min</option></select></label>
      <button type="submit" id="trace-search">Slowest first</button>
    </form>
    <p id="trace-error" class="error-text" role="alert"></p>
    <div id="trace-results"></div>
  </div>
  <div class="card"><h2>Waterfall</h2><div id="trace-view" class="muted">pick a trace</div></div>
</section>
<section class="panel" id="panel-logs">
  <div class="card"><h2>Log search</h2>
    <form class="row" id="log-form">
      <label>Service <select name="service"><option value="">any</option></select></label>
      <label>Level ≥ <select name="level"><option value="">any</option><option>debug</option><option>info</option><option>warn</option><option>error</option></select></label>
      <label>Text <input name="text"></label>
      <label>Trace id <input name="trace" size="34"></label>
      <button type="submit">Search</button>
      <label><span>Live tail</span><input type="checkbox" id="log-tail"></label>
    </form>
    <p id="log-error" class="error-text" role="alert"></p>
    <div id="log-lines"></div>
  </div>
</section>
<section class="panel" id="panel-dashboards">
  <div class="card"><h2>Prebuilt Grafana dashboards, drawn from their JSON</h2>
    <label>Dashboard <select id="dashboard-pick"></select></label>
    <div id="dashboard"></div>
  </div>
</section>
<section class="panel" id="panel-scenarios">
  <div class="card"><h2>Scenarios</h2>
    <p class="muted">Each runs in a fresh lab of its own beside this one, and ends with its verdict and report.</p>
    <form class="row" id="scenario-form">
      <label>Scenario <select id="scenario-pick" name="name"></select></label>
      <label>Time scale <input name="timeScale" type="number" value="1" min="0.1" max="10" step="0.1"></label>
      <button type="submit">Run</button>
    </form>
    <p id="scenario-error" class="error-text" role="alert"></p>
    <div id="scenario-runs"></div>
  </div>
</section>
</main>
<script src="/static/uplot.js"></script>
<script>${dashboardClientScript()}</script>
<script type="module" src="/static/console.js"></script>
</body>
</html>`;
}
