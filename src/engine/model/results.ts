import type { ModelInfo } from './inspect';
import type { MixerKind, MlpKind } from './locate/types';
import type { Activation, NonFinite, Thresholds } from '../measure/stats';

export interface TokenInfo { index: number; id: number | null; text: string }

/*
 * One word for one thing: a block is one residual unit (a token mixer and its MLP). The JSON
 * fields users already parse keep the older word ("layers", "layer", "firstLayer", --layer): they
 * are the documented interface; names in the code say block.
 */

export interface BlockResult {
  index: number;
  /** What mixes the tokens in this block, and its channel-mixing part. */
  mixer: MixerKind;
  mlp: MlpKind;
  /** Name of the stream tensor read for this block. */
  tensor: string;
  median: number;
  top: Activation[];
  /** |top-1| / median; null when that is not a number (median 0, or no finite value). */
  ratio: number | null;
  /** NaN / ±Inf entries of the block's output (count 0 for a healthy block). */
  nonFinite: NonFinite;
  massive: Activation[];
  massiveTruncated: boolean;
  maxPerToken: number[];
  /** Channels whose max |a| stands out, as (channel, max) — the full per-channel vector is large. */
  topChannels: { channel: number; max: number }[];
}

export interface AttentionResult {
  layer: number;
  heads: number;
  /** Mean share of attention landing on the massive-activation tokens (null: not readable). */
  massiveTokenShare: number | null;
  perHeadShare: number[];
  sinkScores: number[];
  source: 'softmax' | 'mha-qk' | 'gqa-probs' | 'onnx-probs' | 'unavailable';
  /** Why there is nothing to read, in a sentence (a block without softmax attention, a fused op). */
  note?: string;
  /** Cross-attention heads of this block (decoder of an encoder-decoder), kept apart from the shares above. */
  crossHeads?: number;
  /** Their mean share of attention on the encoder's massive-activation tokens (seq2seq scans). */
  crossShare?: number | null;
}

export interface ScanResult {
  model: ModelInfo;
  tokens: TokenInfo[];
  layers: BlockResult[];
  attention: AttentionResult[];
  /** Token positions carrying a massive activation in any block. */
  massiveTokens: number[];
  /** Channels carrying a massive activation in any block. */
  massiveChannels: number[];
  /** Where each token sits: first / first-delimiter / delimiter / other, or cls / register / patch. */
  tokenKinds: string[];
  /** LLM.int8()-style outlier features (|x| ≥ 6 in ≥ 25% of blocks and ≥ 6% of positions). */
  outlierFeatures: { channel: number; layers: number; maxAbs: number }[];
  settings: { thresholds: Thresholds; topK: number };
  input: { kind: 'text' | 'ids' | 'image' | 'synthetic' | 'feed'; tokenizer: string | null; note?: string };
  timing: { loadMs: number; runMs: number; statsMs: number };
  /** Where NaN or ±Inf first appear; null when every block is finite. A scan with them is not valid. */
  nonFinite: { firstLayer: number; tensor: string; count: number; layers: number } | null;
  /** What makes these results doubtful, in sentences. */
  warnings: string[];
  /** Set when the scan was stopped: `layers` holds the blocks measured before, `total` the model's. */
  cancelled?: { measured: number; total: number };
  /** Encoder-decoders: both stacks, encoder first (`layers` and `tokens` above are the encoder's). */
  stacks?: StackResult[];
}

export interface StackResult {
  name: 'encoder' | 'decoder';
  file: string;
  tokens: TokenInfo[];
  layers: BlockResult[];
  attention: AttentionResult[];
  massiveTokens: number[];
  massiveChannels: number[];
}

export interface Progress {
  stage: 'load' | 'session' | 'run' | 'stats' | 'download'; message: string; done?: number; total?: number;
  /** A scan's block, as soon as its segment has run (see run/segments/). */
  layer?: BlockResult;
  /**
   * With a scan's first block: what the blocks are measured on. A front end that stops the scan
   * keeps the blocks measured so far as a result of their own (see ScanResult.cancelled).
   */
  start?: Pick<ScanResult, 'model' | 'tokens' | 'tokenKinds' | 'input' | 'settings'>;
}
