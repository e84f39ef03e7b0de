import { DT, floatToHalf, ortType } from './onnx/dtype';
import { firstFew, printable } from '../base/text';
import type { GraphIndex } from './onnx/graph';
import { EngineError, option } from '../base/errors';

export type InputRole =
  | 'ids' | 'attention_mask' | 'position_ids' | 'token_type_ids' | 'past' | 'use_cache_branch'
  | 'pixels' | 'inputs_embeds' | 'num_logits_to_keep' | 'features'
  /** Inputs with a documented default (see defaultFeed): masks are ones, positions count up, the rest zeros. */
  | 'encoder_hidden_states' | 'mask' | 'positions' | 'other'
  /**
   * A weight or buffer the export made a graph input without a value (training-forward graphs'
   * primals_N, old exports' h.0.attn.bias): not an input of the model's user, and nothing to make up.
   */
  | 'weight'
  /**
   * What a model rewritten for a device takes instead of computing it: the rotary cos / sin of the
   * run's positions, and a norm's epsilon. Defaults come from config.json (rope_theta, rms_norm_eps).
   */
  | 'rotary' | 'epsilon'
  /**
   * An image as flattened patches, [patches, channels × patch²] (Qwen2-VL's vision encoder), with
   * the grid it was cut into ([1, 3]: frames, rows, columns).
   */
  | 'patches' | 'grid';

export interface ClassifiedInput { name: string; elemType: number; shape: (number | string)[]; role: InputRole }

/** What each graph input is for, read from its name, type and shape (never assumed). */
export function classifyInputs(g: GraphIndex): ClassifiedInput[] {
  const inputs = g.graph.input.filter((i) => !g.initializers.has(i.name)).map((i) => {
    const elemType = g.elemTypeOf(i.name) ?? DT.FLOAT;
    const shape = g.shapeOf(i.name) ?? [];
    return { name: i.name, elemType, shape, role: roleOf(i.name, elemType, shape) };
  });
  // Beside a patch grid or the vision rotary angles made from one, a float matrix is the image cut
  // into patches, not token ids or features.
  const isFloat = (i: ClassifiedInput) => i.elemType !== DT.INT64 && i.elemType !== DT.INT32;
  const grid = inputs.find((i) => /(^|_)grid_thw$/i.test(i.name) && !isFloat(i));
  const angles = inputs.filter((i) => isFloat(i) && i.shape.length === 2 && /rotary_pos_emb|pos_emb/i.test(i.name));
  if (grid || angles.length) {
    if (grid) grid.role = 'grid';
    const patches = inputs.find((i) => i.shape.length === 2 && isFloat(i) && !angles.includes(i) && /hidden_states|pixel_values|patches/i.test(i.name));
    if (patches) patches.role = 'patches';
    // Its rotary angles follow the patches' places in the grid (merged 2 × 2): zeros, said with the run, until fed.
    if (patches) for (const i of angles) i.role = 'other';
  }
  return inputs;
}

function roleOf(name: string, t: number, shape: (number | string)[]): InputRole {
  const n = name.toLowerCase();
  const isInt = t === DT.INT64 || t === DT.INT32;
  if (isWeightInput(name, shape)) return 'weight';
  if (!isInt && ROTARY_NAME.test(name)) return 'rotary';
  // One number however it is shaped: a scalar, [1] or torch's [[1e-6]] ([1, 1]).
  if (!isInt && shape.every((d) => d === 1) && /(^|[._])(norm_)?eps(ilon)?$/i.test(name)) return 'epsilon';
  // past_key_values.0.key, cache.0.key, and on-device runtimes' k_cache_0 / key_cache_0 / cache_k_0 / kv_cache.
  if (/past|cache\.|\.key$|\.value$|(^|[._])(k|v|key|value)_?cache|cache_(k|v|key|value)([._\d]|$)|kv_?cache/.test(n) && !/use_cache/.test(n)) return 'past';
  if (/use_cache/.test(n)) return 'use_cache_branch';
  if (/inputs_embeds/.test(n)) return 'inputs_embeds';
  if (/logits_to_keep/.test(n)) return 'num_logits_to_keep';
  if (/encoder_hidden_states|encoder_outputs|encoder_last_hidden/.test(n)) return 'encoder_hidden_states';
  if (/encoder_attention_mask|cross_attention_mask|pixel_attention_mask|pixel_mask/.test(n)) return 'mask';
  if (isInt && /cache_position/.test(n)) return 'positions';
  if (isInt && /(attention_)?mask/.test(n)) return 'attention_mask';
  if (isInt && /position/.test(n)) return 'position_ids';
  if (isInt && /token_type|segment/.test(n)) return 'token_type_ids';
  if (isInt && (/ids|input|token/.test(n) || shape.length === 2)) return 'ids';
  if (!isInt && (/pixel|image/.test(n) || (shape.length === 4 && (shape[1] === 3 || shape[1] === 1)))) return 'pixels';
  if (/mask/.test(n)) return 'mask';
  if (!isInt) return 'features';
  return 'other';
}

