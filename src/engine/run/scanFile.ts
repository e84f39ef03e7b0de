import type * as ort from 'onnxruntime-node';
import * as path from 'node:path';
import { checkAbort, EngineError } from '../base/errors';
import { checkMemory } from '../model/memory';
import { openModel, run, toFloat32, type OpenModel } from './session';
import { SCAN_PROBES, type ProbeRequest, type ProbeTensor } from './probes';
import { attentionShareFromSums, int8Outliers, blockStats, PAPER_THRESHOLDS, sinkScoresFromSums, topRatio } from '../measure/stats';
import { textTokenKinds, visionTokenKinds } from '../model/tokenKinds';
import { patchCount } from '../model/vision/patches';
import { DEFAULT_MAX_TOKENS, resolveInput, type InputOptions, type Truncated } from './input';
import { sessionSettings, type ExperimentBase } from './experiment';
import { logitsOf } from './forward';
import { printable } from '../base/text';
import { checkCount } from '../base/limits';
import type { AttentionResult, BlockResult, ScanResult, TokenInfo } from '../model/results';
import type { MixerKind } from '../model/locate/types';
import type { FeedTensor } from '../model/feeds';
import { crossCheck } from '../model/folder';

export interface ScanOptions extends ExperimentBase, InputOptions {
  topK?: number;
  /** Read attention probabilities too (default true). */
  attention?: boolean;
  /** Seq2seq: the decoder's input ids (default: the decoder start token from config.json). */
  decoderIds?: number[];
}

/** What one file's scan also hands a pipeline: the encoder tokens to measure cross-attention on, its output. */
export interface FileScanOptions extends ScanOptions {
  crossTokens?: number[];
  keepOutput?: boolean;
  /** Also return every block's stream and the next-token logits (comparisons of variants). */
  keepStreams?: boolean;
}
export type FileScan = ScanResult & { output?: FeedTensor; streams?: Float32Array[]; logits?: { data: Float32Array; vocab: number } };


