import { checkAbort, EngineError } from '../../engine/base/errors';
import { checkCount } from '../../engine/base/limits';
import { sinkScoresFromSums } from '../../engine/measure/stats';
import { sessions, type ExperimentBase } from '../../engine/run/experiment';
import { forward, requireFinite } from '../../engine/run/forward';
import { resolveInput, type InputOptions } from '../../engine/run/input';
import { SCAN_PROBES } from '../../engine/run/probes';
import { noAttentionNote } from '../../engine/run/scanFile';
import { SINK_HEAD } from '../attention/run';

export interface SinkRateOptions extends ExperimentBase, InputOptions {
  /** Several prompts, averaged (Gu et al. average over samples); otherwise the one input of InputOptions. */
  prompts?: string[];
  /** A head is a sink head where its mean attention on the first token exceeds this (Gu et al.: 0.3). */
  epsilon?: number;
}

export interface SinkRateBlock {
  block: number;
  /** Per head: attention on the first token averaged over queries, then over inputs. Empty where the block has none to read. */
  scores: number[];
  sinkHeads: number;
  /** sinkHeads ÷ heads; null where the block has no attention heads to count. */
  rate: number | null;
  /** Why the block has no rate (another token mixer; attention fused in one kernel). */
  note?: string;
}

export interface SinkRateResult {
  epsilon: number;
  inputs: number;
  tokensPerInput: number[];
  blocks: SinkRateBlock[];
  /** Gu et al.'s Sink_ε: sink heads over all heads counted, every block's heads weighing the same. */
  rate: number | null;
  heads: number;
  sinkHeads: number;
}

/**
 * Gu et al.'s sink rate (When Attention Sink Emerges in Language Models, 2024): the share of heads,
 * over all blocks, whose attention on the first token, averaged over queries and inputs, exceeds ε.
 * It reads only each block's per-key attention sums, the probe a scan reads, so it shares the
 * scan's session and stays small at long context.
 */
export async function sinkRate(file: string, o: SinkRateOptions): Promise<SinkRateResult> {
  const epsilon = o.epsilon ?? SINK_HEAD;
  if (!(epsilon >= 0 && epsilon <= 1)) throw new EngineError('bad-argument', `ε = ${epsilon} is no share of attention; give a value from 0 to 1.`);
  checkCount(o.prompts?.length || undefined, 'prompts', 'The number of prompts');
  const om = await sessions(file, o)(SCAN_PROBES);
  const located = om.prepared.location.blocks;
  const inputs: InputOptions[] = o.prompts?.length ? o.prompts.map((prompt) => ({ ...o, prompt, ids: undefined })) : [o];
  const sums: number[][] = located.map(() => []);
  const heads: number[] = located.map(() => 0);
  const tokensPerInput: number[] = [];
  for (const [k, io] of inputs.entries()) {
    checkAbort(o.signal);
    o.onProgress?.({ stage: 'run', message: inputs.length > 1 ? `Input ${k + 1} of ${inputs.length}` : 'Running', done: k, total: inputs.length });
    const input = await resolveInput(file, om, io);
    const out = await forward(om, { feeds: input.feeds }, new Map(), { signal: o.signal });
    requireFinite(out, 'measured', 'sink rate');
    tokensPerInput.push(out.tokens);
    for (const [b, ops] of out.attention.entries()) {
      const scores = ops.filter((a) => !a.cross && a.sums).flatMap((a) => {
        const dims = a.sums!.dims;
        const keys = dims[dims.length - 1];
        const n = dims.slice(0, -1).reduce((x, y) => x * y, 1);
        // Every query sees the first token, causal or not: the column sum over queries ÷ queries.
        return sinkScoresFromSums(a.sums!.data, n, keys, out.tokens);
      });
      if (k > 0 && scores.length !== heads[b]) throw new EngineError('runtime', `Block ${b} gave ${scores.length} heads on input ${k + 1} but ${heads[b]} before.`);
      heads[b] = scores.length;
      scores.forEach((s, h) => { sums[b][h] = (sums[b][h] ?? 0) + s; });
    }
  }
  const blocks = located.map((l, b): SinkRateBlock => {
    const scores = sums[b].map((s) => s / inputs.length);
    const sinkHeads = scores.filter((s) => s > epsilon).length;
    if (scores.length) return { block: b, scores, sinkHeads, rate: sinkHeads / scores.length };
    const note = l.mixer !== 'attention' ? noAttentionNote(b, l.mixer)
      : l.attention.find((a) => a.note)?.note ?? `block ${b}'s attention is computed inside one fused kernel: its probabilities cannot be read`;
    return { block: b, scores, sinkHeads: 0, rate: null, note };
  });
  const counted = blocks.filter((b) => b.rate !== null);
  const allHeads = counted.reduce((a, b) => a + b.scores.length, 0);
  const allSinks = counted.reduce((a, b) => a + b.sinkHeads, 0);
  return { epsilon, inputs: inputs.length, tokensPerInput, blocks, rate: allHeads ? allSinks / allHeads : null, heads: allHeads, sinkHeads: allSinks };
}
