import type { ScanManyResult } from './scanMany/run';
import type { FeatureMapResult } from './featureMap/run';
import type { InterveneResult } from './intervene/run';
import type { AttentionAnalysis } from './attention/run';
import type { ImplicitBiasResult } from './implicitBias/run';
import type { SuperWeightsResult } from './superWeights/run';
import type { FixRegMeanResult } from './fixRegMean/run';
import type { ModelInfo } from '../engine/model/inspect';
import type { ScanResult } from '../engine/model/results';
import type { CompareResult } from './compare/run';
import { printable } from '../engine/base/text';

/** The JSON contract of `scan --json` (documented in the README; extra fields are allowed). */
export function scanJson(r: ScanResult) {
  return {
    model: { family: r.model.family, blocks: r.model.blocks, hiddenSize: r.model.hiddenSize, heads: r.model.heads, dtype: r.model.dtype, path: r.model.path, matcher: r.model.matcher, warnings: r.model.warnings },
    tokens: r.tokens.map((t, i) => ({ ...t, kind: r.tokenKinds[i] })),
    outlierFeatures: r.outlierFeatures,
    valid: r.nonFinite === null,
    warnings: r.warnings,
    nonFinite: r.nonFinite,
    layers: r.layers.map(layerJson),
    attention: r.attention.map(attentionJson),
    ...(r.stacks ? { stacks: r.stacks.map((st) => ({ name: st.name, file: st.file, tokens: st.tokens, layers: st.layers.map(layerJson), attention: st.attention.map(attentionJson), massiveTokens: st.massiveTokens, massiveChannels: st.massiveChannels })) } : {}),
    massiveTokens: r.massiveTokens,
    massiveChannels: r.massiveChannels,
    settings: r.settings,
    input: r.input,
    timing: r.timing,
  };
}

const layerJson = (l: ScanResult['layers'][number]) => ({ index: l.index, mixer: l.mixer, mlp: l.mlp, median: finiteOrNull(l.median), ratio: l.ratio, nonFinite: l.nonFinite, top: l.top, massive: l.massive, massiveTruncated: l.massiveTruncated, maxPerToken: l.maxPerToken, topChannels: l.topChannels });
const attentionJson = (a: ScanResult['attention'][number]) => ({
  layer: a.layer, massiveTokenShare: a.massiveTokenShare, heads: a.heads, perHeadShare: a.perHeadShare, sinkScores: a.sinkScores, source: a.source,
  ...(a.note ? { note: a.note } : {}), ...(a.crossHeads ? { crossHeads: a.crossHeads, crossShare: a.crossShare ?? null } : {}),
});

/** JSON has no NaN: say null rather than let JSON.stringify do it silently. */
const finiteOrNull = (v: number) => (Number.isFinite(v) ? v : null);

export function inspectJson(i: ModelInfo) {
  return {
    family: i.family, familyEvidence: i.familyEvidence, blocks: i.blocks, hiddenSize: i.hiddenSize, heads: i.heads, kvHeads: i.kvHeads, dtype: i.dtype,
    inputs: i.inputs.map((x) => ({ name: x.name, type: x.type, shape: x.shape, role: x.role })),
    outputs: i.outputs,
    externalData: i.externalData,
    vocabSize: i.vocabSize, opsets: i.opsets, producer: i.producer, matcher: i.matcher, postNorm: i.postNorm,
    attention: i.attention, quantization: i.quantization, warnings: i.warnings, blockOutputs: i.blockOutputs,
    layers: i.layers,
    ...(i.pipeline ? { pipeline: i.pipeline } : {}),
  };
}

const fmt = (v: number | null) => {
  if (v === null || Number.isNaN(v)) return 'n/a';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1000) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 0.01) return v.toFixed(3);
  return v.toExponential(1);
};

