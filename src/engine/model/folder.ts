import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { EngineError, option } from '../base/errors';
import { brokenLink, listed } from '../base/files';
import { readSidecar, shortJson, sidecarNotes } from './sidecar';
import { printable } from '../base/text';

/**
 * What a path names: one .onnx file, or a model folder whose export is split over several files —
 * `embed_tokens.onnx` + a decoder taking `inputs_embeds` (transformers.js / onnx-community),
 * `encoder_model.onnx` + `decoder_model(_merged).onnx` (Optimum seq2seq) — with the variants a
 * Hugging Face repository keeps in its `onnx/` folder (`model.onnx`, `model_fp16.onnx`,
 * `model_q4.onnx`, …). A folder, or any file in it, resolves to the whole export; the facts of
 * `config.json` / `generation_config.json` / `genai_config.json` come along for cross-checks.
 */

export type Part = 'model' | 'embed_tokens' | 'encoder_model' | 'decoder_model' | 'decoder_model_merged' | 'decoder_with_past_model' | 'vision_encoder' | 'audio_encoder';

export interface ConfigFacts {
  file: string;
  layers?: number;
  encoderLayers?: number;
  decoderLayers?: number;
  hiddenSize?: number;
  layerTypes?: string[];
  decoderStartTokenId?: number;
  bosTokenId?: number;
  vocabSize?: number;
  /** Rotary base and norm epsilon: the values of a model that takes them (or its rotary tables) as inputs. */
  /** onnxruntime-genai's genai_config.json: the decoder's file, whatever its name. */
  decoderFile?: string;
  /** The token whose embeddings a vision-language model replaces by the image's features. */
  imageTokenId?: number;
  audioTokenId?: number;
  ropeTheta?: number;
  headDim?: number;
  normEps?: number;
  /** A decoder start token that was there but of the wrong type, in words (`config.json's decoder_start_token_id is "1", not a whole number`). */
  ignoredStartToken?: string;
  /** What was ignored in these files (not an object, wrong-typed fields, broken links), each said once. */
  notes: string[];
}

export interface ModelTarget {
  /** The file whose blocks are the main result: a single model, a pipeline's decoder, a seq2seq encoder. */
  main: string;
  layout: 'single' | 'embed+decoder' | 'seq2seq';
  /** Runs first, turning token ids into the decoder's inputs_embeds. */
  embed?: string;
  /** A vision-language export's image encoder: its features take the place of the image tokens' embeddings. */
  vision?: string;
  /** An audio-language export's audio encoder (fed its own input, input_features): the same for the audio tokens. */
  audio?: string;
  /** Seq2seq: the decoder fed by `main` (the encoder). */
  decoder?: string;
  folder: string;
  /** The variant chosen ('' for the plain, unsuffixed files) and the ones the folder offers. */
  variant: string;
  variants: string[];
  config?: ConfigFacts;
  notes: string[];
}

const PART = /^(embed_tokens|encoder_model|decoder_model_merged|decoder_with_past_model|decoder_model|vision_encoder|audio_encoder|model)(?:_([A-Za-z0-9]+))?\.onnx$/;

export function partOf(file: string): { part: Part; variant: string } | undefined {
  const m = PART.exec(path.basename(file));
  return m ? { part: m[1] as Part, variant: m[2] ?? '' } : undefined;
}

/**
 * The .onnx files of a folder and of its onnx/ subfolder (or, inside onnx/, the folder itself).
 * Links that lead nowhere are not models: they are left out and said in `broken` (name and why).
 */
function modelFiles(folder: string): { files: string[]; broken: { file: string; why: string }[] } {
  const dirs = [folder, path.join(folder, 'onnx')].filter((d) => existsSync(d) && statSync(d).isDirectory());
  const named = dirs.flatMap((d) => readdirSync(d).filter((n) => n.endsWith('.onnx')).sort().map((n) => path.join(d, n)));
  const broken = named.map((file) => ({ file, why: brokenLink(file) })).filter((b): b is { file: string; why: string } => !!b.why);
  return { files: named.filter((f) => !broken.some((b) => b.file === f)), broken };
}

/** The decoder genai_config.json names, when it is a file in the folder (never a path out of it). */
function genaiDecoder(folder: string): { file: string; config: ConfigFacts } | undefined {
  const config = readConfig(folder);
  const name = config?.decoderFile;
  if (!config || !name || path.basename(name) !== name || !name.endsWith('.onnx')) return undefined;
  const file = path.join(path.dirname(config.file), name);
  return existsSync(file) && statSync(file).isFile() ? { file, config } : undefined;
}

/** The variants a folder offers of its main model part ('' for the unsuffixed files). */
export function folderVariants(folder: string): string[] {
  const files = modelFiles(folder).files.map((f) => partOf(f)).filter((x): x is { part: Part; variant: string } => !!x);
  const main = MAIN_PARTS.find((pt) => files.some((x) => x.part === pt));
  return [...new Set(files.filter((x) => x.part === main).map((x) => x.variant))].sort();
}

export const MAIN_PARTS: Part[] = ['decoder_model_merged', 'decoder_model', 'encoder_model', 'model'];

