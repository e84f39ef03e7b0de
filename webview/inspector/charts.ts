import { BarController, BarElement, CategoryScale, Chart, Filler, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, Tooltip, type ChartConfiguration } from 'chart.js';
import { h } from '../dom';
import { palette } from './theme';

Chart.register(LineController, LineElement, PointElement, BarController, BarElement, LinearScale, LogarithmicScale, CategoryScale, Tooltip, Legend, Filler);

/** Every chart on the page, by id: destroyed before its canvas is replaced (and on a theme change). */
const charts = new Map<string, Chart>();

/** Axis and legend colours of the current theme. */
export function axes() {
  const p = palette();
  const axis = (title: string, extra: object = {}) => ({
    title: { display: true, text: title, color: p.foreground }, ticks: { color: p.foreground }, grid: { color: p.grid }, ...extra,
  });
  return { p, axis, legend: { labels: { color: p.foreground } } };
}

/** A chart in a canvas with an accessible name; a chart of the same id is replaced. */
export function chart(id: string, label: string, config: ChartConfiguration, size: 'normal' | 'small' = 'normal'): HTMLElement {
  charts.get(id)?.destroy();
  const canvas = h('canvas', { id, role: 'img', 'aria-label': label });
  const box = h('div', { class: size === 'small' ? 'chart small' : 'chart' }, canvas);
  // Chart.js measures its parent: create it once the canvas is in the document.
  queueMicrotask(() => {
    if (canvas.isConnected) charts.set(id, new Chart(canvas, {
      ...config, options: { animation: false, responsive: true, maintainAspectRatio: false, ...config.options },
    }));
  });
  return box;
}

export function chartOf(id: string): Chart | undefined {
  return charts.get(id);
}

/** The paper's exp4 across blocks: the share of attention on the massive tokens, as bars (massive blocks in the massive colour). */
export function shareByBlockChart(
  id: string, shares: { layer: number; share: number | null }[], massive: (layer: number) => boolean = () => false,
): HTMLElement {
  const { p, axis } = axes();
  return chart(id, 'Share of attention on the massive-activation tokens per block', {
    type: 'bar',
    data: { labels: shares.map((s) => String(s.layer)), datasets: [{ label: 'share on massive tokens', data: shares.map((s) => (s.share === null ? null : s.share * 100)) as number[], backgroundColor: shares.map((s) => (massive(s.layer) ? p.massive : p.bulk)) }] },
    options: { scales: { x: axis('block'), y: axis('% of attention', { min: 0, max: 100 }) }, plugins: { legend: { display: false } } },
  }, 'small');
}

/** The data behind a chart, as a table (its text alternative), folded under the chart. */
export function dataTable(caption: string, head: string[], rows: (string | number)[][], id?: string): HTMLElement {
  return h('details', { class: 'chart-data' }, h('summary', {}, `${caption} as a table`),
    h('table', { class: 'data', id }, h('thead', {}, h('tr', {}, ...head.map((x) => h('th', { scope: 'col' }, x)))), h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c)))))));
}

export function table(head: string[], rows: (string | number)[][], attrs: Record<string, string> = {}): HTMLElement {
  return h('table', { class: 'data', ...attrs }, h('thead', {}, h('tr', {}, ...head.map((x) => h('th', { scope: 'col' }, x)))), h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c))))));
}

/** Destroys the charts whose id starts with `prefix` (a section about to be drawn again). */
export function destroyCharts(prefix: string): void {
  for (const [id, c] of charts) if (id.startsWith(prefix)) { c.destroy(); charts.delete(id); }
}
