import { NodeProtoSchema, ValueInfoProtoSchema, type ModelProto } from 'onnx-buf';
import { create } from '@bufbuild/protobuf';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { DT } from '../../src/engine/model/onnx/dtype';
import { ExternalDataSink, GraphBuilder, makeModel, quantizeBlocks4, quantizeColumns, writeModel } from './graphBuilder';
import { fusedGpt2Model } from './layouts/fused';
import { gpt2Model } from './layouts/gpt2';
import { llamaModel } from './layouts/llama';
import { oneTokenLlama } from './layouts/oneToken';
import { vitModel } from './layouts/vit';
import { readLlama2c } from './llama2c';
import { plantedSpec } from './planted';
import { rng, writeGains, type Spec } from './spec';
import { tokenizerConfig, tokenizerJson, vocabulary } from './tokenizer';

/** Writes the test models, each in its own folder as `model.onnx` (+ tokenizer for text models). */
export interface BuiltModel { name: string; file: string; spec: Spec; kind: 'text' | 'vision' }

function emit(root: string, name: string, spec: Spec, model: ModelProto, opts: { kind?: 'text' | 'vision'; tokenizer?: boolean; externalData?: Parameters<typeof writeModel>[2] } = {}): BuiltModel {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'model.onnx');
  writeModel(model, file, opts.externalData);
  if (opts.tokenizer ?? true) {
    writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
    writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig()));
  }
  return { name, file, spec, kind: opts.kind ?? 'text' };
}

export function textSpec(arch: 'gpt2' | 'llama', seed = 7, layers?: number): Spec {
  return plantedSpec({ arch, vocab: vocabulary().length, seed, layers });
}

/**
 * A GPT-2-small-wide planted model (width 768, 4 blocks) whose massive activations sit in two
 * channels far apart, 377 and 761: the map must show both columns.
 */
export const WIDE_CHANNELS: [number, number] = [377, 761];
export function buildWide(root: string, name = 'gpt2-wide'): BuiltModel {
  const spec = plantedSpec({ arch: 'gpt2', vocab: vocabulary().length, d: 768, layers: 4, heads: 12, ffn: 1024, seed: 9, channels: WIDE_CHANNELS });
  return emit(root, name, spec, gpt2Model(spec));
}

/** The planted GPT-2 (TorchScript layout) with its tokenizer: the demo model. */
export function buildGpt2(root: string, name = 'gpt2-planted', opts: { transform?: (m: ModelProto) => void } = {}): BuiltModel {
  const spec = textSpec('gpt2');
  const model = gpt2Model(spec);
  opts.transform?.(model);
  return emit(root, name, spec, model);
}

export function buildLlama(
  root: string, name = 'llama-planted',
  opts: {
    fp16?: boolean; qdq?: boolean; onnx23?: boolean; layers?: number;
    externalData?: Parameters<typeof writeModel>[2]; transform?: (m: ModelProto) => void;
  } = {},
): BuiltModel {
  const spec = opts.qdq ? quantizedSpec(textSpec('llama', 7, opts.layers)) : textSpec('llama', 7, opts.layers);
  const model = llamaModel(spec, opts.fp16 ? DT.FLOAT16 : DT.FLOAT, { qdq: opts.qdq, onnx23: opts.onnx23 });
  opts.transform?.(model);
  return emit(root, name, spec, model, { externalData: opts.externalData });
}

/** The planted Llama rewritten for a device and exported one token at a time (NNTrainer's layout). */
export function buildOneToken(
  root: string, name = 'llama-one-token',
  opts: { qkNorm?: boolean; externalData?: Parameters<typeof writeModel>[2]; transform?: (m: ModelProto) => void } = {},
): BuiltModel {
  const spec = textSpec('llama');
  const model = oneTokenLlama(spec, { qkNorm: opts.qkNorm });
  opts.transform?.(model);
  return emit(root, name, spec, model, { externalData: opts.externalData });
}

/**
 * The spec with its projection matrices replaced by their int8 round trip, so the reference pass
 * computes exactly what the QDQ graph computes.
 */