export function resolveTarget(p: string, variant?: string): ModelTarget {
  const abs = path.resolve(p);
  const broken = brokenLink(abs);
  if (broken) throw new EngineError('not-found', `The model file ${printable(abs)} is ${broken}.`);
  if (!existsSync(abs)) throw new EngineError('not-found', `Model file not found: ${printable(abs)}`);
  const isDir = statSync(abs).isDirectory();
  const given = isDir ? undefined : partOf(abs);
  if (!isDir && (!given || given.part === 'model')) {
    // A single file (model.onnx among variants is still one file): scanned as it is.
    const config = readConfig(path.dirname(abs));
    return { main: abs, layout: 'single', folder: path.dirname(abs), variant: given?.variant ?? '', variants: [], config, notes: [...config?.notes ?? []] };
  }
  const folder = isDir ? abs : path.dirname(abs);
  const listing = modelFiles(folder);
  const files = listing.files.map((f) => ({ f, ...partOf(f) })).filter((x) => x.part) as { f: string; part: Part; variant: string }[];
  const mainPart = MAIN_PARTS.find((pt) => files.some((x) => x.part === pt));
  const notes: string[] = [];
  const brokenNames = listing.broken.map((b) => `${printable(path.relative(folder, b.file))} (${b.why})`);
  // onnxruntime-genai names its decoder in genai_config.json (phi-3-mini-4k-instruct-cpu-int4-rtn-block-32.onnx).
  const genai = isDir ? genaiDecoder(folder) : undefined;
  if (genai) return { main: genai.file, layout: 'single', folder, variant: '', variants: [], config: genai.config, notes: [...genai.config.notes] };
  if (!mainPart) {
    if (isDir) {
      const links = brokenNames.length ? ` (${listed(brokenNames)} ${brokenNames.length > 1 ? 'are broken links' : 'is a broken link'})` : '';
      throw new EngineError('not-onnx',
        `${printable(abs)} holds no model: no model.onnx, decoder_model*.onnx or encoder_model*.onnx in it or in its onnx/ folder${links}.`);
    }
    const config = readConfig(folder);
    return { main: abs, layout: 'single', folder, variant: given?.variant ?? '', variants: [], config, notes: [...config?.notes ?? []] };
  }
  if (brokenNames.length) notes.push(`${listed(brokenNames)} ${brokenNames.length > 1 ? 'were' : 'was'} left out of the folder's models.`);
  const variants = [...new Set(files.filter((x) => x.part === mainPart).map((x) => x.variant))].sort();
  let chosen = variant ?? given?.variant;
  if (chosen === undefined) {
    if (variants.includes('')) chosen = '';
    else if (variants.length === 1) chosen = variants[0];
    else throw new EngineError('bad-argument', `${printable(folder)} holds several variants of the model (${variants.join(', ')}); choose one (${option('variant')}).`);
    const others = variants.filter((v) => v !== chosen).join(', ');
    if (variants.length > 1) notes.push(`Using the ${chosen ? `${chosen} ` : 'plain '}variant; this folder also has ${others} (${option('variant')}).`);
  } else if (!variants.includes(chosen)) {
    const link = listing.broken.find((b) => partOf(b.file)?.part === mainPart && partOf(b.file)?.variant === chosen);
    const offered = variants.map((v) => v || 'plain').join(', ');
    if (link) throw new EngineError('not-found', `${printable(path.relative(folder, link.file))} is ${link.why}; choose another variant (${offered}).`);
    throw new EngineError('bad-argument', `There is no "${printable(chosen)}" variant in ${printable(folder)}; it has ${variants.map((v) => v || 'plain').join(', ')}.`);
  }
  const pick = (part: Part) => files.find((x) => x.part === part && x.variant === chosen)?.f ?? files.find((x) => x.part === part && x.variant === '')?.f;
  const config = readConfig(folder);
  notes.push(...config?.notes ?? []);
  const decoder = pick('decoder_model_merged') ?? pick('decoder_model');
  const encoder = pick('encoder_model');
  const embed = pick('embed_tokens');
  const vision = pick('vision_encoder');
  const audio = pick('audio_encoder');
  // Florence-2: both stacks take inputs_embeds from embed_tokens.onnx; the image's features go to the encoder.
  const parts = { ...(embed ? { embed } : {}), ...(vision ? { vision } : {}), ...(audio ? { audio } : {}) };
  if (encoder && decoder) return { main: encoder, decoder, ...parts, layout: 'seq2seq', folder, variant: chosen, variants, config, notes };
  if (decoder && embed) return { main: decoder, embed, ...(vision ? { vision } : {}), ...(audio ? { audio } : {}), layout: 'embed+decoder', folder, variant: chosen, variants, config, notes };
  return { main: decoder ?? encoder ?? pick('model')!, layout: 'single', folder, variant: chosen, variants, config, notes };
}

