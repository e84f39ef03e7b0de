import type { Spec } from './spec';
import { mixerReference, moeReference } from './hybrid';
import { crossReference } from './seq2seq';

/**
 * An independent float64 forward pass over a spec: the golden numbers the ONNX graphs (and so
 * the engine's scan) must reproduce. Written from the architectures' definitions, sharing no code
 * with the engine.
 */
export interface Forward {
  /** Residual stream after each block, [tokens × d]. */
  hidden: Float64Array[];
  /** Attention probabilities per block, [heads × tokens × tokens]. */
  attn: Float64Array[];
  /** Planted neurons' activations per block: [tokens × 2] (neurons 0 and 1). */
  neurons: Float64Array[];
  /** Seq2seq decoders: cross-attention probabilities per block, [heads × tokens × encoder tokens]. */
  cross: Float64Array[];
  logits: Float64Array; // [tokens × vocab] (text models)
  tokens: number;
}

const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const silu = (x: number) => x / (1 + Math.exp(-x));

export function norm(x: Float64Array, t: number, d: number, g: Float64Array, b: Float64Array, rms: boolean, eps: number): Float64Array {
  const out = new Float64Array(d);
  const row = x.subarray(t * d, (t + 1) * d);
  let mean = 0;
  if (!rms) { for (let c = 0; c < d; c++) mean += row[c]; mean /= d; }
  let v = 0;
  for (let c = 0; c < d; c++) v += (row[c] - mean) ** 2;
  v /= d;
  const inv = 1 / Math.sqrt(v + eps);
  for (let c = 0; c < d; c++) out[c] = (row[c] - mean) * inv * g[c] + b[c];
  return out;
}

function matvec(a: Float64Array, w: Float64Array, inDim: number, outDim: number, bias?: Float64Array): Float64Array {
  const out = new Float64Array(outDim);
  for (let i = 0; i < inDim; i++) {
    const ai = a[i];
    if (ai === 0) continue;
    for (let j = 0; j < outDim; j++) out[j] += ai * w[i * outDim + j];
  }
  if (bias) for (let j = 0; j < outDim; j++) out[j] += bias[j];
  return out;
}

function rope(u: Float64Array, off: number, hd: number, p: number): void {
  const half = hd / 2;
  for (let i = 0; i < half; i++) {
    const th = p * Math.pow(10000, (-2 * i) / hd);
    const a = u[off + i], b = u[off + i + half];
    u[off + i] = a * Math.cos(th) - b * Math.sin(th);
    u[off + i + half] = b * Math.cos(th) + a * Math.sin(th);
  }
}

/** `edit(l, x)` may change the residual stream after block l (interventions). */
export type StreamEdit = (layer: number, x: Float64Array) => void;

/** `blocks` stops early (calibration probes); logits are then left empty. */
export function forwardFromEmbeddings(
  s: Spec, x: Float64Array, T: number, causal: boolean, edit?: StreamEdit, blocks = s.layers, encoder?: { states: Float64Array; tokens: number },
): Forward {
  const { d, heads, kvHeads } = s;
  const hd = d / heads;
  const kvd = kvHeads * hd;
  const rms = s.arch === 'llama';
  const hidden: Float64Array[] = [];
  const attn: Float64Array[] = [];
  const neurons: Float64Array[] = [];
  const crossProbs: Float64Array[] = [];
  for (let l = 0; l < blocks; l++) {
    const w = s.layer[l];
    const mixer = s.mixers?.[l];
    if (mixer) {
      // A hybrid block: the token mixer is a recurrence or a convolution, then the usual MLP.
      const a = new Float64Array(T * d);
      for (let t = 0; t < T; t++) a.set(norm(x, t, d, w.ln1g, w.ln1b, rms, s.eps), t * d);
      const upd = mixerReference(mixer, a, T, d);
      const nx = new Float64Array(x);
      for (let i = 0; i < nx.length; i++) nx[i] += upd[i];
      attn.push(new Float64Array(0));
      neurons.push(mlp(s, l, nx, T));
      edit?.(l, nx);
      x = nx;
      hidden.push(x);
      continue;
    }
    const q = new Float64Array(T * d), k = new Float64Array(T * kvd), v = new Float64Array(T * kvd);
    for (let t = 0; t < T; t++) {
      const a = norm(x, t, d, w.ln1g, w.ln1b, rms, s.eps);
      q.set(matvec(a, w.wq, d, d, w.bq), t * d);
      k.set(matvec(a, w.wk, d, kvd, w.bk), t * kvd);
      v.set(matvec(a, w.wv, d, kvd, w.bv), t * kvd);
      if (rms) {
        for (let h = 0; h < heads; h++) rope(q, t * d + h * hd, hd, t);
        for (let g = 0; g < kvHeads; g++) rope(k, t * kvd + g * hd, hd, t);
      }
    }
    const P = new Float64Array(heads * T * T);
    const ctx = new Float64Array(T * d);
    for (let h = 0; h < heads; h++) {
      const g = Math.floor(h / (heads / kvHeads));
      for (let i = 0; i < T; i++) {
        let m = -Infinity;
        const sc = new Float64Array(T);
        for (let j = 0; j < T; j++) {
          if (causal && j > i) { sc[j] = -Infinity; continue; }
          let dot = 0;
          for (let e = 0; e < hd; e++) dot += q[i * d + h * hd + e] * k[j * kvd + g * hd + e];
          sc[j] = dot / Math.sqrt(hd);
          m = Math.max(m, sc[j]);
        }
        let z = 0;
        for (let j = 0; j < T; j++) { sc[j] = sc[j] === -Infinity ? 0 : Math.exp(sc[j] - m); z += sc[j]; }
        for (let j = 0; j < T; j++) {
          const p = sc[j] / z;
          P[(h * T + i) * T + j] = p;
          if (p) for (let e = 0; e < hd; e++) ctx[i * d + h * hd + e] += p * v[j * kvd + g * hd + e];
        }
      }
    }
    attn.push(P);
    const nx = new Float64Array(x);
    for (let t = 0; t < T; t++) {
      const o = matvec(ctx.subarray(t * d, (t + 1) * d), w.wo, d, d, w.bo);
      for (let c = 0; c < d; c++) nx[t * d + c] += o[c];
    }
    const cw = s.cross?.[l];
    if (cw && encoder) {
      // Cross-attention, its own residual update between self-attention and the MLP.
      const an = new Float64Array(T * d);
      for (let t = 0; t < T; t++) an.set(norm(nx, t, d, cw.lnc, new Float64Array(d), rms, s.eps), t * d);
      const c = crossReference(cw, an, T, encoder.states, encoder.tokens, d, heads);
      for (let i = 0; i < nx.length; i++) nx[i] += c.update[i];
      crossProbs.push(c.probs);
    }
    neurons.push(mlp(s, l, nx, T));
    edit?.(l, nx);
    x = nx;
    hidden.push(x);
  }
  const withLogits = s.arch !== 'vit' && blocks === s.layers;
  const logits = new Float64Array(withLogits ? T * s.vocab : 0);
  if (withLogits) for (let t = 0; t < T; t++) logits.set(matvec(norm(x, t, d, s.lnfG, s.lnfB, rms, s.eps), s.lmHead, d, s.vocab), t * s.vocab);
  return { hidden, attn, neurons, logits, tokens: T, cross: crossProbs };
}

