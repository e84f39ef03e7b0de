import { resolveInput, type InputOptions } from '../../engine/run/input';
import { readWeight } from '../../engine/model/onnx/weights';
import { blockStats } from '../../engine/measure/stats';
import { sessions, thresholdsOf, type ExperimentBase } from '../../engine/run/experiment';
import { blockOf, forward, requireFinite } from '../../engine/run/forward';

export interface SuperWeight {
  layer: number;
  /** Row of the down projection ([ffn, d]): the MLP neuron whose activation spikes. */
  row: number;
  /** Column: the model channel the massive activation lands in. */
  column: number;
  weight: number;
  /** The neuron's activation on the massive-activation tokens (mean) and its contribution there. */
  input: number;
  contribution: number;
  /** Contribution ÷ the MLP's whole output on that entry. */
  share: number;
  tokens: number[];
}

export interface SuperWeightsResult { layer: number | null; weightName: string | null; candidates: SuperWeight[]; note?: string }

/**
 * Yu et al.'s super weights: in the block where massive activations appear, the down-projection
 * weight whose input (an MLP neuron) and output (the massive channel) spike together.
 */
export async function superWeights(file: string, o: ExperimentBase & InputOptions): Promise<SuperWeightsResult> {
  const open = sessions(file, o);
  const plainSession = await open({ read: [] });
  const input = await resolveInput(file, plainSession, o);
  const plain = await forward(plainSession, { feeds: input.feeds });
  requireFinite(plain, 'analysed', 'super weights');
  const th = thresholdsOf(o);
  const layer = plain.blocks.findIndex((x) => !!x && blockStats(x, plain.tokens, plain.channels, 1, th).massive.length > 0);
  if (layer < 0) return { layer: null, weightName: null, candidates: [], note: 'No massive activations on this input: no super weight to look for.' };
  const down = plainSession.prepared.location.blocks[layer].mlpDown;
  const w = down && readWeight(plainSession.prepared.loaded, plainSession.prepared.index, down.weight);
  if (!down || !w) return { layer, weightName: down?.weight ?? null, candidates: [], note: `Block ${layer}'s MLP down projection is fused or quantized here; its weights cannot be read.` };
  const om = await open({ read: [`blocks.${layer}.mlp.down_in`] });
  const out = await forward(om, { feeds: input.feeds });
  const act = out.mlpInputs[layer]!;
  const ffn = w.dims[0];
  const d = w.dims[1];
  const massive = blockStats(blockOf(out, layer), out.tokens, out.channels, 1, th).massive;
  const found = new Map<string, SuperWeight & { inputs: number[]; contributions: number[]; shares: number[] }>();
  for (const a of massive) {
    let best = 0, bestC = 0, total = 0;
    for (let n = 0; n < ffn; n++) {
      const c = act.data[a.token * ffn + n] * w.data[n * d + a.channel];
      total += c;
      if (Math.abs(c) > Math.abs(bestC)) { bestC = c; best = n; }
    }
    const k = `${best}|${a.channel}`;
    const e = found.get(k) ?? {
      layer, row: best, column: a.channel, weight: w.data[best * d + a.channel], input: 0, contribution: 0, share: 0,
      tokens: [], inputs: [], contributions: [], shares: [],
    };
    e.tokens.push(a.token);
    e.inputs.push(act.data[a.token * ffn + best]);
    e.contributions.push(bestC);
    e.shares.push(total ? bestC / total : 0);
    found.set(k, e);
  }
  const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
  const candidates = [...found.values()]
    .map(({ inputs, contributions, shares, ...e }) => ({ ...e, input: mean(inputs), contribution: mean(contributions), share: mean(shares) }))
    .sort((p, q) => Math.abs(q.contribution) - Math.abs(p.contribution));
  return { layer, weightName: down.weight, candidates };
}
