import * as path from 'node:path';
import { checkAbort, EngineError, option } from '../../engine/base/errors';
import { openModel, type OpenModel, type SessionSettings } from '../../engine/run/session';
import type { ProbeRequest } from '../../engine/run/probes';
import { scanFile, type FileScan } from '../../engine/run/scanFile';
import { printable } from '../../engine/base/text';
import type { Activation } from '../../engine/measure/stats';
import type { TokenInfo } from '../../engine/model/results';
import { type ExperimentBase } from '../../engine/run/experiment';
import { argmaxRow, klRow } from '../../engine/measure/logits';
import type { InputOptions } from '../../engine/run/input';
import { checkCount, LIMITS } from '../../engine/base/limits';
import { resolveTarget } from '../../engine/model/folder';
import { findTokenizer, loadTokenizer } from '../../engine/model/tokenizer';
import { sequencesFromText, type Corpus } from '../../engine/model/corpus';
import { checkpointPaths } from '../../engine/model/checkpoints';

export { checkpointPaths };

/**
 * The question users ask of two models at once: are the massive activations the same? The same
 * input runs through every model (or two inputs through one model); blocks are matched by index
 * (by relative depth when the counts differ); per block each model's statistics, then what is
 * massive in all, what only in some — by token and channel, and by token kind and channel — and,
 * for variants of one model (same width and depth: an fp16 or 4-bit export, a fine-tune), the
 * error of each hidden state against the first model at the massive entries and elsewhere, and
 * the KL divergence of next-token distributions. A checkpoint series adds the emergence curve.
 * Models run one at a time; only the first model's streams are kept for the error.
 */

export interface CompareOptions extends ExperimentBase, InputOptions {
  /** The models, in order; the first is the reference for differences and errors. */
  files: string[];
  /** Two (or more) prompts on one model instead of one input on many models. */
  prompts?: string[];
  /** Two (or more) id sequences on one model: the same question for a model without a tokenizer. */
  idSets?: number[][];
  /** Compare by token kind and channel when the models' tokenizers split the text differently. */
  alignByText?: boolean;
  /** A checkpoint series: report the emergence of each massive activation over the files. */
  series?: boolean;
  /** Said about the models before the run (a series' broken links, skipped): they lead the result's notes. */
  notes?: string[];
  topK?: number;
  /** Many inputs: `count` sequences of `seqLen` tokens cut from this text (the first model's tokenizer). */
  text?: Corpus;
  count?: number;
  seqLen?: number;
}

export interface CompareRun {
  path: string;
  name: string;
  blocks: number;
  hiddenSize: number | null;
  dtype: string;
  family: string;
  tokens: number;
  input?: string;
}

export interface CompareBlock {
  /** The first model's block; other models' matched blocks are in `models[k].block`. */
  index: number;
  models: { block: number; median: number; ratio: number | null; top: Activation[]; massive: Activation[]; attentionShare: number | null; nonFinite: number }[];
  /**
   * Massive in every model (aligned tokens: same token and channel; by kind: same kind and channel),
   * with each model's value, its ratio to the first model's, and whether all signs agree.
   */
  shared: { token: number; channel: number; kind: string; values: number[]; ratios: number[]; sameSign: boolean }[];
  /** Massive in some models but not all, listed for each model that has it. */
  onlyIn: { model: number; token: number; channel: number; kind: string; value: number }[];
  /** By token kind and channel: which models have it, where not all do. */
  differences: { kind: string; channel: number; models: number[] }[];
  /** Variants only: |Δ| against the first model at its massive entries and elsewhere. */
  errors: { model: number; massive: { abs: number; rel: number; entries: number } | null; elsewhere: { abs: number; rel: number } }[];
}

export interface CompareResult {
  mode: 'models' | 'inputs' | 'series';
  /** How many input sequences the statistics are averaged over (1 unless a text was given). */
  inputs: number;
  models: CompareRun[];
  matching: 'index' | 'relative-depth';
  aligned: 'tokens' | 'kind';
  notes: string[];
  tokens: TokenInfo[][];
  tokenKinds: string[][];
  layers: CompareBlock[];
  /** Next-token distributions of each variant against the first model. */
  variants: { model: number; kl: number | null; top1Agreement: number | null }[];
  series?: {
    checkpoints: { model: number; name: string; step: number | null }[];
    /** [checkpoint][block]: top-1 ÷ median. */
    ratio: (number | null)[][];
    /** Each massive activation by kind and channel: the first checkpoint (and block) where it passes the criterion. */
    emergence: { kind: string; channel: number; checkpoint: number; step: number | null; block: number }[];
  };
}

