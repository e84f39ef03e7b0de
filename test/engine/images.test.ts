import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { scanModel } from '../../src/engine/run/scan';
import { isEngineError } from '../../src/engine/base/errors';
import { decodeImage } from '../../src/engine/model/vision/image';
import { buildGpt2, buildVit, type BuiltModel } from '../models/build';
import { forwardVit } from '../models/reference';
import { tempDir } from '../fixtures';

const dir = tempDir('images');
let vit: BuiltModel;

function png(name: string, w: number, h: number, pixel: (x: number, y: number) => [number, number, number], colorType: 0 | 2 | 6 = 6): string {
  const img = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const [r, g, b] = pixel(x, y);
    img.data.set([r, g, b, 255], (y * w + x) * 4);
  }
  const file = path.join(dir, name);
  writeFileSync(file, PNG.sync.write(img, { colorType }));
  return file;
}

const pattern = (x: number, y: number): [number, number, number] => [(x * 8) % 256, (y * 8) % 256, ((x + y) * 4) % 256];

before(() => { vit = buildVit(dir); });

describe('images for vision models', () => {
  test('an RGB PNG is normalised with ImageNet defaults and scanned: registers carry the massive activations', async () => {
    const file = png('rgb.png', 32, 32, pattern);
    const r = await scanModel(vit.file, { image: file });
    assert.equal(r.input.kind, 'image');
    assert.deepEqual(r.tokenKinds.slice(0, 6), ['cls', 'register', 'register', 'register', 'register', 'patch']);
    assert.deepEqual(r.massiveTokens, [1, 2, 3, 4]);
    // The same pixels through the reference pass (our own preprocessing: 32×32 needs no resize).
    const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
    const px = new Float64Array(3 * 32 * 32);
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) pattern(x, y).forEach((v, c) => { px[(c * 32 + y) * 32 + x] = (v / 255 - mean[c]) / std[c]; });
    const ref = forwardVit(vit.spec, px);
    for (const l of r.layers) for (const a of l.massive) {
      const want = ref.hidden[l.index][a.token * vit.spec.d + a.channel];
      assert.ok(Math.abs(a.value - want) < 0.01 * Math.abs(want));
    }
  });

  test('grayscale, odd-sized PNG and JPEG inputs are converted and resized', async () => {
    const gray = png('gray.png', 40, 40, (x, y) => { const v = (x * y) % 256; return [v, v, v]; }, 0);
    const img = decodeImage(gray);
    assert.deepEqual([img.width, img.height], [40, 40]);
    assert.equal(img.data[3 * 41], img.data[3 * 41 + 1]);
    const odd = png('odd.png', 33, 47, pattern);
    const jpg = path.join(dir, 'photo.jpg');
    const raw = Buffer.alloc(50 * 30 * 4, 128);
    writeFileSync(jpg, jpeg.encode({ data: raw, width: 50, height: 30 }, 90).data);
    for (const f of [gray, odd, jpg]) {
      const r = await scanModel(vit.file, { image: f });
      assert.equal(r.tokens.length, 21, f);
      assert.deepEqual(r.massiveTokens, [1, 2, 3, 4], f);
    }
  });

  const bad: [string, () => string, RegExp][] = [
    ['an empty file', () => { const f = path.join(dir, 'empty.png'); writeFileSync(f, ''); return f; }, /is empty/],
    ['a truncated PNG', () => { const f = path.join(dir, 'cut.png'); writeFileSync(f, readFileSync(png('whole.png', 64, 64, pattern)).subarray(0, 200)); return f; }, /could not be decoded/],
    ['a text file named .png', () => { const f = path.join(dir, 'notes.png'); writeFileSync(f, 'not an image'); return f; }, /not a PNG or JPEG/],
    ['a huge image (from its header)', () => {
      const bytes = Buffer.from(readFileSync(png('small.png', 8, 8, pattern)));
      bytes.writeUInt32BE(20000, 16);
      bytes.writeUInt32BE(20000, 20);
      const f = path.join(dir, 'huge.png');
      writeFileSync(f, bytes);
      return f;
    }, /20000×20000 .* refused/],
    ['a missing file', () => path.join(dir, 'nope.png'), /not found/],
  ];
  for (const [label, make, message] of bad) {
    test(`${label} gets a clear error`, async () => {
      await assert.rejects(scanModel(vit.file, { image: make() }), (e: unknown) => isEngineError(e) && message.test(e.message));
    });
  }

  test('an image for a text model is refused', async () => {
    const g = buildGpt2(dir);
    await assert.rejects(scanModel(g.file, { image: png('x.png', 8, 8, pattern) }), (e: unknown) => isEngineError(e) && /text model/.test(e.message));
  });
});
