import { fmt, h } from './dom';
import type { HeatmapGeometry } from './heatmap';
import { palette, parseColor } from './inspector/theme';

/** A map's cells in words, for its readout: what the pointer or the keyboard cursor is on. */
export interface Readable {
  rows: number;
  cols: number;
  describe(r: number, c: number): string;
  /** Cells N and Shift+N step through (the massive activations), in reading order. */
  marked?: [number, number][];
  /** What the readout says before a cell is chosen. */
  hint: string;
}

/** Where a map's cells are on its canvas, in canvas pixels: the cell at a point, and the box a cell is drawn in. */
export interface CellLocator {
  cellAt(x: number, y: number): [number, number] | undefined;
  box(r: number, c: number): { x: number; y: number; w: number; h: number };
}

/** A heatmap's cells, from the geometry drawHeatmap returned (rows of one height, or each its own). */
export function gridCells(g: HeatmapGeometry): CellLocator {
  const top = (r: number) => g.rowY?.[r] ?? g.labelH + r * g.rowH;
  const height = (r: number) => g.rowHs?.[r] ?? g.rowH;
  const rows = g.rowY?.length;
  return {
    cellAt: (x, y) => {
      const col = g.colX.findIndex((x0, c) => x >= x0 && x < x0 + g.colW[c]);
      let row: number;
      if (g.rowY && g.rowHs) row = g.rowY.findIndex((y0, r) => y >= y0 && y < y0 + g.rowHs![r]);
      else row = Math.floor((y - g.labelH) / g.rowH);
      return col >= 0 && row >= 0 && (rows === undefined || row < rows) ? [row, col] : undefined;
    },
    box: (r, c) => ({ x: g.colX[c], y: top(r), w: g.colW[c], h: height(r) }),
  };
}

/**
 * Makes a drawn map readable: hovering a cell, or moving a cursor with the arrow keys once the map
 * has the focus (Home / End: the row's ends; Page Up / Down: ten rows; N / Shift+N: the next or
 * previous massive activation), shows the cell's block, token, channel and value in a live region
 * under the map, read out by screen readers too. Returns that region. `where` is a heatmap's
 * geometry or any other way of finding cells on the canvas (the 3-D view's projection); a canvas
 * drawn again (turned) fires 'redrawn', and the cursor follows its cell.
 */
export function readout(canvas: HTMLCanvasElement, where: HeatmapGeometry | CellLocator, r: Readable): HTMLElement {
  const cells = 'cellAt' in where ? where : gridCells(where);
  const out = h('p', { class: 'readout', id: `${canvas.id}-readout`, role: 'status', 'aria-live': 'polite' }, r.hint);
  const cursor = h('div', { class: 'map-cursor', hidden: true });
  canvas.tabIndex = 0;
  canvas.setAttribute('aria-describedby', out.id);
  let at: [number, number] | undefined;
  const place = () => {
    if (!at) return;
    // The cursor sits over the cell as drawn, wherever CSS scaled the canvas to.
    const k = canvas.getBoundingClientRect().width / canvas.width || 1;
    const b = cells.box(at[0], at[1]);
    Object.assign(cursor.style, {
      left: `${canvas.offsetLeft + b.x * k - 1}px`, top: `${canvas.offsetTop + b.y * k - 1}px`,
      width: `${b.w * k + 2}px`, height: `${b.h * k + 2}px`,
    });
    cursor.hidden = false;
  };
  const show = (row: number, col: number) => {
    at = [Math.max(0, Math.min(r.rows - 1, row)), Math.max(0, Math.min(r.cols - 1, col))];
    out.textContent = r.describe(at[0], at[1]);
    out.dataset.cell = `${at[0]},${at[1]}`;
    place();
  };
  const cellAt = (e: PointerEvent): [number, number] | undefined => {
    const box = canvas.getBoundingClientRect();
    const k = canvas.width / (box.width || canvas.width);
    const c = cells.cellAt((e.clientX - box.left) * k, (e.clientY - box.top) * k);
    return c && c[0] >= 0 && c[0] < r.rows && c[1] >= 0 && c[1] < r.cols ? c : undefined;
  };
  // A pressed button is a drag (turning the 3-D view), not a hover.
  canvas.addEventListener('pointermove', (e) => { if (e.buttons) return; const c = cellAt(e); if (c) show(c[0], c[1]); });
  canvas.addEventListener('redrawn', place);
  canvas.addEventListener('focus', () => { if (!at) show(...(r.marked?.[0] ?? [0, 0])); });
  canvas.addEventListener('keydown', (e) => {
    // Modified arrows belong to the view (Shift+arrows turn the 3-D view); Shift+N is ours.
    if (e.altKey || e.ctrlKey || e.metaKey || (e.shiftKey && e.key !== 'N' && e.key !== 'n')) return;
    const [row, col] = at ?? [0, 0];
    const marked = r.marked ?? [];
    const order = (p: [number, number]) => p[0] * r.cols + p[1];
    const here = order([row, col]);
    const next = e.shiftKey
      ? [...marked].reverse().find((p) => order(p) < here) ?? marked.at(-1)
      : marked.find((p) => order(p) > here) ?? marked[0];
    const moves: Record<string, [number, number] | undefined> = {
      ArrowLeft: [row, col - 1], ArrowRight: [row, col + 1], ArrowUp: [row - 1, col], ArrowDown: [row + 1, col],
      Home: [row, 0], End: [row, r.cols - 1], PageUp: [row - 10, col], PageDown: [row + 10, col],
      n: next, N: next,
    };
    const to = moves[e.key];
    if (!(e.key in moves)) return;
    e.preventDefault();
    if (to) show(to[0], to[1]);
  });
  canvas.parentElement?.classList.add('readable');
  canvas.insertAdjacentElement('afterend', cursor);
  return out;
}

