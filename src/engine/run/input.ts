import { statSync } from 'node:fs';
import * as path from 'node:path';
import { EngineError, option } from '../base/errors';
import { classifyInputs, defaultedInputs, describeDefaults, intTensor, syntheticFeeds, textFeeds, type ClassifiedInput, type FeedTensor } from '../model/feeds';
import { readFeedFile } from '../model/feedFiles';
import { DT, floatToHalf } from '../model/onnx/dtype';
import { openPlain, toFloat32, type OpenModel } from './session';
import type { ModelTarget } from '../model/folder';
import type { FixedTokens } from '../model/inspect';
import * as ort from 'onnxruntime-node';
import { findTokenizer, loadTokenizer, optionalTokenizer } from '../model/tokenizer';
import { sampleIds } from '../model/sampleIds';
import { printable } from '../base/text';
import type { TokenInfo } from '../model/results';
import { decodeImage, readPreprocess, toPixelValues } from '../model/vision/image';
import { CLIP_NORM, cutIntoPatches, patchCutting, smartResize, visionRotary } from '../model/vision/flatPatches';
import { AUDIO_TOKEN_TEXT, IMAGE_TOKEN_TEXT } from '../model/tokenKinds';
import { loadModel } from '../model/onnx/load';
import { GraphIndex } from '../model/onnx/graph';

export const DEFAULT_MAX_TOKENS = 2048;
export { DEFAULT_PROMPT } from '../base/defaults';
import { DEFAULT_PROMPT } from '../base/defaults';

export interface InputOptions {
  prompt?: string; ids?: number[]; image?: string; maxTokens?: number;
  /** The user's own tensors for model inputs: input name → a .npy or .json file (see feedFiles). */
  feeds?: Record<string, string>;
  /** A multi-file export's other parts (see model/folder.ts): embed_tokens.onnx feeds inputs_embeds. */
  target?: ModelTarget;
  /** Which variant of a model folder to run (model_fp16.onnx: "fp16"). */
  variant?: string;
  /** Tensors computed by an earlier part of a pipeline (a seq2seq encoder's states), by input name. */
  givenFeeds?: Record<string, FeedTensor>;
  /** What computes `givenFeeds` ("the output of encoder_model.onnx"), named when a feed would replace one. */
  givenBy?: string;
  /** Where `ids` come from when a pipeline sets them (a decoder's start token), named when a feed would replace them. */
  idsFrom?: string;
  threads?: number;
  /** An input longer than maxTokens runs its first maxTokens tokens instead of being refused (said in `truncated`). */
  truncate?: boolean;
}

export interface ResolvedInput {
  feeds: Record<string, FeedTensor>;
  /** Known before the run for text models; vision models learn theirs from the output. */
  tokens: TokenInfo[];
  ids?: number[];
  /** 'feed': the sequence is the user's tensor (embeddings fed to a decoder, or every input fed). */
  kind: 'text' | 'ids' | 'image' | 'synthetic' | 'feed';
  tokenizer: string | null;
  note?: string;
  image?: { width: number; height: number };
  /** The tensors the user supplied (also fed to every further run of an experiment). */
  given: Record<string, FeedTensor>;
  /** With `truncate`: the tokens kept, of how many the input had. */
  truncated?: Truncated;
}

/** A truncated input: the first `kept` tokens of `of` (of more than `of` where `atLeast`: a text cut before tokenising). */
export interface Truncated { kept: number; of: number; atLeast?: boolean }

/**
 * What to feed the model: token ids (from text, given, or fed as a tensor), embeddings fed as a
 * tensor, an image, or a deterministic stand-in. Each input has one source: a feed for an input the
 * run computes itself (from the prompt, the ids, the image or an earlier part of the export) is
 * refused, and the tokens reported are always those of the ids that ran.
 */
