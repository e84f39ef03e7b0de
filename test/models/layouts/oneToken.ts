import { DT } from '../../../src/engine/model/onnx/dtype';
import { GraphBuilder, makeModel } from '../graphBuilder';
import type { Spec } from '../spec';
import { f32 } from './common';
import { renameOutput } from './gpt2';

/**
 * A Llama rewritten for an on-device runtime and exported one token at a time, as NNTrainer's
 * ONNX exporter writes Llama and Qwen3 (torch.onnx, TorchScript, opset 14, static shapes): inputs
 * `input` [1, 1], the rotary `cos` / `sin` [1, 1, head size] of the token's position and the
 * norms' `variance_epsilon` [1, 1]; no cache and no mask (one query attends to its own key only);
 * the stream reshaped to [1, 1, 1, d] at the start of every layer, so no sum feeds the next layer
 * directly; RMSNorm as x · (√(mean x² + ε))^−1 over axis 3; logits [1, 1, 1, vocab] named `output`.
 * Projection weights are `onnx::MatMul_N` (the transposed Linear weights), norm weights keep their
 * Hugging Face names. `qkNorm`: Qwen3's per-head RMSNorm of queries and keys (unit gains), whose
 * sums with the epsilon input depend on earlier blocks through their projections.
 */
export function oneTokenLlama(s: Spec, opts: { qkNorm?: boolean } = {}) {
  const b = new GraphBuilder(DT.FLOAT);
  const { d, heads, kvHeads } = s;
  const hd = d / heads;
  const rep = heads / kvHeads;
  const ids = b.input('input', DT.INT64, [1, 1]);
  const cos = b.input('cos', DT.FLOAT, [1, 1, hd]);
  const sin = b.input('sin', DT.FLOAT, [1, 1, hd]);
  const eps = b.input('variance_epsilon', DT.FLOAT, [1, 1]);
  let matmuls = 0;
  const linear = (x: string, dims: [number, number], w: Float64Array) => b.o('MatMul', [x, b.weight(`onnx::MatMul_${1000 + matmuls++}`, dims, f32(w))]);
  const norm = (x: string, g: string) => {
    const variance = b.o('ReduceMean', [b.o('Pow', [x, b.scalar(2)])], { axes: [3], keepdims: 1 });
    const std = b.o('Sqrt', [b.o('Add', [variance, eps])]);
    return b.o('Mul', [g, b.o('Mul', [x, b.o('Pow', [std, b.scalar(-1)])])]);
  };
  const heads4 = (x: string, n: number, norm3?: string) => {
    const split = b.o('Reshape', [x, b.int64([1, 1, n, hd])]);
    return b.o('Transpose', [norm3 ? norm(split, norm3) : split], { perm: [0, 2, 1, 3] });
  };
  const rotate = (t: string) => {
    const x1 = b.o('Slice', [t, b.int64([0]), b.int64([hd / 2]), b.int64([3])]);
    const x2 = b.o('Slice', [t, b.int64([hd / 2]), b.int64([hd]), b.int64([3])]);
    return b.o('Add', [b.o('Mul', [t, cos]), b.o('Mul', [b.o('Concat', [b.o('Neg', [x2]), x1], { axis: 3 }), sin])]);
  };
  // repeat_kv as Qwen3's rewrite writes it: torch.cat([h] * n_rep, dim=2), then a reshape to the heads.
  const repeat = (t: string) => (rep === 1 ? t : b.o('Reshape', [b.o('Concat', Array(rep).fill(t), { axis: 2 }), b.int64([1, heads, 1, hd])]));
  let x = b.scope('model', () => b.scope('embed_tokens', () => b.o('Gather', [b.weight('model.embed_tokens.weight', [s.vocab, d], f32(s.embed)), ids])));
  for (let l = 0; l < s.layers; l++) {
    const w = s.layer[l];
    const P = `model.layers.${l}`;
    x = b.scope('model', () => b.scope(`layers.${l}`, () => {
      const h = b.o('Reshape', [x, b.int64([1, 1, 1, d])]);
      const a = b.scope('input_layernorm', () => norm(h, b.weight(`${P}.input_layernorm.weight`, [d], f32(w.ln1g))));
      const attn = b.scope('self_attn', () => {
        const unit = (name: string) => (opts.qkNorm ? b.weight(`${P}.self_attn.${name}.weight`, [hd], new Float32Array(hd).fill(1)) : undefined);
        const q = rotate(heads4(linear(a, [d, d], w.wq), heads, unit('q_norm')));
        const k = rotate(heads4(linear(a, [d, kvHeads * hd], w.wk), kvHeads, unit('k_norm')));
        const v = heads4(linear(a, [d, kvHeads * hd], w.wv), kvHeads);
        const probs = b.o('Softmax', [b.o('MatMul', [q, b.o('Transpose', [repeat(k)], { perm: [0, 1, 3, 2] })])], { axis: -1 });
        const ctx = b.o('Reshape', [b.o('Transpose', [b.o('MatMul', [probs, repeat(v)])], { perm: [0, 2, 1, 3] }), b.int64([1, 1, 1, d])]);
        return linear(ctx, [d, d], w.wo);
      });
      const h1 = b.o('Add', [h, attn]);
      const m = b.scope('post_attention_layernorm', () => norm(h1, b.weight(`${P}.post_attention_layernorm.weight`, [d], f32(w.ln2g))));
      const mlp = b.scope('mlp', () => {
        const gate = linear(m, [d, s.ffn], w.w1);
        return linear(b.o('Mul', [b.o('Mul', [gate, b.o('Sigmoid', [gate])]), linear(m, [d, s.ffn], w.w3)]), [s.ffn, d], w.w2);
      });
      return b.o('Add', [h1, mlp]);
    }));
  }
  const out = b.scope('model', () => b.scope('norm', () => norm(x, b.weight('model.norm.weight', [d], f32(s.lnfG)))));
  const logits = b.scope('lm_head', () => linear(out, [d, s.vocab], s.lmHead));
  renameOutput(b, logits, 'output');
  b.output('output', DT.FLOAT, [1, 1, 1, s.vocab]);
  return makeModel(b.graph('main_graph'), { opset: 14 });
}