function quantizedSpec(s: Spec): Spec {
  const dims = {
    wq: [s.d, s.d], wk: [s.d, s.kvHeads * (s.d / s.heads)], wv: [s.d, s.kvHeads * (s.d / s.heads)], wo: [s.d, s.d],
    w1: [s.d, s.ffn], w3: [s.d, s.ffn], w2: [s.ffn, s.d],
  } as const;
  for (const l of s.layer) for (const [k, [rows, cols]] of Object.entries(dims)) {
    const w = l[k as keyof typeof dims];
    const { q, scale } = quantizeColumns(w, rows, cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) w[i * cols + j] = q[i * cols + j] * scale[j];
  }
  return s;
}

export function buildFused(root: string, name = 'gpt2-fused-planted'): BuiltModel {
  const spec = textSpec('gpt2');
  return emit(root, name, spec, fusedGpt2Model(spec));
}

/**
 * LLaMA as onnxruntime-genai fuses it: every residual sum in a SkipSimplifiedLayerNormalization
 * whose bias input holds the projection bias (non-zero here, so a dropped bias shows).
 */
export function buildFusedLlama(root: string, name = 'llama-skip-simplified'): BuiltModel {
  const spec = textSpec('llama');
  const r = rng(17);
  for (const w of spec.layer) for (const bias of [w.bo, w.b2]) bias.forEach((v, c) => { if (c !== 7 && c !== 42) bias[c] = 0.05 * r.normal(); });
  return emit(root, name, spec, llamaModel(spec, DT.FLOAT, { fusedNorms: true }));
}

/**
 * Hybrid decoders with planted massive activations (the plant sits in block 1, a non-attention
 * block in every layout): Qwen3.5 (Gated DeltaNet ×3 : attention, a MoE MLP in block 5), a
 * Mamba hybrid (Granite-4 / Falcon-H1 style, Loop recurrence) and LFM2 (short convolutions).
 */
export const HYBRID_LAYOUTS = {
  qwen35: { layout: ['gdn', 'gdn', 'gdn', 'attention', 'gdn', 'gdn', 'gdn', 'attention'], moeBlocks: [5] },
  mamba: { layout: ['mamba', 'mamba', 'attention', 'mamba', 'mamba', 'attention'], moeBlocks: [] },
  lfm2: { layout: ['conv', 'conv', 'attention', 'conv', 'conv', 'attention'], moeBlocks: [3] },
} as const;

export function buildHybrid(
  root: string, kind: keyof typeof HYBRID_LAYOUTS,
  opts: { name?: string; fusedNorms?: boolean; fusedMixers?: boolean; transform?: (m: ModelProto) => void } = {},
): BuiltModel {
  const h = HYBRID_LAYOUTS[kind];
  const spec = plantedSpec({ arch: 'llama', vocab: vocabulary().length, seed: 7, layers: h.layout.length, layout: [...h.layout], moeBlocks: [...h.moeBlocks] });
  const model = llamaModel(spec, DT.FLOAT, { fusedNorms: opts.fusedNorms, fusedMixers: opts.fusedMixers });
  opts.transform?.(model);
  return emit(root, opts.name ?? `hybrid-${kind}`, spec, model);
}

function writeTokenizer(dir: string): void {
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig()));
}

export interface FolderModel { dir: string; files: Record<string, string> }

/**
 * An Optimum seq2seq export (T5-style pre-norm blocks): encoder_model.onnx (bidirectional,
 * last_hidden_state) + decoder_model.onnx (self-attention, cross-attention over
 * encoder_hidden_states, MLP), tokenizer and config.json (decoder start token 1). Both stacks are
 * planted; the decoder's middle blocks attend to the encoder's massive tokens.
 */
