import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { EngineError } from '../errors';

/** An RGB image, values in [0, 1], row-major [height][width][3]. */
export interface RgbImage { width: number; height: number; data: Float32Array }

const MAX_PIXELS = 50e6;

/** Decodes PNG or JPEG in pure JS; grayscale becomes RGB, alpha is dropped. */
export function decodeImage(file: string): RgbImage {
  if (!existsSync(file)) throw new EngineError('not-found', `Image not found: ${file}`);
  const size = statSync(file).size;
  if (size === 0) throw new EngineError('bad-argument', `${path.basename(file)} is empty: it is not an image.`);
  const bytes = readFileSync(file);
  const isPng = bytes.length > 8 && bytes.readUInt32BE(0) === 0x89504e47;
  const isJpeg = bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (!isPng && !isJpeg) throw new EngineError('bad-argument', `${path.basename(file)} is not a PNG or JPEG image. Convert it to PNG or JPEG first.`);
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
    throw new EngineError('bad-argument', `${path.basename(file)} could not be decoded (${(e as Error).message}); the file may be truncated or corrupt.`);
  }
  if (!width || !height) throw new EngineError('bad-argument', `${path.basename(file)} has no pixels.`);
  const data = new Float32Array(width * height * 3);
  for (let i = 0; i < width * height; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = rgba[i * 4 + c] / 255;
  return { width, height, data };
}

function checkSize(file: string, w: number, h: number): void {
  if (w * h > MAX_PIXELS) throw new EngineError('bad-argument', `${path.basename(file)} is ${w}×${h} (${((w * h) / 1e6).toFixed(0)} MP); images over ${MAX_PIXELS / 1e6} MP are refused. Downscale it first.`);
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

export interface Preprocess { width: number; height: number; mean: number[]; std: number[]; rescale: number; resizeShortest?: number }

/** Hugging Face preprocessor_config.json (beside the model or one folder up), with ImageNet defaults. */
export function readPreprocess(modelPath: string, inputH?: number, inputW?: number): Preprocess {
  const dir = path.dirname(path.resolve(modelPath));
  const file = [dir, path.dirname(dir)].map((d) => path.join(d, 'preprocessor_config.json')).find(existsSync);
  let cfg: Record<string, unknown> = {};
  if (file) {
    try { cfg = JSON.parse(readFileSync(file, 'utf8')); } catch (e) { throw new EngineError('bad-argument', `Cannot read ${file}: ${(e as Error).message}`); }
  }
  const size = cfg.size as number | { height?: number; width?: number; shortest_edge?: number } | undefined;
  const crop = cfg.crop_size as number | { height?: number; width?: number } | undefined;
  const cropH = typeof crop === 'number' ? crop : crop?.height;
  const cropW = typeof crop === 'number' ? crop : crop?.width;
  const sizeH = typeof size === 'number' ? size : size?.height;
  const sizeW = typeof size === 'number' ? size : size?.width;
  const height = inputH ?? cropH ?? sizeH ?? 224;
  const width = inputW ?? cropW ?? sizeW ?? 224;
  const shortest = typeof size === 'object' ? size?.shortest_edge : undefined;
  const doNorm = cfg.do_normalize !== false;
  return {
    width, height,
    mean: doNorm ? ((cfg.image_mean as number[]) ?? [0.485, 0.456, 0.406]) : [0, 0, 0],
    std: doNorm ? ((cfg.image_std as number[]) ?? [0.229, 0.224, 0.225]) : [1, 1, 1],
    rescale: typeof cfg.rescale_factor === 'number' ? cfg.rescale_factor * 255 : 1,
    resizeShortest: shortest,
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
