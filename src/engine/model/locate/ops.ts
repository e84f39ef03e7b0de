/** Operator families the locator reasons about, by what they do rather than by model. */
export const HEAVY_OPS = new Set([
  'MatMul', 'Gemm', 'Conv', 'MatMulNBits', 'MatMulInteger', 'QLinearMatMul', 'FusedMatMul', 'Einsum',
  'DynamicQuantizeMatMul', 'MatMulIntegerToFloat', 'QAttention', 'Attention', 'MultiHeadAttention',
  'GroupQueryAttention', 'PackedAttention', 'SparseAttention', 'QLinearConv', 'ConvInteger',
]);

export const ATTENTION_OPS = new Set([
  'Attention', 'MultiHeadAttention', 'GroupQueryAttention', 'QAttention', 'PackedAttention', 'SparseAttention',
  'PackedMultiHeadAttention', 'DecoderMaskedMultiHeadAttention', 'DecoderMaskedSelfAttention',
]);


/**
 * Token mixers fused into one operator (com.microsoft, onnxruntime-genai's builder for Qwen3.5 and
 * LFM2; ONNX opset 27 has the first two too), by what they compute.
 */
export const FUSED_MIXER_OPS: Record<string, 'linear-attention' | 'convolution'> = {
  LinearAttention: 'linear-attention',
  CausalConvWithState: 'convolution',
};

/** Ops a normalisation is built from; used to find where a post-norm ends. */
export const NORM_OPS = new Set([
  'LayerNormalization', 'SimplifiedLayerNormalization', 'BatchNormalization', 'RMSNormalization', 'GroupNormalization',
  'ReduceMean', 'ReduceSum', 'Sub', 'Pow', 'Sqrt', 'Div', 'Reciprocal', 'Mul', 'Add', 'Cast', 'Identity',
]);

/** Ops that pass a tensor through unchanged in value. */
export const PASS_OPS = new Set(['Cast', 'Identity', 'Dropout']);

/**
 * Ops that give the same values another shape. A stream may pass through one between blocks
 * (rewrites for a device reshape it to [1, 1, 1, d] at every layer's start).
 */
export const VIEW_OPS = new Set(['Reshape', 'Squeeze', 'Unsqueeze', 'Flatten']);