export function buildSeq2Seq(root: string, name = 't5-planted', opts: { audioBins?: number } = {}): FolderModel & { encoder: Spec; decoder: Spec } {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const vocab = vocabulary().length;
  const encoder = plantedSpec({ arch: 'llama', vocab, seed: 21, audioBins: opts.audioBins });
  const decoder = plantedSpec({ arch: 'llama', vocab, seed: 22, cross: true });
  const files = { encoder: path.join(dir, 'encoder_model.onnx'), decoder: path.join(dir, 'decoder_model.onnx') };
  writeModel(llamaModel(encoder, DT.FLOAT, { role: 'encoder' }), files.encoder);
  writeModel(llamaModel(decoder, DT.FLOAT, { role: 'seq2seq-decoder' }), files.decoder);
  writeTokenizer(dir);
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(opts.audioBins
    ? { model_type: 'whisper', is_encoder_decoder: true, encoder_layers: encoder.layers, decoder_layers: decoder.layers, d_model: encoder.d, num_mel_bins: opts.audioBins, decoder_start_token_id: 1 }
    : { model_type: 't5', is_encoder_decoder: true, num_layers: encoder.layers, num_decoder_layers: decoder.layers, d_model: encoder.d, decoder_start_token_id: 1 }));
  return { dir, files, encoder, decoder };
}

/** The same pair Whisper-style: the encoder takes mel features (input_features [1, bins, frames]) through a Conv1d stem. */
export function buildWhisper(root: string, name = 'whisper-planted'): FolderModel & { encoder: Spec; decoder: Spec } {
  return buildSeq2Seq(root, name, { audioBins: 8 });
}

/**
 * A transformers.js / onnx-community layout: onnx/embed_tokens.onnx (ids → embeddings) and
 * onnx/decoder_model_merged.onnx taking inputs_embeds, in fp32 and fp16 variants; tokenizer and
 * config.json at the root.
 */
export function buildEmbedPair(root: string, name = 'vlm-planted'): FolderModel & { spec: Spec } {
  const dir = path.join(root, name);
  const onnxDir = path.join(dir, 'onnx');
  mkdirSync(onnxDir, { recursive: true });
  const spec = textSpec('llama');
  const files: Record<string, string> = {};
  for (const [suffix, type] of [['', DT.FLOAT], ['_fp16', DT.FLOAT16]] as const) {
    const b = new GraphBuilder(type);
    const ids = b.input('input_ids', DT.INT64, ['batch_size', 'sequence_length']);
    b.o('Gather', [b.weight('model.embed_tokens.weight', [spec.vocab, spec.d], Float32Array.from(spec.embed)), ids]);
    // The graph's output is the Gather itself, named as the decoder's input.
    b.nodes[b.nodes.length - 1].output[0] = 'inputs_embeds';
    b.output('inputs_embeds', type, ['batch_size', 'sequence_length', spec.d]);
    files[`embed${suffix}`] = path.join(onnxDir, `embed_tokens${suffix}.onnx`);
    writeModel(makeModel(b.graph('embed_tokens')), files[`embed${suffix}`]);
    files[`decoder${suffix}`] = path.join(onnxDir, `decoder_model_merged${suffix}.onnx`);
    writeModel(llamaModel(spec, type, { inputsEmbeds: true }), files[`decoder${suffix}`]);
  }
  writeTokenizer(dir);
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'llama', num_hidden_layers: spec.layers, hidden_size: spec.d, bos_token_id: 1 }));
  return { dir, files, spec };
}

/**
 * Compare's test models: the planted LLaMA in fp32, fp16 and 4-bit (MatMulNBits) from one spec
 * (q4's golden numbers are the reference on its exact 4-bit round trip), and variants whose planted
 * channel or block differs.
 */
