import type { Rng, Spec } from './spec';
import { forwardFromEmbeddings, norm, type Forward } from './reference';

/**
 * Cross-attention weights of a seq2seq decoder block (queries from the decoder stream, keys and
 * values from the encoder's last hidden state), and the planted encoder-attention sink: in the
 * decoder's middle blocks every query's constant part matches keys built from the encoder's
 * first massive channel, so the decoder attends to the encoder tokens carrying massive activations.
 */
export interface CrossWeights { lnc: Float64Array; wq: Float64Array; wk: Float64Array; wv: Float64Array; wo: Float64Array }

export function makeCross(
  r: Rng, d: number, heads: number, protectedCh: Set<number>, sink: { on: boolean; constChannel: number; keyChannel: number },
): CrossWeights {
  const randn = (n: number, std: number) => Float64Array.from({ length: n }, () => r.normal() * std);
  const w: CrossWeights = {
    lnc: Float64Array.from({ length: d }, () => 1 + 0.05 * r.normal()),
    wq: randn(d * d, 0.5 / Math.sqrt(d)), wk: randn(d * d, 0.5 / Math.sqrt(d)), wv: randn(d * d, 1 / Math.sqrt(d)), wo: randn(d * d, 0.25 / Math.sqrt(d)),
  };
  for (const c of protectedCh) for (let i = 0; i < d; i++) w.wo[i * d + c] = 0;
  if (sink.on) {
    const hd = d / heads;
    for (let h = 0; h < heads; h++) {
      const e = h * hd;
      for (let i = 0; i < d; i++) { w.wq[i * d + e] = 0; w.wk[i * d + e] = 0; }
      w.wq[sink.constChannel * d + e] = 2;
      w.wk[sink.keyChannel * d + e] = 2.5;
    }
  }
  return w;
}

/** Cross-attention update for the decoder stream `a` (normalised, [T × d]) over encoder states `enc` ([S × d]). */
export function crossReference(
  w: CrossWeights, a: Float64Array, T: number, enc: Float64Array, S: number, d: number, heads: number,
): { update: Float64Array; probs: Float64Array } {
  const hd = d / heads;
  const mm = (x: Float64Array, n: number, m: Float64Array) => {
    const out = new Float64Array(n * d);
    for (let t = 0; t < n; t++) for (let i = 0; i < d; i++) { const v = x[t * d + i]; if (v) for (let j = 0; j < d; j++) out[t * d + j] += v * m[i * d + j]; }
    return out;
  };
  const q = mm(a, T, w.wq), k = mm(enc, S, w.wk), v = mm(enc, S, w.wv);
  const ctx = new Float64Array(T * d);
  const probs = new Float64Array(heads * T * S);
  for (let h = 0; h < heads; h++) for (let t = 0; t < T; t++) {
    const sc = new Float64Array(S);
    let m = -Infinity;
    for (let s = 0; s < S; s++) {
      let dot = 0;
      for (let e = 0; e < hd; e++) dot += q[t * d + h * hd + e] * k[s * d + h * hd + e];
      sc[s] = dot / Math.sqrt(hd);
      m = Math.max(m, sc[s]);
    }
    let z = 0;
    for (let s = 0; s < S; s++) { sc[s] = Math.exp(sc[s] - m); z += sc[s]; }
    for (let s = 0; s < S; s++) {
      const p = sc[s] / z;
      probs[(h * T + t) * S + s] = p;
      for (let e = 0; e < hd; e++) ctx[t * d + h * hd + e] += p * v[s * d + h * hd + e];
    }
  }
  return { update: mm(ctx, T, w.wo), probs };
}

/** The pair end to end: the encoder (bidirectional) on `encIds`, its normalised last state, then the decoder on `decIds`. */
const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** Whisper-style stem: x[t, c] = gelu(b[c] + Σ_bin Σ_j w[c, bin, j] · f[bin, t + j − 1]), features [bins × frames]. */
export function audioStem(s: Spec, features: Float64Array, frames: number): Float64Array {
  const a = s.audio!;
  const x = new Float64Array(frames * s.d);
  for (let t = 0; t < frames; t++) for (let c = 0; c < s.d; c++) {
    let v = a.b[c];
    for (let bin = 0; bin < a.bins; bin++) for (let j = 0; j < 3; j++) {
      const src = t + j - 1;
      if (src >= 0 && src < frames) v += a.w[(c * a.bins + bin) * 3 + j] * features[bin * frames + src];
    }
    x[t * s.d + c] = gelu(v);
  }
  return x;
}

export function forwardSeq2Seq(
  enc: Spec, dec: Spec, encIds: number[] | { features: Float64Array; frames: number }, decIds: number[],
): { encoder: Forward; states: Float64Array; decoder: Forward } {
  const embed = (s: Spec, ids: number[]) => {
    const x = new Float64Array(ids.length * s.d);
    ids.forEach((id, t) => x.set(s.embed.subarray(id * s.d, (id + 1) * s.d), t * s.d));
    return x;
  };
  const S = Array.isArray(encIds) ? encIds.length : encIds.frames;
  const encoder = forwardFromEmbeddings(enc, Array.isArray(encIds) ? embed(enc, encIds) : audioStem(enc, encIds.features, encIds.frames), S, false);
  const last = encoder.hidden[enc.layers - 1];
  const states = new Float64Array(S * enc.d);
  for (let t = 0; t < S; t++) states.set(norm(last, t, enc.d, enc.lnfG, enc.lnfB, true, enc.eps), t * enc.d);
  const decoder = forwardFromEmbeddings(dec, embed(dec, decIds), decIds.length, true, undefined, dec.layers, { states, tokens: S });
  return { encoder, states, decoder };
}