const KIND_ORDER = ['first', 'first-delimiter', 'delimiter', 'other', 'cls', 'register', 'patch'];

const stepOf = (file: string): number | null => {
  const name = path.basename(file) === 'model.onnx' ? path.basename(path.dirname(file)) : path.basename(file, '.onnx');
  const all = name.match(/\d+/g);
  return all ? Number(all[all.length - 1]) : null;
};
const nameOf = (file: string) => (path.basename(file) === 'model.onnx' ? path.basename(path.dirname(file)) : path.basename(file));

export async function compare(o: CompareOptions): Promise<CompareResult> {
  if (o.text === undefined) return compareOne(o);
  // Many inputs: the same id sequences through every model (they must share a vocabulary).
  checkCount(o.count, 'count', 'The number of inputs');
  checkCount(o.seqLen, 'tokens', 'The sequence length', 2);
  const tf = findTokenizer(resolveTarget(o.files[0], o.variant).main);
  if (!tf) throw new EngineError('bad-prompt', `No tokenizer.json beside ${printable(nameOf(o.files[0]))}, so the text cannot be cut into sequences; give token ids instead.`);
  const seqs = sequencesFromText(o.text, loadTokenizer(tf), o.seqLen ?? 64, o.count ?? 10);
  const results: CompareResult[] = [];
  for (const [k, ids] of seqs.entries()) {
    checkAbort(o.signal);
    o.onProgress?.({ stage: 'run', message: `Input ${k + 1} of ${seqs.length}`, done: k, total: seqs.length });
    results.push(await compareOne({ ...o, text: undefined, prompt: undefined, ids }));
  }
  return averaged(results, o.seqLen ?? 64);
}