export function buildVariants(root: string): { fp32: BuiltModel; fp16: BuiltModel; q4: BuiltModel; q4Spec: Spec; channel43: BuiltModel; block2: BuiltModel } {
  const spec = textSpec('llama');
  const q4Spec = q4RoundTrip(structuredClone(spec));
  const channelSpec = plantedSpec({ arch: 'llama', vocab: vocabulary().length, seed: 7, channels: [7, 43] });
  const blockSpec = plantedSpec({ arch: 'llama', vocab: vocabulary().length, seed: 7, plantBlock: 2 });
  return {
    fp32: emit(root, 'cmp-fp32', spec, llamaModel(spec)),
    fp16: emit(root, 'cmp-fp16', spec, llamaModel(spec, DT.FLOAT16)),
    q4: emit(root, 'cmp-q4', spec, llamaModel(spec, DT.FLOAT, { q4: true })),
    q4Spec,
    channel43: emit(root, 'cmp-channel43', channelSpec, llamaModel(channelSpec)),
    block2: emit(root, 'cmp-block2', blockSpec, llamaModel(blockSpec)),
  };
}

/** One folder holding a planted LLaMA as model.onnx and model_fp16.onnx (and its tokenizer): a model and its export. */
export function buildVariantFolder(root: string, name = 'llama-variants'): { dir: string; fp32: string; fp16: string; spec: Spec } {
  const spec = textSpec('llama');
  const m = emit(root, name, spec, llamaModel(spec));
  const fp16 = path.join(path.dirname(m.file), 'model_fp16.onnx');
  writeModel(llamaModel(spec, DT.FLOAT16), fp16);
  return { dir: path.dirname(m.file), fp32: m.file, fp16, spec };
}

/**
 * A training run's checkpoints: the same planted LLaMA with the writer neuron's output weight at
 * 0, 20, …, 100% of full strength, as checkpoints/step-<n>/model.onnx.
 */
export function buildCheckpoints(root: string, name = 'checkpoints'): { dir: string; specs: Spec[]; strengths: number[] } {
  const strengths = [0, 0.2, 0.4, 0.6, 0.8, 1];
  const dir = path.join(root, name);
  const specs = strengths.map((s, k) => {
    const spec = textSpec('llama');
    const p = spec.planted;
    p.plantGain = [p.plantGain[0] * s, p.plantGain[1] * s];
    writeGains(spec.layer[p.plantBlock], p.plantBlock, p, spec.d);
    emit(dir, `step-${(k + 1) * 1000}`, spec, llamaModel(spec));
    return spec;
  });
  return { dir, specs, strengths };
}

export function buildVit(root: string, name = 'vit-registers-planted', opts: { transform?: (m: ModelProto) => void } = {}): BuiltModel {
  const spec = plantedSpec({ arch: 'vit', vocab: 2, seed: 11, vit: { channels: 3, image: 32, patch: 8, registers: 4 } });
  const model = vitModel(spec);
  opts.transform?.(model);
  return emit(root, name, spec, model, { kind: 'vision', tokenizer: false });
}

/** The real trained stories260K checkpoint converted to the LLaMA layout (no tokenizer ships with it). */
export function buildStories(root: string, bin: string, name = 'stories260K'): BuiltModel {
  const spec = readLlama2c(bin);
  return emit(root, name, spec, llamaModel(spec), { tokenizer: false });
}

/** A LLaMA shape: TinyLlama-1.1B's is the scale benchmark's; small ones test the same path. */
export interface LlamaShape { layers: number; d: number; ffn: number; heads: number; kvHeads: number; vocab: number; maxPos: number }
export const TINYLLAMA_SHAPE: LlamaShape = { layers: 22, d: 2048, ffn: 5632, heads: 32, kvHeads: 4, vocab: 32000, maxPos: 2048 };
/** LLaMA-2-7B, the paper's headline model; its massive activations sit in channels 1415 and 2533. */
export const LLAMA2_7B_SHAPE: LlamaShape = { layers: 32, d: 4096, ffn: 11008, heads: 32, kvHeads: 32, vocab: 32000, maxPos: 4096 };
export const LLAMA2_7B_CHANNELS: [number, number] = [1415, 2533];
export type WeightFormat = 'fp32' | 'fp16' | 'q4';

/**
 * A planted LLaMA spec whose blocks are made on demand (see SpecOptions.lazy), calibrated once;
 * the same spec can then be written in every weight format.
 */
