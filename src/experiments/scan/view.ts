/**
 * The scan's views: the layer-wise table, the JSON contract and the CSV. The scan itself is the
 * engine's own call (engine/run/scan.ts), served by the engine process directly, so this folder has no run.ts.
 */
import type { ScanResult } from '../../engine/model/results';
import { printable } from '../../engine/base/text';
import type { ScanOptions } from '../../engine/run/scanFile';
import { mixerLabel, plainNumber, toCsv } from '../format';
import { commonFlags, type KeepInput } from '../commandLine';
import type { Wire } from '../experiment';

/** scan's command line for these options (the inverse of its args in cli/commands.ts). */
export function scanFlags(o: Wire<ScanOptions>, keep: KeepInput): string[] {
  return [
    ...commonFlags(o, keep), ...(o.topK !== undefined ? ['--top', String(o.topK)] : []), ...(o.attention === false ? ['--no-attention'] : []),
    ...(o.decoderIds ? ['--decoder-ids', o.decoderIds.join(',')] : []),
  ];
}

/** The JSON contract of `scan --json` (documented in the README; extra fields are allowed). */
export function scanJson(r: ScanResult) {
  return {
    model: {
      family: r.model.family, blocks: r.model.blocks, hiddenSize: r.model.hiddenSize, heads: r.model.heads, dtype: r.model.dtype,
      path: r.model.path, matcher: r.model.matcher, warnings: r.model.warnings,
    },
    tokens: r.tokens.map((t, i) => ({ ...t, kind: r.tokenKinds[i] })),
    outlierFeatures: r.outlierFeatures,
    valid: r.nonFinite === null,
    warnings: r.warnings,
    nonFinite: r.nonFinite,
    layers: r.layers.map(layerJson),
    attention: r.attention.map(attentionJson),
    ...(r.stacks ? {
      stacks: r.stacks.map((st) => ({
        name: st.name, file: st.file, tokens: st.tokens, layers: st.layers.map(layerJson), attention: st.attention.map(attentionJson),
        massiveTokens: st.massiveTokens, massiveChannels: st.massiveChannels,
      })),
    } : {}),
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
  const n = (k: number, one: string) => `${k} ${one}${k === 1 ? '' : 's'}`;
  lines.push(`${m.family} · ${n(m.blocks, 'block')} · width ${m.hiddenSize ?? '?'}${m.heads ? ` · ${n(m.heads, 'head')}` : ''} · ${m.dtype} · located by ${m.matcher}`);
  lines.push(`${n(r.tokens.length, 'token')}: ${r.tokens.slice(0, 16).map((t) => `"${printable(t.text)}"`).join(' ')}${r.tokens.length > 16 ? ' …' : ''}`);
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
      return a ? `${plainNumber(a.value)} ${tokenLabel(r, a.token)}@${a.token} ch${a.channel}` : '';
    };
    const att = r.attention[l.index];
    rows.push([String(l.index), ...(kinds ? [mixerLabel(l)] : []), cell(0), cell(1), cell(2), plainNumber(l.median), l.ratio === null ? 'n/a' : `${plainNumber(l.ratio)}×`, l.massive.length ? `yes (${l.massive.length})` : 'no', pct(att?.massiveTokenShare),
      ...(cross ? [pct(att?.crossShare)] : []), ...(bad ? [l.nonFinite.count ? l.nonFinite.count.toLocaleString('en-US') : '0'] : [])]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.flatMap((row, i) => {
    const line = row.map((cell, c) => (c === 0 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
    return i === 0 ? [line, widths.map((w) => '─'.repeat(w)).join('  ')] : [line];
  });
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

export function scanCsv(r: ScanResult): string {
  return toCsv(r.layers.flatMap((l) => l.top.map((a, rank) => ({
    layer: l.index, rank: rank + 1, token: a.token, token_text: r.tokens[a.token]?.text, token_kind: r.tokenKinds[a.token], channel: a.channel,
    value: a.value, median: l.median, times_median: l.median ? Math.abs(a.value) / l.median : null,
    massive: l.massive.some((m) => m.token === a.token && m.channel === a.channel),
    attention_share: r.attention[l.index]?.massiveTokenShare ?? null,
  }))));
}