async function compareOne(o: CompareOptions): Promise<CompareResult> {
  const inputs: { prompt?: string; ids?: number[] }[] = o.prompts?.map((prompt) => ({ prompt })) ?? o.idSets?.map((ids) => ({ ids })) ?? [];
  const mode: CompareResult['mode'] = o.series ? 'series' : inputs.length > 1 ? 'inputs' : 'models';
  const runs = mode === 'inputs' ? inputs.map((i) => ({ file: o.files[0], ...i })) : o.files.map((file) => ({ file, prompt: o.prompt, ids: o.ids }));
  if (runs.length < 2) throw new EngineError('bad-argument', 'Compare needs two models (or one model and two prompts).');
  if (runs.length > LIMITS.count) throw new EngineError('bad-argument', `${runs.length} models given; one comparison takes at most ${LIMITS.count.toLocaleString('en-US')}.`);
  const notes: string[] = [...o.notes ?? []];
  // One model in memory at a time: each session is released as soon as its scan is read.
  const opened: OpenModel[] = [];
  const oneShot = async (file: string, p: ProbeRequest, s: SessionSettings) => { const m = await openModel(file, p, s); opened.push(m); return m; };
  const release = async () => { for (const m of opened.splice(0)) await m.session.release(); };

  const scans: FileScan[] = [];
  let first: FileScan | undefined;
  const models: CompareRun[] = [];
  const tokens: TokenInfo[][] = [];
  const kinds: string[][] = [];
  const errorsByRun: ({ massive: CompareBlock['errors'][number]['massive']; elsewhere: CompareBlock['errors'][number]['elsewhere'] } | undefined)[][] = [];
  const variants: CompareResult['variants'] = [];
  let aligned: CompareResult['aligned'] = mode === 'inputs' ? 'kind' : 'tokens';
  for (const [k, run] of runs.entries()) {
    checkAbort(o.signal);
    o.onProgress?.({ stage: 'run', message: `${nameOf(run.file)} (${k + 1} of ${runs.length})`, done: k, total: runs.length });
    const sameShape = k > 0 && first && mode !== 'inputs';
    const target = resolveTarget(run.file, o.variant);
    if (target.layout === 'seq2seq') throw new EngineError('unsupported-input', `${printable(nameOf(run.file))} is an encoder-decoder; comparing two-stack models is not supported yet. Compare their encoder_model.onnx files.`);
    const r = await scanFile(target.main, {
      target,
      prompt: run.prompt, ids: run.ids ?? o.ids, image: o.image, feeds: o.feeds, maxTokens: o.maxTokens, truncate: o.truncate, threads: o.threads,
      wholeGraph: o.wholeGraph, thresholds: o.thresholds, memoryLimitBytes: o.memoryLimitBytes,
      topK: o.topK ?? 3, keepStreams: k === 0 || !!sameShape, open: mode === 'series' || !o.open ? oneShot : (f, v, s) => o.open!(f, v, s),
    });
    await release();
    if (k > 0 && aligned === 'tokens' && !sameTokens(first!.tokens, r.tokens)) {
      if (!o.alignByText) throw new EngineError('bad-argument', tokenMismatch(first!, r, runs[0].file, run.file));
      aligned = 'kind';
      notes.push(`The models split the input into different tokens (${first!.tokens.length} and ${r.tokens.length}); compared by token kind and channel.`);
    }
    models.push({ path: run.file, name: nameOf(run.file), blocks: r.layers.length, hiddenSize: r.model.hiddenSize, dtype: r.model.dtype, family: r.model.family, tokens: r.tokens.length, ...(mode === 'inputs' ? { input: run.prompt ?? `ids ${run.ids!.join(', ')}` } : {}) });
    tokens.push(r.tokens);
    kinds.push(r.tokenKinds);
    if (k === 0) first = r;
    const variant = k > 0 && aligned === 'tokens' && r.layers.length === first!.layers.length && r.model.hiddenSize === first!.model.hiddenSize && r.streams && first!.streams;
    errorsByRun.push(variant ? r.layers.map((_, b) => streamError(first!.streams![b], r.streams![b], first!.layers[b].massive, r.model.hiddenSize ?? 1)) : []);
    if (variant && r.logits && first!.logits && r.logits.vocab === first!.logits.vocab) {
      variants.push({ model: k, ...nextTokenChange(first!.logits, r.logits, r.tokens.length) });
    }
    // Keep only the first model's streams: every other model is compared and let go.
    if (k > 0) { delete r.streams; delete r.logits; }
    scans.push(r);
  }

  const L0 = scans[0].layers.length;
  const matching: CompareResult['matching'] = scans.every((s) => s.layers.length === L0) ? 'index' : 'relative-depth';
  if (matching === 'relative-depth') notes.push(`The models have ${[...new Set(scans.map((s) => s.layers.length))].join(' and ')} blocks: blocks are matched by relative depth.`);
  const blockOf = (s: FileScan, i: number) => (matching === 'index' ? i : L0 === 1 ? 0 : Math.round((i * (s.layers.length - 1)) / (L0 - 1)));
  const layers: CompareBlock[] = Array.from({ length: L0 }, (_, i) => {
    const per = scans.map((s, k) => {
      const b = blockOf(s, i);
      const l = s.layers[b];
      return { k, b, l, kinds: kinds[k] };
    });
    const key = (k: number, a: Activation) => (aligned === 'tokens' ? `${a.token}:${a.channel}` : `${per[k].kinds[a.token] ?? 'other'}:${a.channel}`);
    const sets = per.map(({ k, l }) => new Map(l.massive.map((a) => [key(k, a), a])));
    const all = new Set(sets.flatMap((m) => [...m.keys()]));
    const shared: CompareBlock['shared'] = [];
    const onlyIn: CompareBlock['onlyIn'] = [];
    for (const kk of all) {
      const have = sets.map((m) => m.get(kk));
      const a0 = have.find((a) => a)!;
      const kind = per[have.indexOf(a0)].kinds[a0.token] ?? 'other';
      if (have.every((a) => a)) {
        const values = have.map((a) => a!.value);
        shared.push({
          token: have[0]!.token, channel: a0.channel, kind, values,
          ratios: values.map((x) => x / values[0]), sameSign: values.every((x) => Math.sign(x) === Math.sign(values[0])),
        });
      }
      else have.forEach((a, k) => { if (a) onlyIn.push({ model: k, token: a.token, channel: a.channel, kind: per[k].kinds[a.token] ?? 'other', value: a.value }); });
    }
    const byKind = new Map<string, Set<number>>();
    per.forEach(({ k, l }) => { for (const a of l.massive) { const kk = `${per[k].kinds[a.token] ?? 'other'}|${a.channel}`; if (!byKind.has(kk)) byKind.set(kk, new Set()); byKind.get(kk)!.add(k); } });
    const differences = [...byKind].filter(([, ms]) => ms.size < scans.length).map(([kk, ms]) => ({ kind: kk.split('|')[0], channel: Number(kk.split('|')[1]), models: [...ms].sort((a, b) => a - b) }));
    const errors = errorsByRun.flatMap((e, k) => (e.length ? [{ model: k, ...e[per[k].b]! }] : []));
    return {
      index: i,
      models: per.map(({ k, b, l }) => ({
        block: b, median: l.median, ratio: l.ratio, top: l.top, massive: l.massive,
        attentionShare: scans[k].attention[b]?.massiveTokenShare ?? null, nonFinite: l.nonFinite.count,
      })),
      shared: shared.sort((a, b) => a.token - b.token || a.channel - b.channel),
      onlyIn: onlyIn.sort((a, b) => a.model - b.model || a.token - b.token || a.channel - b.channel),
      differences, errors,
    };
  });

  const result: CompareResult = { mode, inputs: 1, models, matching, aligned, notes, tokens, tokenKinds: kinds, layers, variants };
  if (mode === 'series') result.series = emergence(scans, kinds, models.map((m) => m.path));
  return result;
}

