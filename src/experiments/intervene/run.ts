import { checkAbort, EngineError } from '../../engine/base/errors';
import { resolveInput, type InputOptions } from '../../engine/run/input';
import { blockStats, type Activation } from '../../engine/measure/stats';
import { findTokenizer, loadTokenizer, optionalTokenizer, type TextTokenizer } from '../../engine/model/tokenizer';
import type { OpenModel } from '../../engine/run/session';
import { blockProbes, SCAN_PROBES } from '../../engine/run/probes';
import type { FeedTensor } from '../../engine/model/feeds';
import { checkBlock, sessions, thresholdsOf, type ExperimentBase } from '../../engine/run/experiment';
import { checkCount, LIMITS } from '../../engine/base/limits';
import { randomSequences, SAMPLE_TEXT, sequencesFromText, type Corpus } from '../../engine/model/corpus';
import { blockOf, forward, isFinite, nonFiniteNote, requireFinite, type Edits } from '../../engine/run/forward';
import { argmaxRow, klRow, sequenceNll } from '../../engine/measure/logits';
import { textTokenKinds, type TextTokenKind } from '../../engine/model/tokenKinds';

export type InterventionMode = 'zero' | 'mean' | 'values';

export interface InterveneOptions extends ExperimentBase, InputOptions {
  layer: number;
  mode: InterventionMode;
  /** mode 'values': the entries to write (token, channel, value) on the input. */
  values?: Activation[];
  /** Only touch these channels (default: every channel with a massive activation at the block). */
  channels?: number[];
  /** Inputs the set-to-mean values are averaged over: a text, or token id sequences. */
  meanText?: Corpus;
  meanIds?: number[][];
  meanCount?: number;
  /** Perplexity text; undefined: the built-in sample when there is a tokenizer; null: none. */
  evalText?: Corpus | null;
  seqLen?: number;
  evalCount?: number;
}

export interface InterveneResult {
  layer: number;
  mode: InterventionMode;
  changed: { token: number; channel: number; from: number; to: number }[];
  /** Mean KL(original ‖ intervened) of the next-token distributions over the input's positions, in nats. */
  klMean: number | null;
  klMax: number | null;
  /** KL(original ‖ intervened) at each position of the input, in nats (null where it is not defined). */
  klPerToken: number[] | null;
  top1Agreement: number | null;
  /** after is null when the intervened model's logits are NaN / ±Inf (undefined, not infinite). */
  perplexity: { before: number; after: number | null; tokens: number; sequences: number; source: 'text' | 'sample' | 'input' } | null;
  /** The intervention made the model's numbers non-finite: KL and agreement are left out. */
  nonFinite?: boolean;
  /** Set-to-mean: the means used, by token kind and channel, and how many values each averages. */
  means?: { kind: string; channel: number; mean: number; samples: number }[];
  note?: string;
}

type Means = Map<string, { sum: number; n: number }>;
const key = (kind: string, channel: number) => `${kind}|${channel}`;