/** One file's scan: one stack of blocks (scan.ts runs a whole model: one stack, or two for an encoder-decoder). */
export async function scanFile(file: string, opts: FileScanOptions = {}): Promise<FileScan> {
  const progress = opts.onProgress ?? (() => {});
  const topK = opts.topK ?? 3;
  const thresholds = opts.thresholds ?? PAPER_THRESHOLDS;
  const maxTokens = opts.maxTokens ?? DEFAULT_MAX_TOKENS;
  checkCount(topK, 'topK', 'The number of top activations');
  checkCount(maxTokens, 'tokens', 'The token limit');
  const t0 = performance.now();
  progress({ stage: 'load', message: `Opening ${path.basename(file)}` });
  const open = opts.open ?? openModel;
  // Scans read only per-key sums of the attention, reduced in the graph: memory stays flat at long context.
  const probes: ProbeRequest = opts.attention === false ? { read: [] } : SCAN_PROBES;
  const m = await open(file, probes, sessionSettings(opts));
  checkAbort(opts.signal);
  const info = m.prepared.info;
  const resolved = await resolveInput(file, m, { ...opts, maxTokens });
  // Token ids, or a decoder fed the embeddings its folder's embed_tokens.onnx made from them.
  const textModel = info.inputs.some((i) => i.role === 'ids') || resolved.kind === 'text' || resolved.kind === 'ids';
  const { feeds } = resolved;
  const tokens: TokenInfo[] = [...resolved.tokens];
  const input: ScanResult['input'] = { kind: resolved.kind, tokenizer: resolved.tokenizer, note: resolved.note };
  checkMemory(m.prepared, Math.max(tokens.length, 1), opts.memoryLimitBytes, { segmented: m.session.segments > 1 });
  const loadMs = performance.now() - t0;

  const kindsOf = () => (textModel ? textTokenKinds(tokens) : info.family === 'vision' ? visionTokenKinds(tokens.length, patchCount(m)) : tokens.map(() => 'other'));
  progress({ stage: 'run', message: `Running ${info.blocks} blocks` });
  const t1 = performance.now();
  const layers: BlockResult[] = [];
  const outlierCounts: { outlierTokens: Uint32Array; maxPerChannel: Float32Array }[] = [];
  const streams: Float32Array[] | undefined = opts.keepStreams ? [] : undefined;
  let statsMs = 0;
  // Each segment's blocks are measured as soon as it has run: the caller sees results block by
  // block, and a stream is let go once measured (unless the caller keeps them).
  const blocks = m.prepared.location.blocks.length;
  const measureBlocks = (from: number, to: number, outputs: Record<string, ort.Tensor>) => {
    const ts = performance.now();
    for (let b = from; b < to; b++) {
      const name = m.probe(`blocks.${b}.resid_post`)[0].tensor;
      const t = outputs[name];
      if (!t) throw new EngineError('runtime', `Block ${b}'s output ${name} did not come back from ONNX Runtime.`);
      const { tokensN, channels } = streamLayout(t, info.hiddenSize);
      if (!tokens.length) for (let k = 0; k < tokensN; k++) tokens.push({ index: k, id: null, text: `#${k}` });
      const x = toFloat32(t);
      const s = blockStats(x, tokensN, channels, topK, thresholds);
      outlierCounts.push(s);
      const layer: BlockResult = {
        index: b, mixer: m.prepared.location.blocks[b].mixer, mlp: m.prepared.location.blocks[b].mlp, tensor: name,
        median: s.median, top: s.top, ratio: topRatio(s.top[0]?.value, s.median), nonFinite: s.nonFinite,
        massive: s.massive, massiveTruncated: s.massiveTruncated, maxPerToken: Array.from(s.maxPerToken),
        topChannels: topChannels(s.maxPerChannel, 8),
      };
      layers.push(layer);
      if (streams) streams.push(Float32Array.from(x));
      // Not disposed: the next segment may still read it.
      if (!(opts.keepOutput && name === info.outputs[0])) delete outputs[name];
      const start = layers.length === 1 ? { model: info, tokens, tokenKinds: kindsOf(), input, settings: { thresholds, topK } } : undefined;
      progress({ stage: 'stats', message: `Block ${b}`, done: b + 1, total: blocks, layer, ...(start ? { start } : {}) });
    }
    statsMs += performance.now() - ts;
  };
  const outputs = await run(m, feeds, { signal: opts.signal, onSegment: (p, out) => measureBlocks(p.from, p.to, out) });
  const runMs = performance.now() - t1 - statsMs;
  checkAbort(opts.signal);

  const t2 = performance.now();
  const massiveTokens = [...new Set(layers.flatMap((l) => l.massive.map((a) => a.token)))].sort((a, b) => a - b);
  const massiveChannels = [...new Set(layers.flatMap((l) => l.massive.map((a) => a.channel)))].sort((a, b) => a - b);
  const attention: AttentionResult[] = Array.from({ length: blocks }, (_, layer) => attentionFor(layer, opts.attention === false ? [] : m.probe(`blocks.${layer}.attn.key_sums`), outputs, massiveTokens, m, tokens.length, opts.crossTokens));
  const firstOut = info.outputs[0];
  const found = opts.keepStreams ? logitsOf(outputs, info.vocabSize) : undefined;
  const logits = found && { data: Float32Array.from(found.data), vocab: found.vocab };
  const output: FeedTensor | undefined = opts.keepOutput && outputs[firstOut]
    ? { type: outputs[firstOut].type, data: outputs[firstOut].data as Float32Array, dims: outputs[firstOut].dims.map(Number) } : undefined;
  statsMs += performance.now() - t2;
  // Unfused graphs may hide the head count until the probabilities come back.
  if (!info.heads) info.heads = attention.find((a) => a.heads > 0 && a.source === 'softmax')?.heads ?? null;
  const warnings: string[] = [...(opts.target?.notes ?? [])];
  if (resolved.truncated) warnings.push(truncatedWarning(resolved.truncated));
  const stack = opts.target?.layout === 'seq2seq' ? (file === opts.target.main ? 'encoder' : 'decoder') : 'main';
  warnings.push(...crossCheck(opts.target?.config, { blocks: info.blocks, hiddenSize: info.hiddenSize, mixers: layers.map((l) => l.mixer) }, stack));
  const firstBad = layers.find((l) => l.nonFinite.count > 0);
  const nonFinite = firstBad ? {
    firstLayer: firstBad.index, tensor: firstBad.tensor,
    count: layers.reduce((a, l) => a + l.nonFinite.count, 0), layers: layers.filter((l) => l.nonFinite.count).length,
  } : null;
  if (firstBad) warnings.push(nonFiniteWarning(firstBad));
  const tokenKinds = kindsOf();
  return {
    model: info, tokens, layers, attention, massiveTokens, massiveChannels, tokenKinds,
    outlierFeatures: int8Outliers(outlierCounts, tokens.length),
    settings: { thresholds, topK }, input, timing: { loadMs, runMs, statsMs }, nonFinite, warnings, output,
    ...(streams ? { streams, logits } : {}),
  };
}

/** The sentence a scan with NaN / ±Inf carries: where they start, and what that means. */
export function nonFiniteWarning(l: BlockResult): string {
  const n = l.nonFinite;
  const kinds = [n.nan && `${n.nan.toLocaleString('en-US')} NaN`, n.posInf && `${n.posInf.toLocaleString('en-US')} +Inf`, n.negInf && `${n.negInf.toLocaleString('en-US')} −Inf`].filter(Boolean).join(', ');
  return `Not a valid scan: the output of block ${l.index} (tensor ${printable(l.tensor)}) holds ${kinds}${n.first ? `, first at token ${n.first.token}, channel ${n.first.channel}` : ''}. Statistics below count only the finite values. The model's weights or inputs produce non-finite numbers from this block on; check the weights (NaN / Inf or fp16 overflow) before reading anything into the activations.`;
}

