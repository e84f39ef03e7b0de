import { create } from '@bufbuild/protobuf';
import { AttributeProtoSchema, AttributeProto_AttributeType, type GraphProto } from 'onnx-buf';
import { DT } from '../../src/engine/model/onnx/dtype';
import { GraphBuilder } from './graphBuilder';
import type { Rng } from './spec';

/**
 * Token mixers that are not softmax attention, and mixture-of-experts MLPs, for the planted test
 * models: their weights, their float64 reference (written from the papers' recurrences, sharing no
 * code with the engine) and their ONNX form as the hybrid exporters write it.
 *
 * - Gated DeltaNet (Qwen3-Next / Qwen3.5 `linear_attn`): in-projections, a causal depthwise Conv
 *   over time, Softplus/Exp/Sigmoid gates, the delta-rule recurrence S ← αS + β(v − αSk)kᵀ as a
 *   Scan inside an If (decode vs prefill), an output gate, the out-projection.
 * - Mamba (selective state space, `mamba`): conv, input-dependent Δ, B, C, h ← exp(ΔA)h + ΔBx as a
 *   Loop, y = Ch + Dx, gated by silu(z).
 * - LFM2 short convolution (`conv`): B, C, x projections, y = C ⊙ conv(B ⊙ x).
 * - MoE: a softmax router, TopK (k = 2) renormalised, SwiGLU experts.
 * Output projections never write the protected channels, so the planted mechanism is unchanged.
 */

export type LayerKind = 'attention' | 'gdn' | 'mamba' | 'conv';

export interface GdnWeights { kind: 'gdn'; heads: number; dk: number; K: number; wqkv: Float64Array; conv: Float64Array; wa: Float64Array; dtBias: Float64Array; aLog: Float64Array; wb: Float64Array; wz: Float64Array; wout: Float64Array }
export interface MambaWeights { kind: 'mamba'; di: number; N: number; K: number; win: Float64Array; conv: Float64Array; wdt: Float64Array; dtBias: Float64Array; wB: Float64Array; wC: Float64Array; aLog: Float64Array; D: Float64Array; wout: Float64Array }
export interface ConvWeights { kind: 'conv'; K: number; win: Float64Array; conv: Float64Array; wout: Float64Array }
export type MixerWeights = GdnWeights | MambaWeights | ConvWeights;
export interface MoeWeights { topK: number; router: Float64Array; experts: { w1: Float64Array; w3: Float64Array; w2: Float64Array }[] }

const randn = (r: Rng, n: number, std: number) => Float64Array.from({ length: n }, () => r.normal() * std);
const silu = (x: number) => x / (1 + Math.exp(-x));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const softplus = (x: number) => Math.log1p(Math.exp(x));

/** [in, out] output projection that leaves the protected channels alone. */
function outProj(r: Rng, rows: number, d: number, protectedCh: Set<number>, std: number): Float64Array {
  const w = randn(r, rows * d, std);
  for (const c of protectedCh) for (let i = 0; i < rows; i++) w[i * d + c] = 0;
  return w;
}

export function makeMixer(kind: Exclude<LayerKind, 'attention'>, r: Rng, d: number, protectedCh: Set<number>): MixerWeights {
  if (kind === 'gdn') {
    const heads = 2, dk = 16, K = 4, qkv = 3 * heads * dk;
    return {
      kind, heads, dk, K, wqkv: randn(r, d * qkv, 1 / Math.sqrt(d)), conv: randn(r, qkv * K, 0.5),
      wa: randn(r, d * heads, 0.3 / Math.sqrt(d)), dtBias: randn(r, heads, 0.2), aLog: randn(r, heads, 0.3),
      wb: randn(r, d * heads, 1 / Math.sqrt(d)), wz: randn(r, d * heads * dk, 1 / Math.sqrt(d)),
      wout: outProj(r, heads * dk, d, protectedCh, 0.5 / Math.sqrt(heads * dk)),
    };
  }
  if (kind === 'mamba') {
    const di = 32, N = 8, K = 4;
    return {
      kind, di, N, K, win: randn(r, d * 2 * di, 1 / Math.sqrt(d)), conv: randn(r, di * K, 0.5),
      wdt: randn(r, di * di, 0.3 / Math.sqrt(di)), dtBias: randn(r, di, 0.3), wB: randn(r, di * N, 1 / Math.sqrt(di)),
      wC: randn(r, di * N, 1 / Math.sqrt(di)), aLog: randn(r, di * N, 0.3), D: randn(r, di, 0.5),
      wout: outProj(r, di, d, protectedCh, 0.5 / Math.sqrt(di)),
    };
  }
  const K = 3;
  return { kind, K, win: randn(r, d * 3 * d, 1 / Math.sqrt(d)), conv: randn(r, d * K, 0.5), wout: outProj(r, d, d, protectedCh, 0.5 / Math.sqrt(d)) };
}

