// The topology as SVG: one column per call depth (users, the gateway, what it
// calls...), an edge per caller and dependency with its live figures, the
// breaker state as the edge's colour, each instance as a dot coloured by its
// state, and active faults as a mark on their edge or instance. Redrawn whole
// every second: a dozen nodes do not need a diffing library.

export interface TopologyService {
  name: string;
  instances: string[];
  calls: Array<{ service: string; mode: string }>;
}

interface Figures {
  services: Array<{ name: string; rate: number; errorRatio: number; p95Ms: number | null; instances: Array<{ id: string; state: string }> }>;
  edges: Array<{ caller: string; dependency: string; rate: number; errorRatio: number; p95Ms: number | null; retriesPerSecond: number; breaker?: string; ejected: string[] }>;
}

interface Fault {
  name: string;
  title?: string;
  type?: string;
  target: string;
}

const NODE_W = 124;
const NODE_H = 54;
const COLUMN_GAP = 40;

const esc = (text: string): string => text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** Depth of each service: the longest chain of calls from the entry that reaches it. */
function depths(services: readonly TopologyService[]): Map<string, number> {
  const depth = new Map<string, number>();
  const called = new Set(services.flatMap((s) => s.calls.map((c) => c.service)));
  const visit = (name: string, d: number): void => {
    if ((depth.get(name) ?? -1) >= d) return;
    depth.set(name, d);
    for (const call of services.find((s) => s.name === name)?.calls ?? []) visit(call.service, d + 1);
  };
  for (const root of services.filter((s) => !called.has(s.name))) visit(root.name, 1);
  return depth;
}

/** Whether a fault's target names this edge (`checkout->payment`, `checkout-payment`, `checkout-payment.2`) or one of its services in a partition. */
function faultOnEdge(fault: Fault, caller: string, dependency: string): boolean {
  const t = fault.target;
  if (t === `${caller}->${dependency}` || t === `${caller}-${dependency}` || t.startsWith(`${caller}-${dependency}.`)) return true;
  if (t.includes('<->')) {
    const [a = '', b = ''] = t.split('<->').map((side) => side.split(','));
    return (a.includes(caller) && b.includes(dependency)) || (b.includes(caller) && a.includes(dependency));
  }
  return false;
}

