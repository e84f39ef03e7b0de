import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, Tooltip } from 'chart.js';
import type { CompareResult } from '../src/experiments/compare/run';
import type { FromCompareWebview, ToCompareWebview } from '../src/shared/protocol';
import { css, fmt, h } from './dom';

/**
 * The compare panel: every model's layer-wise overview overlaid, the diff table (shared / only in
 * one model, with values), the variants' error at the massive entries against elsewhere, and a
 * checkpoint series' emergence. Each chart has its table beside it.
 */
Chart.register(LineController, LineElement, PointElement, BarController, BarElement, LinearScale, LogarithmicScale, CategoryScale, Legend, Tooltip);

declare function acquireVsCodeApi(): { postMessage(m: FromCompareWebview): void };
const api = acquireVsCodeApi();
const app = document.getElementById('app')!;
const charts: Chart[] = [];
let current: { title: string; result: CompareResult } | undefined;

window.addEventListener('message', (e: MessageEvent<ToCompareWebview>) => {
  if (e.data.kind !== 'init') return;
  current = { title: e.data.title, result: e.data.result };
  render();
});
// Charts read theme colours from CSS variables: draw again when the theme changes.
new MutationObserver(() => { if (current) render(); }).observe(document.body, { attributes: true, attributeFilter: ['class'] });
api.postMessage({ kind: 'ready' });

const label = (k: number) => String.fromCharCode(65 + (k % 26));
const palette = () => [css('--vscode-charts-blue', '#3794ff'), css('--vscode-charts-orange', '#d18616'), css('--vscode-charts-green', '#89d185'), css('--vscode-charts-purple', '#b180d7'), css('--vscode-charts-red', '#f14c4c'), css('--vscode-charts-yellow', '#cca700')];

function render(): void {
  const { title, result: r } = current!;
  for (const c of charts.splice(0)) c.destroy();
  const overview = h('canvas', { id: 'compare-overview', role: 'img', 'aria-label': 'Top-1 and median magnitude per block for every model, log scale' });
  app.replaceChildren(
    h('h1', {}, title),
    h('ul', { id: 'models' }, ...r.models.map((m, k) => h('li', {}, h('strong', {}, `${label(k)}: `), `${m.input !== undefined ? `"${m.input}" on ${m.name}` : m.path} — ${m.blocks} blocks, ${m.dtype}, ${m.tokens} tokens`))),
    ...r.notes.map((n) => h('p', { class: 'warning' }, n)),
    h('div', { class: 'row' },
      h('button', { class: 'block', id: 'export-json', onclick: () => api.postMessage({ kind: 'export', what: 'json' }) }, 'Export JSON'),
      h('button', { class: 'block', id: 'export-csv', onclick: () => api.postMessage({ kind: 'export', what: 'csv' }) }, 'Export CSV'),
      h('button', { class: 'block', onclick: () => api.postMessage({ kind: 'png', name: 'compare-overview', dataUrl: overview.toDataURL('image/png') }) }, 'Save overview as PNG')),
    h('section', { 'aria-label': 'Layer-wise overview' }, h('h2', {}, r.series ? 'Layer-wise overview (first and last checkpoint)' : 'Layer-wise overview'), h('div', { class: 'chart' }, overview)),
    ...[diffSection(r), errorSection(r), seriesSection(r)].filter((x): x is HTMLElement => !!x),
  );
  const colors = palette();
  const shown = r.series ? [0, r.models.length - 1] : r.models.map((_, k) => k);
  const fg = css('--vscode-editor-foreground', '#ccc');
  const grid = css('--vscode-editorWidget-border', '#444');
  charts.push(new Chart(overview, {
    type: 'line',
    data: {
      labels: r.layers.map((l) => String(l.index)),
      datasets: shown.flatMap((k) => [
        { label: `${label(k)} top-1`, data: r.layers.map((l) => Math.abs(l.models[k].top[0]?.value ?? 0) || null), borderColor: colors[k % colors.length], backgroundColor: colors[k % colors.length] },
        { label: `${label(k)} median`, data: r.layers.map((l) => l.models[k].median || null), borderColor: colors[k % colors.length], borderDash: [5, 4], backgroundColor: colors[k % colors.length] },
      ]),
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      scales: { x: { title: { display: true, text: 'block', color: fg }, ticks: { color: fg }, grid: { color: grid } }, y: { type: 'logarithmic', title: { display: true, text: '|activation|', color: fg }, ticks: { color: fg }, grid: { color: grid } } },
      plugins: { legend: { labels: { color: fg } } },
    },
  }));
}

