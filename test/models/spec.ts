import { rng as uniform } from '../../src/engine/base/random';
import { makeMixer, makeMoe, type LayerKind, type MixerWeights, type MoeWeights } from './hybrid';
import { makeCross, type CrossWeights } from './seq2seq';

/**
 * The abstract weights of a planted transformer, independent of any ONNX layout. Each layout
 * writer turns the same spec into the graph a real exporter would write; the reference forward
 * pass (reference.ts) computes what those graphs must output.
 *
 * The planted mechanism (Sun et al., 2024): an MLP neuron in an early block fires only on tokens
 * carrying a marker (the first token, the "." delimiter, or ViT registers) and writes large values
 * into two fixed channels; middle blocks' attention keys read those channels, so every query
 * attends to those tokens; an MLP neuron in the last block removes most of the value.
 */
export type Arch = 'gpt2' | 'llama' | 'vit';

export interface LayerWeights {
  ln1g: Float64Array; ln1b: Float64Array; ln2g: Float64Array; ln2b: Float64Array;
  wq: Float64Array; wk: Float64Array; wv: Float64Array; wo: Float64Array; // [in, out]
  bq: Float64Array; bk: Float64Array; bv: Float64Array; bo: Float64Array;
  w1: Float64Array; w3: Float64Array; w2: Float64Array; b1: Float64Array; b2: Float64Array;
}

export interface Spec {
  arch: Arch;
  vocab: number;
  d: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  maxPos: number;
  eps: number;
  embed: Float64Array; // [vocab, d] (vit: unused)
  pos: Float64Array; // [maxPos, d] learned positions (gpt2, vit)
  layer: LayerWeights[];
  lnfG: Float64Array; lnfB: Float64Array;
  lmHead: Float64Array; // [d, vocab]
  vit?: { channels: number; image: number; patch: number; registers: number; patchW: Float64Array; patchB: Float64Array; cls: Float64Array; reg: Float64Array };
  planted: Planted;
  /** Block weights are made on each access of `layer[l]` (see SpecOptions.lazy). */
  lazy: boolean;
  /** Hybrid models: each block's token mixer when it is not attention (hybrid.ts). */
  mixers?: (MixerWeights | undefined)[];
  /** Blocks whose MLP is a mixture of experts. */
  moe?: (MoeWeights | undefined)[];
  /** Seq2seq decoders: each block's cross-attention over the encoder's states. */
  cross?: CrossWeights[];
  /** Audio encoders (Whisper-style): a Conv1d stem (kernel 3, GELU) from mel bins to the width. */
  audio?: { bins: number; w: Float64Array; b: Float64Array };
}

export interface Planted {
  /** Block whose MLP creates the massive activations. */
  plantBlock: number;
  /** Block whose MLP removes most of them. */
  fadeBlock: number;
  channels: [number, number];
  values: [number, number];
  /** Token ids carrying the marker (text models). */
  markerIds: number[];
  /** Blocks whose attention reads the massive channels. */
  sinkBlocks: number[];
  markerChannel: number;
  constChannel: number;
  /** Down-projection weights of the planting neuron (row 0) and the fading neuron (row 1), per massive channel. */
  plantGain: [number, number];
  fadeGain: [number, number];
}

export type Rng = ReturnType<typeof rng>;

/** The engine's seeded uniform generator, with Box–Muller normals on top for weights. */
export function rng(seed: number) {
  const u = uniform(seed);
  return { u, normal: () => Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u()) };
}

function randn(r: Rng, n: number, std: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = r.normal() * std;
  return a;
}

export interface SpecOptions {
  arch: Arch;
  vocab?: number;
  d?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  ffn?: number;
  maxPos?: number;
  seed?: number;
  markerIds?: number[];
  values?: [number, number];
  channels?: [number, number];
  vit?: { channels: number; image: number; patch: number; registers: number };
  /** Make block weights on access instead of up front (billion-parameter specs). */
  lazy?: boolean;
  /** Each block's token mixer (hybrid models); attention where absent. */
  layout?: LayerKind[];
  /** Blocks whose MLP becomes a mixture of experts. */
  moeBlocks?: number[];
  /** A seq2seq decoder: every block gets cross-attention (planted to attend to the encoder's massive tokens). */
  cross?: boolean;
  /** An audio encoder with this many mel bins; bin 0 set on a frame marks it, as a marker token does. */
  audioBins?: number;
  /** Block whose MLP creates the massive activations (default 1). */
  plantBlock?: number;
}

interface LayerDims { d: number; kvd: number; ffn: number; heads: number; kvHeads: number; hd: number; hasBias: boolean; gated: boolean }

