import { meanStd } from '../../engine/measure/vectors';
import { checkAbort, EngineError } from '../../engine/base/errors';
import { findTokenizer, loadTokenizer } from '../../engine/model/tokenizer';
import { scanModel } from '../../engine/run/scan';
import type { ScanResult } from '../../engine/model/results';
import { sessions, type ExperimentBase } from '../../engine/run/experiment';
import { checkCount, LIMITS } from '../../engine/base/limits';
import { randomSequences, sequencesFromText, type Corpus } from '../../engine/model/corpus';

export interface ScanManyOptions extends ExperimentBase {
  /** A text split into sequences of `seqLen` tokens (the paper's exp2 uses RedPajama sequences). */
  text?: Corpus;
  /** Separate prompts, one sequence each. */
  prompts?: string[];
  /** Token id sequences. */
  idsList?: number[][];
  /** Image files (vision models). */
  images?: string[];
  seqLen?: number;
  /** Number of sequences to take (also the count of random sequences for models without a tokenizer). */
  count?: number;
  /** First token of random sequences (the BOS id). */
  firstId?: number;
  topK?: number;
  /** Each sequence over maxTokens runs its first maxTokens tokens instead of being refused. */
  truncate?: boolean;
}

export interface Spread { mean: number; std: number }

export interface ScanManyResult {
  inputs: number;
  inputKind: 'text' | 'prompts' | 'ids' | 'random-ids' | 'images' | 'synthetic';
  tokensPerInput: number[];
  layers: { index: number; top: Spread[]; median: Spread; massiveInputs: number }[];
  /** Each massive activation, grouped by where it sits (token kind) and its channel. */
  constancy: { channel: number; kind: string; layer: number; layers: number[]; mean: number; std: number; count: number; inputs: number; frequency: number }[];
  /** How the tokens that carry massive activations are distributed over token kinds. */
  locations: { kind: string; tokens: number; share: number }[];
  outlierFeatures: ScanResult['outlierFeatures'];
  /** Inputs (0-based) whose scan held NaN / ±Inf: their statistics are over finite values only. */
  nonFiniteInputs: number[];
  warnings: string[];
}

/** The paper's exp2 over many inputs, with the constancy and location of each massive activation. */
export async function scanMany(file: string, o: ScanManyOptions = {}): Promise<ScanManyResult> {
  const open = sessions(file, o);
  const info = (await open({ read: [] })).prepared.info;
  const inputs: { ids?: number[]; prompt?: string; image?: string }[] = [];
  let inputKind: ScanManyResult['inputKind'];
  const count = o.count ?? 10;
  const seqLen = o.seqLen ?? 64;
  checkCount(count, 'count', 'The number of inputs');
  checkCount(seqLen, 'tokens', 'The sequence length', 2);
  checkCount(o.topK, 'topK', 'The number of top activations');
  for (const [what, list] of [['token id sequences', o.idsList], ['prompts', o.prompts], ['images', o.images]] as const) {
    if (list && list.length > LIMITS.count) throw new EngineError('bad-argument', `${list.length.toLocaleString('en-US')} ${what} given; one run takes at most ${LIMITS.count.toLocaleString('en-US')}.`);
  }
  if (o.images?.length) { inputKind = 'images'; inputs.push(...o.images.map((image) => ({ image }))); }
  else if (o.idsList?.length) { inputKind = 'ids'; inputs.push(...o.idsList.map((ids) => ({ ids }))); }
  else if (o.prompts?.length) { inputKind = 'prompts'; inputs.push(...o.prompts.map((prompt) => ({ prompt }))); }
  else if (o.text !== undefined) {
    const tf = findTokenizer(file);
    if (!tf) throw new EngineError('bad-prompt', 'No tokenizer.json beside the model, so a text cannot be split into sequences; give token ids instead.');
    inputKind = 'text';
    inputs.push(...sequencesFromText(o.text, loadTokenizer(tf), seqLen, count).map((ids) => ({ ids })));
  } else if (info.inputs.some((i) => i.role === 'ids')) {
    if (info.vocabSize === null) throw new EngineError('bad-argument', 'The vocabulary size is unknown, so random sequences cannot be drawn; give token ids or a text.');
    inputKind = 'random-ids';
    inputs.push(...randomSequences(count, seqLen, info.vocabSize, o.firstId ?? 1).map((ids) => ({ ids })));
  } else {
    inputKind = 'synthetic';
    inputs.push({});
  }

  const results: ScanResult[] = [];
  for (const [k, inp] of inputs.entries()) {
    checkAbort(o.signal);
    o.onProgress?.({ stage: 'run', message: `Input ${k + 1} of ${inputs.length}`, done: k, total: inputs.length });
    results.push(await scanModel(file, {
      ...inp, topK: Math.max(3, o.topK ?? 3), thresholds: o.thresholds, maxTokens: o.maxTokens, truncate: o.truncate,
      memoryLimitBytes: o.memoryLimitBytes, attention: false,
      open: (f, v) => open(v),
    }));
  }
  o.onProgress?.({ stage: 'stats', message: 'Aggregating', done: inputs.length, total: inputs.length });
  return aggregate(results, inputKind);
}

