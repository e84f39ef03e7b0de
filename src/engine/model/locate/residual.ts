import type { GraphIndex } from '../onnx/graph';
import { attrInt, nodeReads, outerReads } from '../onnx/graph';
import { ATTENTION_OPS, HEAVY_OPS, NORM_OPS, PASS_OPS, VIEW_OPS } from './ops';
import type { AttentionLocation, BlockLocation, DownProjection, MixerKind, MlpKind, ResidualPoint } from './types';
import { branchMixer, isCrossAttention, mlpKind, opsOf, probsTimesValues } from './mixers';
import { staticWidth } from './width';
import { fusedOutputSlot, isOnnxAttention, ONNX_ATTENTION } from '../onnx/fusedOps';

const MAX_REGION = 20000;

/**
 * Nodes after `floor` (a node index) that the given tensors depend on: the branch of an update,
 * bounded below by where the branch began.
 */
export function regionAbove(g: GraphIndex, tensors: string[], floor: number): Set<number> {
  const seen = new Set<number>();
  const stack = [...tensors];
  while (stack.length && seen.size < MAX_REGION) {
    const t = stack.pop()!;
    const p = g.producer.get(t);
    if (!p || p.index <= floor || seen.has(p.index)) continue;
    seen.add(p.index);
    for (const i of p.node.input) if (i) stack.push(i);
    // If / Loop / Scan bodies read outer tensors by name, not through the node's inputs.
    for (const a of p.node.attribute) for (const sg of a.g ? [a.g] : a.graphs) stack.push(...outerReads(sg));
  }
  return seen;
}

/** Does `target` depend on `source` through at least one heavy op (MatMul, attention …)? */
export function dependsThroughHeavy(g: GraphIndex, target: string, source: string): boolean {
  const floor = g.nodeIndexOf(source);
  const seen = new Map<string, number>(); // tensor → 1 seen without heavy, 2 seen with heavy
  const stack: [string, boolean][] = [[target, false]];
  let visits = 0;
  while (stack.length && visits++ < MAX_REGION) {
    const [t, heavy] = stack.pop()!;
    if (t === source) { if (heavy) return true; continue; }
    const mark = heavy ? 2 : 1;
    if ((seen.get(t) ?? 0) >= mark) continue;
    seen.set(t, mark);
    const p = g.producer.get(t);
    if (!p || p.index <= floor) continue;
    const h = heavy || HEAVY_OPS.has(p.node.opType);
    // A Loop or Scan body's reads count: chunked attention reads Q, K and V that way.
    for (const i of nodeReads(p.node)) if (!g.isConstant(i)) stack.push([i, h]);
  }
  return false;
}

/** The tensor a skip carries on: through casts, identities and reshapes of the same values. */
export function skipPassThrough(g: GraphIndex, t: string): string {
  for (let p = g.producer.get(t); p && (PASS_OPS.has(p.node.opType) || VIEW_OPS.has(p.node.opType)); p = g.producer.get(t)) t = p.node.input[0];
  return t;
}

/** Mixer of an update branch, and whether it is cross-attention (keys and values not from `skip`). */
export function classifyBranch(g: GraphIndex, branch: Set<number>, skip: string): { mixer?: MixerKind; cross?: boolean } {
  const mixer = branchMixer(g, branch);
  return mixer === 'attention' && isCrossAttention(g, branch, skip) ? { mixer, cross: true } : { mixer };
}

/** x + f(x) Adds found from the graph's structure alone, in topological order. */
export function residualAdds(g: GraphIndex): ResidualPoint[] {
  const points: ResidualPoint[] = [];
  g.graph.node.forEach((n, idx) => {
    if (n.opType !== 'Add' || n.domain !== '' || n.input.length !== 2) return;
    const [a, b] = n.input;
    if (!a || !b || g.isConstant(a) || g.isConstant(b)) return;
    let skip: string | undefined;
    let upd: string | undefined;
    if (dependsThroughHeavy(g, b, a)) { skip = a; upd = b; } else if (dependsThroughHeavy(g, a, b)) { skip = b; upd = a; }
    if (!skip || !upd) return;
    const branch = regionAbove(g, [upd], g.nodeIndexOf(skip));
    points.push({ nodeIndex: idx, tensor: n.output[0], ...classifyBranch(g, branch, skip), branch, skip });
  });
  return longestChain(g, points);
}

/**
 * Candidate sums include impostors: from block 1 on, the attention mask is an ancestor of the
 * scores through earlier blocks, so `scores + mask` looks like x + f(x). The true residual stream
 * is the longest chain of sums where each one's skip is the previous sum (or its norm's output).
 */