function randomLayer(r: Rng, { d, kvd, ffn, hasBias }: LayerDims): LayerWeights {
  return {
    ln1g: Float64Array.from({ length: d }, () => 1 + 0.05 * r.normal()), ln1b: hasBias ? randn(r, d, 0.02) : new Float64Array(d),
    ln2g: Float64Array.from({ length: d }, () => 1 + 0.05 * r.normal()), ln2b: hasBias ? randn(r, d, 0.02) : new Float64Array(d),
    wq: randn(r, d * d, 0.5 / Math.sqrt(d)), wk: randn(r, d * kvd, 0.5 / Math.sqrt(d)), wv: randn(r, d * kvd, 1 / Math.sqrt(d)),
    wo: randn(r, d * d, 0.25 / Math.sqrt(d)),
    bq: hasBias ? randn(r, d, 0.02) : new Float64Array(d), bk: hasBias ? randn(r, kvd, 0.02) : new Float64Array(kvd),
    bv: hasBias ? randn(r, kvd, 0.02) : new Float64Array(kvd), bo: hasBias ? randn(r, d, 0.02) : new Float64Array(d),
    w1: randn(r, d * ffn, 1 / Math.sqrt(d)), w3: randn(r, d * ffn, 1 / Math.sqrt(d)), w2: randn(r, ffn * d, 0.25 / Math.sqrt(ffn)),
    b1: hasBias ? randn(r, ffn, 0.02) : new Float64Array(ffn), b2: hasBias ? randn(r, d, 0.02) : new Float64Array(d),
  };
}

/** Nothing but the planted neurons writes the protected channels, and the planted neurons read nothing else. */
function protect(w: LayerWeights, protectedCh: Set<number>, { d, ffn }: LayerDims): void {
  for (const c of protectedCh) {
    for (let i = 0; i < d; i++) w.wo[i * d + c] = 0;
    for (let i = 0; i < ffn; i++) w.w2[i * d + c] = 0;
    w.bo[c] = 0; w.b2[c] = 0;
  }
  for (const n of [0, 1]) {
    for (let i = 0; i < d; i++) { w.w1[i * ffn + n] = 0; w.w3[i * ffn + n] = 0; }
    for (let c = 0; c < d; c++) w.w2[n * d + c] = 0;
    w.b1[n] = 0;
  }
}

function plantInto(w: LayerWeights, l: number, p: Planted, dims: LayerDims): void {
  const { d, kvd, ffn, heads, kvHeads, hd, gated } = dims;
  // Plant: neuron 0 of the plant block fires on marker tokens only.
  if (l === p.plantBlock) {
    w.w1[p.markerChannel * ffn + 0] = 1.5;
    if (gated) w.w3[p.markerChannel * ffn + 0] = 1; else w.b1[0] = -6;
  }
  // Fade: neuron 1 of the last block reads the first massive channel and cancels most of both.
  if (l === p.fadeBlock) {
    w.w1[p.channels[0] * ffn + 1] = 1;
    if (gated) w.w3[p.channels[0] * ffn + 1] = 1; else w.b1[1] = -2;
  }
  writeGains(w, l, p, d);
  // Sinks: in the middle blocks, every head's query has a constant part (from the constant
  // channel) that matches keys built from the first massive channel.
  if (p.sinkBlocks.includes(l)) {
    for (let h = 0; h < heads; h++) {
      const qd = h * hd + (hd / 2 - 1); // lowest rotary frequency: position barely rotates it
      for (let i = 0; i < d; i++) w.wq[i * d + qd] = 0;
      w.wq[p.constChannel * d + qd] = 2;
    }
    for (let g = 0; g < kvHeads; g++) {
      const kd = g * hd + (hd / 2 - 1);
      for (let i = 0; i < d; i++) w.wk[i * kvd + kd] = 0;
      w.wk[p.channels[0] * kvd + kd] = 2.5;
    }
  }
}

/** Writes the planted down-projection gains into block l's weights (a no-op for other blocks). */
export function writeGains(w: LayerWeights, l: number, p: Planted, d: number): void {
  for (let c = 0; c < 2; c++) {
    if (l === p.plantBlock) w.w2[0 * d + p.channels[c]] = p.plantGain[c];
    if (l === p.fadeBlock) w.w2[1 * d + p.channels[c]] = p.fadeGain[c];
  }
}

function lazyArray<T>(n: number, make: (i: number) => T): T[] {
  const a: T[] = new Array<T>(n);
  for (let i = 0; i < n; i++) Object.defineProperty(a, i, { get: () => make(i), enumerable: true });
  return a;
}

