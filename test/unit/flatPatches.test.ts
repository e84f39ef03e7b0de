import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cutIntoPatches, patchCutting, smartResize, visionRotary } from '../../src/engine/model/vision/flatPatches';
import { isEngineError } from '../../src/engine/base/errors';
import { readPreprocess } from '../../src/engine/model/vision/image';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../fixtures';

/**
 * Qwen2-VL's image processor and its encoder's rot_pos_emb, written as their numpy / torch code
 * reads (tile, a 9-axis reshape and transpose; expand, reshape, permute, flatten) on a generic
 * n-dimensional transpose, independently of the engine's direct loops.
 */
function transpose(data: Float64Array, shape: number[], perm: number[]): { data: Float64Array; shape: number[] } {
  const outShape = perm.map((p) => shape[p]);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const out = new Float64Array(data.length);
  const idx = new Array(outShape.length).fill(0);
  for (let k = 0; k < out.length; k++) {
    let src = 0;
    for (let a = 0; a < idx.length; a++) src += idx[a] * strides[perm[a]];
    out[k] = data[src];
    for (let a = idx.length - 1; a >= 0; a--) { if (++idx[a] < outShape[a]) break; idx[a] = 0; }
  }
  return { data: out, shape: outShape };
}

function processorPatches(chw: Float64Array, C: number, H: number, W: number, P: number, T: number, M: number): Float64Array {
  const tiled = new Float64Array(T * chw.length);
  for (let t = 0; t < T; t++) tiled.set(chw, t * chw.length);
  const shape = [1, T, C, H / P / M, M, P, W / P / M, M, P];
  return transpose(tiled, shape, [0, 3, 6, 4, 7, 2, 1, 5, 8]).data;
}

function rotPosEmb(h: number, w: number, M: number, dim: number): number[][] {
  const permuted = (f: (y: number, x: number) => number) => {
    const grid = Float64Array.from({ length: h * w }, (_, k) => f(Math.floor(k / w), k % w));
    return Array.from(transpose(grid, [h / M, M, w / M, M], [0, 2, 1, 3]).data);
  };
  const hpos = permuted((y) => y);
  const wpos = permuted((_, x) => x);
  const invFreq: number[] = [];
  for (let i = 0; i < dim; i += 2) invFreq.push(1 / Math.pow(10000, i / dim));
  return hpos.map((hp, n) => [...invFreq.map((f) => hp * f), ...invFreq.map((f) => wpos[n] * f)]);
}

describe("Qwen2-VL's cutting of an image into flattened patches", () => {
  for (const [C, H, W, P, T, M] of [[3, 56, 84, 14, 2, 2], [3, 24, 16, 4, 1, 2], [3, 12, 18, 3, 2, 1]]) {
    test(`${W}×${H}, patches ${P}×${P} over ${T} frame(s), merged ${M}×${M}: the processor's rows, exactly`, () => {
      const chw = Float32Array.from({ length: C * H * W }, (_, k) => Math.sin(k * 0.731) + k / 1000);
      const { rows, grid } = cutIntoPatches(chw, H, W, { channels: C, patch: P, temporal: T, merge: M, minPixels: 1, maxPixels: 1e9 });
      assert.deepEqual(grid, [1, H / P, W / P]);
      assert.deepEqual(Array.from(rows), Array.from(processorPatches(Float64Array.from(chw), C, H, W, P, T, M)));
    });
  }

  test("the encoder's rotary angles: rows then columns of each patch, in the merged order", () => {
    for (const [h, w, M, dim] of [[4, 6, 2, 8], [6, 4, 2, 40], [3, 5, 1, 4]]) {
      const got = visionRotary(h, w, M, dim);
      const want = rotPosEmb(h, w, M, dim);
      want.forEach((row, n) => row.forEach((v, j) => assert.ok(Math.abs(got[n * dim + j] - v) <= 1e-6 * Math.max(1, Math.abs(v)), `${h}×${w} patch ${n} angle ${j}`)));
    }
  });

  test('smart_resize: nearest multiples, then the pixel budget (figures worked by hand)', () => {
    // 1920×1080: 1932×1092 is over 1,003,520 pixels, so both shrink by √(1920·1080 / 1,003,520) and floor.
    assert.deepEqual(smartResize(1080, 1920, 28, 3136, 1003520), { height: 728, width: 1316 });
    // 70 / 28 = 2.5: Python rounds halves to even, so 56 (not 84).
    assert.deepEqual(smartResize(70, 70, 28, 3136, 1003520), { height: 56, width: 56 });
    // 20×20 is under 3,136 pixels: scaled up by √(3136 / 400) = 2.8 and ceiled to 56×56.
    assert.deepEqual(smartResize(20, 20, 28, 3136, 1003520), { height: 56, width: 56 });
    assert.throws(() => smartResize(10, 2100, 28, 3136, 1003520), (e: unknown) => isEngineError(e) && /over 200 times/.test(e.message));
  });

  test("a row's width gives the cutting where no config says it; a config that disagrees is refused", () => {
    assert.deepEqual(patchCutting('pixel_values', 1176, {}, 'preprocessor_config.json'), { channels: 3, patch: 14, temporal: 2, merge: 2, minPixels: 3136, maxPixels: 1003520 });
    assert.deepEqual(patchCutting('pixel_values', 1536, {}, 'preprocessor_config.json').patch, 16);
    assert.deepEqual(patchCutting('hidden_states', 192, {}, 'preprocessor_config.json'), { channels: 3, patch: 8, temporal: 1, merge: 2, minPixels: 3136, maxPixels: 1003520 });
    assert.throws(() => patchCutting('hidden_states', 1176, { patch: 16, temporal: 2 }, 'preprocessor_config.json'),
      (e: unknown) => isEngineError(e) && e.code === 'bad-file' && /16×16 pixels over 2 frames \(3 · 2 · 16² = 1536 values\), but the model's "hidden_states" takes 1176/.test(e.message));
    assert.throws(() => patchCutting('x', 100, {}, 'preprocessor_config.json'), (e: unknown) => isEngineError(e) && /not 3 channels × frames × a square patch/.test(e.message));
  });
});

describe('preprocessor_config.json: the fields of the cutting', () => {
  const config = (cfg: object) => {
    const dir = tempDir('preprocess');
    writeFileSync(path.join(dir, 'preprocessor_config.json'), JSON.stringify(cfg));
    return readPreprocess(path.join(dir, 'model.onnx'));
  };

  test("Qwen2-VL's fields, and Qwen3-VL's pixel budget kept in size (a budget, not sides over 8,192)", () => {
    assert.deepEqual(config({ patch_size: 14, temporal_patch_size: 2, merge_size: 2, min_pixels: 3136, max_pixels: 12845056 }).patching,
      { patch: 14, temporal: 2, merge: 2, minPixels: 3136, maxPixels: 12845056 });
    assert.deepEqual(config({ patch_size: 16, temporal_patch_size: 2, merge_size: 2, size: { shortest_edge: 65536, longest_edge: 16777216 } }).patching,
      { patch: 16, temporal: 2, merge: 2, minPixels: 65536, maxPixels: 16777216 });
    assert.throws(() => config({ merge_size: '2' }), (e: unknown) => isEngineError(e) && /merge_size is "2", not a whole number from 1/.test(e.message));
  });

  test("another processor's patch_size of another shape (Pix2Struct's {height, width}) is not read, and refuses nothing", () => {
    const pre = config({ patch_size: { height: 16, width: 16 }, size: { height: 32, width: 32 } });
    assert.deepEqual(pre.patching, { patch: undefined });
    assert.equal(pre.width, 32);
  });
});
