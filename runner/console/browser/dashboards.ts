// The Dashboards tab: the prebuilt Grafana dashboards drawn from their own
// JSON by the inlined drawDashboard (runner/console/dashboard-client.ts),
// querying the lab's Prometheus through the console, refreshed every 5 s
// while the tab is open.

interface DashboardView {
  ready: Promise<void>;
  refresh(): Promise<void>;
  destroy(): void;
}

declare function drawDashboard(
  model: unknown,
  container: HTMLElement,
  io: { query(expr: string, startMs: number, endMs: number, stepMs: number): Promise<unknown>; labelValues(query: string): Promise<string[]> },
  options: { prometheusUrl: string; prometheusVersion?: string; scrapeIntervalSeconds?: number; rangeSeconds?: number },
): DashboardView;

type Api = <T = unknown>(method: string, path: string, body?: unknown) => Promise<T>;

const REFRESH_MS = 5_000;

export async function showDashboardPicker(pick: HTMLSelectElement, container: HTMLElement, api: Api): Promise<void> {
  const listing = await api<{ dashboards: Array<{ uid: string; title: string }>; prometheus: string | null; version: string | null }>('GET', '/api/dashboards');
  if (listing.prometheus === null) {
    container.textContent = 'No Prometheus in this session: the dashboards need prometheus (sudo apt-get install prometheus prometheus-alertmanager).';
    return;
  }
  pick.innerHTML = listing.dashboards.map((d) => `<option value="${d.uid}">${d.title.replace(/</g, '&lt;')}</option>`).join('');
  let view: DashboardView | undefined;
  let timer: number | undefined;
  const io = {
    query: async (expr: string, startMs: number, endMs: number, stepMs: number) => {
      const params = new URLSearchParams({ query: expr, start: String(Math.round(startMs)), end: String(Math.round(endMs)), step: String(Math.max(250, Math.round(stepMs))) });
      try {
        return (await api<{ series: Array<{ labels: Record<string, string>; points: Array<[number, number]> }> }>('GET', `/api/prometheus/query_range?${params}`)).series.map((s) => ({
          metric: s.labels,
          values: s.points.map(([t, v]) => [t / 1_000, String(v)] as [number, string]),
        }));
      } catch (error) {
        return { error: error instanceof Error ? error.message : String(error), result: [] };
      }
    },
    labelValues: async (query: string) => (await api<{ values: string[] }>('GET', `/api/prometheus/label_values?${new URLSearchParams({ query })}`)).values,
  };
  const show = async (): Promise<void> => {
    view?.destroy();
    if (timer !== undefined) clearInterval(timer);
    container.replaceChildren();
    const model = await api('GET', `/api/dashboards/${encodeURIComponent(pick.value)}`);
    // The last 10 minutes: a lab session is young, and the dashboards' own 30-minute default would leave its data a sliver at the right.
    view = drawDashboard(model, container, io, { prometheusUrl: listing.prometheus ?? '', ...(listing.version ? { prometheusVersion: listing.version } : {}), scrapeIntervalSeconds: 1, rangeSeconds: 600 });
    await view.ready;
    timer = window.setInterval(() => {
      if (container.offsetParent !== null) void view?.refresh();
    }, REFRESH_MS);
  };
  pick.addEventListener('change', () => void show());
  await show();
}
