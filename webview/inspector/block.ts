import { binAxis, binIndex } from '../../src/engine/measure/bins';
import type { FeatureMapResult } from '../../src/experiments/featureMap/run';
import { fmt, h } from '../dom';
import { drawHeatmap } from '../heatmap';
import { legend, readout } from '../readout';
import { attentionPanel, drawAttention } from './attention';
import { dataTable } from './charts';
import { savePng } from './save';
import { hybrid, mixerText, persist, st, type AppState } from './state';
import { drawSurface, SURFACE_FLOOR, surfaceCells, type Bar, type Orientation } from './surface';
import { palette, parseColor } from './theme';

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
  const massiveTokens = [...new Set(fm.massive.map((a) => a.token))].sort((a, b) => a - b);
  // A token the user asked for (a chip, a table row, the Explorer) is in the window shown.
  const hlToken = st.highlight?.token;
  if (hlToken !== undefined && st.tokenWindow?.of === T && (hlToken < st.tokenWindow.from || hlToken > st.tokenWindow.to)) {
    const w = st.tokenWindow;
    st.tokenWindow = { ...clampWindow(hlToken - Math.floor((w.to - w.from) / 2), w.to - w.from + 1, T), of: T };
  }
  const area = h('div', { id: 'map-area' });
  const strip = T > ZOOM_FROM ? tokenOverview(fm, massiveTokens, Math.max(360, (box.clientWidth || 760) - 4), () => drawArea()) : null;
  box.append(...(strip ? [strip.el] : []), area);
  const drawArea = () => {
    strip?.update();
    const w = windowOf(T);
    drawMapArea(area, fm, layer, w, massiveTokens, canvasId, Math.max(360, (box.clientWidth || 760) - 4));
  };
  drawArea();
  const th = st.scan?.settings.thresholds;
  const criterion = th ? `massive: |a| > ${th.absolute.toLocaleString('en-US')} and ≥ ${th.ratio.toLocaleString('en-US')}× the block's median` : 'massive';
  box.append(st.mapView === '3d'
    ? legend({ id: 'map-legend', title: '|activation| (colour)', scale: 'log', max: fm.maxAbs, massive: criterion, floor: SURFACE_FLOOR, note: 'bar heights linear, 0 to the largest |a|' })
    : legend({ id: 'map-legend', title: '|activation|', scale: 'log', max: fm.maxAbs, massive: criterion }));
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

/** Inputs longer than this get the overview strip and a token window (whole-input rows would be under 8 px). */
export const ZOOM_FROM = 48;
/** The window a zoom starts with: rows of 13 px, each token its own. */
const ZOOM_TOKENS = 32;
const ZOOM_MIN = 8;

type Window = { from: number; to: number };

/** The tokens the map shows: the user's window on this input, else all of them. */
function windowOf(T: number): Window {
  const w = st.tokenWindow;
  return w && w.of === T && w.to < T ? { from: w.from, to: w.to } : { from: 0, to: T - 1 };
}

function clampWindow(from: number, length: number, T: number): Window {
  const len = Math.max(Math.min(ZOOM_MIN, T), Math.min(T, Math.round(length)));
  const f = Math.max(0, Math.min(T - len, Math.round(from)));
  return { from: f, to: f + len - 1 };
}

/**
 * The block's map (2-D or 3-D) of the tokens in window `w`: rows binned as before (each massive
 * token keeps a row, and the 2-D map gives those rows a readable height and their label), with its
 * readout reporting the input's own token indices.
 */
