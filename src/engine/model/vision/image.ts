import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { EngineError } from '../../base/errors';
import { brokenLink, FILE_LIMITS, readChecked } from '../../base/files';
import { readSidecar } from '../sidecar';
import { printable } from '../../base/text';

/** An RGB image, values in [0, 1], row-major [height][width][3]. */
export interface RgbImage { width: number; height: number; data: Float32Array }

const MAX_PIXELS = 50e6;

/** Decodes PNG or JPEG in pure JS; grayscale becomes RGB, alpha is dropped. */
export function decodeImage(file: string): RgbImage {
  if (!existsSync(file)) throw new EngineError('not-found', `Image not found: ${printable(file)}`);
  const bytes = readChecked(file, 'image', FILE_LIMITS.image);
  if (bytes.length === 0) throw new EngineError('bad-argument', `${printable(path.basename(file))} is empty: it is not an image.`);
  const isPng = bytes.length > 8 && bytes.readUInt32BE(0) === 0x89504e47;
  const isJpeg = bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (!isPng && !isJpeg) throw new EngineError('bad-argument', `${printable(path.basename(file))} is not a PNG or JPEG image. Convert it to PNG or JPEG first.`);
  let width: number, height: number, rgba: Uint8Array;
  try {
    if (isPng) {
      // Refuse huge images from the header, before any pixel is allocated.
      if (bytes.length >= 24) checkSize(file, bytes.readUInt32BE(16), bytes.readUInt32BE(20));
      // pngjs expands palette and grayscale images to RGBA 8-bit.
      const png = PNG.sync.read(bytes, { skipRescale: false });
      ({ width, height } = png);
      checkSize(file, width, height);
      rgba = png.data;
    } else {
      const header = jpegSize(bytes);
      if (header) checkSize(file, header.width, header.height);
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_PIXELS / 1e6, maxMemoryUsageInMB: 2048 });
      ({ width, height } = img);
      rgba = img.data;
    }
  } catch (e) {
    if (e instanceof EngineError) throw e;
    throw new EngineError('bad-argument', `${printable(path.basename(file))} could not be decoded (${(e as Error).message}); the file may be truncated or corrupt.`);
  }
  if (!width || !height) throw new EngineError('bad-argument', `${printable(path.basename(file))} has no pixels.`);
  const data = new Float32Array(width * height * 3);
  for (let i = 0; i < width * height; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = rgba[i * 4 + c] / 255;
  return { width, height, data };
}

function checkSize(file: string, w: number, h: number): void {
  if (w * h > MAX_PIXELS) throw new EngineError('bad-argument', `${printable(path.basename(file))} is ${w}×${h} (${((w * h) / 1e6).toFixed(0)} MP); images over ${MAX_PIXELS / 1e6} MP are refused. Downscale it first.`);
}

/** Reads a JPEG's frame size from its SOF marker without decoding. */
function jpegSize(b: Uint8Array): { width: number; height: number } | undefined {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1];
    const len = (b[i + 2] << 8) | b[i + 3];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: (b[i + 5] << 8) | b[i + 6], width: (b[i + 7] << 8) | b[i + 8] };
    }
    i += 2 + len;
  }
  return undefined;
}

export interface Preprocess {
  width: number; height: number; mean: number[]; std: number[]; rescale: number; resizeShortest?: number;
  /** How Qwen2-VL's processor cuts an image into flattened patches, where the config says (see flatPatches.ts). */
  patching: Patching;
  /** The config file was there but ignored (not an object, a broken link), in a sentence. */
  note?: string;
}

/** Fields of Qwen2-VL's image processor: patch side, frames per patch, merge side, and the pixel budget. */
export interface Patching { patch?: number; temporal?: number; merge?: number; minPixels?: number; maxPixels?: number }

/** ImageNet's, the default of most image processors. */
export const IMAGENET_NORM = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/**
 * Hugging Face preprocessor_config.json (beside the model or one folder up), with ImageNet defaults
 * (or `defaults`). A file holding no object is ignored with a note, as if it were absent; a field of
 * the wrong type is refused (validPreprocess), since it would change every pixel the model sees.
 */
export function readPreprocess(modelPath: string, inputH?: number, inputW?: number, defaults = IMAGENET_NORM): Preprocess {
  const dir = path.dirname(path.resolve(modelPath));
  const file = [dir, path.dirname(dir)].map((d) => path.join(d, 'preprocessor_config.json')).find((f) => existsSync(f) || brokenLink(f));
  const name = file && path.dirname(file) !== dir ? path.join('..', 'preprocessor_config.json') : 'preprocessor_config.json';
  const cfg = file ? readSidecar(file, name, 'preprocessor config', {}) : undefined;
  const pre = validPreprocess(cfg?.object ?? {}, file ?? 'preprocessor_config.json', inputH, inputW, defaults);
  if (!cfg?.note) return pre;
  const norm = defaults === IMAGENET_NORM ? "ImageNet's" : 'the default';
  return { ...pre, note: `${cfg.note} The image was prepared with the defaults: ${pre.height}×${pre.width} pixels, ${norm} mean and standard deviation.` };
}

/** Images are resized to at most this many pixels a side: no vision model takes more. */
const MAX_SIDE = 8192;

const badConfig = (file: string, what: string) => new EngineError('bad-file', `${printable(file)} is not a usable preprocessor config: ${what}. Restore the file that came with the model.`);

