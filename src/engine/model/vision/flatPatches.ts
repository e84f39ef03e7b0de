import { EngineError } from '../../base/errors';
import { printable } from '../../base/text';
import type { Patching } from './image';

/**
 * Qwen2-VL's image processor, for vision encoders that take an image as flattened patches
 * [patches, channels · frames · P²] beside its grid [1, 3] (Qwen2-VL, Qwen2.5-VL, Qwen3-VL): the
 * image is resized to multiples of P · merge within a pixel budget, repeated to fill the frames
 * of one temporal patch, and cut into P × P patches listed merge window by merge window (the
 * merge × merge patches the encoder's merger joins into one token are consecutive rows).
 */
export interface PatchCutting { channels: number; patch: number; temporal: number; merge: number; minPixels: number; maxPixels: number }

/** Qwen2VLImageProcessor's defaults. */
const DEFAULTS = { merge: 2, minPixels: 56 * 56, maxPixels: 28 * 28 * 1280 };
const CHANNELS = 3;

/** OpenAI CLIP's mean and standard deviation, Qwen2-VL's processor's defaults. */
export const CLIP_NORM = { mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711] };

/**
 * How the model's `width` values a row make a patch: from preprocessor_config.json where it says,
 * else the one reading of channels · frames · P² (two frames first, as Qwen2-VL's processors use).
 */
export function patchCutting(input: string, width: number, cfg: Patching, configName: string): PatchCutting {
  const base = {
    channels: CHANNELS, merge: cfg.merge ?? DEFAULTS.merge, minPixels: cfg.minPixels ?? DEFAULTS.minPixels, maxPixels: cfg.maxPixels ?? DEFAULTS.maxPixels,
  };
  if (cfg.patch !== undefined || cfg.temporal !== undefined) {
    const temporal = cfg.temporal ?? 2;
    const patch = cfg.patch ?? Math.round(Math.sqrt(width / (CHANNELS * temporal)));
    if (CHANNELS * temporal * patch * patch !== width) {
      throw new EngineError('bad-file', `${printable(configName)} gives patches of ${patch}×${patch} pixels over ${temporal} frame${temporal === 1 ? '' : 's'} ` +
        `(${CHANNELS} · ${temporal} · ${patch}² = ${CHANNELS * temporal * patch * patch} values), but the model's "${printable(input)}" takes ${width} a patch. Restore the config that came with the model.`);
    }
    return { ...base, patch, temporal };
  }
  for (const temporal of [2, 1]) {
    const patch = Math.round(Math.sqrt(width / (CHANNELS * temporal)));
    if (CHANNELS * temporal * patch * patch === width) return { ...base, patch, temporal };
  }
  throw new EngineError('unsupported-input', `The model's "${printable(input)}" takes ${width} values a patch, which is not 3 channels × frames × a square patch; ` +
    `say how it cuts images with patch_size and temporal_patch_size in ${printable(configName)}, or feed the patches with --feed.`);
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Qwen2-VL's smart_resize: each side to the nearest multiple of `factor`, then scaled together to
 * stay within [minPixels, maxPixels].
 */
export function smartResize(height: number, width: number, factor: number, minPixels: number, maxPixels: number): { height: number; width: number } {
  if (Math.max(height, width) / Math.min(height, width) > 200) {
    throw new EngineError('bad-argument', `The image is ${width}×${height} pixels: a side over 200 times the other, which Qwen2-VL's processor refuses too. Crop it first.`);
  }
  let h = Math.max(factor, roundHalfEven(height / factor) * factor);
  let w = Math.max(factor, roundHalfEven(width / factor) * factor);
  if (h * w > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    h = Math.max(factor, Math.floor(height / beta / factor) * factor);
    w = Math.max(factor, Math.floor(width / beta / factor) * factor);
  } else if (h * w < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    h = Math.ceil((height * beta) / factor) * factor;
    w = Math.ceil((width * beta) / factor) * factor;
  }
  return { height: h, width: w };
}

/**
 * The grid place (row, column) of each patch, in the order the encoder takes them: merge window by
 * merge window in raster order, the patches of a window in raster order. The patches and their
 * rotary angles both follow it.
 */
function patchPlaces(gh: number, gw: number, merge: number): [number, number][] {
  const places: [number, number][] = [];
  for (let bh = 0; bh < gh / merge; bh++) for (let bw = 0; bw < gw / merge; bw++) for (let mh = 0; mh < merge; mh++) for (let mw = 0; mw < merge; mw++) {
    places.push([bh * merge + mh, bw * merge + mw]);
  }
  return places;
}

/**
 * An image (channels × height × width, sides multiples of patch · merge) as rows of flattened
 * patches in patchPlaces' order; within a row, channel, frame (the image repeated), patch row,
 * patch column.
 */
export function cutIntoPatches(chw: Float32Array, height: number, width: number, c: PatchCutting): { rows: Float32Array; grid: [number, number, number] } {
  const { patch: P, temporal: T, merge: M, channels: C } = c;
  const gh = height / P;
  const gw = width / P;
  const K = C * T * P * P;
  const rows = new Float32Array(gh * gw * K);
  let k = 0;
  for (const [row, col] of patchPlaces(gh, gw, M)) {
    const y0 = row * P;
    const x0 = col * P;
    for (let ch = 0; ch < C; ch++) for (let t = 0; t < T; t++) for (let py = 0; py < P; py++) {
      const from = (ch * height + y0 + py) * width + x0;
      rows.set(chw.subarray(from, from + P), k);
      k += P;
    }
  }
  return { rows, grid: [1, gh, gw] };
}

/**
 * The vision rotary angles Qwen2-VL's encoder computes from the grid (rot_pos_emb): each patch's
 * row and column, in the patches' order, times the frequencies θ^(−2j / dim) for j < dim / 2;
 * `dim` is the input's last axis (half the head size), rows' angles first.
 */
export function visionRotary(gh: number, gw: number, merge: number, dim: number, theta = 10_000): Float32Array {
  const perAxis = dim / 2;
  const inv = Array.from({ length: perAxis }, (_, j) => Math.pow(theta, (-2 * j) / dim));
  const out = new Float32Array(gh * gw * dim);
  patchPlaces(gh, gw, merge).forEach(([row, col], n) => {
    for (let j = 0; j < perAxis; j++) {
      out[n * dim + j] = row * inv[j];
      out[n * dim + perAxis + j] = col * inv[j];
    }
  });
  return out;
}