/** The block's MLP (dense or mixture of experts) added to `nx` in place; returns the planted neurons' activations. */
function mlp(s: Spec, l: number, nx: Float64Array, T: number): Float64Array {
  const { d, ffn } = s;
  const w = s.layer[l];
  const rms = s.arch === 'llama';
  const nn = new Float64Array(T * 2);
  for (let t = 0; t < T; t++) {
    const m = norm(nx, t, d, w.ln2g, w.ln2b, rms, s.eps);
    const moe = s.moe?.[l];
    if (moe) {
      const o = moeReference(moe, m, d, ffn);
      for (let c = 0; c < d; c++) nx[t * d + c] += o[c];
      continue;
    }
    const h1 = matvec(m, w.w1, d, ffn, w.b1);
    let act: Float64Array;
    if (rms) { const h3 = matvec(m, w.w3, d, ffn); act = h1.map((z, n) => silu(z) * h3[n]); } else act = h1.map(gelu);
    nn[t * 2] = act[0]; nn[t * 2 + 1] = act[1];
    const o = matvec(act, w.w2, ffn, d, w.b2);
    for (let c = 0; c < d; c++) nx[t * d + c] += o[c];
  }
  return nn;
}

export function forwardText(s: Spec, ids: number[], edit?: StreamEdit, blocks = s.layers): Forward {
  const T = ids.length;
  const x = new Float64Array(T * s.d);
  for (let t = 0; t < T; t++) for (let c = 0; c < s.d; c++) x[t * s.d + c] = s.embed[ids[t] * s.d + c] + (s.arch === 'gpt2' ? s.pos[t * s.d + c] : 0);
  return forwardFromEmbeddings(s, x, T, true, edit, blocks);
}

/** ViT: [CLS, registers…, patches…] + learned positions; `pixels` is [C, H, W]. */
export function forwardVit(s: Spec, pixels: Float64Array, edit?: StreamEdit): Forward {
  const v = s.vit!;
  const g = v.image / v.patch;
  const T = 1 + v.registers + g * g;
  const d = s.d;
  const x = new Float64Array(T * d);
  x.set(s.vit!.cls, 0);
  for (let r = 0; r < v.registers; r++) x.set(v.reg.subarray(r * d, (r + 1) * d), (1 + r) * d);
  const k = v.channels * v.patch * v.patch;
  for (let py = 0; py < g; py++) for (let px = 0; px < g; px++) {
    const t = 1 + v.registers + py * g + px;
    for (let c = 0; c < d; c++) {
      let acc = v.patchB[c];
      for (let ch = 0; ch < v.channels; ch++) for (let yy = 0; yy < v.patch; yy++) for (let xx = 0; xx < v.patch; xx++) {
        acc += v.patchW[c * k + (ch * v.patch + yy) * v.patch + xx] * pixels[(ch * v.image + py * v.patch + yy) * v.image + px * v.patch + xx];
      }
      x[t * d + c] = acc;
    }
  }
  for (let t = 0; t < T; t++) for (let c = 0; c < d; c++) x[t * d + c] += s.pos[t * d + c];
  return forwardFromEmbeddings(s, x, T, false, edit);
}