function diffSection(r: CompareResult): HTMLElement {
  const rows = r.layers.flatMap((l) => [
    ...l.shared.map((s) => ({ block: l.index, status: 'shared', kind: s.kind, token: s.token, channel: s.channel, values: s.values as (number | null)[] })),
    ...l.onlyIn.map((o) => ({ block: l.index, status: `only in ${label(o.model)}`, kind: o.kind, token: o.token, channel: o.channel, values: r.models.map((_, k) => (k === o.model ? o.value : null)) })),
  ]);
  const body = rows.length ? rows.map((row) => h('tr', { class: row.status === 'shared' ? '' : 'massive' },
    h('td', { class: 'num' }, String(row.block)), h('td', {}, row.status), h('td', {}, row.kind), h('td', { class: 'num' }, r.aligned === 'tokens' ? String(row.token) : '—'), h('td', { class: 'num' }, String(row.channel)),
    ...row.values.map((v) => h('td', { class: 'num' }, v === null ? '—' : fmt(v)))))
    : [h('tr', {}, h('td', { colspan: 5 + r.models.length }, 'No massive activations in any model.'))];
  return h('section', { 'aria-label': 'Differences' },
    h('h2', {}, 'Massive activations: shared and only in one model'),
    h('p', { class: 'muted' }, r.aligned === 'tokens' ? 'Matched by token and channel.' : 'The models saw different tokens: matched by token kind and channel.'),
    h('table', { class: 'data', id: 'diff-table' },
      h('thead', {}, h('tr', {}, ...['block', 'status', 'token kind', 'token', 'channel', ...r.models.map((_, k) => label(k))].map((c) => h('th', {}, c)))),
      h('tbody', {}, ...body)));
}

function errorSection(r: CompareResult): HTMLElement | null {
  const errs = r.layers.flatMap((l) => l.errors.map((e) => ({ block: l.index, ...e })));
  if (!errs.length) return null;
  const canvas = h('canvas', { id: 'error-chart', role: 'img', 'aria-label': 'Relative error against model A at the massive entries and elsewhere, per block' });
  const variants = [...new Set(errs.map((e) => e.model))];
  const colors = palette();
  queueMicrotask(() => {
    const fg = css('--vscode-editor-foreground', '#ccc');
    charts.push(new Chart(canvas, {
      type: 'bar',
      data: {
        labels: r.layers.map((l) => String(l.index)),
        datasets: variants.flatMap((m, i) => [
          { label: `${label(m)} at massive entries`, data: r.layers.map((l) => l.errors.find((e) => e.model === m)?.massive?.rel ?? null), backgroundColor: colors[(i * 2) % colors.length] },
          { label: `${label(m)} elsewhere`, data: r.layers.map((l) => l.errors.find((e) => e.model === m)?.elsewhere.rel ?? null), backgroundColor: colors[(i * 2 + 1) % colors.length] },
        ]),
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { x: { ticks: { color: fg } }, y: { title: { display: true, text: 'relative error vs A', color: fg }, ticks: { color: fg } } }, plugins: { legend: { labels: { color: fg } } } },
    }));
  });
  return h('section', { 'aria-label': 'Error at the massive entries' },
    h('h2', {}, 'Error against A: at the massive entries and elsewhere'),
    h('div', { class: 'chart' }, canvas),
    h('table', { class: 'data', id: 'error-table' },
      h('thead', {}, h('tr', {}, ...['block', 'model', 'at massive entries (|Δ|, rel.)', 'elsewhere (|Δ|, rel.)'].map((c) => h('th', {}, c)))),
      h('tbody', {}, ...errs.map((e) => h('tr', {}, h('td', { class: 'num' }, String(e.block)), h('td', {}, label(e.model)),
        h('td', { class: 'num' }, e.massive ? `${fmt(e.massive.abs)} (${(e.massive.rel * 100).toFixed(3)}%)` : '—'),
        h('td', { class: 'num' }, `${fmt(e.elsewhere.abs)} (${(e.elsewhere.rel * 100).toFixed(3)}%)`))))),
    ...r.variants.map((v) => h('p', {}, `Next-token KL (A ‖ ${label(v.model)}): ${v.kl === null ? 'n/a' : v.kl.toExponential(3)} nats · top-1 agreement ${v.top1Agreement === null ? 'n/a' : `${(v.top1Agreement * 100).toFixed(1)}%`}`)));
}

function seriesSection(r: CompareResult): HTMLElement | null {
  const s = r.series;
  if (!s) return null;
  const canvas = h('canvas', { id: 'emergence-chart', role: 'img', 'aria-label': 'Top-1 over median per block across the checkpoints' });
  const colors = palette();
  queueMicrotask(() => {
    const fg = css('--vscode-editor-foreground', '#ccc');
    charts.push(new Chart(canvas, {
      type: 'line',
      data: { labels: s.checkpoints.map((c) => c.step === null ? c.name : String(c.step)), datasets: r.layers.map((l, b) => ({ label: `block ${l.index}`, data: s.ratio.map((row) => row[b]), borderColor: colors[b % colors.length], backgroundColor: colors[b % colors.length] })) },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { x: { title: { display: true, text: 'checkpoint', color: fg }, ticks: { color: fg } }, y: { type: 'logarithmic', title: { display: true, text: 'top-1 ÷ median', color: fg }, ticks: { color: fg } } }, plugins: { legend: { labels: { color: fg } } } },
    }));
  });
  return h('section', { 'aria-label': 'Emergence over the checkpoints' },
    h('h2', {}, 'Emergence over the checkpoints'),
    h('div', { class: 'chart' }, canvas),
    h('table', { class: 'data', id: 'emergence-table' },
      h('thead', {}, h('tr', {}, ...['token kind', 'channel', 'first checkpoint', 'step', 'block'].map((c) => h('th', {}, c)))),
      h('tbody', {}, ...s.emergence.map((e) => h('tr', {}, h('td', {}, e.kind), h('td', { class: 'num' }, String(e.channel)), h('td', {}, s.checkpoints[e.checkpoint].name), h('td', { class: 'num' }, e.step === null ? '—' : String(e.step)), h('td', { class: 'num' }, String(e.block)))))));
}
