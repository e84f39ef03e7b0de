import { readFileSync } from 'node:fs';
import type { LayerWeights, Spec } from './spec';

/**
 * Reads a llama2.c checkpoint (stories260K) into a spec the LLaMA layout writer turns into ONNX.
 * llama2.c rotates interleaved pairs (2i, 2i+1); Hugging Face's layout rotates (i, i + hs/2), so
 * the query and key output dimensions are permuted within each head (dot products are unchanged).
 */
export function readLlama2c(file: string): Spec {
  const buf = readFileSync(file);
  const hdr = new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + 28));
  const [dim, hidden, layers, heads, kvHeads, vocabSigned, seqLen] = Array.from(hdr);
  const vocab = Math.abs(vocabSigned);
  const f = new Float32Array(buf.buffer.slice(buf.byteOffset + 28, buf.byteOffset + buf.length - ((buf.length - 28) % 4)));
  let p = 0;
  const take = (n: number) => { const a = f.subarray(p, p + n); p += n; return a; };
  const hs = dim / heads;
  const kvDim = kvHeads * hs;
  const embed = Float64Array.from(take(vocab * dim));
  const rmsAtt = take(layers * dim);
  const wq = take(layers * dim * dim);
  const wk = take(layers * kvDim * dim);
  const wv = take(layers * kvDim * dim);
  const wo = take(layers * dim * dim);
  const rmsFfn = take(layers * dim);
  const w1 = take(layers * hidden * dim);
  const w2 = take(layers * dim * hidden);
  const w3 = take(layers * hidden * dim);
  const rmsFinal = Float64Array.from(take(dim));
  take(seqLen * (hs / 2));
  take(seqLen * (hs / 2));
  const classifier = vocabSigned < 0 ? take(vocab * dim) : undefined;

  // [out, in] (y = W x) → [in, out] (y = x W), optionally permuting output dims per head.
  const toInOut = (w: Float32Array, l: number, outDim: number, inDim: number, rope: boolean) => {
    const out = new Float64Array(inDim * outDim);
    const base = l * outDim * inDim;
    for (let o = 0; o < outDim; o++) {
      let src = o;
      if (rope) {
        const h = Math.floor(o / hs), i = o % hs;
        src = h * hs + (i < hs / 2 ? 2 * i : 2 * (i - hs / 2) + 1);
      }
      for (let i = 0; i < inDim; i++) out[i * outDim + o] = w[base + src * inDim + i];
    }
    return out;
  };
  const layer: LayerWeights[] = [];
  for (let l = 0; l < layers; l++) {
    layer.push({
      ln1g: Float64Array.from(rmsAtt.subarray(l * dim, (l + 1) * dim)), ln1b: new Float64Array(dim),
      ln2g: Float64Array.from(rmsFfn.subarray(l * dim, (l + 1) * dim)), ln2b: new Float64Array(dim),
      wq: toInOut(wq, l, dim, dim, true), wk: toInOut(wk, l, kvDim, dim, true), wv: toInOut(wv, l, kvDim, dim, false), wo: toInOut(wo, l, dim, dim, false),
      bq: new Float64Array(dim), bk: new Float64Array(kvDim), bv: new Float64Array(kvDim), bo: new Float64Array(dim),
      w1: toInOut(w1, l, hidden, dim, false), w3: toInOut(w3, l, hidden, dim, false), w2: toInOut(w2, l, dim, hidden, false),
      b1: new Float64Array(hidden), b2: new Float64Array(dim),
    });
  }
  const cls = classifier ?? f.subarray(0, vocab * dim);
  const lmHead = new Float64Array(dim * vocab);
  for (let t = 0; t < vocab; t++) for (let c = 0; c < dim; c++) lmHead[c * vocab + t] = cls[t * dim + c];
  return {
    arch: 'llama', vocab, d: dim, layers, heads, kvHeads, ffn: hidden, maxPos: seqLen, eps: 1e-5, embed,
    pos: new Float64Array(0), layer, lnfG: rmsFinal, lnfB: new Float64Array(dim), lmHead,
    planted: {
      plantBlock: -1, fadeBlock: -1, channels: [-1, -1], values: [0, 0], markerIds: [], sinkBlocks: [], markerChannel: -1, constChannel: -1,
      plantGain: [0, 0], fadeGain: [0, 0],
    },
    lazy: false,
  };
}

/** The reference greedy continuation from llama2.c's own C implementation (shared/models/README.md). */
export const STORIES260K_GREEDY = [1, 461, 461, 401, 401, 401, 461, 378, 455, 473, 456, 435, 299, 362, 409, 283, 264, 283, 452, 288, 13,
  431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 293, 430, 417, 363, 416, 315, 342,
  418, 424, 400, 442, 402, 303, 266, 299, 374, 466, 396, 303, 271, 362, 390, 469, 306, 469, 423, 314, 347];
