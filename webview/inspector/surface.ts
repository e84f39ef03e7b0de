import { fmt } from '../dom';
import type { CellLocator } from '../readout';
import { palette, parseColor } from './theme';

export interface SurfaceSpec {
  rows: number;
  cols: number;
  value(r: number, c: number): number;
  massive(r: number, c: number): boolean;
  max: number;
  rowName: string;
  colName: string;
  /** What the first and last row and column are called on the floor's edges (token and channel numbers). */
  rowLabel?(r: number): string;
  colLabel?(c: number): string;
}

/** The view's orientation: yaw around the vertical axis and pitch of the floor, in degrees. */
export interface Orientation { yaw: number; pitch: number }

/** Colours of the bars: the map's log ramp, from a third of the way up so the floor stays visible. */
export const SURFACE_FLOOR = 0.35;

/** Each cell's bar as drawn: x, the floor's y, the top's y, the stroke width and the depth (larger: drawn later, in front). */
export interface Bar { x: number; y: number; top: number; w: number; depth: number }

/**
 * The paper's Figure 1: |activation| over token × channel as bars on a floor, seen from above at an
 * angle. Linear heights, so the massive activations tower over a floor the rest barely rise from.
 * Bars are drawn back to front; massive bars in the theme's massive colour. Returns where each
 * cell's bar is (rows × cols, row-major; also recorded on the canvas), for readouts and tests.
 */
