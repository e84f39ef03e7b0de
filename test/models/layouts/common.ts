import { DT } from '../../../src/engine/model/onnx/dtype';
import type { GraphBuilder } from '../graphBuilder';
import type { Spec } from '../spec';

/** Pieces shared by the layout writers, each written the way torch.onnx (TorchScript) emits it. */

export function f32(a: Float64Array): Float32Array { return Float32Array.from(a); }

/** torch.nn.LayerNorm at opset ≥ 17: one node. */
export function layerNorm(b: GraphBuilder, x: string, g: string, beta: string, eps: number): string {
  return b.o('LayerNormalization', [x, g, beta], { axis: -1, epsilon: { float: eps } });
}

/** HF LlamaRMSNorm as exported: variance in fp32, rsqrt, scale, cast back. */
export function rmsNorm(b: GraphBuilder, x: string, g: string, eps: number): string {
  const fp16 = b.floatType === DT.FLOAT16;
  const xf = fp16 ? b.o('Cast', [x], { to: DT.FLOAT }) : x;
  const two = fp16 ? f32Scalar(b, 2) : b.scalar(2);
  const pow = b.o('Pow', [xf, two]);
  const mean = b.o('ReduceMean', [pow], { axes: [-1], keepdims: 1 });
  const add = b.o('Add', [mean, fp16 ? f32Scalar(b, eps) : b.scalar(eps)]);
  const sqrt = b.o('Sqrt', [add]);
  const inv = b.o('Div', [fp16 ? f32Scalar(b, 1) : b.scalar(1), sqrt]);
  const mul = b.o('Mul', [xf, inv]);
  const back = fp16 ? b.o('Cast', [mul], { to: DT.FLOAT16 }) : mul;
  return b.o('Mul', [g, back]);
}

export function f32Scalar(b: GraphBuilder, v: number): string {
  const saved = b.floatType;
  (b as { floatType: number }).floatType = DT.FLOAT;
  const n = b.scalar(v);
  (b as { floatType: number }).floatType = saved;
  return n;
}

/** GPT-2's NewGELU: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function geluTanh(b: GraphBuilder, x: string): string {
  const cube = b.o('Pow', [x, b.scalar(3)]);
  const inner = b.o('Add', [x, b.o('Mul', [b.scalar(0.044715), cube])]);
  const t = b.o('Tanh', [b.o('Mul', [b.scalar(Math.sqrt(2 / Math.PI)), inner])]);
  return b.o('Mul', [b.o('Mul', [b.scalar(0.5), x]), b.o('Add', [b.scalar(1), t])]);
}

export function linear(b: GraphBuilder, x: string, w: string, bias?: string): string {
  const m = b.o('MatMul', [x, w]);
  return bias ? b.o('Add', [bias, m]) : m;
}

/** [B,S,H·hd] → [B,H,S,hd] */
export function splitHeads(b: GraphBuilder, x: string, heads: number, hd: number): string {
  return b.o('Transpose', [b.o('Reshape', [x, b.int64([0, 0, heads, hd])])], { perm: [0, 2, 1, 3] });
}

export function mergeHeads(b: GraphBuilder, x: string, d: number): string {
  return b.o('Reshape', [b.o('Transpose', [x], { perm: [0, 2, 1, 3] }), b.int64([0, 0, d])]);
}

/** Softmax as HF exports it for fp16 models: upcast, softmax, downcast. Returns [probs, back]. */
export function softmax(b: GraphBuilder, scores: string): [string, string] {
  if (b.floatType !== DT.FLOAT16) { const p = b.o('Softmax', [scores], { axis: -1 }); return [p, p]; }
  const up = b.o('Cast', [scores], { to: DT.FLOAT });
  const p = b.o('Softmax', [up], { axis: -1 });
  return [p, b.o('Cast', [p], { to: DT.FLOAT16 })];
}

export function minValue(b: GraphBuilder): number {
  return b.floatType === DT.FLOAT16 ? -65504 : -3.4028234663852886e38;
}

/** Extended attention mask from the int mask [B,T]: (1 − m)·min, shaped [B,1,1,T]. */
export function maskBias(b: GraphBuilder, mask: string): string {
  const m = b.o('Cast', [mask], { to: b.floatType });
  const inv = b.o('Sub', [b.scalar(1), m]);
  const bias = b.o('Mul', [inv, b.scalar(b.floatType === DT.FLOAT16 ? -65504 : -1e9)]);
  return b.o('Unsqueeze', [bias, b.int64([1, 2])]);
}

export function tied(s: Spec): Float32Array { return f32(s.lmHead); }