export function scaleSpec(shape: LlamaShape, seed = 5, channels?: [number, number]): Spec {
  return plantedSpec({ arch: 'llama', ...shape, seed, lazy: true, channels });
}

/**
 * Writes a LLaMA of any size one tensor at a time: weights stream into `model.onnx_data` as the
 * graph is built, so memory holds one block, never the model. `q4` writes the projections as
 * MatMulNBits (4-bit, block 32), as onnxruntime-genai's int4 exports do.
 */
export function buildScaleLlama(root: string, name: string, spec: Spec, format: WeightFormat): BuiltModel {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const sink = new ExternalDataSink(path.join(dir, 'model.onnx_data'));
  const model = llamaModel(spec, format === 'fp16' ? DT.FLOAT16 : DT.FLOAT, { q4: format === 'q4', sink });
  sink.close();
  return emit(root, name, spec, model);
}

/**
 * The spec as its 4-bit graph computes it: projections replaced by their MatMulNBits round trip
 * (eager specs only; the reference pass then gives the q4 model's exact golden numbers).
 */
export function q4RoundTrip(s: Spec): Spec {
  if (s.lazy) throw new Error('q4RoundTrip needs an eager spec');
  const kvd = s.kvHeads * (s.d / s.heads);
  const dims = { wq: [s.d, s.d], wk: [s.d, kvd], wv: [s.d, kvd], wo: [s.d, s.d], w1: [s.d, s.ffn], w3: [s.d, s.ffn], w2: [s.ffn, s.d] } as const;
  for (const l of s.layer) for (const [k, [K, N]] of Object.entries(dims)) {
    const w = l[k as keyof typeof dims];
    w.set(quantizeBlocks4(Float32Array.from(w), K, N).dequantized);
  }
  return s;
}

/**
 * A vision-language export as onnx-community writes it (LLaVA / SmolVLM style): the embedding pair
 * above plus onnx/vision_encoder.onnx (pixel_values [1, 3, 16, 16] → a stride-8 patch Conv → four
 * image features [1, 4, d]), preprocessor_config.json (16×16, pixel / 255, no normalisation) and
 * config.json naming the image token. The Conv's weights are returned for the test's own features.
 */
export const VLM_IMAGE = { side: 16, patch: 8 } as const;

/** onnx/vision_encoder.onnx and preprocessor_config.json in `dir` (see buildVisionLanguage); returns the Conv's weights. */
function writeVisionEncoder(dir: string, d: number, seed: number): { file: string; w: Float64Array; b: Float64Array } {
  const { side, patch } = VLM_IMAGE;
  const r = rng(seed);
  const w = Float64Array.from({ length: d * 3 * patch * patch }, () => (r.u() - 0.5) * 0.2);
  const bias = Float64Array.from({ length: d }, () => (r.u() - 0.5) * 0.2);
  const b = new GraphBuilder(DT.FLOAT);
  const px = b.input('pixel_values', DT.FLOAT, [1, 3, side, side]);
  const grid = (side / patch) ** 2;
  const conv = b.o('Conv', [px, b.weight('vision.patch_embed.weight', [d, 3, patch, patch], Float32Array.from(w)), b.weight('vision.patch_embed.bias', [d], Float32Array.from(bias))],
    { kernel_shape: [patch, patch], strides: [patch, patch] });
  const flat = b.o('Reshape', [conv, b.int64([1, d, grid])]);
  b.o('Transpose', [flat], { perm: [0, 2, 1] });
  b.nodes[b.nodes.length - 1].output[0] = 'image_features';
  b.output('image_features', DT.FLOAT, [1, grid, d]);
  const file = path.join(dir, 'onnx', 'vision_encoder.onnx');
  writeModel(makeModel(b.graph('vision_encoder')), file);
  writeFileSync(path.join(dir, 'preprocessor_config.json'), JSON.stringify({ size: { height: side, width: side }, do_normalize: false, rescale_factor: 1 / 255 }));
  return { file, w, b: bias };
}

