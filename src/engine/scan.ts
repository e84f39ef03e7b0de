import type * as ort from 'onnxruntime-node';
import * as path from 'node:path';
import { EngineError } from './errors';
import { syntheticFeeds, textFeeds, type FeedTensor } from './inputs';
import { checkMemory } from './memory';
import { openModel, run, toFloat32, type OpenModel, type SessionSettings, type SessionVariant } from './session';
import { attentionShare, layerStats, PAPER_THRESHOLDS, sinkScores, softmaxRows, type Thresholds } from './stats';
import { findTokenizer, loadTokenizer } from './tokenizer';
import type { AttentionResult, LayerResult, Progress, ScanResult, TokenInfo } from './types';

export interface ScanOptions {
  prompt?: string;
  ids?: number[];
  topK?: number;
  thresholds?: Thresholds;
  /** Longest input accepted, in tokens. */
  maxTokens?: number;
  attention?: boolean;
  threads?: number;
  memoryLimitBytes?: number;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** Supplies (possibly cached) sessions; by default each scan opens its own. */
  open?: (file: string, variant: SessionVariant, settings: SessionSettings) => Promise<OpenModel>;
}

export const DEFAULT_MAX_TOKENS = 2048;
export const DEFAULT_PROMPT = 'Summer is warm. Winter is cold.';

function checkAbort(signal?: AbortSignal) {
  if (signal?.aborted) throw new EngineError('cancelled', 'The scan was cancelled.');
}

/** Tokens for a text model: from the prompt through the model's tokenizer, or given ids. */
export function resolveTokens(modelPath: string, opts: ScanOptions, vocab: number | null, maxTokens: number): { ids: number[]; tokens: TokenInfo[]; tokenizer: string | null } {
  const tokFile = findTokenizer(modelPath);
  const tok = tokFile ? loadTokenizer(tokFile) : undefined;
  let ids: number[];
  if (opts.ids) {
    ids = opts.ids;
    if (!ids.length) throw new EngineError('bad-ids', 'No token ids given: pass at least one id, e.g. --ids 1,2,3.');
  } else {
    const prompt = opts.prompt ?? DEFAULT_PROMPT;
    if (!prompt.trim()) throw new EngineError('bad-prompt', 'The prompt is empty: give some text to run the model on.');
    if (!tok) throw new EngineError('bad-prompt', `No tokenizer.json next to ${path.basename(modelPath)} (or one folder up), so text cannot be turned into tokens. Put the model's tokenizer.json beside it, or pass token ids with --ids.`);
    // Refuse absurd prompts before tokenising them: even one character per token would overflow.
    if (prompt.length > maxTokens * 32) throw tooLong(prompt.length, 'characters', maxTokens);
    ids = tok.encode(prompt);
    if (!ids.length) throw new EngineError('bad-prompt', 'The prompt produced no tokens.');
  }
  if (ids.length > maxTokens) throw tooLong(ids.length, 'tokens', maxTokens);
  const bad = ids.find((i) => !Number.isInteger(i) || i < 0 || (vocab !== null && i >= vocab));
  if (bad !== undefined) throw new EngineError('bad-ids', `Token id ${bad} is outside the model's vocabulary (0–${vocab === null ? '?' : vocab - 1}).`);
  const tokens = ids.map((id, index) => ({ index, id, text: tok ? tok.tokenText(id) : `<${id}>` }));
  return { ids, tokens, tokenizer: tokFile ?? null };
}

function tooLong(n: number, unit: string, max: number): EngineError {
  return new EngineError('too-long', `The input is ${n.toLocaleString('en-US')} ${unit}; the limit is ${max.toLocaleString('en-US')} tokens (the smaller of --max-tokens and the model's position table). Use a shorter prompt.`);
}

