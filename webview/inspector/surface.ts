import { palette, parseColor } from './theme';

export interface SurfaceSpec {
  rows: number;
  cols: number;
  value(r: number, c: number): number;
  massive(r: number, c: number): boolean;
  max: number;
  rowName: string;
  colName: string;
}

/** The view's orientation: yaw around the vertical axis and pitch of the floor, in degrees. */
export interface Orientation { yaw: number; pitch: number }

/**
 * The paper's Figure 1: |activation| over token × channel as bars on a floor, seen from above at an
 * angle. Linear heights, so the massive activations tower over a floor the rest barely rise from.
 * Bars are drawn back to front; massive bars in the theme's massive colour.
 */
export function drawSurface(canvas: HTMLCanvasElement, s: SurfaceSpec, o: Orientation): void {
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
  const cells: { r: number; c: number; depth: number }[] = [];
  for (let r = 0; r < s.rows; r++) for (let c = 0; c < s.cols; c++) cells.push({ r, c, depth: project(r + 0.5, c + 0.5).depth });
  cells.sort((a, b) => a.depth - b.depth);
  const bg = parseColor(p.background), bulk = parseColor(p.bulk);
  const bar = Math.max(1, Math.min(6, unit * 0.8));
  for (const { r, c } of cells) {
    const v = s.value(r, c);
    const base = project(r + 0.5, c + 0.5);
    const h = Math.max(0.5, (v / Math.max(1e-12, s.max)) * lift * Math.cos(pitch * 0.6));
    const m = s.massive(r, c);
    const t = Math.min(1, 0.35 + (v / Math.max(1e-12, s.max)) * 4);
    ctx.strokeStyle = m ? p.massive : `rgb(${bg.map((b, i) => Math.round(b + (bulk[i] - b) * t)).join(',')})`;
    ctx.lineWidth = m ? Math.max(2, bar) : bar;
    ctx.beginPath();
    ctx.moveTo(base.x, base.y);
    ctx.lineTo(base.x, base.y - h);
    ctx.stroke();
  }
  ctx.fillStyle = p.foreground;
  ctx.font = '11px sans-serif';
  const a = project(s.rows + 1, s.cols / 2), b = project(s.rows / 2, s.cols + 1);
  ctx.fillText(s.colName, a.x - 20, a.y + 14);
  ctx.fillText(s.rowName, b.x + 4, b.y);
  ctx.fillText(`yaw ${Math.round(o.yaw)}° · pitch ${Math.round(o.pitch)}° (drag, or arrow keys)`, 8, 14);
}