export function buildVisionLanguage(root: string, name = 'vlm-image'): FolderModel & { spec: Spec; conv: { w: Float64Array; b: Float64Array }; imageTokenId: number } {
  const pair = buildEmbedPair(root, name);
  const { spec } = pair;
  const vision = writeVisionEncoder(pair.dir, spec.d, 31);
  pair.files.vision = vision.file;
  const imageTokenId = spec.vocab - 1;
  writeFileSync(path.join(pair.dir, 'config.json'), JSON.stringify({ model_type: 'llava', num_hidden_layers: spec.layers, hidden_size: spec.d, bos_token_id: 1, image_token_id: imageTokenId }));
  return { ...pair, conv: { w: vision.w, b: vision.b }, imageTokenId };
}

/**
 * Florence-2 as onnx-community splits it: vision_encoder + embed_tokens (one table for both
 * stacks) + encoder_model and decoder_model_merged, each taking inputs_embeds. The image's features
 * stand in for the encoder's image tokens; the decoder starts from config.json's start token.
 */
export function buildFlorence(root: string, name = 'florence-style'): FolderModel & { encoder: Spec; decoder: Spec; conv: { w: Float64Array; b: Float64Array }; imageTokenId: number } {
  const dir = path.join(root, name);
  mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  const vocab = vocabulary().length;
  const encoder = plantedSpec({ arch: 'llama', vocab, seed: 21 });
  const decoder = plantedSpec({ arch: 'llama', vocab, seed: 22, cross: true });
  const b = new GraphBuilder(DT.FLOAT);
  const ids = b.input('input_ids', DT.INT64, ['batch_size', 'sequence_length']);
  b.o('Gather', [b.weight('model.shared.weight', [vocab, encoder.d], Float32Array.from(encoder.embed)), ids]);
  b.nodes[b.nodes.length - 1].output[0] = 'inputs_embeds';
  b.output('inputs_embeds', DT.FLOAT, ['batch_size', 'sequence_length', encoder.d]);
  const files: Record<string, string> = {
    embed: path.join(dir, 'onnx', 'embed_tokens.onnx'), encoder: path.join(dir, 'onnx', 'encoder_model.onnx'), decoder: path.join(dir, 'onnx', 'decoder_model_merged.onnx'),
  };
  writeModel(makeModel(b.graph('embed_tokens')), files.embed);
  writeModel(llamaModel(encoder, DT.FLOAT, { role: 'encoder', inputsEmbeds: true }), files.encoder);
  writeModel(llamaModel(decoder, DT.FLOAT, { role: 'seq2seq-decoder', inputsEmbeds: true }), files.decoder);
  const vision = writeVisionEncoder(dir, encoder.d, 37);
  files.vision = vision.file;
  writeTokenizer(dir);
  const imageTokenId = vocab - 1;
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'florence2', is_encoder_decoder: true, num_layers: encoder.layers, num_decoder_layers: decoder.layers, d_model: encoder.d, decoder_start_token_id: 1, image_token_id: imageTokenId }));
  return { dir, files, encoder, decoder, conv: { w: vision.w, b: vision.b }, imageTokenId };
}

/**
 * Gemma 3n's split as onnx-community writes it: embed_tokens.onnx gives inputs_embeds and
 * per_layer_inputs, and the decoder takes both. Here per_layer_inputs are a second table's rows,
 * added to the embeddings before the first block, so the decoder's result depends on them.
 * Returns the second table, for the test's own embeddings.
 */
