import type { GraphProto, NodeProto } from 'onnx-buf';
import type { GraphIndex } from '../onnx/graph';
import { attrInt, metadata, outerReads } from '../onnx/graph';
import { ATTENTION_OPS, FUSED_MIXER_OPS } from './ops';
import type { MixerKind, MlpKind } from './types';

/**
 * How an update branch mixes tokens, read from what it computes: softmax attention feeding a
 * product with values (or a fused attention op), a recurrence over the sequence (Scan, Loop,
 * CumSum — often inside an If that picks prefill or decode), or a depthwise convolution over time.
 * Recurrences are told apart by their module names where the exporter kept them; without names a
 * recurrence is reported as 'recurrent'.
 */

const RECURRENCE_OPS = new Set(['Scan', 'Loop', 'CumSum']);
const MOE_OPS = new Set(['MoE', 'QMoE', 'SparseMoE']);

const NAME_KINDS: [RegExp, MixerKind][] = [
  [/linear_attn|linear_attention|deltanet|delta_net|(^|[./_])gdn([./_]|$)|lightning_attn|retention|(^|[./_])gla([./_]|$)/i, 'linear-attention'],
  [/mamba|(^|[./_])ssm([./_]|$)|selective_scan|(^|[./_])s4([./_]|$)|(^|[./_])mixer([./_]|$)/i, 'state-space'],
  [/rwkv|time_mix|wkv|rg_?lru|recurrent/i, 'recurrent'],
];

/** Op types of the nodes and of everything inside their subgraphs (If branches, Loop and Scan bodies). */
export function opsOf(nodes: NodeProto[]): Set<string> {
  const ops = new Set<string>();
  const stack: GraphProto[] = [];
  const visit = (n: NodeProto) => {
    ops.add(n.opType);
    for (const a of n.attribute) for (const sg of a.g ? [a.g] : a.graphs) stack.push(sg);
  };
  nodes.forEach(visit);
  while (stack.length) stack.pop()!.node.forEach(visit);
  return ops;
}

/** A Conv whose weight is [C, 1, K] with group C: a per-channel filter sliding along one axis. */
function isDepthwiseConv1d(g: GraphIndex, n: NodeProto): boolean {
  if (n.opType !== 'Conv') return false;
  const w = g.initializer(n.input[1]);
  if (!w || w.dims.length !== 3 || Number(w.dims[1]) !== 1) return false;
  const group = attrInt(n, 'group', 1) ?? 1;
  return group > 1 && group === Number(w.dims[0]);
}

/** A softmax is attention when it weights values; a router's softmax feeds TopK instead. */
function softmaxIsAttention(g: GraphIndex, n: NodeProto): boolean {
  if (probsTimesValues(g, n.output[0])) return true;
  const uses = g.consumersOf(n.output[0]).map((c) => c.node.opType);
  return !uses.some((op) => op === 'TopK' || op === 'ArgMax' || op === 'ReduceMax');
}

export function branchMixer(g: GraphIndex, branch: Set<number>): MixerKind | undefined {
  const nodes = [...branch].map((i) => g.graph.node[i]);
  if (nodes.some((n) => ATTENTION_OPS.has(n.opType) || (n.opType === 'Softmax' && softmaxIsAttention(g, n)))) return 'attention';
  const ops = opsOf(nodes);
  // Attention computed inside a Loop, Scan or If body (chunked attention) is still attention.
  if ([...ATTENTION_OPS].some((op) => ops.has(op))) return 'attention';
  // A gated DeltaNet block holds its short convolution too: the recurrence names the block.
  if (ops.has('LinearAttention')) return FUSED_MIXER_OPS.LinearAttention;
  if ([...RECURRENCE_OPS].some((op) => ops.has(op))) {
    const names = nodes.map((n) => `${metadata(n, 'pkg.torch.onnx.name_scopes') ?? ''} ${n.name}`).join(' ');
    for (const [re, kind] of NAME_KINDS) if (re.test(names)) return kind;
    return ops.has('Scan') || ops.has('Loop') ? 'recurrent' : 'linear-attention';
  }
  if (nodes.some((n) => isDepthwiseConv1d(g, n) || FUSED_MIXER_OPS[n.opType] === 'convolution')) return 'convolution';
  return undefined;
}

