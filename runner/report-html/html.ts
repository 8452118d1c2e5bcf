// HTML pieces the report pages share: escaping, capped lists, tables and the
// one style sheet (light and dark by prefers-color-scheme, print to PDF).

export function escapeHtml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** JSON to embed in a <script type="application/json">: `<` escaped so no `</script>` can close it early. */
export function embedJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The first `max` items, then a visible "and N more" line. */
export function capped<T>(items: readonly T[], max: number, render: (item: T) => string, noun: string): string[] {
  const shown = items.slice(0, max).map(render);
  if (items.length > max) shown.push(`<li class="more">and ${items.length - max} more ${noun}</li>`);
  return shown;
}

export function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>, className = ''): string {
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.join('')}</tr>`).join('\n');
  return `<table class="${className}"><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

export function td(text: string, className = ''): string {
  return `<td${className ? ` class="${className}"` : ''}>${escapeHtml(text)}</td>`;
}

export const STYLE = `
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb; --panel: #f8fafc;
  --pass: #15803d; --fail: #b91c1c; --inconclusive: #b45309; --skip: #6b7280; --diff: #fef3c7; --fault: rgba(239, 68, 68, 0.16);
  --axis: #374151; --grid: rgba(0, 0, 0, 0.07); }
@media (prefers-color-scheme: dark) {
  :root { --bg: #111827; --fg: #e5e7eb; --muted: #9ca3af; --line: #374151; --panel: #1f2937;
    --pass: #4ade80; --fail: #f87171; --inconclusive: #fbbf24; --skip: #9ca3af; --diff: #422006; --axis: #d1d5db; --grid: rgba(255, 255, 255, 0.08); }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1200px; padding: 1.5rem; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
h4 { margin: .75rem 0 .25rem; }
.muted { color: var(--muted); } code { font-size: 12px; }
.verdict { display: inline-block; padding: .15rem .6rem; border-radius: 4px; font-weight: 700; color: var(--bg); }
.v-pass { background: var(--pass); } .v-fail { background: var(--fail); } .v-inconclusive { background: var(--inconclusive); } .v-skip { background: var(--skip); }
.s-pass { color: var(--pass); font-weight: 700; } .s-fail { color: var(--fail); font-weight: 700; } .s-inconclusive { color: var(--inconclusive); font-weight: 700; } .s-skip { color: var(--skip); font-weight: 700; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; font-size: 13px; }
th, td { text-align: left; vertical-align: top; padding: .3rem .5rem; border-bottom: 1px solid var(--line); }
th { background: var(--panel); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.why td { color: var(--muted); border-top: 0; padding-top: 0; }
td.journey { font-weight: 600; } table.load-steps td.muted { color: var(--muted); }
tr.differs td, td.differs { background: var(--diff); }
.chart { margin: 1rem 0 1.5rem; break-inside: avoid; }
.chart h3 { font-size: 1rem; margin: 0 0 .25rem; }
.chart .note { font-size: 12px; color: var(--muted); margin: .25rem 0 0; }
.legend-marks { font-size: 12px; color: var(--muted); }
.legend-marks i { display: inline-block; width: 14px; height: 10px; margin: 0 .25rem 0 .75rem; vertical-align: middle; }
.uplot { font-family: inherit; } .u-legend { font-size: 12px; color: var(--fg); } .u-legend th { background: none; }
.u-title { display: none; }
details.timeline > summary { cursor: pointer; color: var(--muted); }
details.trace { border: 1px solid var(--line); border-radius: 6px; margin: .5rem 0; padding: .25rem .5rem; break-inside: avoid; }
details.trace > summary { cursor: pointer; font-weight: 600; }
.waterfall { margin: .5rem 0; font-size: 12px; }
details.span > summary { display: grid; grid-template-columns: minmax(14rem, 34%) 1fr 5.5rem; gap: .5rem; align-items: center; cursor: pointer; list-style: none; padding: 1px 0; }
details.span > summary::-webkit-details-marker { display: none; }
details.span > summary:hover { background: var(--panel); }
.label { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.badge { font-size: 10px; padding: 0 .3rem; border-radius: 8px; background: var(--panel); border: 1px solid var(--line); }
.track { position: relative; height: 12px; background: var(--panel); }
.bar { position: absolute; top: 2px; height: 8px; background: #2563eb; border-radius: 2px; min-width: 2px; }
details.span.failed .bar { background: #dc2626; }
.tick { position: absolute; top: 0; width: 2px; height: 12px; background: #d97706; }
.tick.ev-circuit-transition, .tick.ev-circuit-rejected { background: #0891b2; } .tick.ev-fault-injected { background: #9333ea; }
.dur { text-align: right; font-variant-numeric: tabular-nums; }
ul.events { margin: .1rem 0 .4rem 2rem; padding: 0; list-style: none; }
ul.events li { padding: 1px 0; } li.event.ev-retry b { color: #d97706; } li.note { color: var(--muted); }
.at { display: inline-block; min-width: 5rem; font-variant-numeric: tabular-nums; color: var(--muted); }
.logs ul { list-style: none; padding-left: 0; font-size: 12px; }
ul.plain { padding-left: 1.2rem; } li.more, p.more { color: var(--muted); font-style: italic; list-style: none; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; font-size: 13px; }
.meta dt { color: var(--muted); } .meta dd { margin: 0; }
.side { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.up { color: var(--fail); } .down { color: var(--pass); }
@media print {
  /* Paper is white whatever the screen's scheme. */
  :root { --bg: #ffffff; --fg: #000000; --panel: #f3f4f6; --line: #d1d5db; --muted: #4b5563; --axis: #374151; --grid: rgba(0, 0, 0, 0.07);
    --pass: #15803d; --fail: #b91c1c; --inconclusive: #b45309; --skip: #6b7280; --diff: #fef3c7; }
  body { max-width: none; padding: 0; font-size: 11px; }
  h2 { break-after: avoid; } table, .chart, details.trace { break-inside: avoid; }
  details.span > summary { grid-template-columns: 30% 1fr 4.5rem; }
}
`;