/**
 * A map's colour scale as it is drawn (the ramp from the editor background to the bulk colour, on a
 * log or linear axis) with values at its ticks, and the massive colour, which the ramp never reaches.
 */
export function legend(s: { id: string; title: string; scale: 'log' | 'linear'; min?: number; max: number; massive?: string; floor?: number; note?: string }): HTMLElement {
  const p = palette();
  // A ramp that starts part-way from the background (the 3-D view's bars stay visible on the floor).
  const mix = (t: number) => { const a = parseColor(p.background), b = parseColor(p.bulk); return `rgb(${a.map((x, i) => Math.round(x + (b[i] - x) * t)).join(',')})`; };
  const min = s.min ?? 0;
  const span = Math.max(1e-12, s.max - min);
  const at = (v: number) => (s.scale === 'log' ? Math.log1p(Math.max(0, v - min)) / Math.log1p(span) : (v - min) / span);
  const candidates = s.scale === 'log'
    ? [min, ...Array.from({ length: 12 }, (_, k) => 10 ** (k - 2)).filter((v) => v > min && at(v) < 0.9), s.max]
    : [min, min + span / 2, s.max];
  // Labels a tenth of the bar apart at least, so none covers another (the ends always kept).
  const ticks: number[] = [];
  for (const v of candidates) {
    const last = ticks.at(-1);
    if (last === undefined || v === s.max || (at(v) - at(last) >= 0.1 && at(s.max) - at(v) >= 0.1)) ticks.push(v);
  }
  // Colours and positions through the CSSOM: the webview's CSP refuses style attributes.
  const styled = <E extends HTMLElement>(e: E, css: Partial<CSSStyleDeclaration>): E => {
    Object.assign(e.style, css);
    return e;
  };
  return h('div', { class: 'legend', id: s.id, role: 'group', 'aria-label': `${s.title}: colour scale` },
    h('span', { class: 'legend-title' }, s.title),
    h('span', { class: 'legend-scale' },
      styled(h('span', { class: 'legend-ramp' }), { background: `linear-gradient(to right, ${s.floor ? mix(s.floor) : p.background}, ${p.bulk})` }),
      h('span', { class: 'legend-ticks' }, ...ticks.map((v) => styled(h('span', { class: 'legend-tick' }, fmt(v)), { left: `${(100 * at(v)).toFixed(1)}%` })))),
    s.massive ? h('span', { class: 'legend-massive' }, styled(h('span', { class: 'legend-swatch' }), { background: p.massive }), s.massive) : null,
    h('span', { class: 'legend-axis muted' }, `${s.scale === 'log' ? 'log scale' : 'linear scale'}${s.note ? ` · ${s.note}` : ''}`));
}