/** Mixture of experts: a router choosing experts (TopK) or a fused MoE op. */
export function mlpKind(g: GraphIndex, nodes: Iterable<number>): MlpKind {
  const ops = opsOf([...nodes].map((i) => g.graph.node[i]));
  return ops.has('TopK') || [...MOE_OPS].some((op) => ops.has(op)) ? 'moe' : 'dense';
}

/**
 * Cross-attention: the values the probabilities weight do not come from this update's input
 * stream but from elsewhere (an encoder's hidden states, a graph input).
 */
export function isCrossAttention(g: GraphIndex, branch: Set<number>, skip: string): boolean {
  for (const i of branch) {
    const n = g.graph.node[i];
    if (n.opType !== 'Softmax') continue;
    const pv = probsTimesValues(g, n.output[0]);
    if (!pv) continue;
    if (!dataDependsOn(g, pv.node.input[1], skip)) return true;
  }
  return false;
}

/** Inputs that only give a shape, axes or indices to slice by: no values flow through them. */
const SHAPE_ONLY_INPUTS: Record<string, number[]> = {
  Reshape: [1], Expand: [1], Tile: [1], Slice: [1, 2, 3, 4], Unsqueeze: [1], Squeeze: [1], Pad: [1, 3], Split: [1],
  ReduceMean: [1], ReduceSum: [1], ReduceMax: [1], Resize: [1, 2, 3], ConstantOfShape: [0], Range: [0, 1, 2],
};

/**
 * Does `target`'s value depend on `source`'s value? Follows data only: torch's attention computes
 * its reshape sizes from the query, so a plain ancestry walk would tie cross-attention's values to
 * the decoder stream through Shape → Gather → Reshape.
 */
export function dataDependsOn(g: GraphIndex, target: string, source: string): boolean {
  // The node that made the source counts as the source: a fused norm emits the stream (its sum)
  // and the normalised stream the projections read from the same node.
  const sourceNode = g.producer.get(source)?.node;
  const seen = new Set<string>();
  const stack = [target];
  while (stack.length && seen.size < 20000) {
    const t = stack.pop()!;
    if (t === source) return true;
    if (seen.has(t)) continue;
    seen.add(t);
    const p = g.producer.get(t);
    if (p && sourceNode && p.node === sourceNode) return true;
    if (!p || p.node.opType === 'Shape' || p.node.opType === 'Size') continue;
    const skipSlots = SHAPE_ONLY_INPUTS[p.node.opType] ?? [];
    p.node.input.forEach((i, slot) => { if (i && !skipSlots.includes(slot)) stack.push(i); });
    for (const a of p.node.attribute) for (const sg of a.g ? [a.g] : a.graphs) stack.push(...outerReads(sg));
  }
  return false;
}

/** The probabilities·V MatMul a softmax feeds (through Cast/Where/Dropout/…), if any. */
export function probsTimesValues(g: GraphIndex, t: string, depth = 0): { node: NodeProto } | undefined {
  if (depth > 4) return undefined;
  for (const c of g.consumersOf(t)) {
    const op = c.node.opType;
    if ((op === 'MatMul' || op === 'FusedMatMul') && c.slot === 0) return { node: c.node };
    if (op === 'Einsum') return { node: c.node };
    if (['Cast', 'Where', 'Dropout', 'Identity', 'Reshape', 'Mul'].includes(op)) {
      const r = probsTimesValues(g, c.node.output[0], depth + 1);
      if (r) return r;
    }
  }
  return undefined;
}