/** The paper's exp3: set the massive activations of one block to zero, to their mean, or to given values. */
export async function intervene(file: string, o: InterveneOptions): Promise<InterveneResult> {
  const open = sessions(file, o);
  // The scan's probes plus the edit: the blocks before it are the scan's own sessions and states.
  const om = await open({ ...SCAN_PROBES, edit: blockProbes(o.layer, ['resid_post']) });
  const info = om.prepared.info;
  checkBlock(o.layer, info.blocks, file);
  if (!info.inputs.some((i) => i.role === 'ids')) throw new EngineError('bad-argument', 'Interventions by token need a text model; for vision transformers use fix-reg-mean.');
  if (o.mode === 'values' && !o.values?.length) throw new EngineError('bad-argument', 'Mode "values" needs the values to write (token, channel, value).');
  const tf = findTokenizer(file);
  // Given ids, the tokenizer only names token kinds: an unreadable one must not block the run.
  const tok = o.ids ? optionalTokenizer(tf).tok : tf ? loadTokenizer(tf) : undefined;
  const input = await resolveInput(file, om, o);
  const ids = input.ids!;
  const th = thresholdsOf(o);
  const seqLen = o.seqLen ?? 64;
  checkCount(seqLen, 'tokens', 'The sequence length', 2);
  checkCount(o.meanCount, 'count', 'The number of inputs for the mean');
  checkCount(o.evalCount, 'count', 'The number of evaluation sequences');
  if ((o.values?.length ?? 0) > LIMITS.values) throw new EngineError('bad-argument', `${o.values!.length.toLocaleString('en-US')} values given; one intervention writes at most ${LIMITS.values.toLocaleString('en-US')}.`);

  let means: Means | undefined;
  if (o.mode === 'mean') {
    const meanInputs = o.meanIds ?? (o.meanText !== undefined && tok ? sequencesFromText(o.meanText, tok, seqLen, o.meanCount ?? 10)
      : tok ? sequencesFromText(SAMPLE_TEXT, tok, seqLen, o.meanCount ?? 10)
        : randomSequences(o.meanCount ?? 10, seqLen, info.vocabSize ?? 2, ids[0]));
    means = await collectMeans(om, o, meanInputs, tok, input.given);
  }

  const kindsOf = (seq: number[]) => textTokenKinds(seq.map((id, index) => ({ index, id, text: tok ? tok.tokenText(id) : `<${id}>` })));
  const editsFor = (seq: number[], x: Float32Array, d: number) => {
    const kinds = kindsOf(seq);
    const found = blockStats(x, seq.length, d, 1, th).massive.filter((a) => !o.channels || o.channels.includes(a.channel));
    const list = o.mode === 'values'
      ? o.values!.filter((v) => v.token < seq.length)
      : found.map((a) => ({ token: a.token, channel: a.channel, value: o.mode === 'zero' ? 0 : meanFor(means!, kinds[a.token], a.channel) ?? a.value }));
    return list;
  };

  o.onProgress?.({ stage: 'run', message: 'Original run' });
  // Nothing before the edited block is read: after a scan of this input, the pass starts there.
  const plain = await forward(om, { ids, given: input.given }, undefined, { from: o.layer, signal: o.signal });
  requireFinite(plain, 'original', 'the effect of an intervention');
  const d = plain.channels;
  checkTargets(o, ids.length, d);
  const edits = editsFor(ids, blockOf(plain, o.layer), d);
  const changed = edits.map((e) => ({ token: e.token, channel: e.channel, from: blockOf(plain, o.layer)[e.token * d + e.channel], to: e.value }));
  checkAbort(o.signal);
  o.onProgress?.({ stage: 'run', message: 'Intervened run' });
  // Only the blocks from the edit on differ from the original run: the pass starts there.
  const edited = await forward(om, { ids }, new Map([[o.layer, edits]]) as Edits, { from: o.layer, signal: o.signal });

  let klMean: number | null = null, klMax: number | null = null, top1: number | null = null, klPerToken: number[] | null = null;
  const brokeIt = !isFinite(edited);
  if (plain.logits && edited.logits && !brokeIt) {
    const V = plain.logits.vocab;
    let sum = 0, max = 0, agree = 0;
    klPerToken = [];
    for (let t = 0; t < ids.length; t++) {
      const kl = klRow(plain.logits.data, edited.logits.data, t, V);
      klPerToken.push(kl);
      sum += kl; max = Math.max(max, kl);
      if (argmaxRow(plain.logits.data, t, V) === argmaxRow(edited.logits.data, t, V)) agree++;
    }
    klMean = sum / ids.length; klMax = max; top1 = agree / ids.length;
  }

  let perplexity: InterveneResult['perplexity'] = null;
  if (plain.logits && o.evalText !== null) {
    const source = o.evalText !== undefined ? 'text' : tok ? 'sample' : 'input';
    const seqs = source === 'input' ? [ids] : sequencesFromText(o.evalText ?? SAMPLE_TEXT, tok ?? failNoTokenizer(), seqLen, o.evalCount ?? 8);
    let before = 0, after = 0, predicted = 0, afterDefined = true;
    for (const [k, seq] of seqs.entries()) {
      checkAbort(o.signal);
      o.onProgress?.({ stage: 'run', message: `Perplexity ${k + 1}/${seqs.length}`, done: k, total: seqs.length });
      const p = seq === ids ? plain : await forward(om, { ids: seq, given: input.given }, undefined, { from: o.layer, signal: o.signal });
      requireFinite(p, 'original', 'perplexity');
      const e = seq === ids
        ? edited
        : await forward(om, { ids: seq }, new Map([[o.layer, editsFor(seq, blockOf(p, o.layer), d)]]), { from: o.layer, signal: o.signal });
      const a = sequenceNll(p.logits!.data, seq, p.logits!.vocab);
      const b = sequenceNll(e.logits!.data, seq, e.logits!.vocab);
      if (Number.isNaN(b.nll)) afterDefined = false;
      before += a.nll; after += b.nll; predicted += a.predicted;
    }
    perplexity = {
      before: Math.exp(before / predicted), after: afterDefined ? Math.exp(after / predicted) : null,
      tokens: predicted, sequences: seqs.length, source,
    };
  }
  const touched = new Set(changed.map((c) => c.channel));
  const meanList = means && [...means.entries()]
    .map(([k, v]) => ({ kind: k.split('|')[0], channel: Number(k.split('|')[1]), mean: v.sum / v.n, samples: v.n }))
    .filter((m) => touched.has(m.channel));
  return {
    layer: o.layer, mode: o.mode, changed, klMean, klMax, klPerToken, top1Agreement: top1, perplexity, means: meanList,
    ...(brokeIt ? { nonFinite: true } : {}),
    note: brokeIt ? nonFiniteNote(edited, 'The intervention') : changed.length ? undefined : `No massive activation at block ${o.layer} on this input: nothing was changed.`,
  };
}

