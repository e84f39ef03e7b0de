import { DT } from '../../../src/engine/model/onnx/dtype';
import { GraphBuilder, makeModel } from '../graphBuilder';
import type { Spec } from '../spec';
import { f32, geluTanh, layerNorm, linear, maskBias, mergeHeads, minValue, softmax, splitHeads } from './common';

/**
 * GPT-2 as torch.onnx (TorchScript) exports it from Hugging Face: `/transformer/h.N/…` names, one
 * fused c_attn projection split into q, k, v, LayerNormalization nodes, learned positions, the
 * causal mask as a sliced boolean buffer.
 */
export function gpt2Model(s: Spec) {
  const b = new GraphBuilder(DT.FLOAT);
  const { d, heads } = s;
  const hd = d / heads;
  const ids = b.input('input_ids', DT.INT64, ['batch_size', 'sequence_length']);
  const mask = b.input('attention_mask', DT.INT64, ['batch_size', 'sequence_length']);
  const posIds = b.input('position_ids', DT.INT64, ['batch_size', 'sequence_length']);
  const tril = new Uint8Array(s.maxPos * s.maxPos);
  for (let i = 0; i < s.maxPos; i++) for (let j = 0; j <= i; j++) tril[i * s.maxPos + j] = 1;

  let x = b.scope('transformer', () => {
    const wte = b.weight('transformer.wte.weight', [s.vocab, d], f32(s.embed));
    const wpe = b.weight('transformer.wpe.weight', [s.maxPos, d], f32(s.pos));
    const e = b.scope('wte', () => b.o('Gather', [wte, ids]));
    const p = b.scope('wpe', () => b.o('Gather', [wpe, posIds]));
    return b.o('Add', [e, p]);
  });
  const [bias, causal] = b.scope('transformer', () => {
    const len = b.o('Unsqueeze', [b.o('Gather', [b.o('Shape', [ids]), b.int64([1], [])], { axis: 0 }), b.int64([0])]);
    const buf = b.boolTensor('transformer.h.0.attn.bias', [s.maxPos, s.maxPos], tril);
    const ends = b.o('Concat', [len, len], { axis: 0 });
    return [maskBias(b, mask), b.o('Slice', [buf, b.int64([0, 0]), ends, b.int64([0, 1])])];
  });
  for (let l = 0; l < s.layers; l++) {
    const w = s.layer[l];
    const P = `transformer.h.${l}`;
    x = b.scope('transformer', () => b.scope(`h.${l}`, () => {
      const a = b.scope('ln_1', () => layerNorm(b, x, b.weight(`${P}.ln_1.weight`, [d], f32(w.ln1g)), b.weight(`${P}.ln_1.bias`, [d], f32(w.ln1b)), s.eps));
      const attnOut = b.scope('attn', () => {
        const wqkv = new Float32Array(d * 3 * d);
        for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) {
          wqkv[i * 3 * d + j] = w.wq[i * d + j];
          wqkv[i * 3 * d + d + j] = w.wk[i * d + j];
          wqkv[i * 3 * d + 2 * d + j] = w.wv[i * d + j];
        }
        const bqkv = Float32Array.from([...w.bq, ...w.bk, ...w.bv]);
        const qkv = b.scope('c_attn', () => linear(b, a, b.weight(`${P}.attn.c_attn.weight`, [d, 3 * d], wqkv), b.weight(`${P}.attn.c_attn.bias`, [3 * d], bqkv)));
        const [q, k, v] = b.op('Split', [qkv, b.int64([d, d, d])], { axis: 2 }, { outputs: 3 });
        const qh = splitHeads(b, q, heads, hd);
        const kh = b.o('Transpose', [b.o('Reshape', [k, b.int64([0, 0, heads, hd])])], { perm: [0, 2, 3, 1] });
        const vh = splitHeads(b, v, heads, hd);
        const sc = b.o('Div', [b.o('MatMul', [qh, kh]), b.scalar(Math.sqrt(hd))]);
        const masked = b.o('Where', [causal, sc, b.scalar(minValue(b))]);
        const [, probs] = softmax(b, b.o('Add', [masked, bias]));
        const ctx = mergeHeads(b, b.o('MatMul', [probs, vh]), d);
        return b.scope('c_proj', () => linear(b, ctx, b.weight(`${P}.attn.c_proj.weight`, [d, d], f32(w.wo)), b.weight(`${P}.attn.c_proj.bias`, [d], f32(w.bo))));
      });
      const h = b.o('Add', [attnOut, x]);
      const m = b.scope('ln_2', () => layerNorm(b, h, b.weight(`${P}.ln_2.weight`, [d], f32(w.ln2g)), b.weight(`${P}.ln_2.bias`, [d], f32(w.ln2b)), s.eps));
      const mlp = b.scope('mlp', () => {
        const fc = b.scope('c_fc', () => linear(b, m, b.weight(`${P}.mlp.c_fc.weight`, [d, s.ffn], f32(w.w1)), b.weight(`${P}.mlp.c_fc.bias`, [s.ffn], f32(w.b1))));
        const act = b.scope('act', () => geluTanh(b, fc));
        return b.scope('c_proj', () => linear(b, act, b.weight(`${P}.mlp.c_proj.weight`, [s.ffn, d], f32(w.w2)), b.weight(`${P}.mlp.c_proj.bias`, [d], f32(w.b2))));
      });
      return b.o('Add', [h, mlp]);
    }));
  }
  const out = b.scope('transformer', () => b.scope('ln_f', () => layerNorm(b, x, b.weight('transformer.ln_f.weight', [d], f32(s.lnfG)), b.weight('transformer.ln_f.bias', [d], f32(s.lnfB)), s.eps)));
  const logits = b.scope('lm_head', () => b.o('MatMul', [out, b.weight('lm_head.weight', [d, s.vocab], f32(s.lmHead))]));
  renameOutput(b, logits, 'logits');
  b.output('logits', DT.FLOAT, ['batch_size', 'sequence_length', s.vocab]);
  return makeModel(b.graph('main_graph'), { opset: 17 });
}

/** Renames a tensor everywhere (exporters name the final outputs after the model's outputs). */
export function renameOutput(b: GraphBuilder, from: string, to: string): void {
  for (const n of b.nodes) {
    n.output = n.output.map((o) => (o === from ? to : o));
    n.input = n.input.map((i) => (i === from ? to : i));
  }
}