const mean = (xs: (number | null)[]): number | null => {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
};

/**
 * Comparisons over several inputs as one: statistics and errors averaged; an activation counts as
 * a model's where it is massive (by token kind and channel) in at least half the inputs.
 */
function averaged(rs: CompareResult[], seqLen: number): CompareResult {
  const base = rs[0];
  const M = base.models.length;
  const layers = base.layers.map((l, i): CompareBlock => {
    const at = (r: CompareResult) => r.layers[i];
    const models = l.models.map((m, k) => ({
      ...m,
      median: mean(rs.map((r) => at(r).models[k].median)) ?? m.median,
      ratio: mean(rs.map((r) => at(r).models[k].ratio)),
      attentionShare: mean(rs.map((r) => at(r).models[k].attentionShare)),
    }));
    // (kind, channel) → per model: the values where it was massive, one per input.
    const seen = new Map<string, number[][]>();
    rs.forEach((r) => at(r).models.forEach((m, k) => {
      const kinds = r.tokenKinds[k];
      const once = new Set<string>();
      for (const a of m.massive) {
        const key = `${kinds[a.token] ?? 'other'}|${a.channel}`;
        if (once.has(key)) continue;
        once.add(key);
        if (!seen.has(key)) seen.set(key, Array.from({ length: M }, () => []));
        seen.get(key)![k].push(a.value);
      }
    }));
    const shared: CompareBlock['shared'] = [];
    const onlyIn: CompareBlock['onlyIn'] = [];
    const differences: CompareBlock['differences'] = [];
    for (const [key, per] of seen) {
      const [kind, ch] = key.split('|');
      const channel = Number(ch);
      const has = per.map((v) => v.length * 2 >= rs.length);
      const value = (k: number) => per[k].reduce((a, b) => a + b, 0) / Math.max(1, per[k].length);
      if (has.every(Boolean)) {
        const values = per.map((_, k) => value(k));
        shared.push({
          token: -1, channel, kind, values,
          ratios: values.map((x) => x / values[0]), sameSign: values.every((x) => Math.sign(x) === Math.sign(values[0])),
        });
      } else if (has.some(Boolean)) {
        has.forEach((h, k) => { if (h) onlyIn.push({ model: k, token: -1, channel, kind, value: value(k) }); });
        differences.push({ kind, channel, models: has.flatMap((h, k) => (h ? [k] : [])) });
      }
    }
    const errors = l.errors.map((e) => {
      const all = rs.map((r) => at(r).errors.find((x) => x.model === e.model)).filter((x): x is NonNullable<typeof x> => !!x);
      const massive = all.filter((x) => x.massive);
      return {
        model: e.model,
        massive: massive.length ? {
          abs: mean(massive.map((x) => x.massive!.abs))!, rel: mean(massive.map((x) => x.massive!.rel))!,
          entries: Math.round(mean(massive.map((x) => x.massive!.entries))!),
        } : null,
        elsewhere: { abs: mean(all.map((x) => x.elsewhere.abs)) ?? 0, rel: mean(all.map((x) => x.elsewhere.rel)) ?? 0 },
      };
    });
    return { ...l, models, shared, onlyIn, differences, errors };
  });
  return {
    ...base, inputs: rs.length, aligned: 'kind', layers,
    notes: [...base.notes, `Means over ${rs.length} sequences of up to ${seqLen} tokens cut from the text with the first model's tokenizer; an activation counts where it is massive in at least half of them.`],
    variants: base.variants.map((v) => ({
      model: v.model,
      kl: mean(rs.map((r) => r.variants.find((x) => x.model === v.model)?.kl ?? null)),
      top1Agreement: mean(rs.map((r) => r.variants.find((x) => x.model === v.model)?.top1Agreement ?? null)),
    })),
  };
}