export function buildPerLayerPair(root: string, name = 'gemma3n-split'): FolderModel & { spec: Spec; perLayer: Float64Array } {
  const dir = path.join(root, name);
  const onnxDir = path.join(dir, 'onnx');
  mkdirSync(onnxDir, { recursive: true });
  const spec = textSpec('llama');
  const r = rng(47);
  const perLayer = Float64Array.from({ length: spec.vocab * spec.d }, () => (r.u() - 0.5) * 0.5);
  const b = new GraphBuilder(DT.FLOAT);
  const ids = b.input('input_ids', DT.INT64, ['batch_size', 'sequence_length']);
  b.o('Gather', [b.weight('model.embed_tokens.weight', [spec.vocab, spec.d], Float32Array.from(spec.embed)), ids]);
  b.nodes[b.nodes.length - 1].output[0] = 'inputs_embeds';
  b.o('Gather', [b.weight('model.embed_tokens_per_layer.weight', [spec.vocab, spec.d], Float32Array.from(perLayer)), ids]);
  b.nodes[b.nodes.length - 1].output[0] = 'per_layer_inputs';
  b.output('inputs_embeds', DT.FLOAT, ['batch_size', 'sequence_length', spec.d]);
  b.output('per_layer_inputs', DT.FLOAT, ['batch_size', 'sequence_length', spec.d]);
  const files: Record<string, string> = { embed: path.join(onnxDir, 'embed_tokens.onnx'), decoder: path.join(onnxDir, 'decoder_model_merged.onnx') };
  writeModel(makeModel(b.graph('embed_tokens')), files.embed);
  const decoder = llamaModel(spec, DT.FLOAT, { inputsEmbeds: true });
  const g = decoder.graph!;
  for (const n of g.node) n.input = n.input.map((x) => (x === 'inputs_embeds' ? 'inputs_embeds_with_per_layer' : x));
  g.node.unshift(create(NodeProtoSchema, { opType: 'Add', input: ['inputs_embeds', 'per_layer_inputs'], output: ['inputs_embeds_with_per_layer'], name: '/model/per_layer/Add' }));
  const embedsInput = g.input.find((i) => i.name === 'inputs_embeds')!;
  g.input.push(create(ValueInfoProtoSchema, { ...embedsInput, name: 'per_layer_inputs' }));
  writeModel(decoder, files.decoder);
  writeTokenizer(dir);
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'gemma3n', num_hidden_layers: spec.layers, hidden_size: spec.d, bos_token_id: 1 }));
  return { dir, files, spec, perLayer };
}

/**
 * An audio-language export (Qwen2-Audio / Voxtral style, as onnx-community splits them): the
 * embedding pair plus onnx/audio_encoder.onnx (input_features [1, 8 mel bins, frames] → a linear
 * map per frame → [1, frames, d]) and config.json naming the audio token. Returns the map.
 */
export function buildAudioLanguage(root: string, name = 'alm-audio'): FolderModel & { spec: Spec; map: { w: Float64Array; b: Float64Array }; audioTokenId: number; bins: number } {
  const pair = buildEmbedPair(root, name);
  const { spec } = pair;
  const bins = 8;
  const r = rng(53);
  const w = Float64Array.from({ length: bins * spec.d }, () => (r.u() - 0.5) * 0.4);
  const bias = Float64Array.from({ length: spec.d }, () => (r.u() - 0.5) * 0.2);
  const b = new GraphBuilder(DT.FLOAT);
  const mel = b.input('input_features', DT.FLOAT, [1, bins, 'frames']);
  const frames = b.o('Transpose', [mel], { perm: [0, 2, 1] });
  const mapped = b.o('MatMul', [frames, b.weight('audio.proj.weight', [bins, spec.d], Float32Array.from(w))]);
  b.o('Add', [mapped, b.weight('audio.proj.bias', [spec.d], Float32Array.from(bias))]);
  b.nodes[b.nodes.length - 1].output[0] = 'audio_features';
  b.output('audio_features', DT.FLOAT, [1, 'frames', spec.d]);
  pair.files.audio = path.join(pair.dir, 'onnx', 'audio_encoder.onnx');
  writeModel(makeModel(b.graph('audio_encoder')), pair.files.audio);
  const audioTokenId = spec.vocab - 2;
  writeFileSync(path.join(pair.dir, 'config.json'), JSON.stringify({ model_type: 'qwen2_audio', num_hidden_layers: spec.layers, hidden_size: spec.d, bos_token_id: 1, audio_token_id: audioTokenId }));
  return { ...pair, map: { w, b: bias }, audioTokenId, bins };
}