/**
 * A graph input that is a parameter, not data: its shape is fixed (data has a batch or sequence
 * axis left free) and its name is a parameter's (…weight, …bias, running statistics, torch's
 * primals_N) or a bare number (old exports number their parameters).
 */
function isWeightInput(name: string, shape: (number | string)[]): boolean {
  if (!shape.length || shape.some((d) => typeof d !== 'number')) return false;
  return /(^|[._/])(weight|bias|gamma|beta|running_mean|running_var|masked_bias)$/i.test(name) || /^primals_\d+$/.test(name) || /^\d+$/.test(name);
}

/** Inputs holding rotary tables: cos / sin (of HF's rotate-half, or ORT's half caches), rope, rotary_pos_emb. */
const ROTARY_NAME = /(^|[._/])(cos|sin)([._](cache|cached|table|emb))?$|^(rope|rotary)([._](cos|sin))?$|position_(cos|sin)/i;

/** What a model's config says about values it may take as inputs (see the 'rotary' and 'epsilon' roles). */
export interface ModelConstants { ropeTheta?: number; normEps?: number; headDim?: number }

const DEFAULT_ROPE_THETA = 10_000;
const DEFAULT_NORM_EPS = 1e-6;

/**
 * cos or sin of the rotary angles for positions 0…n−1 along the input's sequence axis: position ×
 * θ^(−2j / head size) for frequency j. A last axis of the head size holds the frequencies twice
 * (Hugging Face's rotate-half), one of half the head size once (ONNX Runtime's caches).
 */
function rotaryFeed(i: ClassifiedInput, tokens: number, c: ModelConstants): FeedTensor {
  const dims = bindDims(i.shape, tokens);
  const last = dims[dims.length - 1] ?? 1;
  const headDim = c.headDim && (c.headDim === last || c.headDim === 2 * last) ? c.headDim : last;
  const half = headDim / 2;
  const theta = c.ropeTheta ?? DEFAULT_ROPE_THETA;
  const seqAxis = i.shape.findIndex((d, k) => k < i.shape.length - 1 && typeof d === 'string' && isSequenceDim(d));
  const stride = dims.slice(seqAxis + 1).reduce((a, b) => a * b, 1);
  const sin = /sin/i.test(i.name);
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const p = seqAxis < 0 ? 0 : Math.floor(k / stride) % dims[seqAxis];
    const j = (k % last) % half;
    const angle = p * Math.pow(theta, (-2 * j) / headDim);
    data[k] = sin ? Math.sin(angle) : Math.cos(angle);
  }
  return i.elemType === DT.FLOAT16 ? { type: 'float16', data: Uint16Array.from(data, floatToHalf), dims } : { type: 'float32', data, dims };
}

/** Weights the export made inputs must be given: zeros or ones in their place would be another model. */
export function requireWeights(inputs: ClassifiedInput[], given: Record<string, unknown>): void {
  const missing = inputs.filter((i) => i.role === 'weight' && !(i.name in given));
  if (!missing.length) return;
  const names = firstFew(missing.map((i) => `${printable(i.name)} [${i.shape.join('×')}]`));
  const what = missing.length === 1 ? 'a weight as a graph input without a value' : `${missing.length.toLocaleString('en-US')} weights as graph inputs without values`;
  throw new EngineError('unsupported-input', `The model takes ${what} (${names}): ` +
    `the engine cannot make them up. Feed ${missing.length === 1 ? 'it' : 'each'} with ${option('feed', 'NAME=FILE.npy')}, or export the model with its weights inside it (initializers).`);
}

/** A tensor to feed, independent of the runtime library. */
export interface FeedTensor { type: string; data: BigInt64Array | Int32Array | Float32Array | Uint16Array | Uint8Array; dims: number[] }

export function intTensor(elemType: number, values: number[], dims: number[]): FeedTensor {
  if (elemType === DT.INT32) return { type: 'int32', data: Int32Array.from(values), dims };
  return { type: 'int64', data: BigInt64Array.from(values.map((v) => BigInt(v))), dims };
}

function zerosOf(elemType: number, dims: number[]): FeedTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const type = ortType(elemType) ?? 'float32';
  switch (type) {
    case 'float16': return { type, data: new Uint16Array(n), dims };
    case 'int64': return { type, data: new BigInt64Array(n), dims };
    case 'int32': return { type, data: new Int32Array(n), dims };
    case 'bool': case 'uint8': case 'int8': return { type, data: new Uint8Array(n), dims };
    default: return { type: 'float32', data: new Float32Array(n), dims };
  }
}

