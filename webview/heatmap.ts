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
  /**
   * Rows drawn taller than the rest, with their labels, when the rows are too many to label them
   * all (massive tokens in a long input): they keep a readable height and their name.
   */
  tallRows?: number[];
  highlight?: { row: number; col: number };
  /** Longest side the canvas may take, in pixels. */
  maxWidth?: number;
}


/** Where each column and row lies on the canvas (also recorded on the canvas for tests and hit-testing). */
export interface HeatmapGeometry {
  labelW: number; labelH: number; colX: number[]; colW: number[];
  /** The rows' height, or the height of the ordinary rows when some are taller (then rowY / rowHs hold each row's). */
  rowH: number;
  rowY?: number[]; rowHs?: number[];
}

/** Rows this high or higher carry their label; lower ones only if they are tall rows (massive). */
const LABEL_ROW = 8;
const TALL_ROW = 12;

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
  const even = Math.max(2, Math.min(24, Math.floor(420 / Math.max(1, s.rows))));
  const tall = new Set((s.tallRows ?? []).filter((r) => r >= 0 && r < s.rows));
  // Too low to label, and a few rows that must be read: those get a readable height of their own,
  // the rest share what is left (never under 2 px).
  const uneven = even < LABEL_ROW && tall.size > 0 && tall.size * TALL_ROW <= 420 * 0.6;
  const rowH = uneven ? Math.max(2, Math.floor((420 - tall.size * TALL_ROW) / Math.max(1, s.rows - tall.size))) : even;
  const rowHs = Array.from({ length: s.rows }, (_, r) => (uneven && tall.has(r) ? TALL_ROW : rowH));
  const rowY: number[] = [];
  let y = labelH;
  for (const hh of rowHs) { rowY.push(y); y += hh; }
  canvas.width = colX.length ? colX[colX.length - 1] + colW[colW.length - 1] + 2 : labelW + 2;
  canvas.height = y + 2;
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
    if (s.massive?.(r, c)) { ctx.fillStyle = p.massive; ctx.fillRect(colX[c], rowY[r], colW[c], rowHs[r]); continue; }
    const t = Math.min(1, Math.max(0, norm(v)));
    ctx.fillStyle = `rgb(${bg.map((b, i) => Math.round(b + (bulk[i] - b) * t)).join(',')})`;
    ctx.fillRect(colX[c], rowY[r], colW[c], rowHs[r]);
  }
  ctx.font = '10px sans-serif';
  ctx.fillStyle = p.foreground;
  ctx.textBaseline = 'middle';
  // Row labels: every row high enough to carry one, and the tall (massive) rows whatever their
  // height, each where it does not cover the one before. The labels drawn are recorded on the canvas.
  const labelled: [number, string][] = [];
  if (s.rowLabels) {
    let free = 0;
    s.rowLabels.forEach((l, r) => {
      if (!l || (rowHs[r] < LABEL_ROW && !tall.has(r))) return;
      const mid = rowY[r] + rowHs[r] / 2;
      if (mid - 5 < free) return;
      ctx.fillText(l.slice(0, 11), 2, mid);
      labelled.push([r, l.slice(0, 11)]);
      free = mid + 5;
    });
  }
  canvas.dataset.rowLabels = JSON.stringify(labelled);
  // Marks sit in the margins, never on the cells, so they cannot be taken for a value.
  ctx.fillStyle = p.marker;
  for (const c of s.markedCols ?? []) ctx.fillRect(colX[c], labelH - 4, colW[c], 3);
  for (const r of s.markedRows ?? []) if (labelW && r < s.rows) ctx.fillRect(labelW - 4, rowY[r], 3, rowHs[r]);
  ctx.fillStyle = p.foreground;
  const colLabelled: [number, string][] = [];
  if (s.colLabels) {
    let free = 0;
    s.colLabels.forEach((l, c) => {
      if (!l) return;
      // Kept inside the canvas: a massive channel near the right edge is labelled too.
      const x = Math.max(labelW, Math.min(colX[c], canvas.width - ctx.measureText(l).width - 1));
      if (x < free) return;
      ctx.fillText(l, x, 7);
      colLabelled.push([c, l]);
      free = x + ctx.measureText(l).width + 4;
    });
  }
  canvas.dataset.colLabels = JSON.stringify(colLabelled);
  if (s.highlight && s.highlight.row >= 0) {
    ctx.strokeStyle = p.foreground;
    ctx.lineWidth = 2;
    ctx.strokeRect(colX[s.highlight.col] - 1, rowY[s.highlight.row] - 1, colW[s.highlight.col] + 2, rowHs[s.highlight.row] + 2);
  }
  const g: HeatmapGeometry = uneven ? { labelW, labelH, colX, colW, rowH, rowY, rowHs } : { labelW, labelH, colX, colW, rowH };
  canvas.dataset.geometry = JSON.stringify(g);
  return g;
}
