/*
 * The report's figures as SVG, for print: white ground, black text and axes, every axis labelled,
 * every colour scale with its values. Pure strings: no DOM, no canvas.
 */

const FONT = 'font-family="Helvetica, Arial, sans-serif"';
/** The massive colour on every figure (the inspector's is the theme's red). */
export const MASSIVE_RED = '#d62728';
const SERIES = ['#d62728', '#ff7f0e', '#bcbd22', '#1f77b4'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: number) => (Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : Math.abs(v) >= 10 ? v.toFixed(0) : Math.abs(v) >= 0.01 || v === 0 ? String(+v.toPrecision(2)) : v.toExponential(0));
const text = (x: number, y: number, s: string, extra = '', size = 12) => `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${FONT} font-size="${size}" ${extra}>${esc(s)}</text>`;

export interface Series { label: string; values: number[]; dashed?: boolean }

/**
 * Lines over the blocks (the paper's Figure 2 form: top-1, top-2, top-3 and the median per block,
 * log scale); `marked` blocks get a triangle on the first series.
 */
export function lineChart(o: { title: string; xLabel: string; yLabel: string; labels: string[]; series: Series[]; marked?: boolean[] }): string {
  const W = 720;
  const H = 380;
  const L = 80;
  const R = 150;
  const T = 36;
  const B = 56;
  const all = o.series.flatMap((s) => s.values).filter((v) => v > 0);
  const lo = Math.floor(Math.log10(Math.min(...all, 1)));
  const hi = Math.ceil(Math.log10(Math.max(...all, 10)));
  const x = (i: number) => L + (o.labels.length < 2 ? (W - L - R) / 2 : (i * (W - L - R)) / (o.labels.length - 1));
  const y = (v: number) => T + ((hi - Math.log10(Math.max(v, 10 ** lo))) / Math.max(1, hi - lo)) * (H - T - B);
  const parts: string[] = [`<rect width="${W}" height="${H}" fill="#ffffff"/>`, text(L, 22, o.title, 'font-weight="bold"')];
  for (let e = lo; e <= hi; e++) {
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(10 ** e).toFixed(1)}" y2="${y(10 ** e).toFixed(1)}" stroke="#dddddd"/>`, text(L - 8, y(10 ** e) + 4, num(10 ** e), 'text-anchor="end"'));
  }
  const step = Math.max(1, Math.ceil(o.labels.length / 24));
  o.labels.forEach((l, i) => { if (i % step === 0) parts.push(text(x(i), H - B + 18, l, 'text-anchor="middle"')); });
  parts.push(`<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#000"/>`, `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#000"/>`);
  parts.push(text((L + W - R) / 2, H - 14, o.xLabel, 'text-anchor="middle"'), text(18, (T + H - B) / 2, o.yLabel, `text-anchor="middle" transform="rotate(-90 18 ${((T + H - B) / 2).toFixed(1)})"`));
  o.series.forEach((s, k) => {
    const c = SERIES[k % SERIES.length];
    const pts = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
    s.values.forEach((v, i) => {
      parts.push(k === 0 && o.marked?.[i]
        ? `<path d="M${x(i).toFixed(1)},${(y(v) - 6).toFixed(1)} l5,9 h-10 z" fill="${c}"/>`
        : `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5" fill="${c}"/>`);
    });
    const ly = T + 10 + k * 20;
    parts.push(`<line x1="${W - R + 16}" x2="${W - R + 40}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`, text(W - R + 46, ly + 4, s.label));
  });
  if (o.marked?.some(Boolean)) parts.push(text(W - R + 16, T + 10 + o.series.length * 20 + 4, '▲ massive activations'));
  return svg(W, H, o.title, parts);
}

/** Rows at least this high carry their label; `tall` rows get this height when the rest are lower. */
const LABELLED = 8;
const TALL = 12;

/**
 * Row heights within a matrix of about 480 px: equal, or with the `tall` rows (a long input's
 * massive tokens) tall enough to label and the others sharing what is left, as the panel draws them.
 */
function rowHeights(rows: number, tall?: boolean[]): number[] {
  const even = Math.max(3, Math.min(18, Math.floor(480 / Math.max(1, rows))));
  const tallCount = tall?.filter(Boolean).length ?? 0;
  if (even >= LABELLED || !tallCount) return new Array(rows).fill(even);
  const rest = rows - tallCount;
  const short = rest ? Math.max(1, (480 - tallCount * TALL) / rest) : 0;
  return Array.from({ length: rows }, (_, r) => (tall![r] ? TALL : short));
}

