import { DT } from './onnx/dtype';
import type { GraphProto, NodeProto } from 'onnx-buf';
import { attr, GraphIndex } from './onnx/graph';
import { makeAttr, makeNode, makeTensor, makeValueInfo } from './onnx/build';
import type { PreparedModel } from './inspect';
import type { AttentionLocation, BlockLocation } from './locate/types';
import { SKIP_NORMS } from './locate/ops';

/** What a patched graph emits, by block: the names to read back after a run. */
export interface Exposure {
  blockOutputs: string[];
  /** Per block, the attention tensors exposed (may be empty). */
  attention: { tensor: string; kind: AttentionLocation['kind']; logits?: string; values?: string; outProj?: string; sums?: string }[][];
  /** Per block, the exposed MLP down-projection input and its weight's name. */
  mlpInputs: ({ input: string; weight: string } | undefined)[];
  /** Intervention inputs per block index, when inserted. */
  interventions: Map<number, { mask: string; values: string }>;
}

export const INTERVENTION_PREFIX = 'massive_activations';

/**
 * Adds the block outputs (and attention tensors) to the graph outputs. Mutates the prepared model's
 * proto; the user's file is never touched: the patched bytes go straight to ONNX Runtime.
 */
export function exposeForScan(p: PreparedModel, opts: { attention: boolean | number[]; attentionSums?: boolean; interventions?: number[]; attentionDetail?: number[]; mlpInputs?: number[] }): Exposure {
  const g = p.loaded.proto.graph!;
  const exposure: Exposure = { blockOutputs: [], attention: [], mlpInputs: [], interventions: new Map() };
  const existing = new Set(g.output.map((o) => o.name));
  // Surgery inserts nodes, so resolve located nodes to objects before any index moves.
  const nodeAt = [...g.node];
  const addOutput = (name: string, elemType?: number) => {
    if (existing.has(name)) return;
    existing.add(name);
    g.output.push(makeValueInfo(name, elemType));
  };

  for (const b of p.location.blocks) {
    if (b.point.fusedOutput) {
      const n = nodeAt[b.point.fusedOutput.nodeIndex];
      while (n.output.length < 4) n.output.push('');
      n.output[3] = b.point.tensor;
    }
  }
  const wantIntervention = new Set(opts.interventions ?? []);
  for (const b of p.location.blocks) {
    let out = b.output;
    if (wantIntervention.has(b.index)) {
      const iv = insertIntervention(p, b, nodeAt[b.point.nodeIndex]);
      exposure.interventions.set(b.index, { mask: iv.mask, values: iv.values });
      out = iv.output;
    }
    addOutput(out);
    exposure.blockOutputs.push(out);
  }
  for (const b of p.location.blocks) {
    const detail = opts.attentionDetail?.includes(b.index) ?? false;
    const full = detail || opts.attention === true || (Array.isArray(opts.attention) && opts.attention.includes(b.index));
    const list: Exposure['attention'][number] = [];
    if (full || opts.attentionSums) for (const a of b.attention) {
      const t = exposeAttention(nodeAt[a.nodeIndex], a);
      if (!t) continue;
      // Fused attention ops leave the type of their optional outputs open: declare it.
      const elemType = a.kind === 'softmax' ? undefined : p.info.dtype === 'float16' ? DT.FLOAT16 : DT.FLOAT;
      if (!full) {
        // Heads × queries × keys is too big to ship at long context: sum over queries in the graph.
        const sums = columnSums(g, t, a.kind === 'mha-qk', opsetOf(p));
        if (elemType !== undefined) g.valueInfo.push(makeValueInfo(t, elemType));
        addOutput(sums, DT.FLOAT);
        list.push({ tensor: t, kind: a.kind, sums });
        continue;
      }
      addOutput(t, elemType);
      const entry: Exposure['attention'][number][number] = { tensor: t, kind: a.kind };
      if (detail && a.kind === 'softmax') {
        if (a.logits) { addOutput(a.logits); entry.logits = a.logits; }
        if (a.values) { addOutput(a.values); entry.values = a.values; }
        entry.outProj = a.outProj;
      }
      list.push(entry);
    }
    exposure.attention.push(list);
    const down = opts.mlpInputs?.includes(b.index) ? b.mlpDown : undefined;
    if (down) addOutput(down.input);
    exposure.mlpInputs.push(down && { input: down.input, weight: down.weight });
  }
  return exposure;
}

function opsetOf(p: PreparedModel): number {
  return p.info.opsets['ai.onnx'] ?? 13;
}

