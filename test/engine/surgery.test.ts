import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openModel, run, toFloat32 } from '../../src/engine/run/session';
import { textFeeds, type FeedTensor } from '../../src/engine/model/feeds';
import { buildFused, buildFusedLlama, buildGpt2, buildLlama, type BuiltModel } from '../models/build';
import { forwardText } from '../models/reference';
import { toFunctions, toMergedIf } from '../models/layouts/variants';
import { tempDir } from '../fixtures';
import { DT } from '../../src/engine/model/onnx/dtype';

const root = tempDir('surgery');
const IDS = [1, 10, 11, 12, 3, 13, 11, 14, 3];

async function runWith(m: BuiltModel, edit: ((mask: Uint8Array, values: Float32Array, d: number) => void) | null) {
  const om = await openModel(m.file, { read: [], edit: ['blocks.1.resid_post'] });
  const feeds: Record<string, FeedTensor> = textFeeds(
    om.prepared.info.inputs.map((i) => ({ ...i, elemType: om.prepared.index.elemTypeOf(i.name) ?? DT.FLOAT })),
    IDS,
  );
  const d = m.spec.d;
  const mask = new Uint8Array(IDS.length * d);
  const values = new Float32Array(IDS.length * d);
  edit?.(mask, values, d);
  const iv = om.editInputs('blocks.1.resid_post');
  feeds[iv.mask] = { type: 'bool', data: mask, dims: [1, IDS.length, d] };
  feeds[iv.values] = { type: 'float32', data: values, dims: [1, IDS.length, d] };
  const out = await run(om, feeds);
  const blocks = Array.from({ length: m.spec.layers }, (_, b) => toFloat32(out[om.probe(`blocks.${b}.resid_post`)[0].tensor]));
  const logits = toFloat32(out.logits);
  await om.session.release();
  return { blocks, logits };
}

const zeroMassive = (mask: Uint8Array, values: Float32Array, d: number) => {
  for (const t of [0, 4, 8]) for (const c of [7, 42]) { mask[t * d + c] = 1; values[t * d + c] = 0; }
};

for (const [label, build] of [
  ['TorchScript GPT-2', () => buildGpt2(root)],
  ['merged-If LLaMA', () => buildLlama(root, 'llama-merged', { transform: toMergedIf })],
  ['LLaMA with attention in local functions', () => buildLlama(root, 'llama-functions', { transform: toFunctions })],
  ['fused SkipLayerNormalization (unfused for the edit)', () => buildFused(root)],
  ['fused SkipSimplifiedLayerNormalization with bias (unfused for the edit)', () => buildFusedLlama(root)],
] as [string, () => BuiltModel][]) {
  describe(`intervention after a block: ${label}`, () => {
    test('an all-false mask changes nothing; zeroing the massive activations removes them downstream', async () => {
      const m = build();
      const { plain, edited } = { plain: await runWith(m, null), edited: await runWith(m, zeroMassive) };
      const d = m.spec.d;
      // Block 1's stream is where the edit sits: the planted entries now read 0, others untouched.
      assert.equal(plain.blocks[1][0 * d + 7] > 1000, true);
      assert.equal(edited.blocks[1][0 * d + 7], 0);
      assert.equal(edited.blocks[1][4 * d + 42], 0);
      assert.equal(edited.blocks[1][3 * d + 5], plain.blocks[1][3 * d + 5]);
      // Nothing later recreates them (the planting neuron lives in block 1 only).
      for (let b = 2; b < m.spec.layers; b++) for (const t of [0, 4, 8]) assert.ok(Math.abs(edited.blocks[b][t * d + 7]) < 100, `block ${b}`);
      // And the model's output changes.
      let diff = 0;
      for (let i = 0; i < plain.logits.length; i++) diff = Math.max(diff, Math.abs(plain.logits[i] - edited.logits[i]));
      assert.ok(diff > 1, `logits moved by ${diff}`);
    });
  });
}

test('one session serves many interventions: values other than zero are written exactly', async () => {
  const m = buildGpt2(root, 'gpt2-values');
  const r = await runWith(m, (mask, values, d) => { mask[2 * d + 9] = 1; values[2 * d + 9] = 123.5; });
  assert.equal(r.blocks[1][2 * m.spec.d + 9], 123.5);
});

test('an intervention inside a SkipSimplifiedLayerNormalization graph matches the reference, bias included', async () => {
  // SkipSimplifiedLayerNormalization has no beta: its bias is input 3. Unfusing it for the edit
  // must keep that bias, or every later block drifts from the reference by the projection bias.
  const m = buildFusedLlama(root, 'llama-skip-simplified-ref');
  const edited = await runWith(m, zeroMassive);
  const d = m.spec.d;
  const ref = forwardText(m.spec, IDS, (layer, x) => { if (layer === 1) for (const t of [0, 4, 8]) for (const c of [7, 42]) x[t * d + c] = 0; });
  for (let b = 0; b < m.spec.layers; b++) {
    let worst = 0;
    ref.hidden[b].forEach((v, i) => { worst = Math.max(worst, Math.abs(edited.blocks[b][i] - v) / (1 + Math.abs(v))); });
    assert.ok(worst < 1e-3, `block ${b}: off by ${worst} (relative)`);
  }
  let worst = 0;
  ref.logits.forEach((v, i) => { worst = Math.max(worst, Math.abs(edited.logits[i] - v) / (1 + Math.abs(v))); });
  assert.ok(worst < 1e-3, `logits off by ${worst}`);
});