export async function resolveInput(file: string, m: OpenModel, opts: InputOptions): Promise<ResolvedInput> {
  const info = m.prepared.info;
  const typed = info.inputs.map((i) => ({ ...i, elemType: m.prepared.index.elemTypeOf(i.name) ?? DT.FLOAT }));
  const fixed = info.fixedTokens ?? undefined;
  const maxTokens = Math.min(opts.maxTokens ?? DEFAULT_MAX_TOKENS, info.maxPositions ?? Infinity, fixed?.count ?? Infinity);
  // An audio-language folder's audio encoder takes its own feeds (input_features): they leave the decoder's.
  const { files, partFiles: audioFiles } = splitPartFeeds(opts.feeds ?? {}, typed, opts.target?.audio);
  // Before any file is read: a refusal here costs nothing.
  checkSources(typed, files, opts);
  const user = loadGiven(files, typed, maxTokens);
  const given = { ...user, ...opts.givenFeeds };
  const idsInput = typed.find((i) => i.role === 'ids');
  const fedIds = idsInput && user[idsInput.name] ? idsInput : undefined;
  // A decoder fed embeddings is a text model when its folder holds the embedding part.
  const embeds = typed.find((i) => i.role === 'inputs_embeds' && !given[i.name]);
  const embedder = embeds && opts.target?.embed;
  const fedEmbeds = idsInput ? undefined : typed.find((i) => i.role === 'inputs_embeds' && user[i.name]);
  const asked = opts.prompt !== undefined || !!opts.ids;
  if (idsInput || embedder) {
    const vision = embeds && embedder ? opts.target?.vision : undefined;
    if (opts.image && !vision) throw new EngineError('bad-argument', `${path.basename(file)} is a text model; ${option('image')} is for vision models.`);
    let r = fedIds ? fedTokens(file, user[fedIds.name], files[fedIds.name], info.vocabSize, maxTokens, fixed)
      : resolveTokens(file, opts, info.vocabSize, maxTokens, fixed);
    if (fixed && r.ids.length < fixed.count) throw tooShort(r.ids.length, fixed);
    // The fed ids run as any ids do; experiments re-run `given` on other sequences, which have ids of their own.
    if (fedIds) delete given[fedIds.name];
    checkLength(typed, user, files, r.ids.length);
    let image: ResolvedInput['image'];
    if (embeds && embedder) {
      // An image or a sound first: their features take tokens of their own in the ids.
      const media: { features: EncoderFeatures; text: string; what: string; file: string }[] = [];
      if (vision && opts.image) {
        const seen = await imageFeatures(vision, opts.image, opts.threads);
        r = { ...r, ...placeMediaTokens(r, seen.tokens, opts.target?.config?.imageTokenId, IMAGE_TOKEN_TEXT, 'image', maxTokens) };
        image = { width: seen.width, height: seen.height };
        media.push({ features: seen, text: IMAGE_TOKEN_TEXT, what: 'image', file: vision });
      }
      const audio = Object.keys(audioFiles).length ? opts.target?.audio : undefined;
      if (audio) {
        const heard = await audioFeatures(audio, audioFiles, maxTokens, opts.threads);
        r = { ...r, ...placeMediaTokens(r, heard.tokens, opts.target?.config?.audioTokenId, AUDIO_TOKEN_TEXT, 'audio', maxTokens) };
        media.push({ features: heard, text: AUDIO_TOKEN_TEXT, what: 'audio', file: audio });
      }
      if (media.length) checkLength(typed, user, files, r.ids.length);
      const outputs = await embedTokenOutputs(embedder, r.ids, opts.threads);
      const [first, ...others] = Object.keys(outputs);
      given[embeds.name] = media.reduce((e, m) => spliceRows(e, r.tokens, m.features, m.text), outputs[first]);
      // Other outputs the decoder takes by name (Gemma 3n's per_layer_inputs) go to it too.
      for (const name of others) if (typed.some((i) => i.name === name) && !given[name]) given[name] = outputs[name];
      const said = media.map((m) => `The ${m.what}'s ${m.features.tokens} features (${printable(path.basename(m.file))}) stand in for the ${m.what} tokens.`);
      if (media.length) r.note = [r.note, ...media.map((m) => m.features.note), ...said].filter(Boolean).join(' ');
    }
    const note = [r.note, describeDefaults(defaultedInputs(typed, given), r.ids.length, info.constants)].filter(Boolean).join(' ') || undefined;
    const kind = opts.ids?.length || fedIds ? 'ids' : 'text';
    const feeds = textFeeds(typed, r.ids, given, info.constants);
    const truncated = 'truncated' in r ? r.truncated : undefined;
    return { feeds, tokens: r.tokens, ids: r.ids, kind, tokenizer: r.tokenizer, note, given, ...(image ? { image } : {}), ...(truncated ? { truncated } : {}) };
  }
  if (fedEmbeds && !asked && !opts.image) {
    // Embeddings are [batch, sequence, width]: their sequence sets the mask's and the positions' length.
    const t = user[fedEmbeds.name];
    const S = t.dims.length >= 2 ? t.dims[t.dims.length - 2] : 1;
    if (S > maxTokens) throw tooLong(S, 'tokens', maxTokens, fixed);
    if (fixed && S < fixed.count) throw tooShort(S, fixed);
    checkLength(typed, user, files, S);
    const tokens = Array.from({ length: S }, (_, index) => ({ index, id: null, text: `#${index}` }));
    const from = `The input is the embeddings in ${printable(path.basename(files[fedEmbeds.name]))}.`;
    const note = [from, describeDefaults(defaultedInputs(typed, given), S, info.constants)].filter(Boolean).join(' ');
    return { feeds: textFeeds(typed, { length: S }, given, info.constants), tokens, kind: 'feed', tokenizer: null, note, given };
  }
  if (embeds) throw new EngineError('unsupported-input', `${printable(path.basename(file))} takes "${printable(embeds.name)}" (embeddings) rather than token ids, so it cannot be run from a prompt on its own. Open the folder holding its embed_tokens.onnx, or feed the embeddings with ${option('feed', `${printable(embeds.name)}=FILE.npy`)}.`);
  if (asked) {
    const takes = info.inputs.map((i) => printable(i.name)).join(', ');
    throw new EngineError('bad-argument', `${path.basename(file)} is a ${info.family} model without token inputs; it takes ${takes}.`);
  }
  const feeds = syntheticFeeds(typed, 1, given, info.constants);
  const pixels = typed.find((i) => i.role === 'pixels');
  const flattened = typed.find((i) => i.role === 'patches');
  if (opts.image && flattened) return imageAsPatches(file, typed, flattened, opts.image, maxTokens, feeds, given);
  if (opts.image) {
    if (!pixels) throw new EngineError('bad-argument', `${path.basename(file)} has no image input.`);
    const h = typeof pixels.shape[2] === 'number' ? pixels.shape[2] : undefined;
    const w = typeof pixels.shape[3] === 'number' ? pixels.shape[3] : undefined;
    const channels = typeof pixels.shape[1] === 'number' ? pixels.shape[1] : 3;
    const pre = readPreprocess(file, h, w);
    const img = decodeImage(opts.image);
    let data = toPixelValues(img, pre);
    // Single-channel models take the luminance.
    if (channels === 1) {
      const plane = pre.width * pre.height;
      data = data.subarray(0, plane).map((_, i) => (data[i] + data[i + plane] + data[i + 2 * plane]) / 3);
    }
    feeds[pixels.name] = { type: 'float32', data, dims: [1, channels, pre.height, pre.width] };
    const image = { width: img.width, height: img.height };
    return { feeds, tokens: [], kind: 'image', tokenizer: null, image, given, ...(pre.note ? { note: pre.note } : {}) };
  }
  const fedAll = typed.every((i) => given[i.name] || i.role === 'past');
  // Given the data (patches, features), the rest are defaults to report, not a synthetic input.
  const dataGiven = typed.some((i) => ['pixels', 'patches', 'features'].includes(i.role) && given[i.name]);
  const defaulted = defaultedInputs(typed, given).map((i) => ({ ...i, shape: feeds[i.name]?.dims ?? i.shape }));
  const note = fedAll ? undefined
    : dataGiven ? describeDefaults(defaulted, 1, info.constants)
      : pixels ? 'No image given: a deterministic synthetic input was used.' : 'The model takes float features: a deterministic synthetic input was used.';
  return { feeds, tokens: [], kind: fedAll ? 'feed' : 'synthetic', tokenizer: null, given, note };
}