export function makeMoe(r: Rng, d: number, ffn: number, protectedCh: Set<number>, experts = 4): MoeWeights {
  return {
    topK: 2, router: randn(r, d * experts, 1 / Math.sqrt(d)),
    experts: Array.from({ length: experts }, () => ({
      w1: randn(r, d * ffn, 1 / Math.sqrt(d)), w3: randn(r, d * ffn, 1 / Math.sqrt(d)), w2: outProj(r, ffn, d, protectedCh, 0.25 / Math.sqrt(ffn)),
    })),
  };
}

// ── float64 reference ─────────────────────────────────────────────────────────────────────────

function mm(a: Float64Array, T: number, inDim: number, w: Float64Array, outDim: number): Float64Array {
  const out = new Float64Array(T * outDim);
  for (let t = 0; t < T; t++) for (let i = 0; i < inDim; i++) {
    const v = a[t * inDim + i];
    if (v) for (let j = 0; j < outDim; j++) out[t * outDim + j] += v * w[i * outDim + j];
  }
  return out;
}

/** Causal depthwise convolution over time: y[t, c] = Σ_j w[c, j] · x[t − K + 1 + j, c]. */
function causalConv(x: Float64Array, T: number, C: number, w: Float64Array, K: number): Float64Array {
  const y = new Float64Array(T * C);
  for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) {
    let s = 0;
    for (let j = 0; j < K; j++) { const src = t - K + 1 + j; if (src >= 0) s += w[c * K + j] * x[src * C + c]; }
    y[t * C + c] = s;
  }
  return y;
}

/** The mixer's update for the normalised stream `a` [T × d]. */
export function mixerReference(m: MixerWeights, a: Float64Array, T: number, d: number): Float64Array {
  if (m.kind === 'conv') {
    const bcx = mm(a, T, d, m.win, 3 * d);
    const bx = new Float64Array(T * d);
    for (let t = 0; t < T; t++) for (let c = 0; c < d; c++) bx[t * d + c] = bcx[t * 3 * d + c] * bcx[t * 3 * d + 2 * d + c];
    const conv = causalConv(bx, T, d, m.conv, m.K);
    const y = new Float64Array(T * d);
    for (let t = 0; t < T; t++) for (let c = 0; c < d; c++) y[t * d + c] = bcx[t * 3 * d + d + c] * conv[t * d + c];
    return mm(y, T, d, m.wout, d);
  }
  if (m.kind === 'gdn') {
    const { heads: H, dk, K } = m;
    const C = 3 * H * dk;
    const qkv = causalConv(mm(a, T, d, m.wqkv, C), T, C, m.conv, K).map(silu);
    const ga = mm(a, T, d, m.wa, H);
    const gb = mm(a, T, d, m.wb, H);
    const z = mm(a, T, d, m.wz, H * dk);
    const S = new Float64Array(H * dk * dk); // [H, dv, dk]
    const o = new Float64Array(T * H * dk);
    for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) {
      const q = (e: number) => qkv[t * C + h * dk + e] / Math.sqrt(dk);
      const k = (e: number) => qkv[t * C + H * dk + h * dk + e];
      const v = (e: number) => qkv[t * C + 2 * H * dk + h * dk + e];
      const alpha = Math.exp(-Math.exp(m.aLog[h]) * softplus(ga[t * H + h] + m.dtBias[h]));
      const beta = sigmoid(gb[t * H + h]);
      for (let i = 0; i < dk; i++) {
        let sk = 0;
        for (let j = 0; j < dk; j++) sk += S[(h * dk + i) * dk + j] * k(j);
        const delta = beta * (v(i) - alpha * sk);
        for (let j = 0; j < dk; j++) S[(h * dk + i) * dk + j] = alpha * S[(h * dk + i) * dk + j] + delta * k(j);
      }
      for (let i = 0; i < dk; i++) {
        let s = 0;
        for (let j = 0; j < dk; j++) s += S[(h * dk + i) * dk + j] * q(j);
        o[t * H * dk + h * dk + i] = s * silu(z[t * H * dk + h * dk + i]);
      }
    }
    return mm(o, T, H * dk, m.wout, d);
  }
  const { di, N, K } = m;
  const xz = mm(a, T, d, m.win, 2 * di);
  const xin = new Float64Array(T * di);
  for (let t = 0; t < T; t++) for (let c = 0; c < di; c++) xin[t * di + c] = xz[t * 2 * di + c];
  const xc = causalConv(xin, T, di, m.conv, K).map(silu);
  const dt = mm(xc, T, di, m.wdt, di).map((v, i) => softplus(v + m.dtBias[i % di]));
  const B = mm(xc, T, di, m.wB, N);
  const Cm = mm(xc, T, di, m.wC, N);
  const h = new Float64Array(di * N);
  const y = new Float64Array(T * di);
  for (let t = 0; t < T; t++) for (let c = 0; c < di; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) {
      const A = -Math.exp(m.aLog[c * N + n]);
      h[c * N + n] = Math.exp(dt[t * di + c] * A) * h[c * N + n] + dt[t * di + c] * xc[t * di + c] * B[t * N + n];
      s += h[c * N + n] * Cm[t * N + n];
    }
    y[t * di + c] = (s + m.D[c] * xc[t * di + c]) * silu(xz[t * 2 * di + di + c]);
  }
  return mm(y, T, di, m.wout, d);
}