/** Every field used is checked: a zero std or a string mean would otherwise give an all-NaN scan. */
function validPreprocess(
  cfg: Record<string, unknown>, file: string, inputH: number | undefined, inputW: number | undefined, defaults: typeof IMAGENET_NORM,
): Preprocess {
  const side = (v: unknown, field: string): number | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_SIDE) throw badConfig(file, `${field} is ${printable(JSON.stringify(v).slice(0, 40))}, not a whole number of pixels from 1 to ${MAX_SIDE}`);
    return v;
  };
  const sized = (v: unknown, field: string) => {
    if (v === undefined || v === null) return {};
    if (typeof v === 'number') return { h: side(v, field), w: side(v, field) };
    if (typeof v !== 'object' || Array.isArray(v)) throw badConfig(file, `${field} is neither a number nor {height, width}`);
    const o = v as Record<string, unknown>;
    return { h: side(o.height, `${field}.height`), w: side(o.width, `${field}.width`), shortest: side(o.shortest_edge, `${field}.shortest_edge`) };
  };
  // Qwen2-VL's processors keep a pixel budget in size ({shortest_edge: min_pixels, longest_edge: max_pixels}), not sides.
  const qwenStyle = ['merge_size', 'temporal_patch_size', 'min_pixels', 'max_pixels'].some((k) => cfg[k] !== undefined);
  const size = qwenStyle ? {} : sized(cfg.size, 'size');
  const crop = sized(cfg.crop_size, 'crop_size');
  const doNorm = cfg.do_normalize !== false;
  const triple = (v: unknown, field: string, dflt: number[], positive: boolean): number[] => {
    if (v === undefined || v === null || !doNorm) return doNorm ? dflt : positive ? [1, 1, 1] : [0, 0, 0];
    const list = typeof v === 'number' ? [v, v, v] : v;
    if (!Array.isArray(list) || (list.length !== 3 && list.length !== 1) || list.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
      throw badConfig(file, `${field} must be a number or a list of 1 or 3 numbers`);
    }
    const three = list.length === 1 ? [list[0], list[0], list[0]] : list;
    if (positive && three.some((x: number) => x <= 0)) throw badConfig(file, `${field} holds ${three.join(', ')}; a standard deviation must be above 0`);
    return three;
  };
  const rescale = cfg.rescale_factor;
  if (rescale !== undefined && (typeof rescale !== 'number' || !Number.isFinite(rescale) || rescale <= 0)) throw badConfig(file, 'rescale_factor must be a positive number');
  const width = inputW ?? crop.w ?? size.w ?? 224;
  const height = inputH ?? crop.h ?? size.h ?? 224;
  if (!(width >= 1 && width <= MAX_SIDE && height >= 1 && height <= MAX_SIDE)) {
    throw new EngineError('invalid-model', `The model's image input is declared ${height}×${width} pixels; sizes from 1 to ${MAX_SIDE} a side are supported. The model's input shape is wrong.`);
  }
  const count = (v: unknown, field: string): number | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw badConfig(file, `${field} is ${printable(JSON.stringify(v).slice(0, 40))}, not a whole number from 1`);
    return v;
  };
  // Other processors' patch_size can be {height, width} (Pix2Struct) and is not read: only Qwen2-VL's fields are held to a type.
  const budget = qwenStyle && typeof cfg.size === 'object' && cfg.size !== null ? cfg.size as Record<string, unknown> : {};
  const patching: Patching = qwenStyle ? {
    patch: count(cfg.patch_size, 'patch_size'), temporal: count(cfg.temporal_patch_size, 'temporal_patch_size'), merge: count(cfg.merge_size, 'merge_size'),
    minPixels: count(cfg.min_pixels ?? budget.shortest_edge, 'min_pixels'), maxPixels: count(cfg.max_pixels ?? budget.longest_edge, 'max_pixels'),
  } : { patch: typeof cfg.patch_size === 'number' && Number.isSafeInteger(cfg.patch_size) && cfg.patch_size > 0 ? cfg.patch_size : undefined };
  return {
    width, height,
    mean: triple(cfg.image_mean, 'image_mean', defaults.mean, false),
    std: triple(cfg.image_std, 'image_std', defaults.std, true),
    rescale: typeof rescale === 'number' ? rescale * 255 : 1,
    resizeShortest: size.shortest,
    patching,
  };
}

/** Resize (shortest edge, then centre crop; or straight to size) with bilinear sampling, normalise, CHW. */
export function toPixelValues(img: RgbImage, p: Preprocess): Float32Array {
  let sx = img.width / p.width;
  let sy = img.height / p.height;
  let ox = 0;
  let oy = 0;
  if (p.resizeShortest) {
    const scale = p.resizeShortest / Math.min(img.width, img.height);
    sx = sy = 1 / scale;
    ox = (img.width * scale - p.width) / 2;
    oy = (img.height * scale - p.height) / 2;
  }
  const out = new Float32Array(3 * p.width * p.height);
  for (let y = 0; y < p.height; y++) for (let x = 0; x < p.width; x++) {
    const fx = Math.min(img.width - 1, Math.max(0, (x + ox + 0.5) * sx - 0.5));
    const fy = Math.min(img.height - 1, Math.max(0, (y + oy + 0.5) * sy - 0.5));
    const x0 = Math.floor(fx), y0 = Math.floor(fy);
    const x1 = Math.min(img.width - 1, x0 + 1), y1 = Math.min(img.height - 1, y0 + 1);
    const ax = fx - x0, ay = fy - y0;
    for (let c = 0; c < 3; c++) {
      const v = (1 - ay) * ((1 - ax) * img.data[(y0 * img.width + x0) * 3 + c] + ax * img.data[(y0 * img.width + x1) * 3 + c])
        + ay * ((1 - ax) * img.data[(y1 * img.width + x0) * 3 + c] + ax * img.data[(y1 * img.width + x1) * 3 + c]);
      out[(c * p.height + y) * p.width + x] = (v * p.rescale - p.mean[c]) / p.std[c];
    }
  }
  return out;
}
