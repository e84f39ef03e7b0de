import type { NodeProto } from 'onnx-buf';

/**
 * Where ONNX Runtime's fused (com.microsoft) operators keep their inputs and outputs. Every module
 * that reads or rewrites one of these nodes looks positions up here, so one op's layout cannot be
 * assumed for another's (SkipSimplifiedLayerNormalization has no beta: its bias is input 3, where
 * SkipLayerNormalization's is input 4). Positions follow ONNX Runtime's contrib-op schemas.
 */
export const FUSED_OPS = {
  SkipLayerNormalization: {
    inputs: { input: 0, skip: 1, gamma: 2, beta: 3, bias: 4 },
    outputs: { output: 0, mean: 1, invStdVar: 2, sum: 3 },
  },
  SkipSimplifiedLayerNormalization: {
    inputs: { input: 0, skip: 1, gamma: 2, bias: 3 },
    outputs: { output: 0, mean: 1, invStdVar: 2, sum: 3 },
  },
  MultiHeadAttention: {
    inputs: { query: 0, key: 1, value: 2, bias: 3, keyPaddingMask: 4, attentionBias: 5, pastKey: 6, pastValue: 7 },
    // qk: the scaled, masked scores before softmax.
    outputs: { output: 0, presentKey: 1, presentValue: 2, qk: 3 },
  },
  GroupQueryAttention: {
    inputs: { query: 0, key: 1, value: 2, pastKey: 3, pastValue: 4, seqlensK: 5, totalSequenceLength: 6, cosCache: 7, sinCache: 8 },
    // qk: probabilities when the attribute qk_output = 2 (CPU execution provider).
    outputs: { output: 0, presentKey: 1, presentValue: 2, qk: 3 },
  },
  Attention: {
    inputs: { input: 0, weights: 1, bias: 2, maskIndex: 3, past: 4, attentionBias: 5 },
    outputs: { output: 0, present: 1 },
  },
} as const;

export type FusedOp = keyof typeof FUSED_OPS;

/**
 * ONNX's own Attention (opset 23 on): Q, K, V as tensors (3-D, or 4-D [batch, heads, tokens, head
 * size], grouped heads repeated by the op), and an optional output of the attention matrix whose
 * stage qk_matmul_output_mode picks: 0 the raw Q·Kᵀ, 1 with mask and bias, 2 after the soft cap,
 * 3 after the softmax (the probabilities). Not com.microsoft's Attention, whose input is the stream.
 */
export const ONNX_ATTENTION = {
  inputs: { query: 0, key: 1, value: 2, attnMask: 3, pastKey: 4, pastValue: 5, nonpadKvSeqlen: 6 },
  outputs: { output: 0, presentKey: 1, presentValue: 2, qk: 3 },
  probabilitiesMode: 3,
} as const;

export const isOnnxAttention = (n: NodeProto) => n.opType === 'Attention' && (!n.domain || n.domain === 'ai.onnx');

type Inputs<O extends FusedOp> = keyof (typeof FUSED_OPS)[O]['inputs'];
type Outputs<O extends FusedOp> = keyof (typeof FUSED_OPS)[O]['outputs'];

/** The tensor name at a named input of a fused node ('' when the optional input is absent). */
export function fusedInput<O extends FusedOp>(n: NodeProto, op: O, name: Inputs<O>): string {
  const at = (FUSED_OPS[op].inputs as Record<string, number>)[name as string];
  return n.input[at] ?? '';
}

/** Position of a named output (for surgery that adds an optional output). */
export function fusedOutputSlot<O extends FusedOp>(op: O, name: Outputs<O>): number {
  return (FUSED_OPS[op].outputs as Record<string, number>)[name as string];
}

/** The Skip*LayerNormalization flavours, by the table. */
export const SKIP_NORM_OPS = ['SkipLayerNormalization', 'SkipSimplifiedLayerNormalization'] as const;
export type SkipNormOp = (typeof SKIP_NORM_OPS)[number];
export const isSkipNorm = (n: NodeProto): n is NodeProto & { opType: SkipNormOp } => (SKIP_NORM_OPS as readonly string[]).includes(n.opType);