/** Dims for a past key/value: batch 1, past length 0 (an empty cache), fixed dims as declared. */
function pastDims(shape: (number | string)[]): number[] {
  const named = shape.map((d) => (typeof d === 'number' ? d : /past|total|seq/i.test(d) ? 0 : /batch/i.test(d) ? 1 : -1));
  const rank = shape.length;
  return named.map((d, i) => {
    if (d >= 0) return d;
    if (rank === 5) return i === 1 ? 1 : i === 3 ? 0 : 1;
    return i === 0 ? 1 : i === rank - 2 ? 0 : 1;
  });
}

/** A symbolic dim that counts inputs: the engine runs a batch of one. */
export function isBatchDim(d: string): boolean {
  return /batch/i.test(d);
}

/** A symbolic dim that counts positions of the sequence (tokens, frames, steps). */
export function isSequenceDim(d: string): boolean {
  return /seq|token|len|source|target|total|time|frame|position|encoder|decoder|step/i.test(d);
}

/**
 * Symbolic dims of an input bound for one run: batch 1, sequence-like dims the token count, any
 * other the size 1. The same rule (documented in the README) serves every input without a role.
 */
export function bindDims(shape: (number | string)[], tokens: number): number[] {
  return shape.map((d) => {
    if (typeof d === 'number' && d > 0) return d;
    const s = String(d);
    if (isBatchDim(s)) return 1;
    if (isSequenceDim(s)) return tokens;
    return 1;
  });
}

function filled(elemType: number, dims: number[], value: (k: number) => number): FeedTensor {
  const t = zerosOf(elemType, dims);
  const n = t.data.length;
  if (t.data instanceof BigInt64Array) for (let k = 0; k < n; k++) t.data[k] = BigInt(value(k));
  else if (t.type === 'float16') for (let k = 0; k < n; k++) (t.data as Uint16Array)[k] = floatToHalf(value(k));
  else for (let k = 0; k < n; k++) (t.data as Float32Array)[k] = value(k);
  return t;
}

/**
 * The documented default for an input the engine has no prompt-derived value for: masks are all
 * ones (attend everywhere), position-like inputs count 0, 1, 2, … along their last axis, anything
 * else is zeros of the declared type and shape (dims bound by bindDims). A user's own tensor
 * (--feed NAME=FILE in the CLI, massiveActivations.feeds in VS Code) replaces it.
 */
export function defaultFeed(i: ClassifiedInput, tokens: number, constants: ModelConstants = {}): FeedTensor {
  if (i.role === 'rotary') return rotaryFeed(i, tokens, constants);
  if (i.role === 'grid') {
    // One frame, the patches in the most square grid their count allows.
    let rows = Math.floor(Math.sqrt(tokens));
    while (rows > 1 && tokens % rows) rows--;
    return intTensor(i.elemType, [1, rows, tokens / rows], [1, 3]);
  }
  const dims = bindDims(i.shape, tokens);
  if (i.role === 'epsilon') return filled(i.elemType, dims, () => constants.normEps ?? DEFAULT_NORM_EPS);
  if (i.role === 'mask' || i.role === 'attention_mask') return filled(i.elemType, dims, () => 1);
  if (i.role === 'positions' || /position/i.test(i.name)) { const last = dims[dims.length - 1] ?? 1; return filled(i.elemType, dims, (k) => k % last); }
  return zerosOf(i.elemType, dims);
}

/** Inputs that get a generic default (reported to the user with the run). */
export function defaultedInputs(inputs: ClassifiedInput[], given: Record<string, unknown> = {}): ClassifiedInput[] {
  return inputs.filter((i) => ['encoder_hidden_states', 'mask', 'positions', 'other', 'rotary', 'epsilon', 'grid'].includes(i.role) && !(i.name in given));
}

export function describeDefaults(inputs: ClassifiedInput[], tokens: number, constants: ModelConstants = {}): string | undefined {
  if (!inputs.length) return undefined;
  const theta = constants.ropeTheta !== undefined ? `θ ${constants.ropeTheta} from config.json` : `θ ${DEFAULT_ROPE_THETA}, no rope_theta in a config.json`;
  const eps = constants.normEps !== undefined ? `${constants.normEps} from config.json` : `${DEFAULT_NORM_EPS}, no rms_norm_eps in a config.json`;
  const value = (i: ClassifiedInput) => (i.role === 'mask' ? 'ones' : i.role === 'rotary' ? `rotary ${/sin/i.test(i.name) ? 'sin' : 'cos'} of positions 0…${tokens - 1} (${theta})`
    : i.role === 'epsilon' ? eps : i.role === 'grid' ? 'one frame of the patches, rows × columns' : i.role === 'positions' || /position/i.test(i.name) ? 'positions' : 'zeros');
  const what = inputs.map((i) => `${printable(i.name)} = ${value(i)} [${bindDims(i.shape, tokens).join(', ')}]`);
  return `Inputs given their default: ${what.join('; ')}. Feed your own with ${option('feed')} (.npy or .json).`;
}