export function longestChain(g: GraphIndex, cands: ResidualPoint[]): ResidualPoint[] {
  if (cands.length < 2) return cands;
  const reach = cands.map((c) => normRegionTensors(g, c.tensor));
  const best = cands.map(() => 1);
  const prev = cands.map(() => -1);
  for (let j = 0; j < cands.length; j++) {
    const skip = cands[j].skip;
    const skipBase = skipPassThrough(g, skip);
    for (let i = 0; i < j; i++) {
      if ((reach[i].has(skip) || reach[i].has(skipBase)) && best[i] + 1 > best[j]) { best[j] = best[i] + 1; prev[j] = i; }
    }
  }
  let end = 0;
  for (let j = 1; j < cands.length; j++) if (best[j] >= best[end]) end = j;
  const chain: ResidualPoint[] = [];
  for (let k = end; k >= 0; k = prev[k]) chain.unshift(cands[k]);
  return chain;
}

/** The tensor itself plus everything a norm computes from it (pre-norm: itself; post-norm: the norm output). */
function normRegionTensors(g: GraphIndex, t: string): Set<string> {
  const out = new Set<string>([t]);
  const frontier = [t];
  while (frontier.length && out.size < 80) {
    const cur = frontier.pop()!;
    for (const c of g.consumersOf(cur)) {
      if (c.slot < 0 || !NORM_OPS.has(c.node.opType)) continue;
      for (const o of c.node.output) if (o && !out.has(o)) { out.add(o); frontier.push(o); }
    }
  }
  return out;
}

/**
 * Groups updates into blocks: a block is a token-mixing update (attention, linear attention, a
 * recurrence, a convolution over time) plus the channel-mixing updates after it, up to the next
 * token mixer. Cross-attention belongs to the block it follows (self-attention, cross-attention,
 * MLP: one decoder block). Updates before the first mixer (a convolutional stem) are not blocks.
 */
export function groupByMixer(points: ResidualPoint[]): ResidualPoint[][] {
  const groups: ResidualPoint[][] = [];
  for (const p of points) {
    if (p.mixer && !(p.cross && groups.length)) groups.push([p]);
    else if (groups.length) groups[groups.length - 1].push(p);
  }
  return groups;
}

/**
 * Post-norm models (BERT, the original Transformer) normalise after each sum, so the stream the
 * next update reads is the norm's output. Returns true when the skips never read the previous sum.
 */
export function isPostNorm(g: GraphIndex, points: ResidualPoint[]): boolean {
  if (points.length < 2) return false;
  let direct = 0;
  for (let k = 1; k < points.length; k++) {
    if (skipPassThrough(g, points[k].skip) === points[k - 1].tensor || points[k].skip === points[k - 1].tensor) direct++;
  }
  return direct === 0;
}

/** Where the normalisation that follows `t` ends: the single tensor leaving the norm's nodes. */
export function normExit(g: GraphIndex, t: string): string | undefined {
  const inside = new Set<number>();
  const frontier = [t];
  while (frontier.length) {
    const cur = frontier.pop()!;
    for (const c of g.consumersOf(cur)) {
      if (inside.has(c.index) || c.slot < 0) continue;
      if (!NORM_OPS.has(c.node.opType)) continue;
      inside.add(c.index);
      frontier.push(...c.node.output);
      if (inside.size > 64) return undefined;
    }
  }
  if (!inside.size) return undefined;
  let exit: string | undefined;
  let exitIdx = -1;
  for (const i of inside) {
    const out = g.graph.node[i].output[0];
    const leaves = g.consumersOf(out).some((c) => !inside.has(c.index)) || g.outputs.has(out);
    if (leaves && i > exitIdx) { exit = out; exitIdx = i; }
  }
  return exit;
}

export function streamAfter(g: GraphIndex, points: ResidualPoint[], k: number, postNorm: boolean): { tensor: string; postNormFrom?: string } {
  const p = points[k];
  if (!postNorm) return { tensor: p.tensor };
  if (k + 1 < points.length) return { tensor: points[k + 1].skip, postNormFrom: p.tensor };
  const exit = normExit(g, p.tensor);
  return exit ? { tensor: exit, postNormFrom: p.tensor } : { tensor: p.tensor };
}

