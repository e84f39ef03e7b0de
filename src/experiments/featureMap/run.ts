import { blockStats } from '../../engine/measure/stats';
import { resolveInput, type InputOptions } from '../../engine/run/input';
import { checkBlock, sessions, thresholdsOf, type ExperimentBase } from '../../engine/run/experiment';
import { checkCount } from '../../engine/base/limits';
import { blockOf, forward } from '../../engine/run/forward';
import { SCAN_PROBES } from '../../engine/run/probes';
import { textTokenKinds, visionTokenKinds } from '../../engine/model/tokenKinds';
import { patchGrid } from '../../engine/model/vision/patches';
import type { TokenInfo } from '../../engine/model/results';

export interface FeatureMapOptions extends ExperimentBase, InputOptions {
  layer: number;
  /** Most columns returned; wider maps are max-pooled into bins (massive channels keep their own). */
  maxColumns?: number;
}

export interface FeatureMapResult {
  layer: number;
  tokens: TokenInfo[];
  tokenKinds: string[];
  /** Columns of `values`: a single channel or a max-pooled bin of channels [from, to]. */
  columns: { from: number; to: number; massive: boolean }[];
  /** |activation| per token and column: values[token][column]. */
  values: number[][];
  massiveChannels: number[];
  /** The block's massive activations (by the run's thresholds): the cells the map draws as massive. */
  massive: { token: number; channel: number; value: number }[];
  median: number;
  maxAbs: number;
  /** NaN / ±Inf entries of the block (left out of the map, which shows the finite values). */
  nonFinite: number;
  /** Vision models: max |activation| over channels for each patch, rows × cols. */
  patchMap?: { rows: number; cols: number; values: number[][] };
}

/** The paper's exp1: |hidden state| of one block on one input, token × channel, legible at any width. */
export async function featureMap(file: string, o: FeatureMapOptions): Promise<FeatureMapResult> {
  const om = await sessions(file, o)(SCAN_PROBES);
  checkBlock(o.layer, om.prepared.info.blocks, file);
  checkCount(o.maxColumns, 'maxColumns', 'The number of map columns', 4);
  const input = await resolveInput(file, om, o);
  o.onProgress?.({ stage: 'run', message: `Running to block ${o.layer}` });
  // Block L needs blocks 0…L only; after a scan of the same input, only L's segment runs.
  const out = await forward(om, { feeds: input.feeds }, undefined, { from: o.layer, through: o.layer, signal: o.signal });
  const x = blockOf(out, o.layer);
  const T = out.tokens;
  const D = out.channels;
  const stats = blockStats(x, T, D, 1, thresholdsOf(o));
  const massiveChannels = [...new Set(stats.massive.map((a) => a.channel))].sort((a, b) => a - b);
  const columns = columnsFor(D, o.maxColumns ?? 256, massiveChannels, stats.maxPerChannel);
  const values = Array.from({ length: T }, (_, t) => columns.map((c) => {
    let m = 0;
    for (let ch = c.from; ch <= c.to; ch++) { const a = Math.abs(x[t * D + ch]); if (a > m && a <= Number.MAX_VALUE) m = a; }
    return m;
  }));
  const tokens = input.tokens.length ? input.tokens : Array.from({ length: T }, (_, i) => ({ index: i, id: null, text: `#${i}` }));
  const grid = om.prepared.info.family === 'vision' ? patchGrid(om) : undefined;
  const kinds = input.ids ? textTokenKinds(tokens) : grid ? visionTokenKinds(T, grid.rows * grid.cols) : tokens.map(() => 'other');
  let patchMap: FeatureMapResult['patchMap'];
  if (grid) {
    const first = T - grid.rows * grid.cols;
    patchMap = {
      rows: grid.rows, cols: grid.cols,
      values: Array.from({ length: grid.rows }, (_, r) => Array.from({ length: grid.cols }, (_, c) => stats.maxPerToken[first + r * grid.cols + c])),
    };
  }
  return {
    layer: o.layer, tokens, tokenKinds: kinds, columns, values, massiveChannels,
    massive: stats.massive.map((a) => ({ token: a.token, channel: a.channel, value: a.value })),
    median: stats.median, maxAbs: stats.maxPerToken.reduce((a, b) => Math.max(a, b), 0), nonFinite: stats.nonFinite.count, patchMap,
  };
}

/**
 * Bins channels for display without losing maxima: massive channels (and the strongest others)
 * keep a column each, the rest are max-pooled in runs between them.
 */
export function columnsFor(D: number, maxColumns: number, keep: number[], maxPerChannel: Float32Array): FeatureMapResult['columns'] {
  if (D <= maxColumns) return Array.from({ length: D }, (_, c) => ({ from: c, to: c, massive: keep.includes(c) }));
  const own = new Set(keep);
  const strongest = Array.from(maxPerChannel, (m, c) => [m, c] as const).sort((a, b) => b[0] - a[0]);
  for (const [, c] of strongest) { if (own.size >= Math.floor(maxColumns / 8)) break; own.add(c); }
  const singles = [...own].sort((a, b) => a - b);
  const binBudget = Math.max(1, maxColumns - singles.length);
  const binWidth = Math.ceil((D - singles.length) / binBudget);
  const cols: FeatureMapResult['columns'] = [];
  let start = 0;
  const flush = (end: number) => {
    for (let s = start; s < end; s += binWidth) cols.push({ from: s, to: Math.min(end, s + binWidth) - 1, massive: false });
  };
  for (const c of singles) {
    flush(c);
    cols.push({ from: c, to: c, massive: keep.includes(c) });
    start = c + 1;
  }
  flush(D);
  return cols;
}