/** Router softmax, top-k renormalised, SwiGLU experts: the MLP update for one token's normalised input. */
export function moeReference(e: MoeWeights, m: Float64Array, d: number, ffn: number): Float64Array {
  const E = e.experts.length;
  const logits = mm(m, 1, d, e.router, E);
  const mx = Math.max(...logits);
  const p = Array.from(logits, (v) => Math.exp(v - mx));
  const z = p.reduce((a, b) => a + b, 0);
  const order = p.map((v, i) => [v / z, i] as const).sort((a, b) => b[0] - a[0]).slice(0, e.topK);
  const norm = order.reduce((a, [v]) => a + v, 0);
  const out = new Float64Array(d);
  for (const [w, i] of order) {
    const ex = e.experts[i];
    const g = mm(m, 1, d, ex.w1, ffn);
    const u = mm(m, 1, d, ex.w3, ffn);
    const act = g.map((v, n) => silu(v) * u[n]);
    const o = mm(act, 1, ffn, ex.w2, d);
    for (let c = 0; c < d; c++) out[c] += (w / norm) * o[c];
  }
  return out;
}

// ── ONNX ──────────────────────────────────────────────────────────────────────────────────────

const f32 = (a: Float64Array) => Float32Array.from(a);

function graphAttr(name: string, g: GraphProto) {
  return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.GRAPH, g });
}

/** A node with subgraph attributes (Scan, Loop, If), written with the builder's naming. */
function withGraphs(
  b: GraphBuilder, opType: string, inputs: string[], outputs: number, graphs: Record<string, GraphProto>, attrs: Record<string, number | number[]> = {},
): string[] {
  const outs = b.op(opType, inputs, attrs, { outputs });
  const node = b.nodes[b.nodes.length - 1];
  for (const [k, g] of Object.entries(graphs)) node.attribute.push(graphAttr(k, g));
  return outs;
}

/** Causal depthwise Conv over the sequence of [1, T, C]: transpose, pad left K−1, Conv(group C), transpose back. */
/** Causal depthwise convolution over time of [1, T, C], then `silu` where asked. */
function convOverTime(b: GraphBuilder, x: string, name: string, C: number, K: number, w: Float64Array, silu = false): string {
  const xt = b.o('Transpose', [x], { perm: [0, 2, 1] });
  const weight = b.weight(name, [C, 1, K], f32(w));
  if (b.fusedMixers) {
    // [B, C, L] with an empty past state: zeros before the first step, as the Pad below gives.
    const [conv] = b.op('CausalConvWithState', [xt, weight], { activation: silu ? 'silu' : 'none', ndim: 1 }, { outputs: 2, domain: 'com.microsoft' });
    return b.o('Transpose', [conv], { perm: [0, 2, 1] });
  }
  const padded = b.o('Pad', [xt, b.int64([0, 0, K - 1, 0, 0, 0])]);
  const conv = b.o('Conv', [padded, weight], { group: C, kernel_shape: [K] });
  const y = b.o('Transpose', [conv], { perm: [0, 2, 1] });
  return silu ? siluOf(b, y) : y;
}

