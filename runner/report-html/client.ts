// The page's own script: draws the charts the report embeds as JSON with
// uPlot (inlined beside it), each with the run's fault windows shaded and its
// breaker transitions, alerts and phase boundaries marked. It is inlined as
// the source of `drawReportCharts` (Node strips the types), so the function
// must use nothing from this module's scope: only its types, which vanish.
// The browser's types are declared here, as little as the script uses, so the
// project's type check stays without the DOM library.

import type { ChartSpec, Marks, Unit } from './model.ts';

/** What the page embeds: one set of charts, and the marks of each run drawn on them. */
export interface PageData {
  charts: ChartSpec[];
  /** One per run (two on a comparison page); the first run's faults are shaded, the second's outlined. */
  marks: Marks[];
}

interface Element2d {
  textContent: string | null;
  id: string;
  clientWidth: number;
  open: boolean;
  setAttribute(name: string, value: string): void;
  querySelector(selector: string): Element2d | null;
  querySelectorAll(selector: string): ArrayLike<Element2d>;
  replaceChildren(): void;
}
interface Context2d {
  save(): void;
  restore(): void;
  fillStyle: string;
  strokeStyle: string;
  lineWidth: number;
  font: string;
  textAlign: string;
  textBaseline: string;
  setLineDash(segments: number[]): void;
  fillRect(x: number, y: number, w: number, h: number): void;
  strokeRect(x: number, y: number, w: number, h: number): void;
  fillText(text: string, x: number, y: number): void;
  beginPath(): void;
  moveTo(x: number, y: number): void;
  lineTo(x: number, y: number): void;
  stroke(): void;
  fill(): void;
}
interface PlotInstance {
  ctx: Context2d;
  bbox: { left: number; top: number; width: number; height: number };
  scales: { x: { min?: number; max?: number } };
  valToPos(value: number, scale: string, canvasPixels?: boolean): number;
  setSize(size: { width: number; height: number }): void;
  destroy(): void;
}
interface PlotConstructor {
  new (options: unknown, data: unknown, target: Element2d): PlotInstance;
  paths: { stepped?: (options: { align: number }) => unknown };
}
interface PageGlobals {
  document: { getElementById(id: string): Element2d | null; querySelectorAll(selector: string): ArrayLike<Element2d>; documentElement: Element2d };
  uPlot: PlotConstructor;
  devicePixelRatio: number;
  getComputedStyle(element: Element2d): { getPropertyValue(name: string): string };
  matchMedia(query: string): { addEventListener(type: 'change', listener: () => void): void };
  addEventListener(type: string, listener: () => void): void;
}

