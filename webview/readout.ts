import { fmt, h } from './dom';
import type { HeatmapGeometry } from './heatmap';
import { palette } from './inspector/theme';

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

/**
 * Makes a drawn map readable: hovering a cell, or moving a cursor with the arrow keys once the map
 * has the focus (Home / End: the row's ends; Page Up / Down: ten rows; N / Shift+N: the next or
 * previous massive activation), shows the cell's block, token, channel and value in a live region
 * under the map, read out by screen readers too. Returns that region.
 */
export function readout(canvas: HTMLCanvasElement, g: HeatmapGeometry, r: Readable): HTMLElement {
  const out = h('p', { class: 'readout', id: `${canvas.id}-readout`, role: 'status', 'aria-live': 'polite' }, r.hint);
  const cursor = h('div', { class: 'map-cursor', hidden: true });
  canvas.tabIndex = 0;
  canvas.setAttribute('aria-describedby', out.id);
  let at: [number, number] | undefined;
  const show = (row: number, col: number) => {
    at = [Math.max(0, Math.min(r.rows - 1, row)), Math.max(0, Math.min(r.cols - 1, col))];
    out.textContent = r.describe(at[0], at[1]);
    out.dataset.cell = `${at[0]},${at[1]}`;
    // The cursor sits over the cell as drawn, wherever CSS scaled the canvas to.
    const k = canvas.getBoundingClientRect().width / canvas.width || 1;
    Object.assign(cursor.style, {
      left: `${canvas.offsetLeft + g.colX[at[1]] * k - 1}px`, top: `${canvas.offsetTop + (g.labelH + at[0] * g.rowH) * k - 1}px`,
      width: `${g.colW[at[1]] * k + 2}px`, height: `${g.rowH * k + 2}px`,
    });
    cursor.hidden = false;
  };
  const cellAt = (e: PointerEvent): [number, number] | undefined => {
    const box = canvas.getBoundingClientRect();
    const k = canvas.width / (box.width || canvas.width);
    const x = (e.clientX - box.left) * k;
    const y = (e.clientY - box.top) * k;
    const col = g.colX.findIndex((x0, c) => x >= x0 && x < x0 + g.colW[c]);
    const row = Math.floor((y - g.labelH) / g.rowH);
    return col >= 0 && row >= 0 && row < r.rows ? [row, col] : undefined;
  };
  canvas.addEventListener('pointermove', (e) => { const c = cellAt(e); if (c) show(c[0], c[1]); });
  canvas.addEventListener('focus', () => { if (!at) show(...(r.marked?.[0] ?? [0, 0])); });
  canvas.addEventListener('keydown', (e) => {
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
export function legend(s: { id: string; title: string; scale: 'log' | 'linear'; min?: number; max: number; massive?: string }): HTMLElement {
  const p = palette();
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
      styled(h('span', { class: 'legend-ramp' }), { background: `linear-gradient(to right, ${p.background}, ${p.bulk})` }),
      h('span', { class: 'legend-ticks' }, ...ticks.map((v) => styled(h('span', { class: 'legend-tick' }, fmt(v)), { left: `${(100 * at(v)).toFixed(1)}%` })))),
    s.massive ? h('span', { class: 'legend-massive' }, styled(h('span', { class: 'legend-swatch' }), { background: p.massive }), s.massive) : null,
    h('span', { class: 'legend-axis muted' }, s.scale === 'log' ? 'log scale' : 'linear scale'));
}