const siluOf = (b: GraphBuilder, x: string) => b.o('Mul', [x, b.o('Sigmoid', [x])]);

/** Writes the mixer for normalised input `a` [1, T, d]; returns its update [1, T, d]. */
export function writeMixer(b: GraphBuilder, m: MixerWeights, a: string, P: string, d: number): string {
  if (m.kind === 'conv') {
    return b.scope('conv', () => {
      const bcx = b.scope('in_proj', () => b.o('MatMul', [a, b.weight(`${P}.conv.in_proj.weight`, [d, 3 * d], f32(m.win))]));
      const [B, C, X] = b.op('Split', [bcx, b.int64([d, d, d])], { axis: 2 }, { outputs: 3 });
      const conv = convOverTime(b, b.o('Mul', [B, X]), `${P}.conv.conv.weight`, d, m.K, m.conv);
      return b.scope('out_proj', () => b.o('MatMul', [b.o('Mul', [C, conv]), b.weight(`${P}.conv.out_proj.weight`, [d, d], f32(m.wout))]));
    });
  }
  if (m.kind === 'gdn') return b.scope('linear_attn', () => writeGdn(b, m, a, P, d));
  return b.scope('mamba', () => writeMamba(b, m, a, P, d));
}

function writeGdn(b: GraphBuilder, m: GdnWeights, a: string, P: string, d: number): string {
  const { heads: H, dk, K } = m;
  const C = 3 * H * dk;
  const qkv = b.scope('in_proj_qkv', () => b.o('MatMul', [a, b.weight(`${P}.linear_attn.in_proj_qkv.weight`, [d, C], f32(m.wqkv))]));
  const mixed = convOverTime(b, qkv, `${P}.linear_attn.conv1d.weight`, C, K, m.conv, true);
  const [q0, k0, v0] = b.op('Split', [mixed, b.int64([H * dk, H * dk, H * dk])], { axis: 2 }, { outputs: 3 });
  const gate = () => b.o('Mul', [b.o('Softplus', [b.o('Add', [ga, b.weight(`${P}.linear_attn.dt_bias`, [H], f32(m.dtBias))])]), b.o('Neg', [b.o('Exp', [b.weight(`${P}.linear_attn.A_log`, [H], f32(m.aLog))])])]);
  const ga = b.scope('in_proj_a', () => b.o('MatMul', [a, b.weight(`${P}.linear_attn.in_proj_a.weight`, [d, H], f32(m.wa))]));
  const betaOf = () => b.o('Sigmoid', [b.scope('in_proj_b', () => b.o('MatMul', [a, b.weight(`${P}.linear_attn.in_proj_b.weight`, [d, H], f32(m.wb))]))]);
  const z = () => b.scope('in_proj_z', () => b.o('MatMul', [a, b.weight(`${P}.linear_attn.in_proj_z.weight`, [d, H * dk], f32(m.wz))]));
  const outOf = (o: string) => b.scope('out_proj', () => b.o('MatMul', [b.o('Mul', [o, siluOf(b, z())]), b.weight(`${P}.linear_attn.out_proj.weight`, [H * dk, d], f32(m.wout))]));
  if (b.fusedMixers) {
    // Packed heads [1, T, H·dk]; the log-decay g and β per head [1, T, H]; no past state (it starts at zero).
    const [o] = b.op('LinearAttention', [q0, k0, v0, '', gate(), betaOf()],
      { q_num_heads: H, kv_num_heads: H, update_rule: 'gated_delta', scale: { float: 1 / Math.sqrt(dk) } }, { outputs: 2, domain: 'com.microsoft' });
    return outOf(o);
  }
  const heads = (t: string) => b.o('Reshape', [t, b.int64([-1, H, dk])]);
  const q = b.o('Mul', [heads(q0), b.scalar(1 / Math.sqrt(dk))]);
  const k = heads(k0);
  const v = heads(v0);
  const perStep = (t: string) => b.o('Reshape', [t, b.int64([-1, H])]);
  const alpha = perStep(b.o('Exp', [gate()]));
  const beta = perStep(betaOf());
  const s0 = b.weight(`${P}.linear_attn.initial_state`, [H, dk, dk], new Float32Array(H * dk * dk));
  // Prefill and decode share the recurrence here; real exports put a chunked form in one branch.
  const branch = (tag: string) => {
    const sb = new GraphBuilder(DT.FLOAT);
    const o = sb.scope(tag, () => {
      const [S, o] = withGraphs(sb, 'Scan', [s0, q, k, v, alpha, beta], 2, { body: deltaRuleBody(H, dk) }, { num_scan_inputs: 5 });
      void S;
      return o;
    });
    sb.output(o, DT.FLOAT, ['steps', H, dk]);
    return sb.graph(`${tag}_branch`);
  };
  const len = b.o('Gather', [b.o('Shape', [a]), b.int64([1], [])], { axis: 0 });
  const isDecode = b.o('Equal', [len, b.int64([1], [])]);
  const [o] = withGraphs(b, 'If', [isDecode], 1, { then_branch: branch('decode'), else_branch: branch('prefill') });
  return outOf(b.o('Reshape', [o, b.int64([1, -1, H * dk])]));
}