export function aggregate(results: ScanResult[], inputKind: ScanManyResult['inputKind']): ScanManyResult {
  const blocks = results[0]?.layers.length ?? 0;
  const layers = Array.from({ length: blocks }, (_, index) => ({
    index,
    top: [0, 1, 2].map((k) => meanStd(results.map((r) => Math.abs(r.layers[index].top[k]?.value ?? 0)))),
    median: meanStd(results.map((r) => r.layers[index].median)),
    massiveInputs: results.filter((r) => r.layers[index].massive.length > 0).length,
  }));
  // (layer, kind, channel) → values, one per input (the largest if several tokens of that kind carry it).
  const groups = new Map<string, { layer: number; kind: string; channel: number; values: number[]; count: number }>();
  const carriers = new Map<string, number>();
  for (const r of results) {
    const seen = new Map<string, number>();
    const tokensWithMassive = new Set<number>();
    for (const l of r.layers) for (const a of l.massive) {
      const kind = r.tokenKinds[a.token] ?? 'other';
      const key = `${l.index}|${kind}|${a.channel}`;
      const prev = seen.get(key);
      if (prev === undefined || Math.abs(a.value) > Math.abs(prev)) seen.set(key, a.value);
      tokensWithMassive.add(a.token);
    }
    for (const [key, value] of seen) {
      const [layer, kind, channel] = key.split('|');
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { layer: Number(layer), kind, channel: Number(channel), values: [], count: 0 }));
      g.values.push(value);
      g.count++;
    }
    for (const t of tokensWithMassive) carriers.set(r.tokenKinds[t] ?? 'other', (carriers.get(r.tokenKinds[t] ?? 'other') ?? 0) + 1);
  }
  // One row per (kind, channel): at the block where it is seen in most inputs (then the largest).
  const byKindChannel = new Map<string, { layer: number; kind: string; channel: number; values: number[]; count: number }[]>();
  for (const g of groups.values()) {
    const k = `${g.kind}|${g.channel}`;
    byKindChannel.set(k, [...(byKindChannel.get(k) ?? []), g]);
  }
  const constancy = [...byKindChannel.values()].map((gs) => {
    const best = gs.reduce((a, b) => (
      b.count > a.count || (b.count === a.count && Math.abs(meanStd(b.values).mean) > Math.abs(meanStd(a.values).mean)) ? b : a
    ));
    const { mean, std } = meanStd(best.values);
    return {
      channel: best.channel, kind: best.kind, layer: best.layer, layers: gs.map((g) => g.layer).sort((a, b) => a - b),
      mean, std, count: best.count, inputs: results.length, frequency: best.count / results.length,
    };
  }).sort((a, b) => b.frequency - a.frequency || Math.abs(b.mean) - Math.abs(a.mean));
  const total = [...carriers.values()].reduce((a, b) => a + b, 0);
  const locations = [...carriers.entries()].map(([kind, tokens]) => ({ kind, tokens, share: total ? tokens / total : 0 })).sort((a, b) => b.tokens - a.tokens);
  // Outlier features seen in most inputs.
  const outlierCounts = new Map<number, { layers: number[]; maxAbs: number }>();
  for (const r of results) for (const f of r.outlierFeatures) {
    const e = outlierCounts.get(f.channel) ?? { layers: [], maxAbs: 0 };
    e.layers.push(f.layers);
    e.maxAbs = Math.max(e.maxAbs, f.maxAbs);
    outlierCounts.set(f.channel, e);
  }
  const outlierFeatures = [...outlierCounts.entries()].filter(([, e]) => e.layers.length * 2 >= results.length)
    .map(([channel, e]) => ({ channel, layers: Math.round(meanStd(e.layers).mean), maxAbs: e.maxAbs })).sort((a, b) => b.maxAbs - a.maxAbs);
  const nonFiniteInputs = results.flatMap((r, i) => (r.nonFinite ? [i] : []));
  const warnings = nonFiniteInputs.length
    ? [`Not valid: ${nonFiniteInputs.length} of ${results.length} inputs produced NaN or infinite values (first from block ${results[nonFiniteInputs[0]].nonFinite!.firstLayer}); their statistics count only the finite values.`]
    : [];
  return {
    inputs: results.length, inputKind, tokensPerInput: results.map((r) => r.tokens.length),
    layers, constancy, locations, outlierFeatures, nonFiniteInputs, warnings,
  };
}