/** Every token and channel the user named must exist: dropping one silently would misreport "nothing changed". */
function checkTargets(o: InterveneOptions, tokens: number, channels: number): void {
  for (const v of o.values ?? []) {
    if (!Number.isInteger(v.token) || v.token < 0 || v.token >= tokens || !Number.isInteger(v.channel) || v.channel < 0 || v.channel >= channels) {
      throw new EngineError('bad-argument', `Cannot set token ${v.token}, channel ${v.channel}: the input has tokens 0–${tokens - 1} and channels 0–${channels - 1}.`);
    }
    if (!Number.isFinite(v.value)) throw new EngineError('bad-argument', `The value for token ${v.token}, channel ${v.channel} is not a finite number.`);
  }
  const badChannel = o.channels?.find((c) => !Number.isInteger(c) || c < 0 || c >= channels);
  if (badChannel !== undefined) throw new EngineError('bad-argument', `Channel ${badChannel} does not exist: the model's channels are 0–${channels - 1}.`);
}

function failNoTokenizer(): TextTokenizer {
  throw new EngineError('bad-prompt', 'A perplexity text needs the model\'s tokenizer.json; none was found beside the model.');
}

/** Means of the stream at the block, per (token kind, channel), over a set of inputs. */
async function collectMeans(
  om: OpenModel, o: InterveneOptions, inputs: number[][], tok: TextTokenizer | undefined, given: Record<string, FeedTensor>,
): Promise<Means> {
  const means: Means = new Map();
  for (const [k, seq] of inputs.entries()) {
    checkAbort(o.signal);
    o.onProgress?.({ stage: 'run', message: `Mean over inputs ${k + 1}/${inputs.length}`, done: k, total: inputs.length });
    const out = await forward(om, { ids: seq, given }, undefined, { from: o.layer, signal: o.signal });
    const x = blockOf(out, o.layer);
    const d = out.channels;
    const kinds = textTokenKinds(seq.map((id, index) => ({ index, id, text: tok ? tok.tokenText(id) : `<${id}>` })));
    for (let t = 0; t < seq.length; t++) for (let c = 0; c < d; c++) {
      if (o.channels && !o.channels.includes(c)) continue;
      for (const kind of [kinds[t], 'any']) {
        const e = means.get(key(kind, c)) ?? { sum: 0, n: 0 };
        e.sum += x[t * d + c];
        e.n++;
        means.set(key(kind, c), e);
      }
    }
  }
  return means;
}

/** The mean for a token of this kind; delimiters fall back to any delimiter, then to any token. */
function meanFor(means: Means, kind: TextTokenKind | string, channel: number): number | undefined {
  const order = kind === 'first-delimiter' || kind === 'delimiter' ? [kind, kind === 'delimiter' ? 'first-delimiter' : 'delimiter', 'any'] : [kind, 'any'];
  for (const k of order) {
    const e = means.get(key(k, channel));
    if (e?.n) return e.sum / e.n;
  }
  return undefined;
}