/** One delta-rule step: S' = αS + β(v − αSk)kᵀ, o = S'q, per head. */
function deltaRuleBody(H: number, dk: number): GraphProto {
  const sb = new GraphBuilder(DT.FLOAT);
  const S = sb.input('S', DT.FLOAT, [H, dk, dk]);
  const q = sb.input('q_t', DT.FLOAT, [H, dk]);
  const k = sb.input('k_t', DT.FLOAT, [H, dk]);
  const v = sb.input('v_t', DT.FLOAT, [H, dk]);
  const alpha = sb.input('alpha_t', DT.FLOAT, [H]);
  const beta = sb.input('beta_t', DT.FLOAT, [H]);
  const col = (t: string) => sb.o('Unsqueeze', [t, sb.int64([2])]);
  const row = (t: string) => sb.o('Unsqueeze', [t, sb.int64([1])]);
  const sk = sb.o('Squeeze', [sb.o('MatMul', [S, col(k)]), sb.int64([2])]);
  const a2 = row(alpha);
  const delta = sb.o('Mul', [row(beta), sb.o('Sub', [v, sb.o('Mul', [a2, sk])])]);
  const next = sb.o('Add', [sb.o('Mul', [sb.o('Unsqueeze', [alpha, sb.int64([1, 2])]), S]), sb.o('MatMul', [col(delta), row(k)])]);
  const o = sb.o('Squeeze', [sb.o('MatMul', [next, col(q)]), sb.int64([2])]);
  const nextOut = sb.o('Identity', [next]);
  sb.output(nextOut, DT.FLOAT, [H, dk, dk]);
  sb.output(o, DT.FLOAT, [H, dk]);
  return sb.graph('delta_rule_step');
}

