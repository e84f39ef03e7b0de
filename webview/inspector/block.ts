import { binAxis, binIndex } from '../../src/engine/measure/bins';
import type { FeatureMapResult } from '../../src/experiments/featureMap/run';
import { fmt, h } from '../dom';
import { drawHeatmap } from '../heatmap';
import { legend, readout } from '../readout';
import { attentionPanel, drawAttention } from './attention';
import { dataTable } from './charts';
import { savePng } from './save';
import { hybrid, mixerText, persist, st, type AppState } from './state';
import { drawSurface, type Orientation } from './surface';

/** Map rows beyond this are binned (max per bin), the massive tokens keeping a row each. */
export const MAP_ROWS = 160;
const SURFACE_ROWS = 64;
const orientation: Orientation = { yaw: -30, pitch: 35 };

/** The selected block: its token × channel map (2-D or 3-D), its top activations and its attention. */
export function renderBlock(): void {
  const box = document.getElementById('layer');
  if (!box) return;
  if (!st.scan || st.layer === undefined) { box.replaceChildren(); return; }
  const l = st.scan.layers[st.layer];
  const v = st.layerView?.layer === st.layer ? st.layerView : undefined;
  const mapBox = h('div', { id: 'map-box' });
  box.replaceChildren(
    h('div', { class: 'section-head' }, h('h2', {}, `Block ${l.index}`), h('span', { class: 'muted' }, `${hybrid(st.model) ? `${mixerText(l)} · ` : ''}median |a| ${fmt(l.median)} · top-1 ×${fmt(l.ratio)} · ${l.massive.length ? `${l.massive.length} massive activations` : 'no massive activations'}`)),
    mapBox,
    h('div', { class: 'columns' },
      h('div', { class: 'column' }, topTable()),
      h('div', { class: 'column' }, attentionPanel(v))),
  );
  renderMap(mapBox, v?.featureMap, l.index);
  if (v) drawAttention(v);
}