/**
 * Feeds for a text model from token ids (or, for a model fed its embeddings, from their sequence
 * length alone): batch of one, no past. `given` replaces any input by name.
 */
export function textFeeds(
  inputs: ClassifiedInput[], ids: number[] | { length: number }, given: Record<string, FeedTensor> = {}, constants: ModelConstants = {},
): Record<string, FeedTensor> {
  const S = ids.length;
  requireWeights(inputs, given);
  const feeds: Record<string, FeedTensor> = {};
  for (const i of inputs) {
    if (given[i.name]) { feeds[i.name] = given[i.name]; continue; }
    switch (i.role) {
      case 'ids':
        if (!Array.isArray(ids)) {
          const feed = option('feed', `${printable(i.name)}=FILE.npy`);
          throw new EngineError('unsupported-input', `The model takes both "${printable(i.name)}" and embeddings; feed its token ids too, with ${feed}.`);
        }
        feeds[i.name] = intTensor(i.elemType, ids, [1, S]);
        break;
      case 'attention_mask': feeds[i.name] = intTensor(i.elemType, new Array(S).fill(1), [1, S]); break;
      case 'position_ids': feeds[i.name] = intTensor(i.elemType, Array.from({ length: S }, (_, k) => k), [1, S]); break;
      case 'token_type_ids': feeds[i.name] = intTensor(i.elemType, new Array(S).fill(0), [1, S]); break;
      case 'past': feeds[i.name] = zerosOf(i.elemType, pastDims(i.shape)); break;
      case 'use_cache_branch': feeds[i.name] = { type: 'bool', data: new Uint8Array([0]), dims: [1] }; break;
      case 'num_logits_to_keep': feeds[i.name] = intTensor(i.elemType, [0], []); break;
      case 'inputs_embeds': throw new EngineError('unsupported-input', `The model takes "${printable(i.name)}" (embeddings) rather than token ids, so it cannot be run from a prompt. Open the folder holding its embed_tokens.onnx, or feed the embeddings with ${option('feed', `${printable(i.name)}=FILE.npy`)}.`);
      default: feeds[i.name] = defaultFeed(i, S, constants);
    }
  }
  return feeds;
}

/** A deterministic stand-in input for models fed with floats (images, features) when none is given. */
export function syntheticFeeds(
  inputs: ClassifiedInput[], seed = 1, given: Record<string, FeedTensor> = {}, constants: ModelConstants = {},
): Record<string, FeedTensor> {
  const feeds: Record<string, FeedTensor> = {};
  // Masks and positions follow the sequence of the features given (an audio encoder's frames).
  const fed = inputs.find((i) => i.role === 'features' && given[i.name] && typeof i.shape[i.shape.length - 1] !== 'number');
  const fedPatches = inputs.find((i) => i.role === 'patches' && given[i.name]);
  // Flattened patches count their tokens on the first axis, audio features on the last.
  const steps = fedPatches ? given[fedPatches.name].dims[0] : fed ? given[fed.name].dims[given[fed.name].dims.length - 1] : 16;
  requireWeights(inputs, given);
  // A free dimension named as one of a given tensor's takes its size there (rotary_pos_emb's num_patches).
  const known = new Map<string, number>();
  for (const i of inputs) {
    const t = given[i.name];
    if (t && t.dims.length === i.shape.length) i.shape.forEach((d, k) => { if (typeof d === 'string') known.set(d, t.dims[k]); });
  }
  let s = seed >>> 0;
  const rnd = () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
  for (const declared of inputs) {
    if (given[declared.name]) { feeds[declared.name] = given[declared.name]; continue; }
    const i = { ...declared, shape: declared.shape.map((d) => (typeof d === 'string' && known.has(d) ? known.get(d)! : d)) };
    const free = (k: number) => (i.role === 'patches' ? (k === 0 ? steps : 16) : k === 0 ? 1 : i.role === 'pixels' ? (k === 1 ? 3 : 224) : 16);
    const dims = i.shape.map((d, k) => (typeof d === 'number' ? d : free(k)));
    if (i.role === 'pixels' || i.role === 'features' || i.role === 'patches') {
      const n = dims.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      // Smooth structure plus noise: a plausible image-like signal rather than white noise.
      for (let k = 0; k < n; k++) data[k] = 0.5 * Math.sin(k * 0.013) + (rnd() - 0.5);
      feeds[i.name] = { type: 'float32', data, dims };
    } else if (i.role === 'past') {
      feeds[i.name] = zerosOf(i.elemType, pastDims(i.shape));
    } else {
      feeds[i.name] = defaultFeed(i, steps, constants);
    }
  }
  return feeds;
}
