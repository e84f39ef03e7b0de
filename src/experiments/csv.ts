/** Results as CSV: one table per result kind, RFC 4180 quoting. */
import type { ScanResult } from '../engine/model/results';
import type { ScanManyResult } from './scanMany/run';
import type { InterveneResult } from './intervene/run';
import type { AttentionAnalysis } from './attention/run';
import type { FeatureMapResult } from './featureMap/run';
import type { SuperWeightsResult } from './superWeights/run';
import type { FixRegMeanResult } from './fixRegMean/run';
import type { ImplicitBiasResult } from './implicitBias/run';
import type { CompareResult } from './compare/run';

type Row = Record<string, string | number | boolean | null | undefined>;

export function toCsv(rows: Row[]): string {
  if (!rows.length) return '';
  const cols = Object.keys(rows[0]);
  const cell = (v: Row[string]) => {
    if (v === null || v === undefined) return '';
    // Token texts come from the model's tokenizer: one starting with = + @ would run as a formula
    // in a spreadsheet, so such text cells get a leading apostrophe (numbers are never touched).
    const s = typeof v === 'string' && /^[=+@\t\r]/.test(v) ? `'${v}` : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.join(','), ...rows.map((r) => cols.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

export function scanCsv(r: ScanResult): string {
  return toCsv(r.layers.flatMap((l) => l.top.map((a, rank) => ({
    layer: l.index, rank: rank + 1, token: a.token, token_text: r.tokens[a.token]?.text, token_kind: r.tokenKinds[a.token], channel: a.channel,
    value: a.value, median: l.median, times_median: l.median ? Math.abs(a.value) / l.median : null,
    massive: l.massive.some((m) => m.token === a.token && m.channel === a.channel),
    attention_share: r.attention[l.index]?.massiveTokenShare ?? null,
  }))));
}

export function scanManyCsv(r: ScanManyResult): string {
  return toCsv(r.layers.map((l) => ({
    layer: l.index, top1_mean: l.top[0].mean, top1_std: l.top[0].std, top2_mean: l.top[1].mean, top2_std: l.top[1].std,
    top3_mean: l.top[2].mean, top3_std: l.top[2].std, median_mean: l.median.mean, median_std: l.median.std, inputs_with_massive: l.massiveInputs,
  })));
}

export function constancyCsv(r: ScanManyResult): string {
  return toCsv(r.constancy.map((c) => ({ channel: c.channel, token_kind: c.kind, layer: c.layer, mean: c.mean, std: c.std, inputs: c.count, frequency: c.frequency, layers: c.layers.join(' ') })));
}

export function interveneCsv(r: InterveneResult): string {
  return toCsv(r.changed.map((c) => ({ layer: r.layer, mode: r.mode, token: c.token, channel: c.channel, from: c.from, to: c.to })));
}

export function attentionCsv(r: AttentionAnalysis): string {
  return toCsv(r.heads.map((h) => ({ layer: r.layer, head: h.head, sink_score: h.sinkScore, sink_head: h.isSink, massive_share: h.massiveShare })));
}

export function featureMapCsv(r: FeatureMapResult): string {
  return toCsv(r.values.map((row, t) => ({ token: t, text: r.tokens[t]?.text, kind: r.tokenKinds[t], ...Object.fromEntries(r.columns.map((c, i) => [c.from === c.to ? `ch${c.from}` : `ch${c.from}-${c.to}`, row[i]])) })));
}

export function superWeightsCsv(r: SuperWeightsResult): string {
  return toCsv(r.candidates.map((c) => ({ layer: c.layer, row: c.row, column: c.column, weight: c.weight, input: c.input, contribution: c.contribution, share: c.share, tokens: c.tokens.join(' ') })));
}

export function fixRegMeanCsv(r: FixRegMeanResult): string {
  return toCsv([
    { variant: 'fix-reg-mean', relative_l2: r.fixRegMean?.relativeL2 ?? null, cosine: r.fixRegMean?.cosine ?? null, top1_agreement: r.fixRegMean?.top1Agreement ?? null },
    { variant: 'zero-registers', relative_l2: r.zeroRegisters?.relativeL2 ?? null, cosine: r.zeroRegisters?.cosine ?? null, top1_agreement: r.zeroRegisters?.top1Agreement ?? null },
  ]);
}

export function implicitBiasCsv(r: ImplicitBiasResult): string {
  return toCsv([{ layer: r.layer, queries: r.queries, sink_part_cosine: r.sinkPartCosine, rest_part_cosine: r.restPartCosine, sink_norm_share: r.sinkNormShare, after_output_projection: r.afterOutputProjection }]);
}

/** One row per block and model: its statistics, and how it differs from the first model. */
export function compareCsv(r: CompareResult): string {
  return toCsv(r.layers.flatMap((l) => l.models.map((m, k) => {
    const e = l.errors.find((x) => x.model === k);
    return {
      block: l.index, model: k, path: r.models[k].path, matched_block: m.block, top1: m.top[0]?.value ?? null, median: m.median, ratio: m.ratio,
      massive: m.massive.length, shared: l.shared.length, only_here: l.onlyIn.filter((o) => o.model === k).map((o) => `${o.token}:${o.channel}`).join(' '),
      error_massive_abs: e?.massive?.abs ?? null, error_massive_rel: e?.massive?.rel ?? null, error_elsewhere_abs: e?.elsewhere.abs ?? null, error_elsewhere_rel: e?.elsewhere.rel ?? null,
      attention_share: m.attentionShare,
    };
  })));
}
