import { DT } from '../../../src/engine/model/onnx/dtype';
import { GraphBuilder, makeModel, type ExternalDataSink } from '../graphBuilder';
import type { Spec } from '../spec';
import { f32, geluTanh, maskBias, mergeHeads, rmsNorm, softmax, splitHeads } from './common';
import { renameOutput } from './gpt2';
import { writeMixer, writeMoe } from '../hybrid';

/**
 * LLaMA as Optimum's TorchScript export writes `decoder_model.onnx`-with-past: `/model/layers.N/…`,
 * decomposed RMSNorm, rotate-half rotary from cached cos/sin, grouped-query attention (repeat_kv by
 * Expand + Reshape), SwiGLU, `past_key_values.N.key/value` inputs and `present.N.*` outputs.
 * With `floatType` fp16 every weight and activation is fp16, upcasting where HF does (norms, softmax).
 */
/**
 * `role`: a causal decoder with past inputs (default); Optimum's `encoder_model.onnx`
 * (bidirectional, no past, outputs `last_hidden_state`); or its seq2seq `decoder_model.onnx`
 * (no past, cross-attention over `encoder_hidden_states` in every block, from spec.cross).
 * `inputsEmbeds`: the decoder of a multi-file export, fed embeddings by `embed_tokens.onnx`.
 */
export interface LlamaOptions {
  qdq?: boolean; q4?: boolean; sink?: ExternalDataSink; fusedNorms?: boolean;
  /** Hybrid mixers as onnxruntime-genai writes them (CausalConvWithState, LinearAttention). */
  fusedMixers?: boolean;
  role?: 'decoder' | 'encoder' | 'seq2seq-decoder';
  inputsEmbeds?: boolean;
  /** ONNX opset 23's own ops, as newer exporters write them: RMSNormalization, RotaryEmbedding, Attention. */
  onnx23?: boolean;
}