function writeMamba(b: GraphBuilder, m: MambaWeights, a: string, P: string, d: number): string {
  const { di, N, K } = m;
  const xz = b.scope('in_proj', () => b.o('MatMul', [a, b.weight(`${P}.mamba.in_proj.weight`, [d, 2 * di], f32(m.win))]));
  const [x, z] = b.op('Split', [xz, b.int64([di, di])], { axis: 2 }, { outputs: 2 });
  const xc = siluOf(b, convOverTime(b, x, `${P}.mamba.conv1d.weight`, di, K, m.conv));
  const dt = b.o('Softplus', [b.o('Add', [b.scope('dt_proj', () => b.o('MatMul', [xc, b.weight(`${P}.mamba.dt_proj.weight`, [di, di], f32(m.wdt))])), b.weight(`${P}.mamba.dt_proj.bias`, [di], f32(m.dtBias))])]);
  const B = b.o('MatMul', [xc, b.weight(`${P}.mamba.B_proj.weight`, [di, N], f32(m.wB))]);
  const C = b.o('MatMul', [xc, b.weight(`${P}.mamba.C_proj.weight`, [di, N], f32(m.wC))]);
  const A = b.o('Neg', [b.o('Exp', [b.weight(`${P}.mamba.A_log`, [di, N], f32(m.aLog))])]);
  // Per step t: dA = exp(Δ_t ⊗ A), dBx = (Δ_t ⊙ x_t) ⊗ B_t, both [T, di, N]; the Loop carries h.
  const squeeze = (t: string) => b.o('Squeeze', [t, b.int64([0])]);
  const dA = b.o('Exp', [b.o('Mul', [b.o('Unsqueeze', [squeeze(dt), b.int64([2])]), A])]);
  const dBx = b.o('Mul', [b.o('Unsqueeze', [b.o('Mul', [squeeze(dt), squeeze(xc)]), b.int64([2])]), b.o('Unsqueeze', [squeeze(B), b.int64([1])])]);
  const Cs = squeeze(C);
  const steps = b.o('Gather', [b.o('Shape', [a]), b.int64([1], [])], { axis: 0 });
  const h0 = b.weight(`${P}.mamba.initial_state`, [di, N], new Float32Array(di * N));
  const body = new GraphBuilder(DT.FLOAT);
  const iter = body.input('iteration', DT.INT64, []);
  const cond = body.input('cond_in', DT.BOOL, []);
  const h = body.input('h', DT.FLOAT, [di, N]);
  const at = (t: string) => body.o('Gather', [t, iter], { axis: 0 });
  const hNext = body.o('Add', [body.o('Mul', [at(dA), h]), at(dBx)]);
  const y = body.o('ReduceSum', [body.o('Mul', [hNext, body.o('Unsqueeze', [at(Cs), body.int64([0])])]), body.int64([1])], { keepdims: 0 });
  const condOut = body.o('Identity', [cond]);
  body.output(condOut, DT.BOOL, []);
  body.output(hNext, DT.FLOAT, [di, N]);
  body.output(y, DT.FLOAT, [di]);
  const [, ys] = withGraphs(b, 'Loop', [steps, '', h0], 2, { body: body.graph('selective_scan_step') });
  // The Loop has no cond input: it runs `steps` times.
  const yAll = b.o('Add', [b.o('Unsqueeze', [ys, b.int64([0])]), b.o('Mul', [xc, b.weight(`${P}.mamba.D`, [di], f32(m.D))])]);
  const gated = b.o('Mul', [yAll, siluOf(b, z)]);
  return b.scope('out_proj', () => b.o('MatMul', [gated, b.weight(`${P}.mamba.out_proj.weight`, [di, d], f32(m.wout))]));
}

/** The MoE MLP for normalised input `m` [1, T, d]: router, TopK, per-expert SwiGLU, weighted sum. */
export function writeMoe(b: GraphBuilder, e: MoeWeights, m: string, P: string, d: number, ffn: number): string {
  const E = e.experts.length;
  return b.scope('block_sparse_moe', () => {
    const probs = b.o('Softmax', [b.scope('gate', () => b.o('MatMul', [m, b.weight(`${P}.block_sparse_moe.gate.weight`, [d, E], f32(e.router))]))], { axis: -1 });
    const [vals, idx] = b.op('TopK', [probs, b.int64([e.topK])], { axis: -1 }, { outputs: 2 });
    const norm = b.o('Div', [vals, b.o('ReduceSum', [vals, b.int64([-1])], { keepdims: 1 })]);
    const weights = b.o('ScatterElements', [b.o('Mul', [probs, b.scalar(0)]), idx, norm], { axis: -1 });
    let out: string | undefined;
    e.experts.forEach((ex, i) => {
      const o = b.scope(`experts.${i}`, () => {
        const gate = b.o('MatMul', [m, b.weight(`${P}.block_sparse_moe.experts.${i}.w1.weight`, [d, ffn], f32(ex.w1))]);
        const up = b.o('MatMul', [m, b.weight(`${P}.block_sparse_moe.experts.${i}.w3.weight`, [d, ffn], f32(ex.w3))]);
        return b.o('MatMul', [b.o('Mul', [siluOf(b, gate), up]), b.weight(`${P}.block_sparse_moe.experts.${i}.w2.weight`, [ffn, d], f32(ex.w2))]);
      });
      const w = b.o('Slice', [weights, b.int64([i]), b.int64([i + 1]), b.int64([-1])]);
      const term = b.o('Mul', [o, w]);
      out = out ? b.o('Add', [out, term]) : term;
    });
    return out!;
  });
}

