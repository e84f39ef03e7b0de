import { palette, parseColor } from './inspector/theme';

export interface HeatmapSpec {
  rows: number;
  cols: number;
  value(r: number, c: number): number | null;
  /** Map values to [0, 1]; null cells are left blank. */
  scale: 'log' | 'linear';
  min?: number;
  max: number;
  rowLabels?: (string | null)[];
  colLabels?: (string | null)[];
  /** Rows and columns to tick in the margin (massive tokens, massive channels). */
  markedRows?: number[];
  markedCols?: number[];
  /** Cells drawn in the theme's massive colour instead of the ramp. */
  massive?(r: number, c: number): boolean;
  /** Columns drawn wider than the rest so that they survive any zoom (massive channels). */
  wideCols?: number[];
  highlight?: { row: number; col: number };
  /** Longest side the canvas may take, in pixels. */
  maxWidth?: number;
}


/** Where each column and row lies on the canvas (also recorded on the canvas for tests and hit-testing). */
export interface HeatmapGeometry { labelW: number; labelH: number; colX: number[]; colW: number[]; rowH: number }

/**
 * Draws a matrix into a canvas in the theme's colours. The bulk is a single-hue ramp from the
 * editor background; massive cells are the theme's red, a colour the ramp never reaches, so the
 * few values thousands of times larger stand out in light, dark and high-contrast themes alike.
 */
export function drawHeatmap(canvas: HTMLCanvasElement, s: HeatmapSpec): HeatmapGeometry {
  const p = palette();
  const labelW = s.rowLabels ? 72 : 0;
  const labelH = s.colLabels || s.markedCols ? 18 : 0;
  const wide = new Set(s.wideCols ?? []);
  const budget = (s.maxWidth ?? 760) - labelW;
  const base = Math.max(1, Math.min(24, Math.floor((budget - wide.size * 6) / Math.max(1, s.cols))));
  const colW = Array.from({ length: s.cols }, (_, c) => (wide.has(c) ? Math.max(6, base) : base));
  const colX: number[] = [];
  let x = labelW;
  for (const w of colW) { colX.push(x); x += w; }
  const rowH = Math.max(2, Math.min(24, Math.floor(420 / Math.max(1, s.rows))));
  canvas.width = x + 2;
  canvas.height = labelH + s.rows * rowH + 2;
  const ctx = canvas.getContext('2d')!;
  const bg = parseColor(p.background);
  const bulk = parseColor(p.bulk);
  ctx.fillStyle = p.background;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const min = s.min ?? 0;
  const norm = (v: number) => (s.scale === 'log'
    ? Math.log1p(Math.max(0, v - min)) / Math.log1p(Math.max(1e-12, s.max - min))
    : (v - min) / Math.max(1e-12, s.max - min));
  for (let r = 0; r < s.rows; r++) for (let c = 0; c < s.cols; c++) {
    const v = s.value(r, c);
    if (v === null) continue;
    if (s.massive?.(r, c)) { ctx.fillStyle = p.massive; ctx.fillRect(colX[c], labelH + r * rowH, colW[c], rowH); continue; }
    const t = Math.min(1, Math.max(0, norm(v)));
    ctx.fillStyle = `rgb(${bg.map((b, i) => Math.round(b + (bulk[i] - b) * t)).join(',')})`;
    ctx.fillRect(colX[c], labelH + r * rowH, colW[c], rowH);
  }
  ctx.font = '10px sans-serif';
  ctx.fillStyle = p.foreground;
  ctx.textBaseline = 'middle';
  if (s.rowLabels && rowH >= 8) s.rowLabels.forEach((l, r) => { if (l) ctx.fillText(l.slice(0, 11), 2, labelH + r * rowH + rowH / 2); });
  // Marks sit in the margins, never on the cells, so they cannot be taken for a value.
  ctx.fillStyle = p.marker;
  for (const c of s.markedCols ?? []) ctx.fillRect(colX[c], labelH - 4, colW[c], 3);
  for (const r of s.markedRows ?? []) if (labelW) ctx.fillRect(labelW - 4, labelH + r * rowH, 3, rowH);
  ctx.fillStyle = p.foreground;
  if (s.colLabels) {
    let free = 0;
    s.colLabels.forEach((l, c) => {
      if (!l) return;
      // Kept inside the canvas: a massive channel near the right edge is labelled too.
      const x = Math.max(labelW, Math.min(colX[c], canvas.width - ctx.measureText(l).width - 1));
      if (x < free) return;
      ctx.fillText(l, x, 7);
      free = x + ctx.measureText(l).width + 4;
    });
  }
  if (s.highlight && s.highlight.row >= 0) {
    ctx.strokeStyle = p.foreground;
    ctx.lineWidth = 2;
    ctx.strokeRect(colX[s.highlight.col] - 1, labelH + s.highlight.row * rowH - 1, colW[s.highlight.col] + 2, rowH + 2);
  }
  const g = { labelW, labelH, colX, colW, rowH };
  canvas.dataset.geometry = JSON.stringify(g);
  return g;
}