/**
 * An image for a vision encoder taking flattened patches (Qwen2-VL): resized and cut as Qwen2-VL's
 * processor does, with its grid and, where the encoder takes them, its patches' rotary angles.
 */
function imageAsPatches(
  file: string, typed: ClassifiedInput[], flattened: ClassifiedInput, image: string, maxTokens: number,
  feeds: Record<string, FeedTensor>, given: Record<string, FeedTensor>,
): ResolvedInput {
  const width = flattened.shape[1];
  if (typeof width !== 'number') {
    throw new EngineError('unsupported-input', `${printable(path.basename(file))} takes flattened patches ("${printable(flattened.name)}" [${flattened.shape.join(', ')}]) of no fixed width, ` +
      `so how an image is cut for it is unknown. Feed the patches with ${option('feed', `${printable(flattened.name)}=FILE.npy`)}.`);
  }
  const pre = readPreprocess(file, undefined, undefined, CLIP_NORM);
  const cut = patchCutting(flattened.name, width, pre.patching, 'preprocessor_config.json');
  const img = decodeImage(image);
  const factor = cut.patch * cut.merge;
  // Each patch is a token: the pixel budget stops at the token limit.
  const budget = Math.min(cut.maxPixels, maxTokens * cut.patch * cut.patch);
  const size = smartResize(img.height, img.width, factor, Math.min(cut.minPixels, budget), budget);
  const chw = toPixelValues(img, { ...pre, ...size, resizeShortest: undefined });
  const { rows, grid } = cutIntoPatches(chw, size.height, size.width, cut);
  const [, gh, gw] = grid;
  feeds[flattened.name] = { type: 'float32', data: rows, dims: [gh * gw, width] };
  const gridInput = typed.find((i) => i.role === 'grid');
  if (gridInput) feeds[gridInput.name] = intTensor(gridInput.elemType, grid, [1, 3]);
  const within = `multiples of ${factor} within ${cut.minPixels.toLocaleString('en-US')}–${budget.toLocaleString('en-US')} pixels` +
    `${budget < cut.maxPixels ? ` (the processor's ${cut.maxPixels.toLocaleString('en-US')} cut to ${maxTokens.toLocaleString('en-US')} patches, the token limit)` : ''}`;
  const resized = size.width === img.width && size.height === img.height
    ? `kept its size (${within}, as Qwen2-VL's processor wants)`
    : `was resized to ${size.width}×${size.height} (${within}, as Qwen2-VL's processor does; bilinear where it samples bicubic)`;
  const said = [
    `The image (${img.width}×${img.height}) ${resized} and was cut into ${gh}×${gw} patches of ${cut.patch}×${cut.patch}` +
    `${cut.temporal > 1 ? ` over ${cut.temporal} copies of the frame` : ''}, listed by ${cut.merge}×${cut.merge} merge window.`,
  ];
  const rotary = typed.find((i) => i.role === 'other' && /rotary_pos_emb/i.test(i.name) && i.shape.length === 2 && typeof i.shape[1] === 'number' && !given[i.name]);
  if (rotary && (rotary.shape[1] as number) % 2 === 0) {
    feeds[rotary.name] = { type: 'float32', data: visionRotary(gh, gw, cut.merge, rotary.shape[1] as number), dims: [gh * gw, rotary.shape[1] as number] };
    said.push(`${printable(rotary.name)} holds the patches' rows and columns as rotary angles (θ 10000).`);
  }
  const computed = new Set([flattened.name, gridInput?.name, rotary?.name]);
  const defaulted = defaultedInputs(typed, given).filter((i) => !computed.has(i.name));
  const rest = describeDefaults(defaulted.map((i) => ({ ...i, shape: feeds[i.name]?.dims ?? i.shape })), 1);
  const note = [pre.note, ...said, rest].filter(Boolean).join(' ');
  return { feeds, tokens: [], kind: 'image', tokenizer: null, image: { width: img.width, height: img.height }, given, note };
}

/**
 * One source per model input: a feed may not name an input the run computes itself — the token
 * ids from the prompt or given ids, the embeddings embed_tokens.onnx makes from them, the pixels of
 * an image, or what an earlier part of the export hands on. A blank prompt or an empty ids list
 * (an empty box in the panel) is no source.
 */
function checkSources(inputs: ClassifiedInput[], files: Record<string, string>, opts: InputOptions): void {
  const hasPrompt = opts.prompt !== undefined && opts.prompt.trim() !== '';
  const hasIds = !!opts.ids?.length;
  if (hasPrompt && hasIds) throw new EngineError('bad-argument', `${option('prompt')} and ${option('ids')} both give the token ids; give one.`);
  const tokens = hasIds ? opts.idsFrom ?? option('ids') : hasPrompt ? option('prompt') : undefined;
  for (const [name, file] of Object.entries(files)) {
    const input = inputs.find((i) => i.name === name);
    if (!input) {
      const names = inputs.map((i) => printable(i.name)).join(', ');
      throw new EngineError('bad-argument', `The model has no input "${printable(name)}" to feed; its inputs are ${names}.`);
    }
    const embed = opts.target?.embed;
    const other = opts.givenFeeds && Object.hasOwn(opts.givenFeeds, name) ? opts.givenBy ?? 'an earlier part of the model'
      : input.role === 'ids' ? tokens
        : input.role === 'inputs_embeds' && embed && tokens ? `${tokens} (through ${printable(path.basename(embed))})`
          : input.role === 'pixels' && opts.image ? option('image') : undefined;
    if (other) throw new EngineError('bad-argument', `${feedOption(name, file)} and ${other} both give ${printable(name)}; give one.`);
  }
}

/**
 * A fed mask or positions must span the tokens that run, the mask also a fed past's (ONNX Runtime
 * would only say that two dims disagree).
 */
function checkLength(inputs: ClassifiedInput[], user: Record<string, FeedTensor>, files: Record<string, string>, S: number): void {
  const past = Math.max(0, ...inputs.filter((i) => i.role === 'past' && user[i.name]).map((i) => user[i.name].dims.at(-2) ?? 0));
  for (const i of inputs) {
    const t = user[i.name];
    if (!t || !['attention_mask', 'position_ids', 'token_type_ids'].includes(i.role)) continue;
    const want = i.role === 'attention_mask' ? past + S : S;
    const n = t.dims.at(-1);
    if (n !== want) {
      const span = want === S ? `${S}` : `${want} (${past} past and ${S} new)`;
      const fed = `${printable(path.basename(files[i.name]))} gives ${printable(i.name)} for ${n} tokens`;
      throw new EngineError('bad-argument', `${fed}, but the input that runs has ${span}; give ${want}.`);
    }
  }
}

/** A feed as the user gave it, for messages: the input and the file's name. */
export function feedOption(name: string, file: string): string {
  return option('feed', `${printable(name)}=${printable(path.basename(file))}`);
}

/** The user's tensors, by input name, each checked against its input's shape before it is read. */
function loadGiven(files: Record<string, string>, inputs: ClassifiedInput[], maxTokens: number): Record<string, FeedTensor> {
  const out: Record<string, FeedTensor> = {};
  for (const [name, file] of Object.entries(files)) out[name] = readFeedFile(file, inputs.find((i) => i.name === name)!, { maxTokens });
  return out;
}

/**
 * Token ids fed as a tensor: one sequence, checked against the vocabulary as typed ids are, and
 * named through the tokenizer when there is one (else `<id>`).
 */
function fedTokens(
  modelPath: string, t: FeedTensor, file: string, vocab: number | null, maxTokens: number, fixed?: FixedTokens,
): ReturnType<typeof resolveTokens> {
  const name = printable(path.basename(file));
  const S = t.dims[t.dims.length - 1] ?? 1;
  if (t.data.length !== S) {
    throw new EngineError('bad-argument', `${name} holds ${t.dims.join('×')} token ids; the engine runs one sequence at a time: give 1×${S}.`);
  }
  if (S > maxTokens) throw tooLong(S, 'tokens', maxTokens, fixed);
  const ids: number[] = [];
  for (let k = 0; k < S; k++) {
    const v = t.data[k];
    if (v < 0 || (vocab !== null && v >= vocab)) {
      const at = t.dims.map((_, a) => (a === t.dims.length - 1 ? k : 0)).join(', ');
      throw new EngineError('bad-ids', `Token id ${v} at [${at}] of ${name} is outside the model's vocabulary (0–${vocab === null ? '?' : vocab - 1}).`);
    }
    ids.push(Number(v));
  }
  const tokFile = findTokenizer(modelPath);
  const { tok, note } = optionalTokenizer(tokFile);
  const tokens = ids.map((id, index) => ({ index, id, text: tok ? tok.tokenText(id) : `<${id}>` }));
  return { ids, tokens, tokenizer: tok ? tokFile ?? null : null, note: [`The token ids are those in ${name}.`, note].filter(Boolean).join(' ') };
}

/** Tokens for a text model: from the prompt through the model's tokenizer, or given ids. */
export function resolveTokens(
  modelPath: string, opts: InputOptions, vocab: number | null, maxTokens: number, fixed?: FixedTokens,
): { ids: number[]; tokens: TokenInfo[]; tokenizer: string | null; note?: string; truncated?: Truncated } {
  const tokFile = findTokenizer(modelPath);
  let ids: number[];
  let tok: ReturnType<typeof loadTokenizer> | undefined;
  let note: string | undefined;
  let truncated: Truncated | undefined;
  // Too long: refused, or with `truncate` its first maxTokens tokens (a paste's beginning is what the paper reads).
  const fit = (all: number[]): number[] => {
    if (all.length <= maxTokens) return all;
    if (!opts.truncate) throw tooLong(all.length, 'tokens', maxTokens, fixed);
    truncated = { kept: maxTokens, of: all.length };
    return all.slice(0, maxTokens);
  };
  if (opts.ids) {
    if (!opts.ids.length) throw new EngineError('bad-ids', `No token ids given: give at least one (${option('ids', '1,2,3')}).`);
    ids = fit(opts.ids);
    checkIds(ids, vocab);
    ({ tok, note } = optionalTokenizer(tokFile));
  } else {
    const prompt = opts.prompt ?? DEFAULT_PROMPT;
    if (!prompt.trim()) throw new EngineError('bad-prompt', 'The prompt is empty: give some text to run the model on.');
    if (!tokFile) {
      const sample = sampleIds(vocab ?? opts.target?.config?.vocabSize ?? null, opts.target?.config?.bosTokenId).ids.join(',');
      throw new EngineError('bad-prompt', `No tokenizer.json next to ${printable(path.basename(modelPath))} (or one folder up), so text cannot be turned into tokens. Put the model's tokenizer.json beside it, or give token ids instead (${option('ids', sample)}).`);
    }
    // Refuse absurd prompts before tokenising them: even one character per token would overflow.
    // Truncated, only a beginning that surely holds maxTokens tokens is tokenised.
    const cap = maxTokens * 32;
    if (prompt.length > cap && !opts.truncate) throw tooLong(prompt.length, 'characters', maxTokens, fixed);
    tok = loadTokenizer(tokFile);
    const encoded = tok.encode(prompt.length > cap ? prompt.slice(0, cap) : prompt);
    if (!encoded.length) throw new EngineError('bad-prompt', 'The prompt produced no tokens.');
    ids = fit(encoded);
    // A beginning cut off at the character cap: the whole had more tokens than the beginning's, how many is not known.
    if (prompt.length > cap) truncated = { kept: ids.length, of: encoded.length, atLeast: true };
    const bad = vocab === null ? undefined : ids.find((i) => i >= vocab);
    if (bad !== undefined) {
      throw new EngineError('bad-prompt', `The tokenizer ${printable(tokFile)} does not belong to this model: it turned the prompt into token id ${bad}, but the model's vocabulary has ${vocab!.toLocaleString('en-US')} tokens (the tokenizer defines ${tok.size().toLocaleString('en-US')}). Put the model's own tokenizer.json beside it.`);
    }
  }
  const tokens = ids.map((id, index) => ({ index, id, text: tok ? tok.tokenText(id) : `<${id}>` }));
  return { ids, tokens, tokenizer: tok ? tokFile ?? null : null, note: [note, tok?.note].filter(Boolean).join(' ') || undefined, ...(truncated ? { truncated } : {}) };
}

function checkIds(ids: number[], vocab: number | null): void {
  const bad = ids.find((i) => !Number.isInteger(i) || i < 0 || (vocab !== null && i >= vocab));
  if (bad !== undefined) throw new EngineError('bad-ids', `Token id ${bad} is outside the model's vocabulary (0–${vocab === null ? '?' : vocab - 1}).`);
}

function tooLong(n: number, unit: string, max: number, fixed?: FixedTokens): EngineError {
  const limit = fixed?.count === max ? `the model ${takesTokens(fixed)}`
    : `the limit is ${max.toLocaleString('en-US')} tokens (the smaller of ${option('maxTokens')} and the model's position table)`;
  const first = max === 1 ? 'its first token' : `its first ${max.toLocaleString('en-US')} tokens`;
  return new EngineError('too-long', `The input is ${n.toLocaleString('en-US')} ${unit}; ${limit}. Give a shorter input, or run ${first} (${option('truncate')}).`, { tokens: n, limit: max, unit });
}

/** ONNX Runtime refuses a fixed token axis given fewer tokens too. */
function tooShort(n: number, fixed: FixedTokens): EngineError {
  return new EngineError('bad-argument', `The input is ${n.toLocaleString('en-US')} token${n === 1 ? '' : 's'}, but the model ${takesTokens(fixed)}: give ${fixed.count.toLocaleString('en-US')}.`);
}

function takesTokens(f: FixedTokens): string {
  const count = f.count === 1 ? '1 token' : `exactly ${f.count.toLocaleString('en-US')} tokens`;
  return `takes ${count} at a time (its input "${printable(f.input)}" is [${f.shape.join(', ')}])`;
}

/**
 * The one open embedding part (embed_tokens.onnx): kept between runs of its export, released when
 * another export's replaces it, so a session of the first never lingers beside the second's.
 */
class EmbeddingSession {
  private open: { key: string; session: Promise<ort.InferenceSession> } | undefined;

  get(file: string, threads?: number): Promise<ort.InferenceSession> {
    const st = statSync(file);
    const key = JSON.stringify([path.resolve(file), st.size, st.mtimeMs, threads]);
    if (this.open?.key !== key) {
      this.release();
      this.open = { key, session: openPlain(file, { threads }) };
    }
    return this.open.session;
  }

  release(): void {
    const old = this.open?.session;
    this.open = undefined;
    // A session that failed to open has nothing to release.
    void old?.then((s) => s.release()).catch(() => undefined);
  }
}

/** The engine process's embedding part (one process runs one export's parts at a time). */
export const embeddingSession = new EmbeddingSession();

/** An encoder's output for one image or sound: a feature row per token it stands for. */
interface EncoderFeatures { data: Float32Array; tokens: number; note?: string }

/** Runs a vision-language export's vision_encoder.onnx on an image prepared as its preprocessor_config.json says. */
async function imageFeatures(file: string, imageFile: string, threads?: number): Promise<EncoderFeatures & { width: number; height: number }> {
  let size = { width: 0, height: 0 };
  let note: string | undefined;
  const features = await runEncoder(file, threads, (session) => {
    const input = session.inputNames[0];
    const shape = (session.inputMetadata as unknown as { name: string; shape?: (number | string)[] }[]).find((m) => m.name === input)?.shape ?? [];
    const side = (k: number) => (typeof shape[k] === 'number' ? shape[k] as number : undefined);
    const pre = readPreprocess(file, side(2), side(3));
    const img = decodeImage(imageFile);
    size = { width: img.width, height: img.height };
    note = pre.note;
    return { [input]: new ort.Tensor('float32', toPixelValues(img, pre), [1, 3, pre.height, pre.width]) };
  });
  return { ...features, ...size, ...(note ? { note } : {}) };
}

/** Runs an encoder part once on the feeds `feedsOf` makes for its session: its first output, a feature row per token. */
async function runEncoder(
  file: string, threads: number | undefined, feedsOf: (s: ort.InferenceSession) => Record<string, ort.Tensor>,
): Promise<EncoderFeatures> {
  const session = await openPlain(file, { threads });
  try {
    const out = (await session.run(feedsOf(session)))[session.outputNames[0]];
    const data = toFloat32(out);
    return { data, tokens: data.length / Number(out.dims[out.dims.length - 1]) };
  } finally {
    await session.release();
  }
}

/**
 * The feeds of a part that runs before the decoder (an audio encoder's input_features), apart from
 * the decoder's: a name only that part takes goes to it.
 */
function splitPartFeeds(all: Record<string, string>, decoderInputs: ClassifiedInput[], part: string | undefined) {
  if (!part || !Object.keys(all).length) return { files: all, partFiles: {} as Record<string, string> };
  const takes = new Set(loadModel(part).proto.graph!.input.map((i) => i.name));
  const files: Record<string, string> = {};
  const partFiles: Record<string, string> = {};
  for (const [name, file] of Object.entries(all)) {
    if (takes.has(name) && !decoderInputs.some((i) => i.name === name)) partFiles[name] = file;
    else files[name] = file;
  }
  return { files, partFiles };
}

/** Runs an audio-language export's audio_encoder.onnx on the features fed to it (others get their defaults). */
async function audioFeatures(file: string, files: Record<string, string>, maxTokens: number, threads?: number): Promise<EncoderFeatures> {
  const typed = classifyInputs(new GraphIndex(loadModel(file).proto.graph!));
  const feeds = syntheticFeeds(typed, 1, loadGiven(files, typed, maxTokens));
  return runEncoder(file, threads, () => Object.fromEntries(Object.entries(feeds).map(([name, f]) => [name, new ort.Tensor(f.type as 'float32', f.data, f.dims)])));
}

/**
 * Where an encoder's features go: its token's places in the ids when the prompt holds it as many
 * times as there are features, one place widened to all of them (as processors expand "<image>"),
 * or, without one, right after the first token. Their tokens read `text` (IMAGE_TOKEN_TEXT, …).
 */
function placeMediaTokens(
  r: { ids: number[]; tokens: TokenInfo[] }, count: number, tokenId: number | undefined, text: string, what: string, maxTokens: number,
): { ids: number[]; tokens: TokenInfo[] } {
  const at = tokenId === undefined ? [] : r.ids.flatMap((id, k) => (id === tokenId && r.tokens[k]?.text !== IMAGE_TOKEN_TEXT ? [k] : []));
  // Per new position, the prompt token it was (null where the features go).
  let from: (number | null)[];
  if (at.length === count) {
    from = r.ids.map((_, k) => (at.includes(k) ? null : k));
  } else if (at.length <= 1) {
    const k = at.length ? at[0] : Math.min(1, r.ids.length);
    const kept = (a: number, b: number) => Array.from({ length: Math.max(0, b - a) }, (_, j) => a + j);
    from = [...kept(0, k), ...new Array<null>(count).fill(null), ...kept(k + at.length, r.ids.length)];
  } else {
    throw new EngineError('bad-prompt', `The prompt holds the ${what} token ${at.length} times, but the ${what} gives ${count} features; give it once (or ${count} times), or not at all.`);
  }
  if (from.length > maxTokens) throw tooLong(from.length, `tokens (the ${what} takes ${count})`, maxTokens);
  const texts = new Map(r.tokens.map((t) => [t.index, t.text]));
  const ids = from.map((k) => (k === null ? tokenId ?? 0 : r.ids[k]));
  const tokens = from.map((k, index) => ({ index, id: ids[index], text: k === null ? text : texts.get(k) ?? `#${k}` }));
  return { ids, tokens };
}

/** The embeddings with the rows of the tokens reading `text` replaced by the features, in the embeddings' type. */
function spliceRows(embeddings: FeedTensor, tokens: TokenInfo[], image: EncoderFeatures, text: string): FeedTensor {
  const width = embeddings.dims[embeddings.dims.length - 1];
  if (image.data.length / image.tokens !== width) {
    throw new EngineError('invalid-model', `The encoder gives features ${image.data.length / image.tokens} wide, but the decoder's embeddings are ${width} wide: they are not parts of one model.`);
  }
  const rows = tokens.filter((t) => t.text === text).map((t) => t.index);
  const half = embeddings.type === 'float16';
  const data = half ? Uint16Array.from(embeddings.data as Uint16Array) : Float32Array.from(embeddings.data as Float32Array);
  rows.forEach((row, j) => {
    for (let c = 0; c < width; c++) {
      const v = image.data[j * width + c];
      data[row * width + c] = half ? floatToHalf(v) : v;
    }
  });
  return { type: embeddings.type, data, dims: embeddings.dims };
}

/** Runs a multi-file export's embed_tokens.onnx: token ids → the embeddings its decoder takes. */
export async function embedTokens(file: string, ids: number[], threads?: number): Promise<FeedTensor> {
  const outputs = await embedTokenOutputs(file, ids, threads);
  return outputs[Object.keys(outputs)[0]];
}

/**
 * Every output of embed_tokens.onnx by name, the embeddings first: Gemma 3n's also gives
 * per_layer_inputs, which its decoder takes beside inputs_embeds.
 */
export async function embedTokenOutputs(file: string, ids: number[], threads?: number): Promise<Record<string, FeedTensor>> {
  const session = await embeddingSession.get(file, threads);
  const name = session.inputNames[0];
  const { Tensor } = ort;
  const run = (t: ort.Tensor) => session.run({ [name]: t });
  let out: Record<string, ort.Tensor>;
  try {
    out = await run(new Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]));
  } catch {
    // Some exports take int32 ids.
    out = await run(new Tensor('int32', Int32Array.from(ids), [1, ids.length]));
  }
  return Object.fromEntries(session.outputNames.map((name) => {
    const t = out[name];
    return [name, { type: t.type, data: t.data as Float32Array, dims: t.dims.map(Number) }];
  }));
}
