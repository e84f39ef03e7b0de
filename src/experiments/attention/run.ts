import { resolveInput, type InputOptions } from '../../engine/run/input';
import { attentionShare, attentionShareFromSums, blockStats, sinkScores } from '../../engine/measure/stats';
import type { TokenInfo } from '../../engine/model/results';
import { binAxis, type Bin } from '../../engine/measure/bins';
import { checkBlock, sessions, thresholdsOf, type ExperimentBase } from '../../engine/run/experiment';
import { forward, requireFinite, type Dense, type ForwardOutputs } from '../../engine/run/forward';
import { noAttentionNote } from '../../engine/run/scanFile';
import { blockProbes } from '../../engine/run/probes';

export interface AttentionOptions extends ExperimentBase, InputOptions {
  layer: number;
  /**
   * Longest side of the matrices returned: longer inputs are binned (see `bins`), the massive
   * tokens keeping a row and column each. Not the input cap: that is `maxTokens`, and a long prompt
   * must not be refused for the size of a picture.
   */
  matrixTokens?: number;
  /** Include each head's matrices, not only the average. */
  perHead?: boolean;
  /**
   * Run blocks 0…layer only (a block click: the rest of the model adds nothing to this block's
   * view). The massive tokens are then `massiveTokens` when given (a scan of the same input), else
   * those of the blocks run; `shareByLayer` covers those blocks.
   */
  prefix?: boolean;
  massiveTokens?: number[];
}

export const SINK_HEAD = 0.3;

export interface AttentionAnalysis {
  layer: number;
  tokens: TokenInfo[];
  massiveTokens: number[];
  heads: { head: number; sinkScore: number; isSink: boolean; massiveShare: number | null }[];
  massiveTokenShare: number | null;
  /**
   * The tokens behind each row (query) and column (key) of the matrices. An input longer than
   * `matrixTokens` is binned: a column holds the attention its keys receive together (the sum), a
   * row the mean over its queries; logits are means. The massive tokens are bins of their own.
   */
  bins: Bin[];
  /** Probabilities and logits averaged over heads, [query bin][key bin] (null where the mask hides every key). */
  probabilities: number[][];
  logits: (number | null)[][] | null;
  perHead?: { probabilities: number[][]; logits: (number | null)[][] | null }[];
  /** Per block of the model: the share of attention on the massive-activation tokens. */
  shareByLayer: { layer: number; share: number | null }[];
  source: string;
  /** Why there are no heads to show (a block that mixes tokens without softmax attention). */
  note?: string;
}

/** The paper's exp4 for one block: heads, sink scores, the share on massive tokens, the matrices. */
export async function analyseAttention(file: string, o: AttentionOptions): Promise<AttentionAnalysis> {
  // Every block's key sums (shares by block), and the whole of this block's attention.
  const om = await sessions(file, o)({ read: ['blocks.*.attn.key_sums', ...blockProbes(o.layer, ['attn.pattern', 'attn.scores', 'attn.v'])] });
  checkBlock(o.layer, om.prepared.info.blocks, file);
  const input = await resolveInput(file, om, o);
  o.onProgress?.({ stage: 'run', message: 'Running' });
  const out = await forward(om, { feeds: input.feeds }, undefined, { through: o.prefix ? o.layer : undefined, signal: o.signal });
  requireFinite(out, 'analysed', 'attention shares and sink scores');
  const massiveTokens = o.massiveTokens ? [...o.massiveTokens].sort((a, b) => a - b) : massiveTokensOf(out, thresholdsOf(o));
  const list = out.attention[o.layer].filter((a): a is typeof a & { probs: Dense } => !!a.probs && !a.cross);
  const causal = om.prepared.info.family === 'decoder';
  const tokens = input.tokens.length ? input.tokens : Array.from({ length: out.tokens }, (_, i) => ({ index: i, id: null, text: `#${i}` }));
  // Cross-attention keys are another sequence's tokens: kept out of shares over this one's.
  const selfOnly = (l: typeof out.attention[number]) => l.filter((a) => !a.cross);
  const shareByLayer = out.attention.slice(0, o.prefix ? o.layer + 1 : undefined).map((l, layer) => ({
    layer,
    share: massiveTokens.length && selfOnly(l).length
      ? meanOf(selfOnly(l).flatMap((a) => headShares(a, massiveTokens, out.tokens, causal)))
      : null,
  }));
  const block = om.prepared.location.blocks[o.layer];
  if (!list.length) {
    const note = block.mixer !== 'attention' ? noAttentionNote(o.layer, block.mixer) : block.attention.find((a) => a.note)?.note;
    return { layer: o.layer, tokens, massiveTokens, heads: [], massiveTokenShare: null, bins: [], probabilities: [], logits: null, shareByLayer, source: 'unavailable', note };
  }
  const heads: AttentionAnalysis['heads'] = [];
  const probMats: (number | null)[][][] = [];
  const logitMats: ((number | null)[][] | null)[] = [];
  const cap = o.matrixTokens ?? 256;
  const bins = binAxis(out.tokens, cap, massiveTokens);
  for (const a of list) {
    const [H, Q, K] = shape3(a.probs);
    const sinks = sinkScores(a.probs.data, H, Q, K);
    const shares = massiveTokens.length ? attentionShare(a.probs.data, H, Q, K, massiveTokens, causal).perHead : [];
    for (let h = 0; h < H; h++) {
      heads.push({ head: heads.length, sinkScore: sinks[h], isSink: sinks[h] >= SINK_HEAD, massiveShare: massiveTokens.length ? shares[h] : null });
      probMats.push(matrix(a.probs, h, binsFor(bins, Q), binsFor(bins, K), 'sum'));
      logitMats.push(a.logits ? matrix(a.logits, h, binsFor(bins, Q), binsFor(bins, K), 'mean', true) : null);
    }
  }
  const average = (ms: (number | null)[][][]) => ms[0].map((row, q) => row.map((_, k) => {
    const vals = ms.map((m) => m[q][k]).filter((v): v is number => v !== null);
    return vals.length ? vals.reduce((x, y) => x + y, 0) / vals.length : null;
  }));
  const probabilities = average(probMats) as number[][];
  const logits = logitMats.every((m) => m) ? average(logitMats as (number | null)[][][]) : null;
  return {
    layer: o.layer, tokens, massiveTokens, heads,
    massiveTokenShare: massiveTokens.length ? meanOf(heads.map((h) => h.massiveShare ?? 0)) : null,
    bins: binsFor(bins, list[0] ? shape3(list[0].probs)[1] : out.tokens),
    probabilities, logits,
    perHead: o.perHead ? probMats.map((p, i) => ({ probabilities: p as number[][], logits: logitMats[i] })) : undefined,
    shareByLayer, source: SOURCE[om.probe(`blocks.${o.layer}.attn.pattern`)[0]?.kind ?? 'unavailable'] ?? 'unavailable',
  };
}

