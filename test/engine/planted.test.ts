import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { scanModel } from '../../src/engine/run/scan';
import { syntheticFeeds } from '../../src/engine/model/feeds';
import { buildFused, buildGpt2, buildLlama, buildVit, type BuiltModel } from '../models/build';
import { toAnonymous, toDynamo, toFunctions, toMergedIf } from '../models/layouts/variants';
import { forwardText, forwardVit, type Forward } from '../models/reference';
import { fingerprint, PAPER_PROMPT, tempDir } from '../fixtures';
import type { ScanResult } from '../../src/engine/model/results';
import { assertMatchesReference, refMedian } from './matchReference';

/**
 * Every planted layout: the scan must report exactly the planted blocks, tokens and channels,
 * with values within 1% of an independent float64 forward pass, and attention concentrated on
 * those tokens in the blocks built to attend to them.
 */
const root = tempDir('planted');
const layouts: [string, () => BuiltModel, string][] = [
  ['GPT-2 (TorchScript names, fused QKV, LayerNormalization)', () => buildGpt2(root), 'scope-names'],
  ['LLaMA (decomposed RMSNorm, rotary, GQA, past inputs)', () => buildLlama(root), 'scope-names'],
  ['LLaMA fp16', () => buildLlama(root, 'llama-fp16', { fp16: true }), 'scope-names'],
  ['LLaMA int8 QDQ (DequantizeLinear weights)', () => buildLlama(root, 'llama-qdq', { qdq: true }), 'scope-names'],
  ['LLaMA with external data', () => buildLlama(root, 'llama-ext', { externalData: 'model.onnx_data' }), 'scope-names'],
  ['dynamo-style (generic names, scopes in metadata)', () => buildLlama(root, 'llama-dynamo', { transform: toDynamo }), 'scope-names'],
  ['anonymous (no names at all)', () => buildLlama(root, 'llama-anon', { transform: toAnonymous }), 'structure'],
  ['merged decoder (If on use_cache_branch)', () => buildLlama(root, 'llama-merged', { transform: toMergedIf }), 'scope-names'],
  ['attention inside local functions (nested calls, attribute references)', () => buildLlama(root, 'llama-functions', { transform: toFunctions }), 'scope-names'],
  ['ONNX opset 23 ops (RMSNormalization, RotaryEmbedding, Attention)', () => buildLlama(root, 'llama-onnx23', { onnx23: true }), 'scope-names'],
  ['fused com.microsoft (SkipLayerNormalization, MultiHeadAttention)', () => buildFused(root), 'fused-norm'],
  ['ViT with registers', () => buildVit(root), 'scope-names'],
];

for (const [label, build, matcher] of layouts) {
  describe(label, () => {
    let m: BuiltModel;
    let r: ScanResult;
    let ref: Forward;
    let printBefore: string;
    before(async () => {
      m = build();
      printBefore = fingerprint(root);
      r = await scanModel(m.file, m.kind === 'text' ? { prompt: PAPER_PROMPT } : {});
      if (m.kind === 'text') ref = forwardText(m.spec, r.tokens.map((t) => t.id!));
      else {
        const px = syntheticFeeds([{ name: 'pixel_values', elemType: 1, shape: ['batch_size', 3, 32, 32], role: 'pixels' }]).pixel_values.data as Float32Array;
        ref = forwardVit(m.spec, Float64Array.from(px));
      }
    });

    test('finds every block, the width and the layout', () => {
      assert.equal(r.model.blocks, m.spec.layers);
      assert.equal(r.model.hiddenSize, m.spec.d);
      assert.equal(r.model.matcher, matcher);
      assert.equal(r.model.family, m.kind === 'text' ? 'decoder' : 'vision');
    });

    test('the reference pass itself shows the planted pattern', () => {
      const { plantBlock, fadeBlock, channels } = m.spec.planted;
      const markers = m.kind === 'text' ? [0, 4, 8] : [1, 2, 3, 4];
      for (let l = 0; l < m.spec.layers; l++) {
        const h = ref.hidden[l];
        const med = refMedian(h);
        const hits: string[] = [];
        h.forEach((v, i) => { if (Math.abs(v) > 100 && Math.abs(v) >= 1000 * med) hits.push(`${Math.floor(i / m.spec.d)}:${i % m.spec.d}`); });
        const expected = l >= plantBlock && l < fadeBlock ? markers.flatMap((t) => channels.map((c) => `${t}:${c}`)) : [];
        assert.deepEqual(hits.sort(), expected.sort(), `block ${l}`);
      }
    });

    test('reports exactly the planted blocks, tokens and channels, values within 1%', () => {
      assertMatchesReference(r, ref, m.spec.d);
      assert.deepEqual(r.massiveChannels, [...m.spec.planted.channels].sort((a, b) => a - b));
      assert.deepEqual(r.massiveTokens, m.kind === 'text' ? [0, 4, 8] : [1, 2, 3, 4]);
    });

    test('attention lands on the massive tokens in the blocks built to attend to them', () => {
      const sink = new Set(m.spec.planted.sinkBlocks);
      for (const a of r.attention) {
        assert.notEqual(a.massiveTokenShare, null, `block ${a.layer} has no attention reading`);
        // The reference share, from the independent probabilities.
        const T = ref.tokens;
        const marks = r.massiveTokens;
        let want = 0;
        let n = 0;
        for (let h = 0; h < m.spec.heads; h++) for (let q = 0; q < T; q++) {
          if (m.kind === 'text' && q < marks[0]) continue; // causal: a query before every marked token sees none
          want += marks.reduce((s, k) => s + ref.attn[a.layer][(h * T + q) * T + k], 0);
          n++;
        }
        want /= n;
        assert.ok(Math.abs(a.massiveTokenShare! - want) < 0.01, `block ${a.layer}: ${a.massiveTokenShare} vs reference ${want}`);
        if (sink.has(a.layer)) assert.ok(a.massiveTokenShare! >= 0.7, `sink block ${a.layer}: ${a.massiveTokenShare}`);
        else assert.ok(a.massiveTokenShare! < 0.6, `block ${a.layer}: ${a.massiveTokenShare}`);
      }
    });

    test('leaves the model folder byte-for-byte unchanged', () => {
      assert.equal(fingerprint(root), printBefore);
    });
  });
}
