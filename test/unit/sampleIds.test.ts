import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sampleIds } from '../../src/engine/model/sampleIds';

test('sample ids start with the BOS id and stay inside the vocabulary, distinct', () => {
  for (const [vocab, bos] of [[32000, 1], [50257, 50256], [512, 0], [151936, undefined], [12, 1]] as const) {
    const s = sampleIds(vocab, bos);
    assert.ok(s.ids.length >= 2, `${vocab}: ${s.ids}`);
    if (bos !== undefined) assert.equal(s.ids[0], bos);
    assert.ok(s.ids.every((i) => Number.isInteger(i) && i >= 0 && i < vocab), `${vocab}: ${s.ids}`);
    assert.equal(new Set(s.ids).size, s.ids.length);
    assert.match(s.source, bos !== undefined ? new RegExp(`^the BOS id ${bos} from the model's config`) : /^\d+ ids/);
  }
  // Spread over the vocabulary, not bunched at its start: the largest sample is in the last third.
  assert.ok(Math.max(...sampleIds(32000, 1).ids) > 32000 * 2 / 3);
});

test('a BOS id outside the vocabulary is left out; an unknown vocabulary gets small ids', () => {
  assert.ok(!sampleIds(100, 5000).ids.includes(5000));
  const unknown = sampleIds(null, undefined);
  assert.ok(unknown.ids.every((i) => i >= 1 && i <= 8));
  assert.match(unknown.source, /vocabulary size is not in the graph/);
  assert.deepEqual(sampleIds(2, undefined).ids, [1]);
});