function renderMap(box: HTMLElement, fm: FeatureMapResult | undefined, layer: number): void {
  const toggle = h('vscode-radio-group', { id: 'map-view', orientation: 'horizontal' },
    h('label', { slot: 'label' }, 'View'),
    h('vscode-radio', { value: '2d', checked: st.mapView === '2d' }, '2-D map'),
    h('vscode-radio', { value: '3d', checked: st.mapView === '3d' }, '3-D view'));
  toggle.addEventListener('change', () => {
    const val = (toggle as unknown as { value: AppState['mapView'] }).value;
    if (!val || val === st.mapView) return;
    st.mapView = val;
    persist();
    renderMap(box, fm, layer);
  });
  const canvasId = st.mapView === '3d' ? 'surface' : 'feature-map';
  box.replaceChildren(h('div', { class: 'section-head' }, h('h3', {}, 'Token × channel |activation|'), fm ? toggle : null,
    h('vscode-button', { appearance: 'icon', title: 'Save as PNG', 'aria-label': 'Save the map as PNG', onclick: () => savePng(`block-${layer}-${st.mapView}`, canvasId) }, '⤓')));
  if (!fm) {
    box.append(h('p', { class: 'muted', id: 'map-note' }, st.stack > 0 ? 'The magnitude map and attention view are computed for the encoder stack; the decoder blocks show their statistics here.' : 'Loading the map…'));
    return;
  }
  const T = fm.values.length;
  const massiveTokens = [...new Set(fm.massive.map((a) => a.token))];
  const rows = binAxis(T, st.mapView === '3d' ? SURFACE_ROWS : MAP_ROWS, massiveTokens);
  const colOf = new Map<number, number>();
  fm.columns.forEach((c, i) => { for (let ch = c.from; ch <= c.to; ch++) colOf.set(ch, i); });
  const rowOf = binIndex(rows, T);
  const cells = new Set(fm.massive.map((a) => `${rowOf[a.token]}:${colOf.get(a.channel)}`));
  const value = (r: number, c: number) => { let m = 0; for (let t = rows[r].from; t <= rows[r].to; t++) m = Math.max(m, fm.values[t][c]); return m; };
  const massiveCols = fm.columns.map((c, i) => (c.massive ? i : -1)).filter((i) => i >= 0);
  const label = (b: typeof rows[number]) => (b.from === b.to ? `${b.from} ${fm.tokens[b.from]?.text ?? ''}` : `${b.from}–${b.to}`);
  const description = `${fm.massiveChannels.length ? `massive channels ${fm.massiveChannels.join(', ')}` : 'no massive channels'} · ${fm.massive.length} massive activation${fm.massive.length === 1 ? '' : 's'} (in the massive colour) · ${fm.columns.length} columns${fm.columns.length < (st.model?.hiddenSize ?? 0) ? ' (others max-pooled)' : ''}${rows.length < T ? ` · ${T} tokens in ${rows.length} rows (max per row; massive tokens keep their own)` : ''}`;
  const canvas = h('canvas', { id: canvasId, role: 'img', tabindex: st.mapView === '3d' ? 0 : undefined, 'aria-label': `${st.mapView === '3d' ? '3-D view' : 'Map'} of |activation| over token and channel, block ${layer}: ${description}` });
  box.append(h('div', { class: 'canvas-wrap' }, canvas), h('p', { class: 'muted', id: 'map-description' }, description));
  if (st.mapView === '3d') {
    const draw = () => drawSurface(canvas, { rows: rows.length, cols: fm.columns.length, value, massive: (r, c) => cells.has(`${r}:${c}`), max: fm.maxAbs, rowName: 'token', colName: 'channel' }, orientation);
    draw();
    rotatable(canvas, draw);
  } else {
    const hl = st.highlight ? colOf.get(st.highlight.channel) : undefined;
    const g = drawHeatmap(canvas, {
      rows: rows.length, cols: fm.columns.length, value, scale: 'log', max: fm.maxAbs,
      rowLabels: rows.map(label), colLabels: fm.columns.map((c) => (c.massive ? `ch${c.from}` : null)),
      markedCols: massiveCols, wideCols: massiveCols, markedRows: rows.map((b, i) => (b.kept ? i : -1)).filter((i) => i >= 0),
      massive: (r, c) => cells.has(`${r}:${c}`),
      highlight: st.highlight && hl !== undefined ? { row: rowOf[st.highlight.token] ?? -1, col: hl } : undefined,
      maxWidth: Math.max(360, (box.clientWidth || 760) - 4),
    });
    canvas.dataset.columns = JSON.stringify(fm.columns.map((c) => [c.from, c.to]));
    const median = st.scan?.layers[layer]?.median ?? 0;
    const range = (what: string, from: number, to: number) => (from === to ? `${what} ${from}` : `${what}s ${from}–${to}`);
    const marked = [...cells].map((k) => k.split(':').map(Number) as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    canvas.parentElement!.insertAdjacentElement('afterend', readout(canvas, g, {
      rows: rows.length, cols: fm.columns.length, marked,
      hint: 'Hover the map, or focus it and use the arrow keys (N: the next massive activation), to read a value.',
      describe: (r, c) => {
        const b = rows[r];
        const col = fm.columns[c];
        const token = b.from === b.to ? `token ${b.from} ${JSON.stringify(fm.tokens[b.from]?.text ?? '')}` : range('token', b.from, b.to);
        const m = fm.massive.find((a) => rowOf[a.token] === r && colOf.get(a.channel) === c);
        const v = m ? `${fmt(m.value)}, massive (${fmt(Math.abs(m.value) / median)}× the block's median |a|)` : `|a| ${b.from === b.to && col.from === col.to ? '' : 'up to '}${fmt(value(r, c))}`;
        return `Block ${layer} · ${token} · ${range('channel', col.from, col.to)} · ${v}`;
      },
    }));
  }
  const th = st.scan?.settings.thresholds;
  const criterion = th ? `massive: |a| > ${th.absolute.toLocaleString('en-US')} and ≥ ${th.ratio.toLocaleString('en-US')}× the block's median` : 'massive';
  box.append(legend({ id: 'map-legend', title: '|activation|', scale: 'log', max: fm.maxAbs, massive: criterion }));
  box.append(dataTable('The massive activations', ['token', 'text', 'channel', 'value'], fm.massive.slice(0, 200).map((a) => [a.token, JSON.stringify(fm.tokens[a.token]?.text ?? ''), a.channel, fmt(a.value)])));
  const pm = fm.patchMap;
  if (pm) {
    const pc = h('canvas', { id: 'patch-map', role: 'img', 'aria-label': 'Maximum magnitude per image patch' });
    box.append(h('h3', {}, 'Patch grid (max |activation| per patch)'), h('div', { class: 'canvas-wrap' }, pc));
    const pg = drawHeatmap(pc, { rows: pm.rows, cols: pm.cols, value: (r, c) => pm.values[r][c], scale: 'log', max: Math.max(...pm.values.flat()), maxWidth: 320 });
    pc.parentElement!.insertAdjacentElement('afterend', readout(pc, pg, {
      rows: pm.rows, cols: pm.cols, hint: 'Hover a patch, or focus the grid and use the arrow keys, to read its value.',
      describe: (r, c) => `Block ${layer} · patch row ${r}, column ${c} · max |a| ${fmt(pm.values[r][c])}`,
    }));
    box.append(dataTable('The patch grid', ['row', ...Array.from({ length: pm.cols }, (_, c) => `col ${c}`)], pm.values.map((row, r) => [r, ...row.map((v) => v.toFixed(3))]), 'patch-table'));
  }
}

/** Drag with the pointer, or use the arrow keys, to turn the 3-D view. */
function rotatable(canvas: HTMLCanvasElement, draw: () => void): void {
  let drag: { x: number; y: number } | undefined;
  canvas.addEventListener('pointerdown', (e) => { drag = { x: e.clientX, y: e.clientY }; canvas.setPointerCapture(e.pointerId); });
  canvas.addEventListener('pointerup', () => { drag = undefined; });
  canvas.addEventListener('pointermove', (e) => {
    if (!drag) return;
    orientation.yaw += (e.clientX - drag.x) * 0.5;
    orientation.pitch = Math.max(5, Math.min(85, orientation.pitch + (e.clientY - drag.y) * 0.3));
    drag = { x: e.clientX, y: e.clientY };
    draw();
  });
  canvas.addEventListener('keydown', (e) => {
    const turn: Record<string, [number, number]> = { ArrowLeft: [-10, 0], ArrowRight: [10, 0], ArrowUp: [0, 5], ArrowDown: [0, -5] };
    const t = turn[e.key];
    if (!t) return;
    e.preventDefault();
    orientation.yaw += t[0];
    orientation.pitch = Math.max(5, Math.min(85, orientation.pitch + t[1]));
    draw();
  });
}

function topTable(): HTMLElement {
  const r = st.scan!;
  const l = r.layers[st.layer!];
  const rows = l.top.map((a, i) => ({ rank: i + 1, token: a.token, text: r.tokens[a.token]?.text ?? '', channel: a.channel, value: a.value, times: Math.abs(a.value) / l.median, massive: l.massive.some((m) => m.token === a.token && m.channel === a.channel) }));
  const k = st.sort.key;
  rows.sort((p, q) => {
    const x = k === 'value' ? Math.abs(p.value) - Math.abs(q.value) : (p[k] as number) - (q[k] as number);
    return st.sort.desc ? -x : x;
  });
  const head = (key: AppState['sort']['key'], label: string) => h('th', { scope: 'col', 'aria-sort': st.sort.key === key ? (st.sort.desc ? 'descending' : 'ascending') : 'none' },
    h('button', { class: 'sort', onclick: () => { st.sort = { key, desc: st.sort.key === key ? !st.sort.desc : key === 'value' || key === 'times' }; renderBlock(); } }, label, st.sort.key === key ? (st.sort.desc ? ' ▾' : ' ▴') : ''));
  return h('table', { id: 'top-table', class: 'data' },
    h('caption', {}, 'Top activations'),
    h('thead', {}, h('tr', {}, head('rank', '#'), head('token', 'token'), h('th', { scope: 'col' }, 'position'), head('channel', 'channel'), head('value', 'value'), head('times', '× median'))),
    h('tbody', {}, ...rows.map((x) => h('tr', { class: `${x.massive ? 'massive' : ''}${st.highlight && st.highlight.token === x.token && st.highlight.channel === x.channel ? ' highlight' : ''}` },
      h('td', {}, x.rank), h('td', {}, JSON.stringify(x.text)), h('td', {}, x.token), h('td', {}, x.channel), h('td', { class: 'num' }, fmt(x.value)), h('td', { class: 'num' }, fmt(x.times))))));
}