/** [batch=1, tokens, channels] (or [tokens, channels]) with channels last. */
export function streamLayout(t: ort.Tensor, hidden: number | null): { tokensN: number; channels: number } {
  const dims = t.dims.map(Number);
  const channels = dims[dims.length - 1];
  if (hidden && channels !== hidden && dims.includes(hidden)) {
    throw new EngineError('runtime', `Block outputs are laid out ${dims.join('×')} with the width ${hidden} not last; this layout is not supported yet.`);
  }
  const tokensN = dims.slice(0, -1).reduce((a, b) => a * b, 1);
  return { tokensN, channels };
}

function topChannels(maxPerChannel: Float32Array, n: number) {
  return Array.from(maxPerChannel, (max, channel) => ({ channel, max })).sort((a, b) => b.max - a.max).slice(0, n);
}

function attentionFor(
  layer: number, list: ProbeTensor[], outputs: Record<string, ort.Tensor>, massive: number[], m: OpenModel, queries: number, crossTokens?: number[],
): AttentionResult {
  const block = m.prepared.location.blocks[layer];
  if (block && block.mixer !== 'attention') {
    return { layer, heads: 0, massiveTokenShare: null, perHeadShare: [], sinkScores: [], source: 'unavailable', note: noAttentionNote(layer, block.mixer) };
  }
  if (!list.length) {
    const located = block?.attention ?? [];
    return { layer, heads: located[0]?.heads ?? 0, massiveTokenShare: null, perHeadShare: [], sinkScores: [], source: 'unavailable', note: located.find((a) => a.note)?.note };
  }
  const perHead: number[] = [];
  const sinks: number[] = [];
  let source: AttentionResult['source'] = 'softmax';
  const causal = m.prepared.info.family === 'decoder';
  // Scans read attention only as per-key sums over queries (see the request above).
  let crossHeads = 0;
  const crossShares: number[] = [];
  for (const a of list) {
    const t = outputs[a.tensor] as ort.Tensor | undefined;
    // Cross-attention keys are the encoder's tokens: the decoder's massive tokens say nothing there,
    // the encoder's do (every decoder query sees every encoder token).
    if (a.cross) {
      if (!t) continue;
      const dims = t.dims.map(Number);
      const heads = dims.slice(0, -1).reduce((x, y) => x * y, 1);
      crossHeads += heads;
      if (crossTokens?.length) crossShares.push(...attentionShareFromSums(toFloat32(t), heads, dims[dims.length - 1], queries, crossTokens, false).perHead);
      continue;
    }
    if (!t) continue;
    const dims = t.dims.map(Number);
    const keys = dims[dims.length - 1];
    const heads = dims.slice(0, -1).reduce((x, y) => x * y, 1);
    const sums = toFloat32(t);
    perHead.push(...attentionShareFromSums(sums, heads, keys, queries, massive, causal).perHead);
    sinks.push(...sinkScoresFromSums(sums, heads, keys, queries));
    if (a.kind === 'mha-qk' || a.kind === 'gqa-probs' || a.kind === 'onnx-probs') source = a.kind;
  }
  // With no massive tokens there is no share to speak of: null, not 0.
  const share = massive.length && perHead.length ? perHead.reduce((x, y) => x + y, 0) / perHead.length : null;
  const crossShare = crossShares.length ? crossShares.reduce((x, y) => x + y, 0) / crossShares.length : null;
  return {
    layer, heads: perHead.length, massiveTokenShare: share, perHeadShare: perHead, sinkScores: sinks, source,
    ...(crossHeads ? { crossHeads, crossShare } : {}),
  };
}

const MIXER_WORDS: Record<MixerKind, string> = {
  'attention': 'attention', 'linear-attention': 'linear attention', 'state-space': 'a state-space recurrence',
  'recurrent': 'a recurrence', 'convolution': 'a convolution over the sequence',
};

/** What a truncated input ran: its first tokens, of how many. */
export function truncatedWarning(t: Truncated): string {
  const kept = t.kept === 1 ? 'first token' : `first ${t.kept.toLocaleString('en-US')}`;
  const were = t.kept === 1 ? 'was' : 'were';
  return `Only the ${kept} of the input's ${t.atLeast ? 'more than ' : ''}${t.of.toLocaleString('en-US')} tokens ${were} run: the input was cut at the token limit, as asked.`;
}

/** Why a block has no attention probabilities: it mixes tokens some other way. */
export function noAttentionNote(layer: number, mixer: MixerKind): string {
  return `block ${layer} mixes tokens with ${MIXER_WORDS[mixer]}: no attention probabilities`;
}