export function llamaModel(s: Spec, floatType: number = DT.FLOAT, opts: LlamaOptions = {}) {
  const b = new GraphBuilder(floatType, opts.sink);
  if (opts.qdq) b.quantize = /_proj\.weight$/;
  // As onnxruntime-genai's int4 exports: every projection 4-bit, embeddings and lm_head kept in float.
  if (opts.q4) b.nbits = /_proj\.weight$/;
  b.fusedMixers = opts.fusedMixers;
  const { d, heads, kvHeads } = s;
  const hd = d / heads;
  const kvd = kvHeads * hd;
  const rep = heads / kvHeads;
  const role = opts.role ?? 'decoder';
  const ids = opts.inputsEmbeds ? b.input('inputs_embeds', floatType, ['batch_size', 'sequence_length', d])
    : s.audio ? b.input('input_features', floatType, ['batch_size', s.audio.bins, 'sequence_length'])
      : b.input('input_ids', DT.INT64, ['batch_size', 'sequence_length']);
  const mask = role === 'seq2seq-decoder' ? undefined : b.input('attention_mask', DT.INT64, ['batch_size', 'total_sequence_length']);
  const posIds = b.input('position_ids', DT.INT64, ['batch_size', 'sequence_length']);
  const encStates = role === 'seq2seq-decoder' ? b.input('encoder_hidden_states', floatType, ['batch_size', 'encoder_sequence_length', d]) : undefined;
  const encMask = role === 'seq2seq-decoder' ? b.input('encoder_attention_mask', DT.INT64, ['batch_size', 'encoder_sequence_length']) : undefined;
  // Hybrid blocks (spec.mixers) carry no key/value cache; nor do encoders and Optimum's decoder_model.onnx.
  const past: [string, string][] = [];
  for (let l = 0; l < s.layers; l++) {
    if (s.mixers?.[l] || role !== 'decoder') { past.push(['', '']); continue; }
    past.push([
      b.input(`past_key_values.${l}.key`, floatType, ['batch_size', kvHeads, 'past_sequence_length', hd]),
      b.input(`past_key_values.${l}.value`, floatType, ['batch_size', kvHeads, 'past_sequence_length', hd]),
    ]);
  }
  // Rotary tables as HF caches them: [maxPos, hd] with the half-frequencies repeated.
  const cos = new Float32Array(s.maxPos * hd);
  const sin = new Float32Array(s.maxPos * hd);
  for (let p = 0; p < s.maxPos; p++) for (let i = 0; i < hd / 2; i++) {
    const th = p * Math.pow(10000, (-2 * i) / hd);
    cos[p * hd + i] = cos[p * hd + i + hd / 2] = Math.cos(th);
    sin[p * hd + i] = sin[p * hd + i + hd / 2] = Math.sin(th);
  }
  const causalTable = new Float32Array(s.maxPos * s.maxPos);
  for (let i = 0; i < s.maxPos; i++) for (let j = i + 1; j < s.maxPos; j++) {
    causalTable[i * s.maxPos + j] = floatType === DT.FLOAT16 ? -65504 : -3.4028234663852886e38;
  }

  // Whisper-style encoders start from mel features: Conv1d (kernel 3, padding 1) then GELU, to [B, T, d].
  const stem = () => b.scope('model', () => b.scope('conv1', () => b.o('Transpose', [geluTanh(b, b.o('Conv', [ids, b.weight('model.encoder.conv1.weight', [d, s.audio!.bins, 3], f32(s.audio!.w)), b.weight('model.encoder.conv1.bias', [d], f32(s.audio!.b))], { kernel_shape: [3], pads: [1, 1] }))], { perm: [0, 2, 1] })));
  let x = opts.inputsEmbeds ? ids : s.audio ? stem() : b.scope('model', () => b.scope('embed_tokens', () => b.o('Gather', [b.weight('model.embed_tokens.weight', [s.vocab, d], f32(s.embed)), ids])));
  const [cosE, sinE, bias] = b.scope('model', () => {
    const cosT = b.weight('model.layers.0.self_attn.rotary_emb.cos_cached', [s.maxPos, hd], cos);
    const sinT = b.weight('model.layers.0.self_attn.rotary_emb.sin_cached', [s.maxPos, hd], sin);
    const c = b.o('Unsqueeze', [b.o('Gather', [cosT, posIds]), b.int64([1])]);
    const sn = b.o('Unsqueeze', [b.o('Gather', [sinT, posIds]), b.int64([1])]);
    // Causal part: rows past..past+S, columns 0..past+S of a [maxPos, maxPos] table.
    const firstPast = past.find(([k]) => k)?.[0];
    const pastLen = firstPast ? b.o('Unsqueeze', [b.o('Gather', [b.o('Shape', [firstPast]), b.int64([2], [])], { axis: 0 }), b.int64([0])]) : b.int64([0]);
    const seqLen = b.o('Unsqueeze', [b.o('Gather', [b.o('Shape', [ids]), b.int64([s.audio ? 2 : 1], [])], { axis: 0 }), b.int64([0])]);
    if (role === 'encoder') return [c, sn, maskBias(b, mask!)];
    const total = b.o('Add', [pastLen, seqLen]);
    const table = b.weight('model.causal_mask', [s.maxPos, s.maxPos], causalTable);
    const rows = b.o('Slice', [table, pastLen, total, b.int64([0])]);
    const causal = b.o('Slice', [rows, b.int64([0]), total, b.int64([1])]);
    const causal4 = b.o('Unsqueeze', [causal, b.int64([0, 1])]);
    return [c, sn, mask ? b.o('Add', [causal4, maskBias(b, mask)]) : causal4];
  });
  const norm = (x: string, g: string, eps: number) => (opts.onnx23 ? b.o('RMSNormalization', [x, g], { axis: -1, epsilon: { float: eps } }) : rmsNorm(b, x, g, eps));
  // RotaryEmbedding (opset 23) takes the tables of the half-frequencies, [maxPos, hd / 2].
  const half = (t: Float32Array) => Float32Array.from({ length: s.maxPos * hd / 2 }, (_, k) => t[Math.floor(k / (hd / 2)) * hd + (k % (hd / 2))]);
  const rotaryTables = opts.onnx23
    ? b.scope('model', () => [b.weight('model.rotary_emb.cos_half', [s.maxPos, hd / 2], half(cos)), b.weight('model.rotary_emb.sin_half', [s.maxPos, hd / 2], half(sin))])
    : undefined;
  const rotate = (t: string) => {
    if (rotaryTables) return b.o('RotaryEmbedding', [t, rotaryTables[0], rotaryTables[1], posIds], { interleaved: 0 });
    const x1 = b.o('Slice', [t, b.int64([0]), b.int64([hd / 2]), b.int64([3])]);
    const x2 = b.o('Slice', [t, b.int64([hd / 2]), b.int64([hd]), b.int64([3])]);
    const rot = b.o('Concat', [b.o('Neg', [x2]), x1], { axis: -1 });
    return b.o('Add', [b.o('Mul', [t, cosE]), b.o('Mul', [rot, sinE])]);
  };
  const repeatKv = (t: string) => {
    if (rep === 1) return t;
    const u = b.o('Unsqueeze', [t, b.int64([2])]);
    const e = b.o('Expand', [u, b.int64([1, 1, rep, 1, 1])]);
    return b.o('Reshape', [e, b.int64([0, heads, -1, hd])]);
  };
  const presents: string[] = [];
  // fusedNorms: as onnxruntime-genai writes it, each residual sum and the norm after it are one
  // SkipSimplifiedLayerNormalization whose bias input carries the preceding projection's bias.
  const skipNorm = (input: string, skip: string, gamma: string, bias: string): [string, string] => {
    const outs = b.op('SkipSimplifiedLayerNormalization', [input, skip, gamma, bias], { epsilon: { float: s.eps } }, { outputs: 4, domain: 'com.microsoft' });
    const node = b.nodes[b.nodes.length - 1];
    node.output[1] = node.output[2] = '';
    return [outs[0], outs[3]];
  };
  let normed: string | undefined;
  for (let l = 0; l < s.layers; l++) {
    const w = s.layer[l];
    const P = `model.layers.${l}`;
    x = b.scope('model', () => b.scope(`layers.${l}`, () => {
      const a = normed ?? b.scope('input_layernorm', () => norm(x, b.weight(`${P}.input_layernorm.weight`, [d], f32(w.ln1g)), s.eps));
      const mixer = s.mixers?.[l];
      const attnOut = mixer ? writeMixer(b, mixer, a, P, d) : b.scope('self_attn', () => {
        const q = b.scope('q_proj', () => b.matmul(a, `${P}.self_attn.q_proj.weight`, [d, d], f32(w.wq)));
        const k = b.scope('k_proj', () => b.matmul(a, `${P}.self_attn.k_proj.weight`, [d, kvd], f32(w.wk)));
        const v = b.scope('v_proj', () => b.matmul(a, `${P}.self_attn.v_proj.weight`, [d, kvd], f32(w.wv)));
        const qh = rotate(splitHeads(b, q, heads, hd));
        const kr = rotate(splitHeads(b, k, kvHeads, hd));
        const vs = splitHeads(b, v, kvHeads, hd);
        const kh = past[l][0] ? b.o('Concat', [past[l][0], kr], { axis: 2 }) : kr;
        const vh = past[l][1] ? b.o('Concat', [past[l][1], vs], { axis: 2 }) : vs;
        if (past[l][0]) presents.push(kh, vh);
        if (opts.onnx23) {
          // Grouped heads as they are: Attention (opset 23) repeats the key/value heads itself.
          const y = b.o('Attention', [qh, kh, vh, bias]);
          return b.scope('o_proj', () => b.matmul(mergeHeads(b, y, d), `${P}.self_attn.o_proj.weight`, [d, d], f32(w.wo)));
        }
        const sc = b.o('Div', [b.o('MatMul', [qh, b.o('Transpose', [repeatKv(kh)], { perm: [0, 1, 3, 2] })]), b.scalar(Math.sqrt(hd))]);
        const [, probs] = softmax(b, b.o('Add', [sc, bias]));
        const ctx = mergeHeads(b, b.o('MatMul', [probs, repeatKv(vh)]), d);
        return b.scope('o_proj', () => b.matmul(ctx, `${P}.self_attn.o_proj.weight`, [d, d], f32(w.wo)));
      });
      const cw = s.cross?.[l];
      const crossOf = (h1: string) => {
        // Cross-attention: queries from the stream, keys and values from the encoder's states.
        const c = b.scope('encoder_attn', () => {
          const an = b.scope('layernorm', () => norm(h1, b.weight(`${P}.encoder_attn_layer_norm.weight`, [d], f32(cw!.lnc)), s.eps));
          const q = splitHeads(b, b.matmul(an, `${P}.encoder_attn.q_proj.weight`, [d, d], f32(cw!.wq)), heads, hd);
          const k = splitHeads(b, b.matmul(encStates!, `${P}.encoder_attn.k_proj.weight`, [d, d], f32(cw!.wk)), heads, hd);
          const v = splitHeads(b, b.matmul(encStates!, `${P}.encoder_attn.v_proj.weight`, [d, d], f32(cw!.wv)), heads, hd);
          const sc = b.o('Div', [b.o('MatMul', [q, b.o('Transpose', [k], { perm: [0, 1, 3, 2] })]), b.scalar(Math.sqrt(hd))]);
          const [, probs] = softmax(b, b.o('Add', [sc, maskBias(b, encMask!)]));
          return b.matmul(mergeHeads(b, b.o('MatMul', [probs, v]), d), `${P}.encoder_attn.out_proj.weight`, [d, d], f32(cw!.wo));
        });
        return b.o('Add', [h1, c]);
      };
      const [m, h] = opts.fusedNorms
        ? b.scope('post_attention_layernorm', () => skipNorm(attnOut, x, b.weight(`${P}.post_attention_layernorm.weight`, [d], f32(w.ln2g)), b.weight(`${P}.self_attn.o_proj.bias`, [d], f32(w.bo))))
        : (() => {
          const h1 = b.o('Add', [x, attnOut]);
          const sum = cw ? crossOf(h1) : h1;
          return [b.scope('post_attention_layernorm', () => norm(sum, b.weight(`${P}.post_attention_layernorm.weight`, [d], f32(w.ln2g)), s.eps)), sum];
        })();
      const moe = s.moe?.[l];
      const mlp = moe ? writeMoe(b, moe, m, P, d, s.ffn) : b.scope('mlp', () => {
        const gate = b.scope('gate_proj', () => b.matmul(m, `${P}.mlp.gate_proj.weight`, [d, s.ffn], f32(w.w1)));
        const up = b.scope('up_proj', () => b.matmul(m, `${P}.mlp.up_proj.weight`, [d, s.ffn], f32(w.w3)));
        const act = b.scope('act_fn', () => b.o('Mul', [gate, b.o('Sigmoid', [gate])]));
        return b.scope('down_proj', () => b.matmul(b.o('Mul', [act, up]), `${P}.mlp.down_proj.weight`, [s.ffn, d], f32(w.w2)));
      });
      if (!opts.fusedNorms) return b.o('Add', [h, mlp]);
      const last = l === s.layers - 1;
      const gamma = last ? b.weight('model.norm.weight', [d], f32(s.lnfG)) : b.weight(`model.layers.${l + 1}.input_layernorm.weight`, [d], f32(s.layer[l + 1].ln1g));
      const [next, sum] = skipNorm(mlp, h, gamma, b.weight(`${P}.mlp.down_proj.bias`, [d], f32(w.b2)));
      normed = next;
      return sum;
    }));
  }
  const out = normed ?? b.scope('model', () => b.scope('norm', () => norm(x, b.weight('model.norm.weight', [d], f32(s.lnfG)), s.eps)));
  if (role === 'encoder') {
    renameOutput(b, out, 'last_hidden_state');
    b.output('last_hidden_state', floatType, ['batch_size', 'sequence_length', d]);
    return makeModel(b.graph('main_graph'), { opset: 17 });
  }
  const logits = b.scope('lm_head', () => b.o('MatMul', [out, b.weight('lm_head.weight', [d, s.vocab], f32(s.lmHead))]));
  renameOutput(b, logits, 'logits');
  b.output('logits', floatType, ['batch_size', 'sequence_length', s.vocab]);
  presents.forEach((t, i) => {
    const name = `present.${Math.floor(i / 2)}.${i % 2 ? 'value' : 'key'}`;
    renameOutput(b, t, name);
    b.output(name, floatType, ['batch_size', kvHeads, 'total_sequence_length', hd]);
  });
  return makeModel(b.graph('main_graph'), { opset: opts.onnx23 ? 23 : 17, msDomain: opts.q4 || opts.fusedNorms || opts.fusedMixers });
}