const sameTokens = (a: TokenInfo[], b: TokenInfo[]) => a.length === b.length && a.every((t, i) => t.id === b[i].id);

function tokenMismatch(a: FileScan, b: FileScan, fa: string, fb: string): string {
  const at = a.tokens.findIndex((t, i) => t.id !== b.tokens[i]?.id);
  const show = (s: FileScan) => (s.tokens[at] ? `"${printable(s.tokens[at].text)}"` : 'the end');
  return `${printable(nameOf(fa))} and ${printable(nameOf(fb))} turn the input into different tokens (${a.tokens.length} and ${b.tokens.length}; first difference at token ${at}: ${show(a)} vs ${show(b)}). Feed both the same ids (${option('ids')}), or compare by token kind and channel (${option('alignByText')}).`;
}

/** |x − x₀| at the reference's massive entries and elsewhere: mean absolute, and relative. */
function streamError(x0: Float32Array, x: Float32Array, massive: Activation[], d: number): { massive: CompareBlock['errors'][number]['massive']; elsewhere: CompareBlock['errors'][number]['elsewhere'] } {
  const at = new Set(massive.map((a) => a.token * d + a.channel));
  let mAbs = 0, mRel = 0, eAbs = 0, eDiff2 = 0, eRef2 = 0, n = 0;
  const len = Math.min(x0.length, x.length);
  for (let i = 0; i < len; i++) {
    const diff = Math.abs(x[i] - x0[i]);
    if (at.has(i)) { mAbs += diff; mRel += diff / Math.max(Math.abs(x0[i]), 1e-30); continue; }
    eAbs += diff; eDiff2 += diff * diff; eRef2 += x0[i] * x0[i]; n++;
  }
  return {
    massive: at.size ? { abs: mAbs / at.size, rel: mRel / at.size, entries: at.size } : null,
    elsewhere: { abs: n ? eAbs / n : 0, rel: Math.sqrt(eDiff2 / Math.max(eRef2, 1e-30)) },
  };
}

function nextTokenChange(
  a: { data: Float32Array; vocab: number }, b: { data: Float32Array; vocab: number }, tokens: number,
): { kl: number | null; top1Agreement: number | null } {
  let kl = 0, agree = 0;
  for (let t = 0; t < tokens; t++) {
    kl += klRow(a.data, b.data, t, a.vocab);
    if (argmaxRow(a.data, t, a.vocab) === argmaxRow(b.data, t, b.vocab)) agree++;
  }
  return Number.isFinite(kl) ? { kl: kl / tokens, top1Agreement: agree / tokens } : { kl: null, top1Agreement: null };
}

/** Per checkpoint, each block's top-1 ÷ median; per (kind, channel), the first checkpoint where it is massive. */
function emergence(scans: FileScan[], kinds: string[][], files: string[]): NonNullable<CompareResult['series']> {
  const first = new Map<string, { checkpoint: number; block: number }>();
  scans.forEach((s, k) => s.layers.forEach((l) => {
    for (const a of l.massive) {
      const key = `${kinds[k][a.token] ?? 'other'}|${a.channel}`;
      if (!first.has(key)) first.set(key, { checkpoint: k, block: l.index });
    }
  }));
  return {
    checkpoints: files.map((f, k) => ({ model: k, name: nameOf(f), step: stepOf(f) })),
    ratio: scans.map((s) => s.layers.map((l) => l.ratio)),
    emergence: [...first].map(([key, v]) => ({ kind: key.split('|')[0], channel: Number(key.split('|')[1]), checkpoint: v.checkpoint, step: stepOf(files[v.checkpoint]), block: v.block }))
      .sort((a, b) => a.checkpoint - b.checkpoint || KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.channel - b.channel),
  };
}