export function drawReportCharts(): void {
  const page = globalThis as unknown as PageGlobals;
  const source = page.document.getElementById('report-data');
  if (!source?.textContent) return;
  const data = JSON.parse(source.textContent) as PageData;
  const plots: Array<{ plot: PlotInstance; box: Element2d }> = [];
  const UNIT_LABEL: Record<Unit, string> = { 'req/s': 'requests / s', ms: 'ms', '%': '%', state: 'state', 'events/s': 'events / s', requests: 'requests', 'per call': 'attempts / call' };
  // Mark colours differ from every series colour (model.ts COLOR), so a mark is never mistaken for data.
  const BREAKER_COLOR: Record<string, string> = { open: '#be123c', half_open: '#ca8a04', closed: '#0d9488' };
  // A process going away (exit, pause) and coming back (restart, resume).
  const PROCESS_COLOR = { down: '#db2777', up: '#65a30d' };

  const clock = (seconds: number): string => {
    const s = Math.round(seconds);
    const sign = s < 0 ? '-' : '';
    const abs = Math.abs(s);
    return `${sign}${Math.floor(abs / 60)}:${String(abs % 60).padStart(2, '0')}`;
  };
  const css = (name: string): string => page.getComputedStyle(page.document.documentElement).getPropertyValue(name).trim();

  // Drawn under the series: fault windows. Over them: phase boundaries, breaker transitions, alerts.
  const marksPlugin = () => ({
    hooks: {
      drawClear: [
        (u: PlotInstance) => {
          const { ctx, bbox } = u;
          ctx.save();
          data.marks.forEach((marks, run) => {
            for (const fault of marks.faults) {
              const from = Math.max(bbox.left, u.valToPos(fault.from, 'x', true));
              const to = Math.min(bbox.left + bbox.width, u.valToPos(fault.to, 'x', true));
              if (to <= from) continue;
              if (run === 0) {
                ctx.fillStyle = css('--fault');
                ctx.fillRect(from, bbox.top, to - from, bbox.height);
              } else {
                ctx.strokeStyle = '#be123c';
                ctx.setLineDash([4, 4]);
                ctx.lineWidth = 1;
                ctx.strokeRect(from, bbox.top + 1, to - from, bbox.height - 2);
              }
            }
          });
          ctx.restore();
        },
      ],
      draw: [
        (u: PlotInstance) => {
          const { ctx, bbox } = u;
          const ratio = page.devicePixelRatio || 1;
          const vertical = (at: number, color: string, dash: number[], width: number) => {
            const x = Math.round(u.valToPos(at, 'x', true));
            if (x < bbox.left || x > bbox.left + bbox.width) return;
            ctx.strokeStyle = color;
            ctx.lineWidth = width * ratio;
            ctx.setLineDash(dash.map((d) => d * ratio));
            ctx.beginPath();
            ctx.moveTo(x, bbox.top);
            ctx.lineTo(x, bbox.top + bbox.height);
            ctx.stroke();
          };
          ctx.save();
          const first = data.marks[0];
          if (first) {
            ctx.font = `${11 * ratio}px system-ui, sans-serif`;
            ctx.fillStyle = css('--muted');
            ctx.textAlign = 'left';
            ctx.textBaseline = 'top';
            for (const phase of first.phases) {
              if (phase.from > 0) vertical(phase.from, css('--muted'), [2, 3], 1);
              const x = u.valToPos(phase.from, 'x', true);
              if (x >= bbox.left && x < bbox.left + bbox.width) ctx.fillText(phase.name, x + 3 * ratio, bbox.top + 2 * ratio);
            }
          }
          data.marks.forEach((marks, run) => {
            for (const mark of marks.breaker) vertical(mark.at, BREAKER_COLOR[mark.to] ?? '#be123c', run === 0 ? [] : [3, 3], 1.5);
            for (const alert of marks.alerts) vertical(alert.at, alert.fired ? '#7c3aed' : '#c4b5fd', [6, 3], 1);
            for (const mark of marks.processes ?? []) {
              const color = mark.down ? PROCESS_COLOR.down : PROCESS_COLOR.up;
              vertical(mark.at, color, run === 0 ? [] : [3, 3], 2);
              const x = u.valToPos(mark.at, 'x', true);
              if (x < bbox.left || x > bbox.left + bbox.width) continue;
              // A triangle at the top: pointing down for a process gone, up for one back.
              const size = 5 * ratio;
              const y = bbox.top + (run === 0 ? 0 : 2 * size);
              ctx.fillStyle = color;
              ctx.setLineDash([]);
              ctx.beginPath();
              if (mark.down) {
                ctx.moveTo(x - size, y);
                ctx.lineTo(x + size, y);
                ctx.lineTo(x, y + size * 1.4);
              } else {
                ctx.moveTo(x - size, y + size * 1.4);
                ctx.lineTo(x + size, y + size * 1.4);
                ctx.lineTo(x, y);
              }
              ctx.fill();
            }
          });
          ctx.restore();
        },
      ],
    },
  });

  // After each draw (uPlot lays out asynchronously), what a reader or the browser test needs to map
  // a time onto the chart: its x range and plot area, in CSS pixels from the canvas's corner.
  const describe = (u: PlotInstance, box: Element2d) => {
    const ratio = page.devicePixelRatio || 1;
    box.setAttribute('data-x-min', String(u.scales.x.min ?? ''));
    box.setAttribute('data-x-max', String(u.scales.x.max ?? ''));
    box.setAttribute('data-plot-left', String(u.bbox.left / ratio));
    box.setAttribute('data-plot-top', String(u.bbox.top / ratio));
    box.setAttribute('data-plot-width', String(u.bbox.width / ratio));
    box.setAttribute('data-plot-height', String(u.bbox.height / ratio));
    box.setAttribute('data-drawn', 'true');
  };

  const build = () => {
    for (const { plot } of plots) plot.destroy();
    plots.length = 0;
    const axisColor = css('--axis');
    const gridColor = css('--grid');
    for (const chart of data.charts) {
      const box = page.document.getElementById(`chart-${chart.id}`);
      if (!box) continue;
      box.replaceChildren();
      const right = chart.series.find((s) => s.rightUnit)?.rightUnit;
      const stepped = page.uPlot.paths.stepped?.({ align: 1 });
      const options = {
        width: Math.max(320, box.clientWidth),
        height: 220,
        title: chart.title,
        scales: { x: { time: false }, y: chart.unit === 'state' ? { range: [0, 2.2] } : {}, ...(right ? { r: {} } : {}) },
        axes: [
          { stroke: axisColor, grid: { stroke: gridColor }, ticks: { stroke: gridColor }, values: (_u: unknown, values: number[]) => values.map(clock), label: 'time since the run started (m:ss)', labelSize: 24 },
          {
            stroke: axisColor,
            grid: { stroke: gridColor },
            ticks: { stroke: gridColor },
            label: UNIT_LABEL[chart.unit],
            labelSize: 24,
            size: chart.unit === 'state' ? 84 : 56,
            ...(chart.unit === 'state' ? { splits: () => [0, 1, 2], values: (_u: unknown, values: number[]) => values.map((v) => ['closed', 'half-open', 'open'][v] ?? '') } : {}),
          },
          ...(right ? [{ scale: 'r', side: 1, stroke: axisColor, grid: { show: false }, label: UNIT_LABEL[right], labelSize: 24, size: 56 }] : []),
        ],
        series: [
          { label: 'time', value: (_u: unknown, v: number | null) => (v === null ? '-' : clock(v)) },
          ...chart.series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 1.5,
            ...(s.dash ? { dash: [6, 4] } : {}),
            ...(s.step && stepped ? { paths: stepped } : {}),
            ...(s.rightUnit ? { scale: 'r' } : {}),
            points: { show: false },
          })),
        ],
        plugins: [marksPlugin(), { hooks: { draw: [(u: PlotInstance) => describe(u, box)] } }],
      };
      const plot = new page.uPlot(options, [chart.x, ...chart.series.map((s) => s.values)], box);
      plots.push({ plot, box });
    }
  };

  build();
  let pending = 0;
  page.addEventListener('resize', () => {
    clearTimeout(pending);
    pending = setTimeout(() => {
      for (const { plot, box } of plots) plot.setSize({ width: Math.max(320, box.clientWidth), height: 220 });
    }, 150) as unknown as number;
  });
  // Colours come from the theme: redraw when it changes.
  page.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', build);
  // Printing switches to the print style's (light) colours, and back after.
  page.matchMedia('print').addEventListener('change', build);
  // A printed report shows its timeline and sample traces open, and charts sized to the page.
  page.addEventListener('beforeprint', () => {
    const traces = page.document.querySelectorAll('details.trace, details.timeline');
    for (let i = 0; i < traces.length; i++) (traces[i] as Element2d).open = true;
    for (const { plot } of plots) plot.setSize({ width: 680, height: 200 });
  });
  page.addEventListener('afterprint', () => {
    for (const { plot, box } of plots) plot.setSize({ width: Math.max(320, box.clientWidth), height: 220 });
  });
}
