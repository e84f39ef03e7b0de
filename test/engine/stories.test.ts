import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { scanModel } from '../../src/engine/run/scan';
import { buildStories, type BuiltModel } from '../models/build';
import { STORIES260K_GREEDY } from '../models/llama2c';
import { SKIP_SHARED, STORIES_BIN, tempDir } from '../fixtures';

/** The real trained model: the converted ONNX must decode like llama2.c, and it has no massive activations. */
describe('stories260K (real trained llama2.c weights)', { skip: SKIP_SHARED }, () => {
  let m: BuiltModel;
  before(() => { m = buildStories(tempDir('stories'), STORIES_BIN); });

  test('greedy decoding of the converted model reproduces llama2.c exactly', async () => {
    const session = await ort.InferenceSession.create(m.file);
    const ids = [1];
    const empty = new ort.Tensor('float32', new Float32Array(0), [1, m.spec.kvHeads, 0, m.spec.d / m.spec.heads]);
    const i64 = (a: number[]) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
    while (ids.length < STORIES260K_GREEDY.length) {
      const feeds: Record<string, ort.Tensor> = { input_ids: i64(ids), attention_mask: i64(ids.map(() => 1)), position_ids: i64(ids.map((_, k) => k)) };
      for (let l = 0; l < m.spec.layers; l++) feeds[`past_key_values.${l}.key`] = feeds[`past_key_values.${l}.value`] = empty;
      const logits = (await session.run(feeds)).logits.data as Float32Array;
      const row = (ids.length - 1) * m.spec.vocab;
      let best = 0;
      for (let v = 1; v < m.spec.vocab; v++) if (logits[row + v] > logits[row + best]) best = v;
      ids.push(best);
    }
    await session.release();
    assert.deepEqual(ids, STORIES260K_GREEDY);
  });

  test('the scan reports no massive activation (top-1 only 6–8× the median)', async () => {
    const r = await scanModel(m.file, { ids: STORIES260K_GREEDY });
    assert.equal(r.model.blocks, 5);
    assert.equal(r.model.hiddenSize, 64);
    assert.equal(r.model.kvHeads, 4);
    assert.deepEqual(r.massiveTokens, []);
    const medians = [0.29, 0.48, 0.7, 1.0, 1.35];
    for (const l of r.layers) {
      assert.equal(l.massive.length, 0);
      assert.ok(l.ratio !== null && l.ratio > 4 && l.ratio < 10, `block ${l.index} ratio ${l.ratio}`);
      assert.ok(Math.abs(l.median - medians[l.index]) < 0.02, `block ${l.index} median ${l.median}`);
    }
    // No massive tokens, so no share on them is claimed.
    for (const a of r.attention) assert.equal(a.massiveTokenShare, null);
  });
});
