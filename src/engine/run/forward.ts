import type * as ort from 'onnxruntime-node';
import { EngineError } from '../base/errors';
import { textFeeds, type FeedTensor } from '../model/feeds';
import { DT, floatToHalf } from '../model/onnx/dtype';
import { countNonFinite, softmaxRows } from '../measure/stats';
import { openModel, run, toFloat32, type OpenModel, type SessionSettings } from './session';
import { covers, expandProbes, type ProbeName, type ProbeRequest, type ProbeTensor } from './probes';

/** A decoded tensor. */
export interface Dense { data: Float32Array; dims: number[] }

export interface ForwardOutputs {
  tokens: number;
  channels: number;
  /**
   * Residual stream after each block, [tokens × channels]. Absent for blocks the run did not
   * compute: after `through`, or before the block a resumed run started at (see segments/).
   */
  blocks: (Float32Array | undefined)[];
  /**
   * Per block, per attention tensor: probabilities (softmax applied where the graph gives scores),
   * or only their per-key sums over queries for blocks exposed that way.
   */
  attention: { probs?: Dense; sums?: Dense; logits?: Dense; values?: Dense; outProj?: string; cross?: boolean }[][];
  /** MLP down-projection inputs of the blocks whose blocks.N.mlp.down_in was read. */
  mlpInputs: (Dense | undefined)[];
  /** Next-token logits [tokens × vocab] when the model has an LM head. */
  logits?: { data: Float32Array; vocab: number };
  /** The model's first output, for models without logits (vision encoders, classifiers). */
  output?: Dense;
  /** Where NaN / ±Inf appear: the first block whose stream holds one, and whether the output does. */
  nonFinite: { firstBlock: number | null; output: boolean };
}

export type Opener = (file: string, probes: ProbeRequest, settings: SessionSettings) => Promise<OpenModel>;

export const defaultOpener: Opener = openModel;

/** Interventions by block: which (token, channel) entries to replace and with what. */
export type Edits = Map<number, { token: number; channel: number; value: number }[]>;

const dense = (t: ort.Tensor): Dense => ({ data: toFloat32(t), dims: t.dims.map(Number) });

/**
 * One forward pass, with intervention inputs filled (all-false where nothing is edited). With
 * `through`, only the blocks up to it run. With `from`, the caller reads nothing before that
 * block, so a pass whose inputs equal the last one's up to it starts there (an edited run after
 * the original one computes only what the edit changes).
 */
