import { DT } from '../../../src/engine/model/onnx/dtype';
import { GraphBuilder, makeModel } from '../graphBuilder';
import type { Spec } from '../spec';
import { f32, geluTanh, layerNorm, linear, mergeHeads, softmax, splitHeads } from './common';
import { renameOutput } from './gpt2';

/**
 * A DINOv2-with-registers vision transformer as torch.onnx exports it: patch Conv, CLS and
 * register tokens concatenated before the patches, learned positions, pre-norm blocks named
 * `/encoder/layer.N/…`, bidirectional attention.
 */
export function vitModel(s: Spec) {
  const v = s.vit!;
  const b = new GraphBuilder(DT.FLOAT);
  const { d, heads } = s;
  const hd = d / heads;
  const grid = v.image / v.patch;
  const T = 1 + v.registers + grid * grid;
  const px = b.input('pixel_values', DT.FLOAT, ['batch_size', v.channels, v.image, v.image]);
  let x = b.scope('embeddings', () => {
    const conv = b.scope('patch_embeddings', () => b.scope('projection', () => b.o('Conv', [px, b.weight('embeddings.patch_embeddings.projection.weight', [d, v.channels, v.patch, v.patch], f32(v.patchW)), b.weight('embeddings.patch_embeddings.projection.bias', [d], f32(v.patchB))], { kernel_shape: [v.patch, v.patch], strides: [v.patch, v.patch] })));
    const patches = b.o('Transpose', [b.o('Reshape', [conv, b.int64([0, d, -1])])], { perm: [0, 2, 1] });
    const batch = b.o('Gather', [b.o('Shape', [px]), b.int64([0])], { axis: 0 });
    const cls = b.o('Expand', [b.weight('embeddings.cls_token', [1, 1, d], f32(v.cls)), b.o('Concat', [batch, b.int64([1, 1])], { axis: 0 })]);
    const reg = b.o('Expand', [b.weight('embeddings.register_tokens', [1, v.registers, d], f32(v.reg)), b.o('Concat', [batch, b.int64([1, 1])], { axis: 0 })]);
    const all = b.o('Concat', [cls, reg, patches], { axis: 1 });
    return b.o('Add', [all, b.weight('embeddings.position_embeddings', [1, T, d], f32(s.pos.subarray(0, T * d)))]);
  });
  for (let l = 0; l < s.layers; l++) {
    const w = s.layer[l];
    const P = `encoder.layer.${l}`;
    x = b.scope('encoder', () => b.scope(`layer.${l}`, () => {
      const a = b.scope('norm1', () => layerNorm(b, x, b.weight(`${P}.norm1.weight`, [d], f32(w.ln1g)), b.weight(`${P}.norm1.bias`, [d], f32(w.ln1b)), s.eps));
      const attnOut = b.scope('attention', () => {
        const [q, k, vv] = b.scope('attention', () => [
          b.scope('query', () => linear(b, a, b.weight(`${P}.attention.attention.query.weight`, [d, d], f32(w.wq)), b.weight(`${P}.attention.attention.query.bias`, [d], f32(w.bq)))),
          b.scope('key', () => linear(b, a, b.weight(`${P}.attention.attention.key.weight`, [d, d], f32(w.wk)), b.weight(`${P}.attention.attention.key.bias`, [d], f32(w.bk)))),
          b.scope('value', () => linear(b, a, b.weight(`${P}.attention.attention.value.weight`, [d, d], f32(w.wv)), b.weight(`${P}.attention.attention.value.bias`, [d], f32(w.bv)))),
        ]);
        const sc = b.o('Div', [b.o('MatMul', [splitHeads(b, q, heads, hd), b.o('Transpose', [b.o('Reshape', [k, b.int64([0, 0, heads, hd])])], { perm: [0, 2, 3, 1] })]), b.scalar(Math.sqrt(hd))]);
        const [, probs] = softmax(b, sc);
        const ctx = mergeHeads(b, b.o('MatMul', [probs, splitHeads(b, vv, heads, hd)]), d);
        return b.scope('output', () => b.scope('dense', () => linear(b, ctx, b.weight(`${P}.attention.output.dense.weight`, [d, d], f32(w.wo)), b.weight(`${P}.attention.output.dense.bias`, [d], f32(w.bo)))));
      });
      const h = b.o('Add', [attnOut, x]);
      const m = b.scope('norm2', () => layerNorm(b, h, b.weight(`${P}.norm2.weight`, [d], f32(w.ln2g)), b.weight(`${P}.norm2.bias`, [d], f32(w.ln2b)), s.eps));
      const mlp = b.scope('mlp', () => {
        const fc1 = b.scope('fc1', () => linear(b, m, b.weight(`${P}.mlp.fc1.weight`, [d, s.ffn], f32(w.w1)), b.weight(`${P}.mlp.fc1.bias`, [s.ffn], f32(w.b1))));
        const act = b.scope('activation', () => geluTanh(b, fc1));
        return b.scope('fc2', () => linear(b, act, b.weight(`${P}.mlp.fc2.weight`, [s.ffn, d], f32(w.w2)), b.weight(`${P}.mlp.fc2.bias`, [d], f32(w.b2))));
      });
      return b.o('Add', [mlp, h]);
    }));
  }
  const out = b.scope('layernorm', () => layerNorm(b, x, b.weight('layernorm.weight', [d], f32(s.lnfG)), b.weight('layernorm.bias', [d], f32(s.lnfB)), s.eps));
  renameOutput(b, out, 'last_hidden_state');
  b.output('last_hidden_state', DT.FLOAT, ['batch_size', T, d]);
  return makeModel(b.graph('main_graph'), { opset: 17 });
}