function drawMapArea(area: HTMLElement, fm: FeatureMapResult, layer: number, w: Window, massiveTokens: number[], canvasId: string, maxWidth: number): void {
  const T = fm.values.length;
  const n = w.to - w.from + 1;
  const zoomed = n < T;
  const local = binAxis(n, st.mapView === '3d' ? SURFACE_ROWS : MAP_ROWS, massiveTokens.filter((t) => t >= w.from && t <= w.to).map((t) => t - w.from));
  const rows = local.map((b) => ({ from: b.from + w.from, to: b.to + w.from, kept: b.kept }));
  const localRow = binIndex(local, n);
  const rowOf = (t: number) => (t >= w.from && t <= w.to ? localRow[t - w.from] : -1);
  const colOf = new Map<number, number>();
  fm.columns.forEach((c, i) => { for (let ch = c.from; ch <= c.to; ch++) colOf.set(ch, i); });
  const inWindow = fm.massive.filter((a) => a.token >= w.from && a.token <= w.to);
  const cells = new Set(inWindow.map((a) => `${rowOf(a.token)}:${colOf.get(a.channel)}`));
  const value = (r: number, c: number) => { let m = 0; for (let t = rows[r].from; t <= rows[r].to; t++) m = Math.max(m, fm.values[t][c]); return m; };
  const label = (b: typeof rows[number]) => (b.from === b.to ? `${b.from} ${fm.tokens[b.from]?.text ?? ''}` : `${b.from}–${b.to}`);
  const shown = zoomed ? ` · showing tokens ${w.from.toLocaleString('en-US')}–${w.to.toLocaleString('en-US')} of ${T.toLocaleString('en-US')}` : '';
  const description = `${fm.massiveChannels.length ? `massive channels ${fm.massiveChannels.join(', ')}` : 'no massive channels'} · ${fm.massive.length} massive activation${fm.massive.length === 1 ? '' : 's'} (in the massive colour) · ${fm.columns.length} columns${fm.columns.length < (st.model?.hiddenSize ?? 0) ? ' (others max-pooled)' : ''}${shown}${rows.length < n ? ` · ${zoomed ? n : T} tokens in ${rows.length} rows (max per row; massive tokens keep their own${st.mapView === '2d' ? ', labelled' : ''})` : ''}`;
  const canvas = h('canvas', { id: canvasId, role: 'img', 'aria-label': `${st.mapView === '3d' ? '3-D view' : 'Map'} of |activation| over token and channel, block ${layer}: ${description}` });
  area.replaceChildren(h('div', { class: 'canvas-wrap' }, canvas), h('p', { class: 'muted', id: 'map-description' }, description));
  canvas.dataset.columns = JSON.stringify(fm.columns.map((c) => [c.from, c.to]));
  canvas.dataset.rows = JSON.stringify(rows.map((b) => [b.from, b.to]));
  const median = st.scan?.layers[layer]?.median ?? 0;
  const range = (what: string, from: number, to: number) => (from === to ? `${what} ${from}` : `${what}s ${from}–${to}`);
  const marked = [...cells].map((k) => k.split(':').map(Number) as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const readable = {
    rows: rows.length, cols: fm.columns.length, marked,
    hint: st.mapView === '3d'
      ? 'Hover a bar, or focus the view and use the arrow keys (N: the next massive activation; Shift+arrows turn it), to read a value.'
      : 'Hover the map, or focus it and use the arrow keys (N: the next massive activation), to read a value.',
    describe: (r: number, c: number) => {
      const b = rows[r];
      const col = fm.columns[c];
      const token = b.from === b.to ? `token ${b.from} ${JSON.stringify(fm.tokens[b.from]?.text ?? '')}` : range('token', b.from, b.to);
      const m = inWindow.find((a) => rowOf(a.token) === r && colOf.get(a.channel) === c);
      const v = m ? `${fmt(m.value)}, massive (${fmt(Math.abs(m.value) / median)}× the block's median |a|)` : `|a| ${b.from === b.to && col.from === col.to ? '' : 'up to '}${fmt(value(r, c))}`;
      return `Block ${layer} · ${token} · ${range('channel', col.from, col.to)} · ${v}`;
    },
  };
  if (st.mapView === '3d') {
    let bars: Bar[] = [];
    const draw = () => {
      bars = drawSurface(canvas, {
        rows: rows.length, cols: fm.columns.length, value, massive: (r, c) => cells.has(`${r}:${c}`), max: fm.maxAbs, rowName: 'token', colName: 'channel',
        rowLabel: (r) => (rows[r].from === rows[r].to ? `${rows[r].from}` : `${rows[r].from}–${rows[r].to}`),
        colLabel: (c) => (fm.columns[c].from === fm.columns[c].to ? `${fm.columns[c].from}` : `${fm.columns[c].from}–${fm.columns[c].to}`),
      }, orientation);
      canvas.dispatchEvent(new Event('redrawn'));
    };
    draw();
    rotatable(canvas, draw);
    canvas.parentElement!.insertAdjacentElement('afterend', readout(canvas, surfaceCells(() => bars, fm.columns.length), readable));
  } else {
    const hl = st.highlight ? colOf.get(st.highlight.channel) : undefined;
    const massiveCols = fm.columns.map((c, i) => (c.massive ? i : -1)).filter((i) => i >= 0);
    const keptRows = rows.map((b, i) => (b.kept ? i : -1)).filter((i) => i >= 0);
    const g = drawHeatmap(canvas, {
      rows: rows.length, cols: fm.columns.length, value, scale: 'log', max: fm.maxAbs,
      rowLabels: rows.map(label), colLabels: fm.columns.map((c) => (c.massive ? `ch${c.from}` : null)),
      markedCols: massiveCols, wideCols: massiveCols, markedRows: keptRows, tallRows: keptRows,
      massive: (r, c) => cells.has(`${r}:${c}`),
      highlight: st.highlight && hl !== undefined && rowOf(st.highlight.token) >= 0 ? { row: rowOf(st.highlight.token), col: hl } : undefined,
      maxWidth,
    });
    canvas.parentElement!.insertAdjacentElement('afterend', readout(canvas, g, readable));
  }
}

/**
 * The whole token axis of a long input as a strip (max |a| per token in the map's colours, massive
 * tokens in the massive colour) with a window on it: drag the window, drag out a new one, or
 * focus it and use the keys; the map above shows only the tokens in the window.
 */
function tokenOverview(fm: FeatureMapResult, massiveTokens: number[], width: number, changed: () => void): { el: HTMLElement; update(): void } {
  const T = fm.values.length;
  const p = palette();
  const strip = h('canvas', { id: 'token-overview', role: 'img', 'aria-label': `Overview of all ${T.toLocaleString('en-US')} tokens: max |activation| per token, massive tokens in the massive colour` });
  const W = Math.max(120, Math.min(width, 900)), H = 24;
  strip.width = W; strip.height = H;
  const ctx = strip.getContext('2d')!;
  ctx.fillStyle = p.background;
  ctx.fillRect(0, 0, W, H);
  const perToken = fm.values.map((row) => row.reduce((a, b) => Math.max(a, b), 0));
  const bg = parseColor(p.background), bulk = parseColor(p.bulk);
  const logMax = Math.log1p(Math.max(1e-12, fm.maxAbs));
  for (let x = 0; x < W; x++) {
    const t0 = Math.floor((x * T) / W), t1 = Math.max(t0, Math.floor(((x + 1) * T) / W) - 1);
    let m = 0;
    for (let t = t0; t <= t1 && t < T; t++) m = Math.max(m, perToken[t]);
    const k = Math.min(1, Math.log1p(m) / logMax);
    ctx.fillStyle = `rgb(${bg.map((b, i) => Math.round(b + (bulk[i] - b) * k)).join(',')})`;
    ctx.fillRect(x, 0, 1, H);
  }
  ctx.fillStyle = p.massive;
  for (const t of massiveTokens) ctx.fillRect(Math.floor((t * W) / T), 0, Math.max(2, Math.ceil(W / T)), H);
  const brush = h('div', {
    id: 'token-brush', role: 'slider', tabindex: 0, 'aria-label': 'Tokens shown in the map', 'aria-controls': 'map-area',
    'aria-valuemin': 0, 'aria-valuemax': T - 1, 'aria-orientation': 'horizontal',
  });
  const wrap = h('div', { class: 'overview-wrap' }, strip, brush);
  const caption = h('p', { class: 'muted', id: 'token-window-note' });
  const reset = h('vscode-button', { id: 'token-window-whole', appearance: 'secondary', onclick: () => set({ from: 0, to: T - 1 }) }, 'Whole input');
  const el = h('div', { class: 'token-overview', role: 'group', 'aria-label': 'Token window' },
    h('div', { class: 'row' }, h('span', { class: 'muted' }, `All ${T.toLocaleString('en-US')} tokens`), reset), wrap, caption);
  const whole = () => { const w = windowOf(T); return w.from === 0 && w.to === T - 1; };
  const set = (w: Window) => {
    st.tokenWindow = w.from === 0 && w.to === T - 1 ? undefined : { ...w, of: T };
    changed();
  };
  const centred = (t: number, len: number) => clampWindow(t - Math.floor(len / 2), len, T);
  const update = () => {
    const w = windowOf(T);
    const k = 100 / T;
    Object.assign(brush.style, { left: `${(w.from * k).toFixed(3)}%`, width: `${Math.max(0.4, (w.to - w.from + 1) * k).toFixed(3)}%` });
    const text = `tokens ${w.from.toLocaleString('en-US')}–${w.to.toLocaleString('en-US')} of ${T.toLocaleString('en-US')}`;
    brush.setAttribute('aria-valuenow', String(w.from));
    brush.setAttribute('aria-valuetext', text);
    brush.dataset.window = `${w.from},${w.to}`;
    caption.textContent = `Showing ${text}. Drag on the strip to choose tokens, or focus the window: arrows move it, + / − zoom, N / Shift+N go to the next / previous massive token, 0 shows the whole input.`;
  };
  brush.addEventListener('keydown', (e) => {
    const w = windowOf(T);
    const len = w.to - w.from + 1;
    const step = Math.max(1, Math.round(len / 4));
    const mid = (w.from + w.to) / 2;
    const zoomLen = whole() ? Math.min(ZOOM_TOKENS, T) : len;
    const nextMassive = e.shiftKey
      ? [...massiveTokens].reverse().find((t) => t < mid - 0.5) ?? massiveTokens.at(-1)
      : massiveTokens.find((t) => t > mid + 0.5) ?? massiveTokens[0];
    const moves: Record<string, () => Window | undefined> = {
      ArrowLeft: () => clampWindow(w.from - step, len, T), ArrowDown: () => clampWindow(w.from - step, len, T),
      ArrowRight: () => clampWindow(w.from + step, len, T), ArrowUp: () => clampWindow(w.from + step, len, T),
      PageUp: () => clampWindow(w.from - len, len, T), PageDown: () => clampWindow(w.from + len, len, T),
      Home: () => clampWindow(0, len, T), End: () => clampWindow(T - len, len, T),
      '+': () => centred(Math.floor(mid), whole() ? Math.min(ZOOM_TOKENS, T) : len / 2),
      '=': () => centred(Math.floor(mid), whole() ? Math.min(ZOOM_TOKENS, T) : len / 2),
      '-': () => centred(Math.floor(mid), len * 2), _: () => centred(Math.floor(mid), len * 2),
      '0': () => ({ from: 0, to: T - 1 }), Escape: () => ({ from: 0, to: T - 1 }),
      n: () => (nextMassive === undefined ? undefined : centred(nextMassive, zoomLen)),
      N: () => (nextMassive === undefined ? undefined : centred(nextMassive, zoomLen)),
    };
    if (!(e.key in moves) || e.altKey || e.ctrlKey || e.metaKey) return;
    e.preventDefault();
    const to = moves[e.key]();
    if (to && (to.from !== w.from || to.to !== w.to)) set(to);
  });
  // The pointer: drag the window to move it; drag elsewhere to choose a new one; a click centres it there.
  const tokenAt = (e: PointerEvent) => {
    const b = strip.getBoundingClientRect();
    return Math.max(0, Math.min(T - 1, Math.floor(((e.clientX - b.left) / (b.width || 1)) * T)));
  };
  let drag: { mode: 'move'; offset: number } | { mode: 'select'; anchor: number; moved: boolean } | undefined;
  wrap.addEventListener('pointerdown', (e) => {
    const t = tokenAt(e);
    const w = windowOf(T);
    drag = !whole() && t >= w.from && t <= w.to ? { mode: 'move', offset: t - w.from } : { mode: 'select', anchor: t, moved: false };
    wrap.setPointerCapture(e.pointerId);
    brush.focus();
    e.preventDefault();
  });
  wrap.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const t = tokenAt(e);
    const w = windowOf(T);
    if (drag.mode === 'move') { const to = clampWindow(t - drag.offset, w.to - w.from + 1, T); if (to.from !== w.from) set(to); return; }
    if (t === drag.anchor && !drag.moved) return;
    drag.moved = true;
    const a = Math.min(drag.anchor, t), b = Math.max(drag.anchor, t);
    set(clampWindow(a, b - a + 1, T));
  });
  wrap.addEventListener('pointerup', (e) => {
    if (drag?.mode === 'select' && !drag.moved) set(centred(tokenAt(e), whole() ? Math.min(ZOOM_TOKENS, T) : windowOf(T).to - windowOf(T).from + 1));
    drag = undefined;
  });
  update();
  return { el, update };
}

/** Drag with the pointer, or use Shift and the arrow keys, to turn the 3-D view. */
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
  // Shift+arrows turn it; the plain arrows move the readout's cursor.
  canvas.addEventListener('keydown', (e) => {
    const turn: Record<string, [number, number]> = { ArrowLeft: [-10, 0], ArrowRight: [10, 0], ArrowUp: [0, 5], ArrowDown: [0, -5] };
    const t = turn[e.key];
    if (!t || !e.shiftKey) return;
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