const CONFIG = {
  num_hidden_layers: 'count', n_layer: 'count', encoder_layers: 'count', num_layers: 'count', decoder_layers: 'count', num_decoder_layers: 'count',
  hidden_size: 'count', d_model: 'count', n_embd: 'count', layer_types: 'strings', decoder_start_token_id: 'count', bos_token_id: 'count',
  image_token_id: 'count', image_token_index: 'count', audio_token_id: 'count', audio_token_index: 'count', vocab_size: 'count', rope_theta: 'number', head_dim: 'count', rms_norm_eps: 'number', layer_norm_eps: 'number', layer_norm_epsilon: 'number',
  text_config: { num_hidden_layers: 'count', hidden_size: 'count', vocab_size: 'count', rope_theta: 'number', rms_norm_eps: 'number' },
} as const;
const GENERATION = { decoder_start_token_id: 'count', bos_token_id: 'count' } as const;
const GENAI = { model: { decoder: { num_hidden_layers: 'count', hidden_size: 'count', filename: 'string' } } } as const;

/**
 * config.json (and generation_config.json, genai_config.json) beside the files or one folder up.
 * Only whole numbers count as counts and token ids, and only a list of strings as layer_types: a
 * file or field of another shape is left out and said in `notes`, never guessed at.
 */
export function readConfig(folder: string): ConfigFacts | undefined {
  const there = (f: string) => existsSync(f) || !!brokenLink(f);
  for (const dir of [folder, path.dirname(folder)]) {
    const file = path.join(dir, 'config.json');
    const genai = path.join(dir, 'genai_config.json');
    if (!there(file) && !there(genai)) continue;
    const name = (base: string) => (dir === folder ? base : path.join('..', base));
    const c = readSidecar(file, name('config.json'), 'model config', CONFIG);
    const gen = readSidecar(path.join(dir, 'generation_config.json'), name('generation_config.json'), 'generation config', GENERATION);
    const ga = readSidecar(genai, name('genai_config.json'), 'genai config', GENAI);
    const cf = c?.fields ?? {};
    const text = cf.text_config ?? {};
    const dec = ga?.fields.model?.decoder ?? {};
    const gf = gen?.fields ?? {};
    const first = (...vs: (number | undefined)[]) => vs.find((v) => v !== undefined);
    const start = [c, gen].flatMap((s) => (s?.ignored ?? []).filter((i) => i.field === 'decoder_start_token_id')
      .map((i) => `${printable(path.basename(s!.file))}'s decoder_start_token_id is ${shortJson(i.value)}, ${i.expected}`));
    return {
      file: c ? file : genai,
      layers: first(cf.num_hidden_layers, cf.n_layer, text.num_hidden_layers, dec.num_hidden_layers),
      encoderLayers: first(cf.encoder_layers, cf.num_layers),
      decoderLayers: first(cf.decoder_layers, cf.num_decoder_layers),
      hiddenSize: first(cf.hidden_size, cf.d_model, cf.n_embd, text.hidden_size, dec.hidden_size),
      layerTypes: cf.layer_types,
      decoderStartTokenId: first(cf.decoder_start_token_id, gf.decoder_start_token_id),
      bosTokenId: first(cf.bos_token_id, gf.bos_token_id),
      vocabSize: first(cf.vocab_size, text.vocab_size),
      imageTokenId: first(cf.image_token_id, cf.image_token_index),
      audioTokenId: first(cf.audio_token_id, cf.audio_token_index),
      ...(dec.filename !== undefined ? { decoderFile: dec.filename } : {}),
      ropeTheta: first(cf.rope_theta, text.rope_theta),
      headDim: cf.head_dim,
      normEps: first(cf.rms_norm_eps, cf.layer_norm_eps, cf.layer_norm_epsilon, text.rms_norm_eps),
      ignoredStartToken: start[0],
      notes: sidecarNotes(c, gen, ga),
    };
  }
  return undefined;
}

/** What config.json says that the located model contradicts, in sentences. */
export function crossCheck(config: ConfigFacts | undefined, found: { blocks: number; hiddenSize: number | null; mixers: string[] }, stack: 'main' | 'encoder' | 'decoder' = 'main'): string[] {
  if (!config) return [];
  const out: string[] = [];
  const name = path.basename(config.file);
  const layers = stack === 'encoder' ? config.encoderLayers ?? config.layers : stack === 'decoder' ? config.decoderLayers ?? config.encoderLayers ?? config.layers : config.layers;
  if (layers !== undefined && layers !== found.blocks) out.push(`${name} says ${layers} ${stack === 'main' ? '' : `${stack} `}layers, but ${found.blocks} blocks were located.`);
  if (config.hiddenSize !== undefined && found.hiddenSize !== null && config.hiddenSize !== found.hiddenSize) out.push(`${name} says the width is ${config.hiddenSize}, but the blocks are ${found.hiddenSize} wide.`);
  if (config.layerTypes && config.layerTypes.length === found.mixers.length) {
    const bad = config.layerTypes.findIndex((t, i) => /full|attention/.test(t) && !/linear/.test(t) ? found.mixers[i] !== 'attention' : /linear|mamba|conv|recurrent|ssm/.test(t) && found.mixers[i] === 'attention');
    if (bad >= 0) out.push(`${name} says block ${bad} is ${printable(config.layerTypes[bad])}, but it was located as ${found.mixers[bad]}.`);
  }
  return out;
}