export function drawSurface(canvas: HTMLCanvasElement, s: SurfaceSpec, o: Orientation): Bar[] {
  const p = palette();
  const W = 720, H = 420;
  canvas.width = W; canvas.height = H;
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = p.background;
  ctx.fillRect(0, 0, W, H);
  const yaw = (o.yaw * Math.PI) / 180, pitch = (o.pitch * Math.PI) / 180;
  const span = Math.max(s.rows, s.cols);
  const unit = (W * 0.62) / span;
  const cx = W / 2, cy = H * 0.66;
  const lift = H * 0.55;
  const project = (r: number, c: number) => {
    const x = (c - s.cols / 2) * unit, z = (r - s.rows / 2) * unit * (s.cols / Math.max(1, s.rows)) * 0.6;
    const rx = x * Math.cos(yaw) - z * Math.sin(yaw);
    const rz = x * Math.sin(yaw) + z * Math.cos(yaw);
    return { x: cx + rx, y: cy + rz * Math.sin(pitch), depth: rz };
  };
  // The floor's outline, so that the flat sea reads as a surface.
  ctx.strokeStyle = p.grid;
  ctx.lineWidth = 1;
  ctx.beginPath();
  ([[0, 0], [0, s.cols], [s.rows, s.cols], [s.rows, 0], [0, 0]] as const).forEach(([r, c], i) => {
    const q = project(r, c);
    if (i === 0) ctx.moveTo(q.x, q.y); else ctx.lineTo(q.x, q.y);
  });
  ctx.stroke();
  const heightOf = (v: number) => (v / Math.max(1e-12, s.max)) * lift * Math.cos(pitch * 0.6);
  const bg = parseColor(p.background), bulk = parseColor(p.bulk);
  const bar = Math.max(1, Math.min(6, unit * 0.8));
  const bars: Bar[] = new Array<Bar>(s.rows * s.cols);
  for (let r = 0; r < s.rows; r++) for (let c = 0; c < s.cols; c++) {
    const base = project(r + 0.5, c + 0.5);
    const m = s.massive(r, c);
    bars[r * s.cols + c] = { x: base.x, y: base.y, top: base.y - Math.max(0.5, heightOf(s.value(r, c))), w: m ? Math.max(2, bar) : bar, depth: base.depth };
  }
  const order = bars.map((_, i) => i).sort((a, b) => bars[a].depth - bars[b].depth);
  const logMax = Math.log1p(Math.max(1e-12, s.max));
  for (const i of order) {
    const r = Math.floor(i / s.cols), c = i % s.cols;
    const b = bars[i];
    const t = Math.min(1, SURFACE_FLOOR + (1 - SURFACE_FLOOR) * (Math.log1p(Math.max(0, s.value(r, c))) / logMax));
    ctx.strokeStyle = s.massive(r, c) ? p.massive : `rgb(${bg.map((x, k) => Math.round(x + (bulk[k] - x) * t)).join(',')})`;
    ctx.lineWidth = b.w;
    ctx.beginPath();
    ctx.moveTo(b.x, b.y);
    ctx.lineTo(b.x, b.top);
    ctx.stroke();
  }
  ctx.fillStyle = p.foreground;
  ctx.strokeStyle = p.foreground;
  ctx.font = '11px sans-serif';
  // The axes: channel along one edge of the floor, token along the other, |activation| upright at
  // the floor's corner, each with its values.
  const a = project(s.rows + 1.5, s.cols / 2), b = project(s.rows / 2, s.cols + 1.5);
  ctx.fillText(s.colName, a.x - 20, a.y + 14);
  ctx.fillText(s.rowName, b.x + 4, b.y);
  const tick = (q: { x: number; y: number }, text: string) => ctx.fillText(text, q.x - ctx.measureText(text).width / 2, q.y + 12);
  if (s.colLabel) { tick(project(s.rows, 0.5), s.colLabel(0)); if (s.cols > 1) tick(project(s.rows, s.cols - 0.5), s.colLabel(s.cols - 1)); }
  if (s.rowLabel) {
    const q0 = project(0.5, s.cols), q1 = project(s.rows - 0.5, s.cols);
    ctx.fillText(s.rowLabel(0), q0.x + 4, q0.y + 4);
    if (s.rows > 1) ctx.fillText(s.rowLabel(s.rows - 1), q1.x + 4, q1.y + 4);
  }
  const corner = [project(0, 0), project(0, s.cols), project(s.rows, 0), project(s.rows, s.cols)].sort((q, w) => q.x - w.x)[0];
  const full = heightOf(s.max);
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(corner.x - 8, corner.y);
  ctx.lineTo(corner.x - 8, corner.y - full);
  for (const f of [0, 0.5, 1]) { ctx.moveTo(corner.x - 12, corner.y - full * f); ctx.lineTo(corner.x - 8, corner.y - full * f); }
  ctx.stroke();
  for (const f of [0, 0.5, 1]) {
    const text = fmt(s.max * f);
    ctx.fillText(text, Math.max(2, corner.x - 14 - ctx.measureText(text).width), corner.y - full * f + 4);
  }
  ctx.fillText('|activation|', Math.max(2, corner.x - 40), corner.y - full - 8);
  ctx.fillText(`yaw ${Math.round(o.yaw)}° · pitch ${Math.round(o.pitch)}° (drag, or Shift+arrow keys)`, 8, 14);
  canvas.dataset.bars = JSON.stringify(bars.map((q) => [q.x, q.y, q.top, q.w].map((v) => Math.round(v * 100) / 100)));
  return bars;
}

/**
 * The cell under a point of the 3-D view: of the bars drawn at that pixel, the one drawn last (in
 * front); else the bar whose foot is nearest, within a bar's spacing. The box is the bar's.
 */
export function surfaceCells(bars: () => Bar[], cols: number): CellLocator {
  return {
    cellAt: (x, y) => {
      let hit = -1, near = -1, best = Infinity;
      const all = bars();
      all.forEach((b, i) => {
        const drawn = Math.abs(x - b.x) <= b.w / 2 + 1 && y >= b.top - 1 && y <= b.y + 1;
        if (drawn && (hit < 0 || b.depth > all[hit].depth)) hit = i;
        const d = Math.hypot(x - b.x, y - b.y);
        if (d < best) { best = d; near = i; }
      });
      const spacing = all.length > 1 ? Math.max(6, Math.hypot(all[0].x - all[1].x, all[0].y - all[1].y) * 1.5) : 12;
      const i = hit >= 0 ? hit : best <= spacing ? near : -1;
      return i < 0 ? undefined : [Math.floor(i / cols), i % cols];
    },
    box: (r, c) => {
      const b = bars()[r * cols + c];
      return { x: b.x - b.w / 2 - 2, y: b.top - 2, w: b.w + 4, h: b.y - b.top + 4 };
    },
  };
}