/** Appends softmax (for raw scores), a cast to float and a sum over the query axis: [B, H, keys]. */
function columnSums(g: GraphProto, t: string, scores: boolean, opset: number): string {
  let x = t;
  if (scores) {
    g.node.push(makeNode('Softmax', [x], [`${t}/probs`], `${t}/ma_softmax`, { axis: -1 }));
    x = `${t}/probs`;
  }
  g.node.push(makeNode('Cast', [x], [`${t}/f32`], `${t}/ma_cast`, { to: DT.FLOAT }));
  const out = `${t}/column_sums`;
  if (opset >= 13) {
    const axes = `${t}/ma_axes`;
    g.initializer.push(makeTensor(axes, DT.INT64, [1], new Uint8Array(BigInt64Array.from([-2n]).buffer)));
    g.node.push(makeNode('ReduceSum', [`${t}/f32`, axes], [out], `${t}/ma_column_sums`, { keepdims: 0 }));
  } else {
    g.node.push(makeNode('ReduceSum', [`${t}/f32`], [out], `${t}/ma_column_sums`, { axes: [-2], keepdims: 0 }));
  }
  return out;
}

function exposeAttention(n: NodeProto, a: AttentionLocation): string | undefined {
  switch (a.kind) {
    case 'softmax': return a.tensor;
    case 'mha-qk': {
      // MultiHeadAttention's optional 4th output is the scaled, masked scores before softmax.
      while (n.output.length < 4) n.output.push('');
      if (!n.output[3]) n.output[3] = `${n.name || `mha_${a.nodeIndex}`}/qk`;
      return n.output[3];
    }
    case 'gqa-probs': {
      // GroupQueryAttention emits probabilities as a 4th output when qk_output = 2 (CPU).
      const q = attr(n, 'qk_output');
      if (q) q.i = 2n; else n.attribute.push(makeAttr('qk_output', 2));
      while (n.output.length < 4) n.output.push('');
      if (!n.output[3]) n.output[3] = `${n.name || `gqa_${a.nodeIndex}`}/probs`;
      return n.output[3];
    }
    default: return undefined;
  }
}

/**
 * After block b, replaces chosen (token, channel) entries of the stream: out = where(mask, values, x).
 * mask (bool) and values are new graph inputs shaped like the stream, so one session serves any
 * intervention; an all-false mask leaves the model unchanged.
 */
function insertIntervention(p: PreparedModel, b: BlockLocation, pointNode: NodeProto): { mask: string; values: string; output: string } {
  const g = p.loaded.proto.graph!;
  if (SKIP_NORMS.has(pointNode.opType)) unfuseSkipNorm(g, pointNode, b.point.tensor);
  const x = b.output;
  const mask = `${INTERVENTION_PREFIX}.mask.${b.index}`;
  const values = `${INTERVENTION_PREFIX}.values.${b.index}`;
  const out = `${INTERVENTION_PREFIX}.stream.${b.index}`;
  const index = new GraphIndex(g);
  const elemType = index.elemTypeOf(x) ?? (p.info.dtype === 'float16' ? DT.FLOAT16 : DT.FLOAT);
  const consumers = index.consumersOf(x);
  for (const c of consumers) if (c.slot >= 0) c.node.input[c.slot] = out;
  for (const o of g.output) if (o.name === x) o.name = out;
  const producerIdx = index.nodeIndexOf(x);
  g.node.splice(producerIdx + 1, 0, makeNode('Where', [mask, values, x], [out], `/${INTERVENTION_PREFIX}/block.${b.index}/Where`));
  const shape = ['batch', 'tokens', p.info.hiddenSize ?? 'channels'];
  g.input.push(makeValueInfo(mask, DT.BOOL, shape), makeValueInfo(values, elemType, shape));
  // Point indices after the insertion have shifted; later lookups use tensor names only.
  return { mask, values, output: out };
}

/**
 * A fused Skip(Simplified)LayerNormalization hands the next sublayer the norm of the *unmodified*
 * sum, so an edit to its 4th output would change nothing. Split it into Add → norm so the edit
 * sits between them.
 */
function unfuseSkipNorm(g: GraphProto, n: NodeProto, sumName: string): void {
  const nodeIndex = g.node.indexOf(n);
  if (nodeIndex < 0) return;
  const [input, skip, gamma, beta, bias] = n.input;
  const eps = attr(n, 'epsilon')?.f ?? 1e-5;
  const nodes: NodeProto[] = [];
  if (bias) {
    nodes.push(makeNode('Add', [input, bias], [`${sumName}/biased`], `${n.name}/unfused/AddBias`));
    nodes.push(makeNode('Add', [`${sumName}/biased`, skip], [sumName], `${n.name}/unfused/Add`));
  } else {
    nodes.push(makeNode('Add', [input, skip], [sumName], `${n.name}/unfused/Add`));
  }
  const sum = sumName;
  if (n.output[0]) {
    const simplified = n.opType === 'SkipSimplifiedLayerNormalization';
    nodes.push(simplified
      ? makeNode('SimplifiedLayerNormalization', [sum, gamma], [n.output[0]], `${n.name}/unfused/Norm`, { axis: -1, epsilon: { float: eps } })
      : makeNode('LayerNormalization', beta ? [sum, gamma, beta] : [sum, gamma], [n.output[0]], `${n.name}/unfused/Norm`, { axis: -1, epsilon: { float: eps } }));
  }
  g.node.splice(nodeIndex, 1, ...nodes);
}