/** One stack of blocks with the tokens it ran on: a model's, or an encoder's or decoder's. */
type StackView = Pick<ScanResult, 'tokens' | 'layers' | 'attention' | 'massiveTokens' | 'massiveChannels'>;

function tokenLabel(r: StackView, t: number): string {
  const text = r.tokens[t]?.text ?? `#${t}`;
  return `"${printable(text.length > 10 ? `${text.slice(0, 9)}…` : text)}"`;
}

/** The paper's layer-wise table: top-1/2/3 with token and channel, median, ratio, massive? */
export function scanTable(r: ScanResult): string {
  const lines: string[] = [];
  const m = r.model;
  lines.push(`${m.path}`);
  lines.push(`${m.family} · ${m.blocks} blocks · width ${m.hiddenSize ?? '?'}${m.heads ? ` · ${m.heads} heads` : ''} · ${m.dtype} · located by ${m.matcher}`);
  lines.push(`${r.tokens.length} tokens: ${r.tokens.slice(0, 16).map((t) => `"${printable(t.text)}"`).join(' ')}${r.tokens.length > 16 ? ' …' : ''}`);
  for (const w of m.warnings) lines.push(`warning: ${w}`);
  for (const w of r.warnings) lines.push(`WARNING: ${w}`);
  const th = r.settings.thresholds;
  if (r.nonFinite) lines.push('', `NOT VALID: non-finite values (NaN / Inf) from block ${r.nonFinite.firstLayer} on; the massive activations below are among the finite values only.`);
  const stacks: (StackView & { title?: string })[] = r.stacks?.map((st) => ({ ...st, title: `${st.name} (${printable(st.file.split(/[\\/]/).pop() ?? st.file)}, ${st.tokens.length} tokens)` })) ?? [r];
  for (const st of stacks) {
    lines.push('');
    if (st.title) lines.push(st.title);
    lines.push(...layerTable(st, r.nonFinite !== null));
    lines.push('');
    lines.push(st.massiveTokens.length
      ? `Massive activations (|a| > ${th.absolute} and ≥ ${th.ratio}× the median) on ${massiveTokenList(st)} in channels ${st.massiveChannels.join(', ')}.`
      : `No massive activations (|a| > ${th.absolute} and ≥ ${th.ratio}× the median) in any block.`);
  }
  return lines.join('\n');
}

