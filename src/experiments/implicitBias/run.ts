import { cosine } from '../../engine/measure/vectors';
import { EngineError } from '../../engine/base/errors';
import { resolveInput, type InputOptions } from '../../engine/run/input';
import { readWeight } from '../../engine/model/onnx/weights';
import { checkBlock, sessions, thresholdsOf, type ExperimentBase } from '../../engine/run/experiment';
import { forward, requireFinite } from '../../engine/run/forward';
import { noAttentionNote } from '../../engine/run/scanFile';
import { blockProbes } from '../../engine/run/probes';
import { massiveTokensOf, shape3 } from '../attention/run';

export interface ImplicitBiasOptions extends ExperimentBase, InputOptions { layer: number }

export interface ImplicitBiasResult {
  layer: number;
  massiveTokens: number[];
  /** True when the parts were mapped through the block's output projection. */
  afterOutputProjection: boolean;
  queries: number;
  /** Mean pairwise cosine similarity of the queries' parts from the massive tokens (≈1: a constant bias). */
  sinkPartCosine: number;
  /** The same for the rest of the attention output, for contrast. */
  restPartCosine: number;
  /** Mean ‖sink part‖ / ‖whole attention output‖. */
  sinkNormShare: number;
  /** The average sink part: the implicit bias vector (in the projected space when available). */
  bias: number[];
}

const MAX_QUERIES = 128;

/**
 * Splits each query's attention output into Σ_{i∈C} p·v over the massive-activation tokens C and
 * the rest (Sun et al. §3): if the first part barely depends on the query, attention to those
 * tokens acts as a bias term.
 */
export async function implicitBias(file: string, o: ImplicitBiasOptions): Promise<ImplicitBiasResult> {
  const om = await sessions(file, o)({ read: ['blocks.*.attn.pattern', ...blockProbes(o.layer, ['attn.scores', 'attn.v'])] });
  checkBlock(o.layer, om.prepared.info.blocks, file);
  const block = om.prepared.location.blocks[o.layer];
  if (block.mixer !== 'attention') throw new EngineError('unsupported-input', `The implicit attention bias needs attention probabilities, but ${noAttentionNote(o.layer, block.mixer)}.`);
  const input = await resolveInput(file, om, o);
  const out = await forward(om, { feeds: input.feeds });
  requireFinite(out, 'analysed', 'the implicit bias');
  const C = massiveTokensOf(out, thresholdsOf(o));
  if (!C.length) throw new EngineError('bad-argument', 'No massive activations on this input, so there is no implicit bias to measure.');
  const entries = out.attention[o.layer].filter((a) => a.values);
  if (!entries.length) throw new EngineError('unsupported-input', `Block ${o.layer}'s attention is fused; its values cannot be read, so the output cannot be split.`);
  const [, Q] = shape3(entries[0].probs!);
  const first = Math.min(...C);
  const queries = Array.from({ length: Q }, (_, q) => q).filter((q) => q >= first);
  const picked = queries.length > MAX_QUERIES
    ? Array.from({ length: MAX_QUERIES }, (_, i) => queries[Math.floor((i * queries.length) / MAX_QUERIES)])
    : queries;

  // Per query: concatenation over heads of the two parts, before the output projection.
  const parts = picked.map(() => ({ sink: [] as number[], rest: [] as number[] }));
  for (const a of entries) {
    const [H, Qa, K] = shape3(a.probs!);
    const vd = a.values!.dims;
    const hd = vd[vd.length - 1];
    const Hv = vd.slice(0, -2).reduce((x, y) => x * y, 1);
    for (let h = 0; h < H; h++) {
      const g = Math.floor((h * Hv) / H);
      picked.forEach((q, qi) => {
        const s = new Array(hd).fill(0);
        const r = new Array(hd).fill(0);
        for (let k = 0; k < K; k++) {
          const p = a.probs!.data[(h * Qa + q) * K + k];
          if (!p) continue;
          const target = C.includes(k) ? s : r;
          for (let e = 0; e < hd; e++) target[e] += p * a.values!.data[(g * K + k) * hd + e];
        }
        parts[qi].sink.push(...s);
        parts[qi].rest.push(...r);
      });
    }
  }
  const w = entries[0].outProj ? readWeight(om.prepared.loaded, om.prepared.index, entries[0].outProj) : undefined;
  const projected = !!w && w.dims[0] === parts[0].sink.length;
  const project = projected ? (x: number[]) => {
    const out2 = new Array(w!.dims[1]).fill(0);
    for (let i = 0; i < x.length; i++) if (x[i]) for (let j = 0; j < w!.dims[1]; j++) out2[j] += x[i] * w!.data[i * w!.dims[1] + j];
    return out2;
  } : (x: number[]) => x;
  const sink = parts.map((p) => project(p.sink));
  const rest = parts.map((p) => project(p.rest));
  const pairwise = (vs: number[][]) => {
    let s = 0, n = 0;
    for (let i = 0; i < vs.length; i++) for (let j = i + 1; j < vs.length; j++) { s += cosine(vs[i], vs[j]); n++; }
    return n ? s / n : 1;
  };
  const norm = (x: number[]) => Math.sqrt(x.reduce((a, b) => a + b * b, 0));
  const share = sink.reduce((acc, s, i) => acc + norm(s) / Math.max(1e-12, norm(s.map((v, j) => v + rest[i][j]))), 0) / sink.length;
  const bias = sink[0].map((_, j) => sink.reduce((a, s) => a + s[j], 0) / sink.length);
  return {
    layer: o.layer, massiveTokens: C, afterOutputProjection: projected, queries: picked.length,
    sinkPartCosine: pairwise(sink), restPartCosine: pairwise(rest), sinkNormShare: share, bias,
  };
}