export async function forward(
  om: OpenModel, input: { ids?: number[]; feeds?: Record<string, FeedTensor>; tokens?: number; given?: Record<string, FeedTensor> },
  edits: Edits = new Map(), run_: { from?: number; through?: number; signal?: AbortSignal } = {},
): Promise<ForwardOutputs> {
  const info = om.prepared.info;
  const feeds: Record<string, FeedTensor> = input.ids
    ? textFeeds(info.inputs.map((i) => ({ ...i, elemType: om.prepared.index.elemTypeOf(i.name) ?? DT.FLOAT })), input.ids, input.given, info.constants)
    : { ...input.feeds };
  let tokens = input.ids?.length ?? input.tokens ?? 0;
  const blockCount = om.prepared.location.blocks.length;
  const edited = expandProbes(om.request.edit ?? [], blockCount);
  if (edited.length) {
    // Image and feature models: the caller knows the token count from an earlier plain run.
    if (!tokens) throw new EngineError('bad-argument', 'Interventions on a model without token inputs need the token count of its stream.');
    const d = info.hiddenSize ?? 0;
    for (const { block, name } of edited) {
      const iv = om.editInputs(name);
      const mask = new Uint8Array(tokens * d);
      const values = new Float32Array(tokens * d);
      for (const e of edits.get(block) ?? []) {
        if (e.token >= tokens || e.channel >= d) throw new EngineError('bad-argument', `Cannot edit token ${e.token}, channel ${e.channel}: the input has ${tokens} tokens and ${d} channels.`);
        mask[e.token * d + e.channel] = 1;
        values[e.token * d + e.channel] = e.value;
      }
      feeds[iv.mask] = { type: 'bool', data: mask, dims: [1, tokens, d] };
      feeds[iv.values] = info.dtype === 'float16' ? { type: 'float16', data: toHalf(values), dims: [1, tokens, d] } : { type: 'float32', data: values, dims: [1, tokens, d] };
    }
  }
  const out = await run(om, feeds, run_);
  const streams = Array.from({ length: blockCount }, (_, b) => om.probe(`blocks.${b}.resid_post`)[0].tensor);
  const blocks = streams.map((n) => (out[n] ? toFloat32(out[n]) : undefined));
  const first = out[streams.find((n) => out[n])!];
  const dims = first.dims.map(Number);
  const channels = dims[dims.length - 1];
  tokens = dims.slice(0, -1).reduce((a, b) => a * b, 1);
  const read = (name: ProbeName): ProbeTensor[] => (covers(om.request.read, name) ? om.probe(name) : []);
  const attention = Array.from({ length: blockCount }, (_, b) => {
    const byOp = (name: ProbeName) => new Map(read(name).map((t) => [t.op, t]));
    const scores = byOp(`blocks.${b}.attn.scores`);
    const values = byOp(`blocks.${b}.attn.v`);
    // A block's pattern and its key sums are never both exposed (see exposeForScan).
    const list = [...read(`blocks.${b}.attn.pattern`).map((t) => ({ t, sums: false })), ...read(`blocks.${b}.attn.key_sums`).map((t) => ({ t, sums: true }))]
      .sort((x, y) => x.t.op! - y.t.op!);
    return list.filter(({ t }) => out[t.tensor]).map(({ t, sums }) => {
      if (sums) return { sums: dense(out[t.tensor]), cross: t.cross };
      let probs = dense(out[t.tensor]);
      if (t.kind === 'mha-qk') probs = { data: softmaxRows(Float32Array.from(probs.data), probs.dims[probs.dims.length - 1]), dims: probs.dims };
      const logits = scores.get(t.op)?.tensor ?? (t.kind === 'mha-qk' ? t.tensor : undefined);
      const v = values.get(t.op);
      return { probs, logits: logits ? dense(out[logits]) : undefined, values: v ? dense(out[v.tensor]) : undefined, outProj: v?.outProj, cross: t.cross };
    });
  });
  const mlpInputs = Array.from({ length: blockCount }, (_, b) => read(`blocks.${b}.mlp.down_in`)[0]).map((m) => (m ? dense(out[m.tensor]) : undefined));
  const logits = logitsOf(out, info.vocabSize);
  const firstOut = info.outputs[0];
  const output = !logits && out[firstOut] ? dense(out[firstOut]) : undefined;
  const firstBlock = blocks.findIndex((b) => !!b && countNonFinite(b) > 0);
  const final = logits?.data ?? output?.data;
  const nonFinite = { firstBlock: firstBlock < 0 ? null : firstBlock, output: !!final && countNonFinite(final) > 0 };
  return { tokens, channels, blocks, attention, mlpInputs, logits, output, nonFinite };
}

/** Block b's stream of a run that computed it. */
export function blockOf(out: ForwardOutputs, b: number): Float32Array {
  const x = out.blocks[b];
  if (!x) throw new EngineError('runtime', `Internal: block ${b}'s stream was not computed by this run.`);
  return x;
}

/** True when the run holds no NaN / ±Inf in any block or in its output. */
export const isFinite = (out: ForwardOutputs) => out.nonFinite.firstBlock === null && !out.nonFinite.output;

/**
 * Refuses to compute a measure on a run with NaN / ±Inf: a KL, cosine or perplexity of NaN would
 * read as a (wrong) number. Says where they start.
 */
export function requireFinite(out: ForwardOutputs, run: string, measure: string): void {
  if (isFinite(out)) return;
  const where = out.nonFinite.firstBlock !== null ? `from block ${out.nonFinite.firstBlock} on` : 'in its output';
  throw new EngineError('non-finite', `The ${run} run of the model produced NaN or infinite values (${where}), so ${measure} cannot be computed. The weights or inputs hold non-finite numbers or overflow; scan the model to see where they start.`);
}

/** The sentence for a run the experiment itself made non-finite (an edit that overflowed). */
export function nonFiniteNote(out: ForwardOutputs, what: string): string {
  const where = out.nonFinite.firstBlock !== null ? `from block ${out.nonFinite.firstBlock} on` : 'in its output';
  return `${what} made the model produce NaN or infinite values (${where}); measures of the change are not defined and are left out.`;
}

/** The next-token logits among a run's outputs: `logits`, or the one output [B, T, vocab]. */
export function logitsOf(out: Record<string, ort.Tensor>, vocab: number | null): { data: Float32Array; vocab: number } | undefined {
  const name = Object.keys(out).find((k) => k === 'logits') ?? Object.keys(out).find((k) => { const d = out[k].dims; return vocab !== null && d.length === 3 && Number(d[2]) === vocab; });
  return name ? { data: toFloat32(out[name]), vocab: Number(out[name].dims[out[name].dims.length - 1]) } : undefined;
}

function toHalf(x: Float32Array): Uint16Array {
  return Uint16Array.from(x, floatToHalf);
}