/** Runs the model once and measures every block's residual stream (and attention). */
export async function scanModel(file: string, opts: ScanOptions = {}): Promise<ScanResult> {
  const progress = opts.onProgress ?? (() => {});
  const topK = opts.topK ?? 3;
  const thresholds = opts.thresholds ?? PAPER_THRESHOLDS;
  const maxTokens = opts.maxTokens ?? DEFAULT_MAX_TOKENS;
  const t0 = performance.now();
  progress({ stage: 'load', message: `Opening ${path.basename(file)}` });
  const open = opts.open ?? openModel;
  const variant: SessionVariant = { attention: opts.attention ?? true };
  const m = await open(file, variant, { threads: opts.threads });
  checkAbort(opts.signal);
  const info = m.prepared.info;
  const textModel = info.inputs.some((i) => i.role === 'ids');

  let feeds: Record<string, FeedTensor>;
  let tokens: TokenInfo[];
  let input: ScanResult['input'];
  if (textModel) {
    const r = resolveTokens(file, opts, info.vocabSize, Math.min(maxTokens, info.maxPositions ?? Infinity));
    feeds = textFeeds(m.prepared.info.inputs.map((i) => ({ ...i, elemType: elemTypeOf(m, i.name) })), r.ids);
    tokens = r.tokens;
    input = { kind: opts.ids ? 'ids' : 'text', tokenizer: r.tokenizer };
  } else {
    if (opts.prompt !== undefined || opts.ids) throw new EngineError('bad-argument', `${path.basename(file)} is a ${info.family} model without token inputs; it takes ${info.inputs.map((i) => i.name).join(', ')}.`);
    feeds = syntheticFeeds(m.prepared.info.inputs.map((i) => ({ ...i, elemType: elemTypeOf(m, i.name) })));
    tokens = [];
    input = { kind: 'synthetic', tokenizer: null, note: 'No image given: a deterministic synthetic input was used.' };
  }
  checkMemory(m.prepared, Math.max(tokens.length, 1), opts.memoryLimitBytes);
  const loadMs = performance.now() - t0;

  progress({ stage: 'run', message: `Running ${info.blocks} blocks` });
  const t1 = performance.now();
  const outputs = await run(m, feeds);
  const runMs = performance.now() - t1;
  checkAbort(opts.signal);

  const t2 = performance.now();
  const layers: LayerResult[] = [];
  for (let b = 0; b < m.exposure.blockOutputs.length; b++) {
    const name = m.exposure.blockOutputs[b];
    const t = outputs[name];
    if (!t) throw new EngineError('runtime', `Block ${b}'s output ${name} did not come back from ONNX Runtime.`);
    const { tokensN, channels } = streamLayout(t, info.hiddenSize);
    if (!tokens.length) for (let k = 0; k < tokensN; k++) tokens.push({ index: k, id: null, text: `#${k}` });
    const x = toFloat32(t);
    const s = layerStats(x, tokensN, channels, topK, thresholds);
    const top1 = s.top[0] ? Math.abs(s.top[0].value) : 0;
    layers.push({
      index: b, tensor: name, median: s.median, top: s.top, ratio: s.median > 0 ? top1 / s.median : Infinity,
      massive: s.massive, massiveTruncated: s.massiveTruncated, maxPerToken: Array.from(s.maxPerToken),
      topChannels: topChannels(s.maxPerChannel, 8),
    });
    progress({ stage: 'stats', message: `Block ${b}`, done: b + 1, total: m.exposure.blockOutputs.length });
  }
  const massiveTokens = [...new Set(layers.flatMap((l) => l.massive.map((a) => a.token)))].sort((a, b) => a - b);
  const massiveChannels = [...new Set(layers.flatMap((l) => l.massive.map((a) => a.channel)))].sort((a, b) => a - b);
  const attention: AttentionResult[] = m.exposure.attention.map((list, layer) => attentionFor(layer, list, outputs, massiveTokens, m));
  const statsMs = performance.now() - t2;
  // Unfused graphs may hide the head count until the probabilities come back.
  if (!info.heads) info.heads = attention.find((a) => a.heads > 0 && a.source === 'softmax')?.heads ?? null;
  for (const t of Object.values(outputs)) (t as ort.Tensor & { dispose?: () => void }).dispose?.();
  return { model: info, tokens, layers, attention, massiveTokens, massiveChannels, settings: { thresholds, topK }, input, timing: { loadMs, runMs, statsMs } };
}

function elemTypeOf(m: OpenModel, name: string): number {
  return m.prepared.index.elemTypeOf(name) ?? 1;
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

function attentionFor(layer: number, list: { tensor: string; kind: string }[], outputs: Record<string, ort.Tensor>, massive: number[], m: OpenModel): AttentionResult {
  if (!list.length) {
    const located = m.prepared.location.blocks[layer]?.attention ?? [];
    return { layer, heads: located[0]?.heads ?? 0, massiveTokenShare: null, perHeadShare: [], sinkScores: [], source: 'unavailable' };
  }
  const perHead: number[] = [];
  const sinks: number[] = [];
  let source: AttentionResult['source'] = 'softmax';
  for (const a of list) {
    const t = outputs[a.tensor];
    if (!t) continue;
    const dims = t.dims.map(Number);
    const keys = dims[dims.length - 1];
    const queries = dims[dims.length - 2];
    const heads = dims.slice(0, -2).reduce((x, y) => x * y, 1);
    let p = toFloat32(t);
    if (a.kind === 'mha-qk') { p = softmaxRows(Float32Array.from(p), keys); source = 'mha-qk'; }
    if (a.kind === 'gqa-probs') source = 'gqa-probs';
    perHead.push(...attentionShare(p, heads, queries, keys, massive).perHead);
    sinks.push(...sinkScores(p, heads, queries, keys));
  }
  // With no massive tokens there is no share to speak of: null, not 0.
  const share = massive.length && perHead.length ? perHead.reduce((x, y) => x + y, 0) / perHead.length : null;
  return { layer, heads: perHead.length, massiveTokenShare: share, perHeadShare: perHead, sinkScores: sinks, source };
}