export function drawTopology(svg: SVGSVGElement, services: readonly TopologyService[], figures: Figures, faults: readonly Fault[]): void {
  const depth = depths(services);
  const columns: string[][] = [];
  for (const service of services) (columns[depth.get(service.name) ?? 1] ??= []).push(service.name);
  columns[0] = ['users'];
  const width = Math.max(svg.clientWidth, 600);
  const height = 460;
  // Columns spread over the width; below the minimum gap the drawing gets wider than the box and scales down (viewBox).
  const step = Math.max(NODE_W + COLUMN_GAP, (width - NODE_W - 20) / Math.max(1, columns.length - 1));
  const drawnWidth = Math.max(width, 20 + NODE_W + step * (columns.length - 1));
  const position = new Map<string, { x: number; y: number }>();
  columns.forEach((names, column) => {
    (names ?? []).forEach((name, row) => {
      const gap = height / ((names ?? []).length + 1);
      position.set(name, { x: 10 + column * step, y: gap * (row + 1) - NODE_H / 2 });
    });
  });
  const parts: string[] = [];
  // Edge figures go on top of everything, so a node never hides them.
  const labels: string[] = [];
  const edgeLine = (caller: string, dependency: string, label: string, breaker: string | undefined, faultMarks: string, figures: { rate: number; errorRatio: number; retriesPerSecond?: number }): void => {
    const from = position.get(caller);
    const to = position.get(dependency);
    if (!from || !to) return;
    const x1 = from.x + NODE_W;
    const y1 = from.y + NODE_H / 2;
    const x2 = to.x;
    const y2 = to.y + NODE_H / 2;
    const mx = (x1 + x2) / 2;
    const my = (y1 + y2) / 2;
    const lines = label.split('\n');
    parts.push(
      `<g class="edge" data-edge="${esc(`${caller}->${dependency}`)}" data-breaker="${esc(breaker ?? 'none')}" data-rate="${figures.rate}" data-error-ratio="${figures.errorRatio}" data-retries="${figures.retriesPerSecond ?? 0}"><line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}"></line>${faultMarks ? `<text class="fault" x="${mx}" y="${my + 12 + 14 * (lines.length - 1)}" text-anchor="middle">${esc(faultMarks)}</text>` : ''}</g>`,
    );
    labels.push(`<text class="edge-label" data-edge="${esc(`${caller}->${dependency}`)}" x="${mx}" y="${my - 4}" text-anchor="middle">${lines.map((line, i) => `<tspan x="${mx}" dy="${i === 0 ? 0 : 14}">${esc(line)}</tspan>`).join('')}</text>`);
  };
  const gateway = figures.services.find((s) => s.name === 'gateway');
  if (gateway) edgeLine('users', 'gateway', `${gateway.rate.toFixed(1)}/s · ${(gateway.errorRatio * 100).toFixed(1)}% · ${gateway.p95Ms === null ? '–' : `${gateway.p95Ms.toFixed(0)}ms`}`, undefined, '', gateway);
  for (const edge of figures.edges) {
    const marks = faults.filter((f) => faultOnEdge(f, edge.caller, edge.dependency)).map((f) => `⚡ ${f.title ?? f.type ?? f.name}`);
    const extras = [
      edge.retriesPerSecond >= 0.05 ? `${edge.retriesPerSecond.toFixed(1)} retries/s` : '',
      edge.breaker && edge.breaker !== 'closed' ? `breaker ${edge.breaker.replace('_', ' ')}` : '',
      edge.ejected.length > 0 ? `ejected ${edge.ejected.join(',')}` : '',
    ].filter(Boolean);
    const figuresLine = `${edge.rate.toFixed(1)}/s · ${(edge.errorRatio * 100).toFixed(1)}% · ${edge.p95Ms === null ? '–' : `${edge.p95Ms.toFixed(0)}ms`}`;
    edgeLine(edge.caller, edge.dependency, extras.length > 0 ? `${figuresLine}\n${extras.join(' · ')}` : figuresLine, edge.breaker, marks.join(' '), edge);
  }
  const users = position.get('users');
  if (users) parts.push(`<g class="node" data-service="users"><rect x="${users.x}" y="${users.y}" width="${NODE_W}" height="${NODE_H}"></rect><text x="${users.x + 8}" y="${users.y + 20}">users (load)</text></g>`);
  for (const service of figures.services) {
    const at = position.get(service.name);
    if (!at) continue;
    const dots = service.instances
      .map((instance, i) => {
        const fault = faults.find((f) => f.target === instance.id);
        return `<circle class="instance ${esc(instance.state)}" data-instance="${esc(instance.id)}" data-state="${esc(instance.state)}" cx="${at.x + 12 + i * 18}" cy="${at.y + NODE_H - 12}" r="6"><title>${esc(instance.id)}: ${esc(instance.state)}${fault ? `, ${esc(fault.title ?? fault.name)}` : ''}</title></circle>`;
      })
      .join('');
    const faultText = faults
      .filter((f) => f.target === service.name || service.instances.some((i) => i.id === f.target))
      .map((f) => `⚡ ${f.title ?? f.type ?? f.name}`)
      .join(' ');
    parts.push(
      `<g class="node" data-service="${esc(service.name)}"><rect x="${at.x}" y="${at.y}" width="${NODE_W}" height="${NODE_H}"></rect><text x="${at.x + 8}" y="${at.y + 18}">${esc(service.name)}</text>${dots}${faultText ? `<text class="fault" x="${at.x}" y="${at.y + NODE_H + 14}" fill="#be123c">${esc(faultText)}</text>` : ''}</g>`,
    );
  }
  svg.setAttribute('viewBox', `0 0 ${drawnWidth} ${height}`);
  svg.innerHTML = parts.join('') + labels.join('');
}
