import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heatmap } from '../../src/report/svg';

/** Rows of a printed map, read back from its SVG: each row's height and whether its label is drawn. */
function rowsOf(svg: string, labels: string[]): { y: number; height: number; labelled: boolean }[] {
  const cells = [...svg.matchAll(/<rect x="120" y="([\d.]+)" width="\d+" height="([\d.]+)" fill="[^"]+"/g)].map((m) => ({ y: Number(m[1]), height: Number(m[2]) }));
  return labels.map((l, r) => ({ ...cells[r], labelled: svg.includes(`>${l}</text>`) }));
}

test('a 2,000-token map in print: the massive rows are tall enough to label and labelled; the others share the rest', () => {
  const massive = [0, 57, 141];
  const rows = 160;
  const labels = Array.from({ length: rows }, (_, r) => (massive.includes(r) ? `${r} tok${r}` : `${r}–${r + 11}`));
  const values = Array.from({ length: rows }, (_, r) => [massive.includes(r) ? 2000 : 1, 0.5]);
  const svg = heatmap({
    title: 't', xLabel: 'channel', yLabel: 'token', rowLabels: labels, colLabels: ['7', null], tall: labels.map((_, r) => massive.includes(r)),
    values, max: 2000, scale: 'log', unit: '|activation|', massive: (r, c) => massive.includes(r) && c === 0,
  });
  const got = rowsOf(svg, labels);
  for (const r of massive) assert.deepEqual([got[r].height, got[r].labelled], [12, true], `row ${r}`);
  assert.ok(got.filter((_, r) => !massive.includes(r)).every((x) => x.height < 8 && !x.labelled));
  // Rows follow one another without gaps or overlaps, and the matrix keeps its height.
  got.slice(1).forEach((x, r) => assert.ok(Math.abs(x.y - (got[r].y + got[r].height)) < 0.02, `row ${r + 1}`));
  const total = got.reduce((a, x) => a + x.height, 0);
  assert.ok(Math.abs(total - 480) < 0.5, `${total}`);
});

test('without tall rows (or with rows high enough) every row is as high as the others, as before', () => {
  const labels = Array.from({ length: 20 }, (_, r) => `${r}`);
  const svg = heatmap({ title: 't', xLabel: 'x', yLabel: 'y', rowLabels: labels, colLabels: [null], tall: labels.map((_, r) => r === 3), values: labels.map(() => [1]), max: 1, scale: 'linear', unit: 'p' });
  assert.ok(rowsOf(svg, labels).every((x) => x.height === 18 && x.labelled));
});
