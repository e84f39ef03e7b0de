import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { prepareModel } from '../../src/engine/model/inspect';
import { scanModel } from '../../src/engine/run/scan';
import { isEngineError } from '../../src/engine/base/errors';
import { fingerprint, REAL_EXPORTS, SKIP_SHARED } from '../fixtures';

/** Block counts from shared/models/real-exports/README.md (and, for the dynamo file, its two `blocks.N` modules). */
const EXPECTED: { file: string; blocks: number; family: string; width: number; runs: boolean; attention: boolean }[] = [
  { file: 'genai-tiny-random-gpt2-fp32-past.onnx', blocks: 5, family: 'decoder', width: 32, runs: true, attention: false },
  { file: 'genai-tiny-random-llama-fp16/model.onnx', blocks: 2, family: 'decoder', width: 16, runs: true, attention: true },
  { file: 'optimum-assets-model.onnx', blocks: 2, family: 'encoder', width: 2, runs: true, attention: true },
  { file: 'ort-bert_toy_optimized.onnx', blocks: 5, family: 'encoder', width: 32, runs: true, attention: true },
  { file: 'vnncomp23-vit-ibp_3_3_8.onnx', blocks: 3, family: 'vision', width: 48, runs: true, attention: true },
  { file: 'hager-nanotransformer-dynamo-torch2.8.onnx', blocks: 2, family: 'other', width: 68, runs: true, attention: true },
  { file: 'sentinelrs-gemma3-decoder_model_merged_q4.onnx', blocks: 34, family: 'decoder', width: 2560, runs: false, attention: true },
  { file: 'genai-tiny-qwen35-cuda-gqa-decoder.onnx', blocks: 2, family: 'decoder', width: 64, runs: true, attention: true },
  { file: 'vespa-random-encoder.onnx', blocks: 1, family: 'encoder', width: 8, runs: true, attention: true },
  // Self-attention, cross-attention over encoder_hidden_states and the MLP: one decoder block.
  { file: 'vespa-random-decoder-crossattn.onnx', blocks: 1, family: 'decoder', width: 8, runs: true, attention: true },
];

describe('real exporter files', { skip: SKIP_SHARED }, () => {
  for (const e of EXPECTED) {
    const file = path.join(REAL_EXPORTS, e.file);
    test(`${e.file}: ${e.blocks} blocks located`, () => {
      const p = prepareModel(file);
      assert.equal(p.info.blocks, e.blocks);
      assert.equal(p.info.family, e.family);
      assert.equal(p.info.hiddenSize, e.width);
      // Each block output is a distinct tensor, in graph order.
      assert.equal(new Set(p.info.blockOutputs).size, e.blocks);
    });
    if (e.runs) {
      test(`${e.file}: scans`, async () => {
        const before = fingerprint(path.dirname(file));
        const r = await scanModel(file, e.family === 'decoder' || e.family === 'encoder' ? { ids: [1, 5, 9, 2, 7, 3] } : {});
        assert.equal(r.layers.length, e.blocks);
        for (const l of r.layers) {
          assert.ok(Number.isFinite(l.median) && l.median > 0);
          assert.ok(l.top.length === 3 && Math.abs(l.top[0].value) >= Math.abs(l.top[2].value));
          // Random test weights: nothing is thousands of times the median.
          assert.equal(l.massive.length, 0);
        }
        const readable = r.attention.filter((a) => a.source !== 'unavailable');
        assert.equal(readable.length > 0, e.attention);
        for (const a of readable) for (const s of a.sinkScores) assert.ok(s >= 0 && s <= 1.0001);
        assert.equal(fingerprint(path.dirname(file)), before);
      });
    }
  }

  test('the seq2seq decoder: cross-attention belongs to the block and stays out of the self-attention share; its encoder inputs get defaults', async () => {
    const file = path.join(REAL_EXPORTS, 'vespa-random-decoder-crossattn.onnx');
    const p = prepareModel(file);
    assert.deepEqual(p.location.blocks[0].attention.map((a) => !!a.cross), [false, true]);
    assert.match(p.info.familyEvidence.join('; '), /language-model head/);
    const r = await scanModel(file, { ids: [1, 5, 9, 2] });
    assert.equal(r.attention[0].heads, 1);
    assert.equal(r.attention[0].crossHeads, 1);
    assert.match(r.input.note ?? '', /encoder_attention_mask = ones \[1, 4\]; encoder_hidden_states = zeros \[1, 4, 8\]/);
  });

  test('family comes with its evidence', () => {
    const evidence = (f: string) => prepareModel(path.join(REAL_EXPORTS, f)).info.familyEvidence.join('; ');
    assert.match(evidence('genai-tiny-random-gpt2-fp32-past.onnx'), /key\/value cache inputs .*Attention with unidirectional = 1/);
    assert.match(evidence('ort-bert_toy_optimized.onnx'), /token and segment inputs, no causal mask \(a masked-language-model head\)/);
    assert.match(evidence('vnncomp23-vit-ibp_3_3_8.onnx'), /patch embedding/);
  });

  test('the Gemma-3 graph without its weights fails naming the missing file', async () => {
    const file = path.join(REAL_EXPORTS, 'sentinelrs-gemma3-decoder_model_merged_q4.onnx');
    const info = prepareModel(file).info;
    assert.deepEqual(info.externalData.map((f) => [f.file, f.present]), [['decoder_model_merged_q4.onnx_data', false], ['decoder_model_merged_q4.onnx_data_1', false]]);
    assert.equal(info.kvHeads, 4);
    assert.deepEqual(info.quantization, ['MatMulNBits']);
    await assert.rejects(scanModel(file, { ids: [1, 2] }), (e: unknown) => isEngineError(e) && e.code === 'missing-external-data' && e.message.includes('decoder_model_merged_q4.onnx_data'));
  });
});
