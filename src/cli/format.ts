import type { ModelInfo } from '../engine/inspect';
import type { ScanResult } from '../engine/types';

/** The JSON contract of `scan --json` (documented in the README; extra fields are allowed). */
export function scanJson(r: ScanResult) {
  return {
    model: { family: r.model.family, blocks: r.model.blocks, hiddenSize: r.model.hiddenSize, heads: r.model.heads, dtype: r.model.dtype, path: r.model.path, matcher: r.model.matcher, warnings: r.model.warnings },
    tokens: r.tokens,
    layers: r.layers.map((l) => ({ index: l.index, median: l.median, ratio: l.ratio, top: l.top, massive: l.massive, massiveTruncated: l.massiveTruncated, maxPerToken: l.maxPerToken, topChannels: l.topChannels })),
    attention: r.attention.map((a) => ({ layer: a.layer, massiveTokenShare: a.massiveTokenShare, heads: a.heads, perHeadShare: a.perHeadShare, sinkScores: a.sinkScores, source: a.source })),
    massiveTokens: r.massiveTokens,
    massiveChannels: r.massiveChannels,
    settings: r.settings,
    input: r.input,
    timing: r.timing,
  };
}

export function inspectJson(i: ModelInfo) {
  return {
    family: i.family, blocks: i.blocks, hiddenSize: i.hiddenSize, heads: i.heads, kvHeads: i.kvHeads, dtype: i.dtype,
    inputs: i.inputs.map((x) => ({ name: x.name, type: x.type, shape: x.shape, role: x.role })),
    outputs: i.outputs,
    externalData: i.externalData,
    vocabSize: i.vocabSize, opsets: i.opsets, producer: i.producer, matcher: i.matcher, postNorm: i.postNorm,
    attention: i.attention, quantization: i.quantization, warnings: i.warnings, blockOutputs: i.blockOutputs,
  };
}

const fmt = (v: number) => {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1000) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 0.01) return v.toFixed(3);
  return v.toExponential(1);
};

function tokenLabel(r: ScanResult, t: number): string {
  const text = r.tokens[t]?.text ?? `#${t}`;
  const clean = JSON.stringify(text.length > 10 ? `${text.slice(0, 9)}…` : text);
  return clean;
}

/** The paper's layer-wise table: top-1/2/3 with token and channel, median, ratio, massive? */
export function scanTable(r: ScanResult): string {
  const lines: string[] = [];
  const m = r.model;
  lines.push(`${m.path}`);
  lines.push(`${m.family} · ${m.blocks} blocks · width ${m.hiddenSize ?? '?'}${m.heads ? ` · ${m.heads} heads` : ''} · ${m.dtype} · located by ${m.matcher}`);
  lines.push(`${r.tokens.length} tokens: ${r.tokens.slice(0, 16).map((t) => JSON.stringify(t.text)).join(' ')}${r.tokens.length > 16 ? ' …' : ''}`);
  for (const w of m.warnings) lines.push(`warning: ${w}`);
  lines.push('');
  const rows = [['layer', 'top-1', 'top-2', 'top-3', 'median', 'ratio', 'massive', 'attn→massive']];
  for (const l of r.layers) {
    const cell = (k: number) => {
      const a = l.top[k];
      return a ? `${fmt(a.value)} ${tokenLabel(r, a.token)}@${a.token} ch${a.channel}` : '';
    };
    const share = r.attention[l.index]?.massiveTokenShare;
    rows.push([String(l.index), cell(0), cell(1), cell(2), fmt(l.median), `${fmt(l.ratio)}×`, l.massive.length ? `yes (${l.massive.length})` : 'no', share === null || share === undefined ? '—' : `${(share * 100).toFixed(1)}%`]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  for (const [i, row] of rows.entries()) {
    lines.push(row.map((cell, c) => (c === 0 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd());
    if (i === 0) lines.push(widths.map((w) => '─'.repeat(w)).join('  '));
  }
  lines.push('');
  const th = r.settings.thresholds;
  if (r.massiveTokens.length) {
    lines.push(`Massive activations (|a| > ${th.absolute} and ≥ ${th.ratio}× the median) on tokens ${r.massiveTokens.map((t) => `${tokenLabel(r, t)}@${t}`).join(', ')} in channels ${r.massiveChannels.join(', ')}.`);
  } else {
    lines.push(`No massive activations (|a| > ${th.absolute} and ≥ ${th.ratio}× the median) in any block.`);
  }
  return lines.join('\n');
}

export function inspectText(i: ModelInfo): string {
  const lines = [
    i.path,
    `family      ${i.family}`,
    `blocks      ${i.blocks} (located by ${i.matcher}${i.postNorm ? ', post-norm' : ''})`,
    `width       ${i.hiddenSize ?? 'unknown'}`,
    `heads       ${i.heads ?? 'unknown'}${i.kvHeads ? ` (${i.kvHeads} key/value)` : ''}`,
    `dtype       ${i.dtype}${i.quantization.length ? ` (${i.quantization.join(', ')})` : ''}`,
    `attention   ${i.attention}`,
    `inputs      ${describeInputs(i)}`,
  ];
  if (i.externalData.length) lines.push(`weights     ${i.externalData.map((f) => `${f.file} (${f.present ? 'present' : 'MISSING'})`).join(', ')}`);
  for (const w of i.warnings) lines.push(`warning     ${w}`);
  return lines.join('\n');
}

function describeInputs(i: ModelInfo): string {
  const past = i.inputs.filter((x) => x.role === 'past');
  const rest = i.inputs.filter((x) => x.role !== 'past').map((x) => `${x.name} ${x.type}[${x.shape.join(',')}]`);
  if (past.length) rest.push(`${past.length} past key/value inputs ${past[0].type}[${past[0].shape.join(',')}]`);
  return rest.join(', ');
}