/** What the probabilities were read from. */
const SOURCE: Record<string, string> = {
  softmax: 'softmax', 'mha-qk': 'scores (MultiHeadAttention qk output, softmax applied)', 'gqa-probs': 'probabilities (GroupQueryAttention qk output)', 'onnx-probs': 'probabilities (Attention qk_matmul_output)', unavailable: 'unavailable',
};

export function massiveTokensOf(out: ForwardOutputs, th: { absolute: number; ratio: number }): number[] {
  const set = new Set<number>();
  for (const x of out.blocks) if (x) for (const a of blockStats(x, out.tokens, out.channels, 1, th).massive) set.add(a.token);
  return [...set].sort((a, b) => a - b);
}

function headShares(a: { probs?: Dense; sums?: Dense }, tokens: number[], queries: number, causal: boolean): number[] {
  if (a.probs) {
    const [H, Q, K] = shape3(a.probs);
    return attentionShare(a.probs.data, H, Q, K, tokens, causal).perHead;
  }
  const d = a.sums!.dims;
  const K = d[d.length - 1];
  return attentionShareFromSums(a.sums!.data, d.slice(0, -1).reduce((x, y) => x * y, 1), K, queries, tokens, causal).perHead;
}

export function shape3(t: Dense): [number, number, number] {
  const d = t.dims;
  return [d.slice(0, -2).reduce((a, b) => a * b, 1), d[d.length - 2], d[d.length - 1]];
}

/** The bins of an axis of length n (a matrix side can differ from the token count, e.g. a KV cache). */
function binsFor(bins: Bin[], n: number): Bin[] {
  const last = bins[bins.length - 1];
  return last && last.to === n - 1 ? bins : binAxis(n, bins.length || n);
}

/**
 * One head's matrix over binned queries and keys: a key bin's cell is the `sum` (probabilities: the
 * share its keys get together) or `mean` (logits) of its keys; a query bin's row is the mean of its
 * queries' rows. Hidden keys are left out; a cell whose keys are all hidden is null.
 */
function matrix(t: Dense, h: number, rows: Bin[], cols: Bin[], keys: 'sum' | 'mean', masked = false): (number | null)[][] {
  const [, q0, k0] = shape3(t);
  return rows.map((r) => cols.map((c) => {
    let total = 0, rowsSeen = 0;
    for (let q = r.from; q <= r.to; q++) {
      let acc = 0, n = 0;
      for (let k = c.from; k <= c.to; k++) {
        const v = t.data[(h * q0 + q) * k0 + k];
        // Masked logits are the dtype's minimum (or −∞): absent, not −3.4e38.
        if (masked && (!Number.isFinite(v) || v < -1e8 || v <= -65504)) continue;
        acc += v; n++;
      }
      if (!n) continue;
      total += keys === 'sum' ? acc : acc / n;
      rowsSeen++;
    }
    return rowsSeen ? total / rowsSeen : null;
  }));
}

const meanOf = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
