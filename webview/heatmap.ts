import { css } from './dom';

export interface HeatmapSpec {
  rows: number;
  cols: number;
  value(r: number, c: number): number | null;
  /** Map values to [0, 1]; null cells are left blank. */
  scale: 'log' | 'linear';
  min?: number;
  max: number;
  rowLabels?: string[];
  colLabels?: (string | null)[];
  markedRows?: number[];
  markedCols?: number[];
  highlight?: { row: number; col: number };
}

function parseColor(c: string): [number, number, number] {
  const m = /^#([0-9a-f]{6})/i.exec(c) ?? /^#([0-9a-f]{3})$/i.exec(c);
  if (m) {
    const hex = m[1].length === 3 ? m[1].split('').map((x) => x + x).join('') : m[1];
    return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
  }
  const rgb = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(c);
  return rgb ? [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])] : [128, 128, 128];
}

/**
 * Draws a matrix into a canvas in the theme's colours: from the editor background to the
 * chart accent, log-scaled for magnitudes so that values thousands of times larger stand out
 * without flattening everything else.
 */
export function drawHeatmap(canvas: HTMLCanvasElement, s: HeatmapSpec): void {
  const labelW = s.rowLabels ? 64 : 0;
  const labelH = s.colLabels ? 16 : 0;
  const cw = Math.max(2, Math.min(24, Math.floor(720 / Math.max(1, s.cols))));
  const ch = Math.max(4, Math.min(24, Math.floor(400 / Math.max(1, s.rows))));
  canvas.width = labelW + s.cols * cw + 2;
  canvas.height = labelH + s.rows * ch + 2;
  const ctx = canvas.getContext('2d')!;
  const bg = parseColor(css('--vscode-editor-background', '#1e1e1e'));
  const hi = parseColor(css('--vscode-charts-red', '#f14c4c'));
  const mid = parseColor(css('--vscode-charts-blue', '#3794ff'));
  const fg = css('--vscode-editor-foreground', '#ccc');
  ctx.fillStyle = `rgb(${bg.join(',')})`;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const min = s.min ?? 0;
  const norm = (v: number) => {
    if (s.scale === 'log') return Math.log1p(Math.max(0, v - min)) / Math.log1p(Math.max(1e-12, s.max - min));
    return (v - min) / Math.max(1e-12, s.max - min);
  };
  for (let r = 0; r < s.rows; r++) for (let c = 0; c < s.cols; c++) {
    const v = s.value(r, c);
    if (v === null) continue;
    const t = Math.min(1, Math.max(0, norm(v)));
    // Two-stop ramp: background → blue for the bulk, blue → red for the extremes.
    const [a, b, u] = t < 0.5 ? [bg, mid, t * 2] : [mid, hi, (t - 0.5) * 2];
    ctx.fillStyle = `rgb(${a.map((x, i) => Math.round(x + (b[i] - x) * u)).join(',')})`;
    ctx.fillRect(labelW + c * cw, labelH + r * ch, cw, ch);
  }
  ctx.font = '10px var(--vscode-font-family, sans-serif)';
  ctx.fillStyle = fg;
  ctx.textBaseline = 'middle';
  if (s.rowLabels && ch >= 8) s.rowLabels.forEach((l, r) => ctx.fillText(l.slice(0, 10), 2, labelH + r * ch + ch / 2));
  if (s.colLabels) s.colLabels.forEach((l, c) => { if (l) ctx.fillText(l, labelW + c * cw, 8); });
  ctx.strokeStyle = css('--vscode-focusBorder', '#007fd4');
  ctx.lineWidth = 1.5;
  for (const r of s.markedRows ?? []) ctx.strokeRect(labelW + 0.5, labelH + r * ch + 0.5, s.cols * cw - 1, ch - 1);
  for (const c of s.markedCols ?? []) ctx.strokeRect(labelW + c * cw + 0.5, labelH + 0.5, cw - 1, s.rows * ch - 1);
  if (s.highlight && s.highlight.row >= 0) {
    ctx.strokeStyle = fg;
    ctx.lineWidth = 2;
    ctx.strokeRect(labelW + s.highlight.col * cw - 1, labelH + s.highlight.row * ch - 1, cw + 2, ch + 2);
  }
}