export function makeSpec(o: SpecOptions): Spec {
  const r = rng(o.seed ?? 7);
  const d = o.d ?? 64;
  const L = o.layers ?? 6;
  const heads = o.heads ?? 4;
  const kvHeads = o.arch === 'llama' ? (o.kvHeads ?? 2) : heads;
  const hd = d / heads;
  const kvd = kvHeads * hd;
  const ffn = o.ffn ?? 4 * d;
  const vocab = o.vocab ?? 64;
  const maxPos = o.maxPos ?? 512;
  const hasBias = o.arch !== 'llama';
  const channels = o.channels ?? [7, 42];
  const values = o.values ?? [2000, -1500];
  const markerChannel = 3;
  const constChannel = 5;
  const protectedCh = new Set([channels[0], channels[1], markerChannel, constChannel]);
  const plantBlock = o.plantBlock ?? 1;
  const fadeBlock = L - 1;
  const sinkBlocks = Array.from({ length: L }, (_, i) => i).filter((i) => i > plantBlock && i < fadeBlock);
  const markerIds = o.markerIds ?? [1, 3];
  const gated = o.arch === 'llama';

  // Ordinary activations: std 0.3, so the median |a| stays well below 1.
  const embed = randn(r, vocab * d, 0.3);
  const pos = randn(r, maxPos * d, o.arch === 'llama' ? 0 : 0.05);
  for (let t = 0; t < vocab; t++) {
    for (const c of protectedCh) embed[t * d + c] = 0;
    embed[t * d + constChannel] = 1;
    if (markerIds.includes(t)) embed[t * d + markerChannel] = 60;
  }
  for (let p = 0; p < maxPos; p++) for (const c of protectedCh) pos[p * d + c] = 0;

  const planted: Planted = {
    plantBlock, fadeBlock, channels, values, markerIds, sinkBlocks, markerChannel, constChannel,
    // Its activation on a marker token is about 6 (gelu(1.5·8−6)) or silu(12)·8 ≈ 96; the exact
    // value does not matter: plantedSpec calibrates these with the reference pass.
    plantGain: [values[0] / (gated ? 96 : 6), values[1] / (gated ? 96 : 6)],
    fadeGain: [(-0.95 * values[0]) / (gated ? 5.3 * 5.6 : 3.6), (-0.95 * values[1]) / (gated ? 5.3 * 5.6 : 3.6)],
  };
  const dims = { d, kvd, ffn, heads, kvHeads, hd, hasBias, gated };
  const layerAt = (l: number, lr: Rng): LayerWeights => {
    const w = randomLayer(lr, dims);
    protect(w, protectedCh, dims);
    plantInto(w, l, planted, dims);
    return w;
  };
  // Lazy specs make each block's weights when asked (from a per-block seed), so a billion-parameter
  // spec never holds more than one block; eager specs keep the historical single random stream.
  const layer: LayerWeights[] = o.lazy
    ? lazyArray(L, (l) => layerAt(l, rng((o.seed ?? 7) * 1_000_003 + l + 1)))
    : Array.from({ length: L }, (_, l) => layerAt(l, r));

  const lmHead = new Float64Array(d * vocab);
  // Untied and scaled down so next-token distributions (and perplexities) stay in a readable range.
  for (let t = 0; t < vocab; t++) for (let c = 0; c < d; c++) lmHead[c * vocab + t] = 0.1 * embed[t * d + c];

  let vit: Spec['vit'];
  if (o.arch === 'vit') {
    const v = o.vit ?? { channels: 3, image: 32, patch: 8, registers: 4 };
    const patchW = randn(r, d * v.channels * v.patch * v.patch, 0.3 / Math.sqrt(v.channels * v.patch * v.patch));
    const patchB = randn(r, d, 0.02);
    for (const c of protectedCh) { for (let i = 0; i < v.channels * v.patch * v.patch; i++) patchW[c * v.channels * v.patch * v.patch + i] = 0; patchB[c] = 0; }
    patchB[constChannel] = 1;
    const cls = randn(r, d, 0.3);
    const reg = randn(r, v.registers * d, 0.3);
    for (const c of protectedCh) { cls[c] = 0; for (let k = 0; k < v.registers; k++) reg[k * d + c] = 0; }
    cls[constChannel] = 1;
    for (let k = 0; k < v.registers; k++) { reg[k * d + constChannel] = 1; reg[k * d + markerChannel] = 60; }
    vit = { ...v, patchW, patchB, cls, reg };
  }

  // Hybrid parts come from their own stream, so every other weight is what the plain model has.
  const hr = rng((o.seed ?? 7) * 7919 + 13);
  const mixers = o.layout?.map((k) => (k === 'attention' ? undefined : makeMixer(k, hr, d, protectedCh)));
  const cross = o.cross
    ? Array.from({ length: L }, (_, l) => makeCross(hr, d, heads, protectedCh, { on: sinkBlocks.includes(l), constChannel, keyChannel: channels[0] }))
    : undefined;
  let audio: Spec['audio'];
  if (o.audioBins) {
    const bins = o.audioBins;
    const w = Float64Array.from({ length: d * bins * 3 }, () => hr.normal() * 0.3 / Math.sqrt(bins * 3));
    const b = Float64Array.from({ length: d }, () => hr.normal() * 0.02);
    for (const c of protectedCh) { for (let k = 0; k < bins * 3; k++) w[c * bins * 3 + k] = 0; b[c] = 0; }
    // The marker channel reads bin 0 at the frame itself; the constant channel is a bias.
    w[markerChannel * bins * 3 + 0 * 3 + 1] = 60;
    b[constChannel] = 1;
    audio = { bins, w, b };
  }
  const moe = o.moeBlocks && Array.from({ length: L }, (_, l) => (o.moeBlocks!.includes(l) ? makeMoe(hr, d, ffn, protectedCh) : undefined));

  return {
    arch: o.arch, vocab, d, layers: L, heads, kvHeads, ffn, maxPos, eps: 1e-5, embed, pos, layer,
    lnfG: Float64Array.from({ length: d }, () => 1), lnfB: new Float64Array(d), lmHead, vit,
    planted, lazy: o.lazy ?? false, mixers, moe, cross, audio,
  };
}
