import { DT } from '../../../src/engine/model/onnx/dtype';
import { GraphBuilder, makeModel } from '../graphBuilder';
import type { Spec } from '../spec';
import { f32, layerNorm, linear, maskBias } from './common';
import { renameOutput } from './gpt2';

/**
 * GPT-2 after ONNX Runtime's transformer optimizer: residual sums fused into
 * SkipLayerNormalization (the sum as 4th output only where a later node needs it), attention as
 * com.microsoft MultiHeadAttention, the MLP activation as FastGelu.
 */
export function fusedGpt2Model(s: Spec) {
  const b = new GraphBuilder(DT.FLOAT);
  const { d, heads } = s;
  const ids = b.input('input_ids', DT.INT64, ['batch_size', 'sequence_length']);
  const mask = b.input('attention_mask', DT.INT64, ['batch_size', 'sequence_length']);
  const posIds = b.input('position_ids', DT.INT64, ['batch_size', 'sequence_length']);
  const table = new Float32Array(s.maxPos * s.maxPos);
  for (let i = 0; i < s.maxPos; i++) for (let j = i + 1; j < s.maxPos; j++) table[i * s.maxPos + j] = -1e9;
  const eps = { float: s.eps };

  let x = b.o('Add', [b.o('Gather', [b.weight('transformer.wte.weight', [s.vocab, d], f32(s.embed)), ids]), b.o('Gather', [b.weight('transformer.wpe.weight', [s.maxPos, d], f32(s.pos)), posIds])]);
  const len = b.o('Unsqueeze', [b.o('Gather', [b.o('Shape', [ids]), b.int64([1], [])], { axis: 0 }), b.int64([0])]);
  const causal = b.o('Slice', [b.weight('causal_table', [s.maxPos, s.maxPos], table), b.int64([0, 0]), b.o('Concat', [len, len], { axis: 0 }), b.int64([0, 1])]);
  const attnBias = b.o('Add', [b.o('Unsqueeze', [causal, b.int64([0, 1])]), maskBias(b, mask)]);
  let a = layerNorm(b, x, b.weight('ln_1.0.weight', [d], f32(s.layer[0].ln1g)), b.weight('ln_1.0.bias', [d], f32(s.layer[0].ln1b)), s.eps);
  for (let l = 0; l < s.layers; l++) {
    const w = s.layer[l];
    const q = linear(b, a, b.weight(`h.${l}.q.weight`, [d, d], f32(w.wq)), b.weight(`h.${l}.q.bias`, [d], f32(w.bq)));
    const k = linear(b, a, b.weight(`h.${l}.k.weight`, [d, d], f32(w.wk)), b.weight(`h.${l}.k.bias`, [d], f32(w.bk)));
    const v = linear(b, a, b.weight(`h.${l}.v.weight`, [d, d], f32(w.wv)), b.weight(`h.${l}.v.bias`, [d], f32(w.bv)));
    const ctx = b.o('MultiHeadAttention', [q, k, v, '', '', attnBias], { num_heads: heads }, 'com.microsoft');
    const o = linear(b, ctx, b.weight(`h.${l}.o.weight`, [d, d], f32(w.wo)), b.weight(`h.${l}.o.bias`, [d], f32(w.bo)));
    const [m, , , h] = b.op('SkipLayerNormalization', [o, x, b.weight(`h.${l}.ln_2.weight`, [d], f32(w.ln2g)), b.weight(`h.${l}.ln_2.bias`, [d], f32(w.ln2b))], { epsilon: eps }, { outputs: 4, domain: 'com.microsoft' });
    const fc = b.o('MatMul', [m, b.weight(`h.${l}.fc.weight`, [d, s.ffn], f32(w.w1))]);
    const act = b.o('FastGelu', [fc, b.weight(`h.${l}.fc.bias`, [s.ffn], f32(w.b1))], {}, 'com.microsoft');
    const f = linear(b, act, b.weight(`h.${l}.proj.weight`, [s.ffn, d], f32(w.w2)), b.weight(`h.${l}.proj.bias`, [d], f32(w.b2)));
    const last = l === s.layers - 1;
    const g = last ? s.lnfG : s.layer[l + 1].ln1g;
    const beta = last ? s.lnfB : s.layer[l + 1].ln1b;
    const outs = b.op('SkipLayerNormalization', [f, h, b.weight(`h.${l}.next_ln.weight`, [d], f32(g)), b.weight(`h.${l}.next_ln.bias`, [d], f32(beta))], { epsilon: eps }, { outputs: last ? 1 : 4, domain: 'com.microsoft' });
    const node = b.nodes[b.nodes.length - 1];
    if (!last) node.output[1] = node.output[2] = '';
    a = outs[0];
    x = outs[3];
  }
  const logits = b.o('MatMul', [a, b.weight('lm_head.weight', [d, s.vocab], f32(s.lmHead))]);
  renameOutput(b, logits, 'logits');
  b.output('logits', DT.FLOAT, ['batch_size', 'sequence_length', s.vocab]);
  // The first SkipLayerNormalization of each block also drops its unused statistics outputs.
  for (const n of b.nodes) if (n.opType === 'SkipLayerNormalization' && n.output.length === 4) { n.output[1] = ''; n.output[2] = ''; }
  return makeModel(b.graph('torch_jit'), { opset: 17, msDomain: true, producer: 'onnxruntime.transformers' });
}