/**
 * A matrix as a heat map: the bulk on a white-to-blue ramp (log or linear), `massive` cells in red,
 * row labels (tokens; the `tall` rows always), labelled columns where given, and the colour scale.
 */
export function heatmap(o: {
  title: string; xLabel: string; yLabel: string; rowLabels: string[]; colLabels: (string | null)[]; tall?: boolean[];
  values: (number | null)[][]; min?: number; max: number; scale: 'log' | 'linear'; massive?: (r: number, c: number) => boolean; unit: string;
}): string {
  const rows = o.values.length;
  const cols = o.values[0]?.length ?? 0;
  const L = 120;
  const T = 56;
  const cw = Math.max(2, Math.min(24, Math.floor(600 / Math.max(1, cols))));
  const heights = rowHeights(rows, o.tall);
  const tops: number[] = [];
  let mh = 0;
  for (const h of heights) { tops.push(T + mh); mh += h; }
  const at = (v: number) => +v.toFixed(2);
  // Wide enough for the colour scale and its labels under a narrow matrix.
  const W = Math.max(L + cols * cw + 30, L + 240 + 230);
  const H = Math.ceil(T + mh + 96);
  const min = o.min ?? 0;
  const t = (v: number) => Math.min(1, Math.max(0, o.scale === 'log' ? Math.log1p(Math.max(0, v - min)) / Math.log1p(Math.max(1e-12, o.max - min)) : (v - min) / Math.max(1e-12, o.max - min)));
  const ramp = (u: number) => `rgb(${[255, 255, 255].map((w, i) => Math.round(w + ([8, 48, 107][i] - w) * u)).join(',')})`;
  const parts: string[] = [`<rect width="${W}" height="${H}" fill="#ffffff"/>`, text(8, 20, o.title, 'font-weight="bold"')];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = o.values[r][c];
      if (v === null) continue;
      const fill = o.massive?.(r, c) ? MASSIVE_RED : ramp(t(v));
      parts.push(`<rect x="${L + c * cw}" y="${at(tops[r])}" width="${cw}" height="${at(heights[r])}" fill="${fill}"${o.massive?.(r, c) ? ' class="massive"' : ''}/>`);
    }
    if (heights[r] >= LABELLED && o.rowLabels[r]) parts.push(text(L - 6, tops[r] + heights[r] / 2 + 4, o.rowLabels[r].slice(0, 16), 'text-anchor="end"', 10));
  }
  o.colLabels.forEach((l, c) => { if (l) parts.push(text(L + c * cw + cw / 2, T - 6, l, 'text-anchor="middle"', 10)); });
  parts.push(`<rect x="${L}" y="${T}" width="${cols * cw}" height="${at(mh)}" fill="none" stroke="#000"/>`);
  parts.push(text(L + (cols * cw) / 2, T + mh + 18, o.xLabel, 'text-anchor="middle"'));
  parts.push(text(14, T + mh / 2, o.yLabel, `text-anchor="middle" transform="rotate(-90 14 ${(T + mh / 2).toFixed(1)})"`));
  // The scale: the ramp with values at its ticks, and the massive colour beside it.
  const sy = at(T + mh + 36);
  const sw = 240;
  for (let k = 0; k < 60; k++) parts.push(`<rect x="${(L + (k * sw) / 60).toFixed(1)}" y="${sy}" width="${(sw / 60 + 0.5).toFixed(1)}" height="10" fill="${ramp(k / 59)}"/>`);
  parts.push(`<rect x="${L}" y="${sy}" width="${sw}" height="10" fill="none" stroke="#000"/>`);
  const ticks = o.scale === 'log'
    ? [min, ...[0.01, 0.1, 1, 10, 100, 1000, 10000, 100000].filter((v) => v > min && t(v) < 0.88), o.max]
    : [min, (min + o.max) / 2, o.max];
  let free = -Infinity;
  for (const v of ticks) {
    const tx = L + t(v) * sw;
    if (tx - free < 34 && v !== o.max) continue;
    parts.push(`<line x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${sy + 10}" y2="${sy + 14}" stroke="#000"/>`, text(tx, sy + 26, num(v), 'text-anchor="middle"', 10));
    free = tx;
  }
  parts.push(text(L + sw + 12, sy + 9, `${o.unit} (${o.scale} scale)`, '', 10));
  if (o.massive) parts.push(`<rect x="${L + sw + 150}" y="${sy}" width="10" height="10" fill="${MASSIVE_RED}"/>`, text(L + sw + 164, sy + 9, 'massive', '', 10));
  return svg(W, H, o.title, parts);
}

function svg(w: number, h: number, title: string, parts: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(title)}">\n<title>${esc(title)}</title>\n${parts.join('\n')}\n</svg>\n`;
}