/** Attention probabilities (or what stands for them) inside a block's branches. */
export function attentionIn(g: GraphIndex, nodes: Iterable<number>): AttentionLocation[] {
  const out: AttentionLocation[] = [];
  for (const i of [...nodes].sort((x, y) => x - y)) {
    const n = g.graph.node[i];
    if (n.opType === 'Softmax') {
      // Softmaxes of attention feed a MatMul with the values (perhaps via Cast/Where/Dropout).
      const pv = probsTimesValues(g, n.output[0]);
      if (pv) out.push({ kind: 'softmax', nodeIndex: i, nodeName: n.name, tensor: n.output[0], logits: n.input[0], values: pv.node.input[1], outProj: outputProjection(g, pv.node.output[0]) });
    } else if (n.opType === 'MultiHeadAttention') {
      out.push({ kind: 'mha-qk', nodeIndex: i, nodeName: n.name, tensor: n.output[fusedOutputSlot('MultiHeadAttention', 'qk')] || undefined, heads: attrInt(n, 'num_heads') });
    } else if (isOnnxAttention(n)) {
      out.push({ kind: 'onnx-probs', nodeIndex: i, nodeName: n.name, tensor: n.output[ONNX_ATTENTION.outputs.qk] || undefined, heads: attrInt(n, 'q_num_heads') });
    } else if (n.opType === 'GroupQueryAttention') {
      out.push({ kind: 'gqa-probs', nodeIndex: i, nodeName: n.name, tensor: n.output[fusedOutputSlot('GroupQueryAttention', 'qk')] || undefined, heads: attrInt(n, 'num_heads') });
    } else if (n.attribute.some((a) => a.g || a.graphs.length) && [...opsOf([n])].some((op) => ATTENTION_OPS.has(op))) {
      out.push({ kind: 'unavailable', nodeIndex: i, nodeName: n.name, note: `attention is computed inside the ${n.opType} ${n.name || `#${i}`}'s body, where its probabilities cannot be read` });
    } else if (ATTENTION_OPS.has(n.opType)) {
      out.push({ kind: 'unavailable', nodeIndex: i, nodeName: n.name, heads: attrInt(n, 'num_heads'), note: `${n.opType} (com.microsoft) does not expose attention probabilities` });
    }
  }
  return out;
}


/** From the attention context, through head merging, to the output projection's weight. */
function outputProjection(g: GraphIndex, t: string, depth = 0): string | undefined {
  if (depth > 6) return undefined;
  for (const c of g.consumersOf(t)) {
    const op = c.node.opType;
    if (op === 'MatMul' && c.slot === 0 && g.initializer(c.node.input[1])) return c.node.input[1];
    if (['Transpose', 'Reshape', 'Cast', 'Identity', 'Concat'].includes(op)) {
      const r = outputProjection(g, c.node.output[0], depth + 1);
      if (r) return r;
    }
  }
  return undefined;
}

/** The last MatMul of the MLP whose weight maps the FFN width back to the model width. */
export function downProjection(g: GraphIndex, mlpNodes: Iterable<number>, hidden: number | undefined): DownProjection | undefined {
  let best: DownProjection | undefined;
  let bestIdx = -1;
  for (const i of mlpNodes) {
    const n = g.graph.node[i];
    if (n.opType !== 'MatMul' || i < bestIdx) continue;
    const w = g.initializer(n.input[1]);
    if (!w || w.dims.length !== 2 || (hidden && Number(w.dims[1]) !== hidden) || Number(w.dims[0]) <= Number(w.dims[1])) continue;
    best = { input: n.input[0], weight: n.input[1], node: n.name };
    bestIdx = i;
  }
  return best;
}

/** Builds block locations from grouped updates. */
export function toBlocks(g: GraphIndex, points: ResidualPoint[], groups: ResidualPoint[][], postNorm: boolean, scopes?: string[]): BlockLocation[] {
  return groups.map((grp, index) => {
    const last = grp[grp.length - 1];
    const k = points.indexOf(last);
    const s = streamAfter(g, points, k, postNorm);
    const nodes = new Set<number>();
    const mlp = new Set<number>();
    for (const p of grp) for (const i of p.branch) { nodes.add(i); if (!p.mixer || grp.length === 1) mlp.add(i); }
    const width = staticWidth(g, last.tensor);
    const mixer: MixerKind = grp[0].mixer ?? 'attention';
    // A lone update holds both halves (parallel blocks) or no MLP at all.
    const mlpOf: MlpKind = grp.length > 1 || mixer === 'attention' ? mlpKind(g, mlp) : 'none';
    return {
      index, mixer, mlp: mlpOf, output: s.tensor, point: last, postNormFrom: s.postNormFrom,
      attention: mixer !== 'attention' ? [] : grp.length === 1 ? attentionIn(g, nodes)
        : grp.flatMap((p) => attentionIn(g, p.branch).map((a) => (p.cross ? { ...a, cross: true } : a))),
      mlpDown: downProjection(g, mlp, width), scope: scopes?.[index],
    };
  });
}
