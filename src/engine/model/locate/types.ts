import type { GraphIndex } from '../onnx/graph';

/** One update of the residual stream: x ← x + f(x), possibly inside a fused norm. */
export interface ResidualPoint {
  /** Index of the node that performs the addition. */
  nodeIndex: number;
  /** Tensor holding the stream after this update. May not exist yet (see `fusedOutput`). */
  tensor: string;
  /** Set when the sum is output 3 of a Skip*LayerNormalization that the graph does not emit. */
  fusedOutput?: { nodeIndex: number; slot: 3 };
  /** How the update branch mixes tokens, when it does (attention, a recurrence, a convolution over time). */
  mixer?: MixerKind;
  /** Attention whose keys and values come from elsewhere (an encoder): part of the block before it. */
  cross?: boolean;
  /** Node indices of the update branch (everything between the previous stream and this sum). */
  branch: Set<number>;
  /** The tensor the branch started from (the skip input). */
  skip: string;
  /** Fused sums while locating: the other addend, from which the branch is traced. */
  update?: string;
}

export type AttentionKind = 'softmax' | 'mha-qk' | 'gqa-probs' | 'onnx-probs' | 'unavailable';

/**
 * What mixes the tokens in a block: softmax attention (decomposed or fused, gated or not), linear
 * attention (Gated DeltaNet, GLA, RetNet: a recurrence over a matrix state), a state-space model
 * (Mamba), another recurrence (RWKV, RG-LRU), or a causal convolution over the sequence (LFM2).
 */
export type MixerKind = 'attention' | 'linear-attention' | 'state-space' | 'recurrent' | 'convolution';

/** The channel-mixing part: an ordinary MLP, a mixture of experts, or none. */
export type MlpKind = 'dense' | 'moe' | 'none';

export interface AttentionLocation {
  kind: AttentionKind;
  /** Node that computes attention (Softmax, MultiHeadAttention, GroupQueryAttention, Attention). */
  nodeIndex: number;
  nodeName: string;
  /** Tensor to expose: probabilities (softmax, gqa, onnx) or pre-softmax scores (mha-qk). */
  tensor?: string;
  heads?: number;
  /** Why probabilities cannot be read here. */
  note?: string;
  /** Unfused attention only: the scores entering the softmax (the attention logits). */
  logits?: string;
  /** Unfused attention only: V, the right operand of the probabilities·V product, [B, H, keys, hd]. */
  values?: string;
  /** The output projection's weight initializer ([in, out] MatMul operand), when found. */
  outProj?: string;
  /** Cross-attention: keys are another sequence's tokens (an encoder's), not this stream's. */
  cross?: boolean;
}

/** The MLP's down projection: its input (the hidden activation) and weight ([ffn, d]). */
export interface DownProjection { input: string; weight: string; node: string }

export interface BlockLocation {
  index: number;
  mixer: MixerKind;
  mlp: MlpKind;
  /** Residual stream after the block. */
  output: string;
  /** The point that produces it (fused outputs need surgery to appear). */
  point: ResidualPoint;
  /** Post-norm blocks: the stream after the block is the norm output, not the sum. */
  postNormFrom?: string;
  attention: AttentionLocation[];
  mlpDown?: DownProjection;
  scope?: string;
}

export interface Location {
  matcher: string;
  blocks: BlockLocation[];
  postNorm: boolean;
  warnings: string[];
}

/** A strategy for finding blocks. Matchers are tried in registry order; the first that finds blocks wins. */
export interface BlockMatcher {
  name: string;
  /** Returns undefined when this matcher does not apply to the graph. */
  match(g: GraphIndex): Location | undefined;
}