function layerTable(r: StackView, bad: boolean): string[] {
  // Hybrid models (and mixtures of experts) get a column saying what each block is; decoders of
  // encoder-decoders one for their cross-attention on the encoder's massive tokens.
  const kinds = r.layers.some((l) => l.mixer !== 'attention' || l.mlp === 'moe');
  const cross = r.attention.some((a) => a.crossHeads);
  const pct = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : `${(v * 100).toFixed(1)}%`);
  const rows = [['layer', ...(kinds ? ['mixer'] : []), 'top-1', 'top-2', 'top-3', 'median', 'ratio', 'massive', 'attn→massive', ...(cross ? ['cross→enc massive'] : []), ...(bad ? ['NaN/Inf'] : [])]];
  for (const l of r.layers) {
    const cell = (k: number) => {
      const a = l.top[k];
      return a ? `${fmt(a.value)} ${tokenLabel(r, a.token)}@${a.token} ch${a.channel}` : '';
    };
    const att = r.attention[l.index];
    rows.push([String(l.index), ...(kinds ? [mixerLabel(l)] : []), cell(0), cell(1), cell(2), fmt(l.median), l.ratio === null ? 'n/a' : `${fmt(l.ratio)}×`, l.massive.length ? `yes (${l.massive.length})` : 'no', pct(att?.massiveTokenShare),
      ...(cross ? [pct(att?.crossShare)] : []), ...(bad ? [l.nonFinite.count ? l.nonFinite.count.toLocaleString('en-US') : '0'] : [])]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.flatMap((row, i) => {
    const line = row.map((cell, c) => (c === 0 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
    return i === 0 ? [line, widths.map((w) => '─'.repeat(w)).join('  ')] : [line];
  });
}

/** A block's kind in a few characters: "attention", "linear-attention + moe". */
export function mixerLabel(l: { mixer: string; mlp: string }): string {
  return `${l.mixer}${l.mlp === 'moe' ? ' + moe' : ''}`;
}

/**
 * The massive tokens, grouped by text so a long prompt stays one line: `"<s>"@0, "."@4, "."@8` up
 * to a few per text, then `"." ×120 (@4, @8, … @480)`.
 */
function massiveTokenList(r: StackView): string {
  const byText = new Map<string, number[]>();
  for (const t of r.massiveTokens) {
    const label = tokenLabel(r, t);
    byText.set(label, [...(byText.get(label) ?? []), t]);
  }
  const parts = [...byText].map(([label, at]) => (at.length <= 3
    ? at.map((t) => `${label}@${t}`).join(', ')
    : `${label} ×${at.length} (@${at[0]}, @${at[1]}, … @${at[at.length - 1]})`));
  return `${r.massiveTokens.length === 1 ? 'token' : 'tokens'} ${parts.join(', ')}`;
}

export function inspectText(i: ModelInfo): string {
  const lines = [
    i.path,
    `family      ${i.family}${i.familyEvidence.length ? ` (${i.familyEvidence.map(printable).join('; ')})` : ''}`,
    `blocks      ${i.blocks} (located by ${i.matcher}${i.postNorm ? ', post-norm' : ''})`,
    `width       ${i.hiddenSize ?? 'unknown'}`,
    `heads       ${i.heads ?? 'unknown'}${i.kvHeads ? ` (${i.kvHeads} key/value)` : ''}`,
    `dtype       ${i.dtype}${i.quantization.length ? ` (${i.quantization.join(', ')})` : ''}`,
    `attention   ${i.attention}`,
    `inputs      ${describeInputs(i)}`,
    `mixers      ${mixerSummary(i.layers)}`,
  ];
  if (i.pipeline) lines.push(`files       ${i.pipeline.layout}: ${i.pipeline.files.map((f) => `${f.role} ${printable(f.file.split(/[\\/]/).pop() ?? f.file)}`).join(' → ')}${i.pipeline.variants.length > 1 ? ` (variant ${i.pipeline.variant || 'plain'} of ${i.pipeline.variants.map((v) => v || 'plain').join(', ')})` : ''}`);
  if (i.externalData.length) lines.push(`weights     ${i.externalData.map((f) => `${f.file} (${f.present ? 'present' : 'MISSING'})`).join(', ')}`);
  for (const w of i.warnings) lines.push(`warning     ${w}`);
  return lines.join('\n');
}

/** "attention ×6", or per kind with the blocks: "linear-attention 0–2, 4–6; attention 3, 7". */
function mixerSummary(layers: ModelInfo['layers']): string {
  const byKind = new Map<string, number[]>();
  for (const l of layers) byKind.set(mixerLabel(l), [...(byKind.get(mixerLabel(l)) ?? []), l.index]);
  if (byKind.size === 1) { const [k, v] = [...byKind][0]; return `${k} ×${v.length}`; }
  const ranges = (xs: number[]) => xs.reduce<[number, number][]>((acc, x) => {
    const last = acc[acc.length - 1];
    if (last && last[1] === x - 1) last[1] = x; else acc.push([x, x]);
    return acc;
  }, []).map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join(', ');
  return [...byKind].map(([k, v]) => `${k} ${ranges(v)}`).join('; ');
}

function describeInputs(i: ModelInfo): string {
  const past = i.inputs.filter((x) => x.role === 'past');
  const rest = i.inputs.filter((x) => x.role !== 'past').map((x) => `${x.name} ${x.type}[${x.shape.join(',')}]`);
  if (past.length) rest.push(`${past.length} past key/value inputs ${past[0].type}[${past[0].shape.join(',')}]`);
  return rest.join(', ');
}

// ── experiments ──────────────────────────────────────────────────────────────────────────────


function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.flatMap((row, i) => {
    const line = row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd();
    return i === 0 ? [line, widths.map((w) => '─'.repeat(w)).join('  ')] : [line];
  });
}

const pm = (s: { mean: number; std: number }) => `${fmt(s.mean)} ± ${fmt(s.std)}`;

export function scanManyText(r: ScanManyResult): string {
  const lines = [`${r.inputs} inputs (${r.inputKind}), ${Math.min(...r.tokensPerInput)}–${Math.max(...r.tokensPerInput)} tokens each`, ...r.warnings.map((w) => `WARNING: ${w}`), ''];
  lines.push(...table([['layer', 'top-1', 'top-2', 'top-3', 'median', 'inputs with massive'],
    ...r.layers.map((l) => [String(l.index), pm(l.top[0]), pm(l.top[1]), pm(l.top[2]), pm(l.median), `${l.massiveInputs}/${r.inputs}`])]));
  lines.push('');
  if (r.constancy.length) {
    lines.push('Constancy of each massive activation (at the block where it is seen in most inputs):');
    lines.push(...table([['channel', 'token kind', 'block', 'value (mean ± std)', 'seen in', 'blocks'],
      ...r.constancy.map((c) => [String(c.channel), c.kind, String(c.layer), pm(c), `${c.count}/${c.inputs}`, c.layers.join(',')])]));
    lines.push('', `Tokens carrying them: ${r.locations.map((l) => `${l.kind} ${(l.share * 100).toFixed(0)}%`).join(', ')}`);
  } else {
    lines.push('No massive activations in any input.');
  }
  if (r.outlierFeatures.length) lines.push(`LLM.int8() outlier features: ${r.outlierFeatures.map((f) => `ch${f.channel} (${f.layers} blocks, max ${fmt(f.maxAbs)})`).join(', ')}`);
  return lines.join('\n');
}

export function featureMapText(r: FeatureMapResult): string {
  const lines = [`block ${r.layer}: |activation| of ${r.tokens.length} tokens × ${r.columns.length} columns (median ${fmt(r.median)}, max ${fmt(r.maxAbs)})`];
  if (r.nonFinite) lines.push(`WARNING: not valid: ${r.nonFinite.toLocaleString('en-US')} values of this block are NaN or infinite; the map shows the finite ones.`);
  lines.push(`massive channels: ${r.massiveChannels.length ? r.massiveChannels.join(', ') : 'none'}`);
  const shown = r.columns.map((c, i) => [c, i] as const).filter(([c]) => c.massive).slice(0, 8);
  if (shown.length) {
    lines.push('', ...table([['token', 'kind', ...shown.map(([c]) => `ch${c.from}`), 'max other'],
      ...r.values.map((row, t) => [`${t} "${printable(r.tokens[t]?.text ?? '')}"`, r.tokenKinds[t], ...shown.map(([, i]) => fmt(row[i])), fmt(Math.max(...row.filter((_, i) => !r.columns[i].massive)))])]));
  }
  if (r.patchMap) lines.push('', `patch map (${r.patchMap.rows}×${r.patchMap.cols}, max |a| per patch):`, ...r.patchMap.values.map((row) => row.map((v) => fmt(v).padStart(7)).join(' ')));
  return lines.join('\n');
}

export function interveneText(r: InterveneResult): string {
  const lines = [`block ${r.layer}, set ${r.mode === 'values' ? 'to given values' : `to ${r.mode}`}: ${r.changed.length} entries changed`];
  if (r.note) lines.push(r.note);
  if (r.changed.length) lines.push('', ...table([['token', 'channel', 'from', 'to'], ...r.changed.map((c) => [String(c.token), String(c.channel), fmt(c.from), fmt(c.to)])]));
  lines.push('');
  if (r.klMean !== null) lines.push(`next-token KL (original ‖ intervened): mean ${r.klMean.toExponential(3)}, max ${r.klMax!.toExponential(3)} nats; top-1 agreement ${((r.top1Agreement ?? 0) * 100).toFixed(1)}%`);
  if (r.perplexity) lines.push(`perplexity on ${r.perplexity.source === 'sample' ? 'the built-in sample text' : r.perplexity.source === 'text' ? 'the given text' : 'the input'} (${r.perplexity.tokens} tokens): ${fmt(r.perplexity.before)} → ${r.perplexity.after === null ? 'undefined (NaN)' : r.perplexity.after === Infinity ? '∞' : fmt(r.perplexity.after)}`);
  return lines.join('\n');
}

export function attentionText(r: AttentionAnalysis): string {
  const lines = [`block ${r.layer} attention (${r.source}); massive-activation tokens: ${r.massiveTokens.length ? r.massiveTokens.join(', ') : 'none'}`];
  if (!r.heads.length) return [...lines, r.note ? `No attention to show: ${r.note}.` : 'Attention probabilities cannot be read from this graph.'].join('\n');
  lines.push('', ...table([['head', 'sink score', 'sink head', 'share on massive tokens'], ...r.heads.map((h) => [String(h.head), h.sinkScore.toFixed(3), h.isSink ? 'yes' : 'no', h.massiveShare === null ? '—' : `${(h.massiveShare * 100).toFixed(1)}%`])]));
  lines.push('', `share of attention on massive-activation tokens: ${r.massiveTokenShare === null ? '—' : `${(r.massiveTokenShare * 100).toFixed(1)}%`} (by block: ${r.shareByLayer.map((s) => (s.share === null ? '—' : `${(s.share * 100).toFixed(0)}%`)).join(' ')})`);
  return lines.join('\n');
}

export function implicitBiasText(r: ImplicitBiasResult): string {
  return [
    `block ${r.layer}: attention output split over the massive-activation tokens ${r.massiveTokens.join(', ')} (${r.queries} queries${r.afterOutputProjection ? ', after the output projection' : ''})`,
    `cosine similarity between queries of the part from those tokens: ${r.sinkPartCosine.toFixed(4)} (rest: ${r.restPartCosine.toFixed(4)})`,
    `its share of the output norm: ${(r.sinkNormShare * 100).toFixed(1)}%`,
  ].join('\n');
}

export function superWeightsText(r: SuperWeightsResult): string {
  if (!r.candidates.length) return r.note ?? 'No super weight found.';
  return [`block ${r.layer} down projection (${r.weightName}):`, '', ...table([['row (neuron)', 'column (channel)', 'weight', 'input', 'contribution', 'share of MLP output'],
    ...r.candidates.map((c) => [String(c.row), String(c.column), fmt(c.weight), fmt(c.input), fmt(c.contribution), `${(c.share * 100).toFixed(1)}%`])])].join('\n');
}

export function fixRegMeanText(r: FixRegMeanResult): string {
  const row = (name: string, c: FixRegMeanResult['fixRegMean']) => (c ? [name, c.relativeL2.toExponential(2), c.cosine.toFixed(5), c.top1Agreement === null ? '—' : `${(c.top1Agreement * 100).toFixed(0)}%`] : [name, 'NaN/Inf', '—', '—']);
  return [`${r.registers} registers, ${r.tokens} tokens, averaged over ${r.images} ${r.inputKind}`, '',
    ...table([['registers at every block', 'output change (rel. L2)', 'cosine', 'top-1 agreement'], row('set to their mean (Fix-Reg-Mean)', r.fixRegMean), row('set to zero', r.zeroRegisters)]),
    ...(r.notes ?? []).map((n) => `note: ${n}`)].join('\n');
}

/** compare: the models, then per block each model's statistics and what differs; variants' errors; a series' emergence. */
export function compareText(r: CompareResult): string {
  const lines: string[] = [];
  const label = (k: number) => String.fromCharCode(65 + (k % 26)) + (k >= 26 ? String(Math.floor(k / 26)) : '');
  r.models.forEach((m, k) => lines.push(`${label(k)}: ${printable(m.input !== undefined ? `"${m.input}" on ${m.name}` : m.path)} (${m.blocks} blocks, width ${m.hiddenSize ?? '?'}, ${m.dtype}, ${m.tokens} tokens)`));
  for (const n of r.notes) lines.push(`note: ${n}`);
  lines.push('');
  if (r.series) return [...lines, ...seriesText(r)].join('\n');
  const head = ['block', ...r.models.flatMap((_, k) => [`${label(k)} top-1`, `${label(k)} median`, `${label(k)} massive`]), 'shared', 'only in'];
  const rows = [head, ...r.layers.map((l) => [
    String(l.index),
    ...l.models.flatMap((m) => [m.top[0] ? fmt(m.top[0].value) : '—', fmt(m.median), String(m.massive.length)]),
    String(l.shared.length),
    l.onlyIn.length ? [...new Set(l.onlyIn.map((o) => `${label(o.model)}: ${o.kind} ch${o.channel}`))].join(', ') : '—',
  ])];
  lines.push(...table(rows));
  const diffs = new Map<string, Set<number>>();
  for (const l of r.layers) for (const d of l.differences) {
    const k = `${d.kind} ch${d.channel} in ${d.models.map(label).join('+')}`;
    if (!diffs.has(k)) diffs.set(k, new Set());
    diffs.get(k)!.add(l.index);
  }
  lines.push('', diffs.size
    ? `Differences (by token kind and channel): ${[...diffs].map(([k, b]) => `${k} (blocks ${[...b].join(', ')})`).join('; ')}.`
    : 'The same massive activations (by token kind and channel) in every block of every model.');
  const errs = r.layers.flatMap((l) => l.errors.map((e) => ({ l: l.index, ...e })));
  if (errs.length) {
    lines.push('', 'Error against A (mean |Δ|, relative):');
    lines.push(...table([['block', 'model', 'at massive entries', 'elsewhere'], ...errs.map((e) => [String(e.l), label(e.model), e.massive ? `${fmt(e.massive.abs)} (${(e.massive.rel * 100).toFixed(3)}%)` : '—', `${fmt(e.elsewhere.abs)} (${(e.elsewhere.rel * 100).toFixed(3)}%)`])]));
  }
  for (const v of r.variants) lines.push(`next-token KL (A ‖ ${label(v.model)}): ${v.kl === null ? 'n/a' : v.kl.toExponential(3)} nats; top-1 agreement ${v.top1Agreement === null ? 'n/a' : `${(v.top1Agreement * 100).toFixed(1)}%`}`);
  return lines.join('\n');
}

/** A checkpoint series: the ratio per block over training and where each massive activation appears. */
function seriesText(r: CompareResult): string[] {
  const s = r.series!;
  const massive = (k: number) => r.layers.reduce((a, l) => a + l.models[k].massive.length, 0);
  return [
    'Emergence over the checkpoints (top-1 ÷ median, per block):',
    ...table([['checkpoint', 'step', ...r.layers.map((l) => `b${l.index}`), 'massive'], ...s.checkpoints.map((c, k) => [printable(c.name), c.step === null ? '—' : String(c.step), ...s.ratio[k].map((x) => (x === null ? 'n/a' : fmt(x))), String(massive(k))])]),
    '',
    s.emergence.length
      ? `First passing the criterion: ${s.emergence.map((e) => `${e.kind} ch${e.channel} at ${printable(s.checkpoints[e.checkpoint].name)}${e.step !== null ? ` (step ${e.step})` : ''}, block ${e.block}`).join('; ')}.`
      : 'No checkpoint has massive activations.',
  ];
}
