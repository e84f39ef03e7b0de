import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { scanFile } from '../../src/engine/run/scanFile';
import { inspectTarget } from '../../src/engine/model/inspect';
import { resolveTarget } from '../../src/engine/model/folder';
import { buildAudioLanguage, buildFlorence, buildGpt2, buildHybrid, HYBRID_LAYOUTS, buildLlama, buildOneToken, buildPerLayerPair, buildVit, buildVisionLanguage, VLM_IMAGE, type BuiltModel } from '../models/build';
import { forwardFromEmbeddings, norm } from '../models/reference';
import { PNG } from 'pngjs';
import { npy } from '../models/npy';
import { Tokenizer } from '@huggingface/tokenizers';
import { tokenizerConfig, tokenizerJson } from '../models/tokenizer';
import { toAnonymous, toAttentionInLoop, toDuplicateConstants, toFlattenedPatches, toFragment, toOnDevice, toQuantizedEmbedding, toWeightsAsInputs } from '../models/layouts/variants';
import { OperatorSetIdProtoSchema, type TensorProto } from 'onnx-buf';
import { create } from '@bufbuild/protobuf';
import type { FeedTensor } from '../../src/engine/model/feeds';
import { forwardText, forwardVit } from '../models/reference';
import { tempDir } from '../fixtures';
import * as path from 'node:path';
import { copyFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { inspectJson, inspectText as view } from '../../src/experiments/inspect/view';
import { isEngineError } from '../../src/engine/base/errors';
import { scanModel } from '../../src/engine/run/scan';
import { analyseAttention } from '../../src/experiments/attention/run';
import { assertMatchesReference } from './matchReference';

/**
 * Issue 19: exports people download, read as ONNX Runtime reads them. Each class has a model built
 * in that exporter's layout; the reference pass (or ONNX Runtime on the untouched file) says what
 * the right answer is.
 */
const root = tempDir('exporters');
const IDS = [1, 10, 11, 12, 3, 13, 11, 14, 3];

describe('names defined twice (ONNX Runtime transformers test models): run as ONNX Runtime runs them', () => {
  let m: BuiltModel;
  let twice: string[] = [];
  before(() => {
    m = buildLlama(root, 'llama-duplicate-constants', { transform: (p) => { twice = toDuplicateConstants(p); } });
  });

  test('ONNX Runtime itself runs the file', async () => {
    const s = await ort.InferenceSession.create(m.file);
    await s.release();
  });

  test('the scan keeps the definitions ONNX Runtime keeps: logits equal a plain session, the planted activations match the reference', async () => {
    const r = await scanFile(m.file, { ids: IDS, keepStreams: true });
    assertMatchesReference(r, forwardText(m.spec, IDS), m.spec.d);
    const s = await ort.InferenceSession.create(m.file);
    const i64 = (a: number[]) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of s.inputNames) {
      if (name === 'input_ids') feeds[name] = i64(IDS);
      else if (name === 'attention_mask') feeds[name] = i64(IDS.map(() => 1));
      else if (name === 'position_ids') feeds[name] = i64(IDS.map((_, k) => k));
      else if (name.startsWith('past_key_values')) feeds[name] = new ort.Tensor('float32', new Float32Array(0), [1, m.spec.kvHeads, 0, m.spec.d / m.spec.heads]);
    }
    const plain = (await s.run(feeds)).logits.data as Float32Array;
    await s.release();
    assert.equal(r.logits!.data.length, plain.length);
    let worst = 0;
    plain.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - r.logits!.data[i]) / (1 + Math.abs(v))); });
    assert.ok(worst < 1e-5, `logits differ from ONNX Runtime's by ${worst}`);
  });

  test('different weights under one name are refused, naming the tensor and each definition (ONNX Runtime would pick one by size and version)', async () => {
    const bad = buildLlama(root, 'llama-differing-weights', { transform: (p) => { toDuplicateConstants(p, { differingWeights: true }); } });
    await assert.rejects(scanModel(bad.file, { ids: IDS }), (e: unknown) => isEngineError(e) && e.code === 'invalid-model' &&
      /defines the tensor "model\.layers\.0\.input_layernorm\.weight" 2 times in the main graph, with different values \(an initializer, Constant_norm\)/.test(e.message) &&
      /which weights the model computes with is not defined/.test(e.message));
  });

  test('inspect says what is odd, in one sentence, and names a tensor defined twice', () => {
    const info = inspectTarget(resolveTarget(m.file));
    const note = info.warnings.find((w) => /more than once/.test(w));
    assert.ok(note, info.warnings.join('\n'));
    assert.match(note, /defines 3 tensors more than once in the main graph/);
    assert.ok(twice.some((name) => note.includes(`"${name}"`)), note);
    assert.match(note, /the model runs as ONNX Runtime runs it/);
    assert.equal(info.blocks, m.spec.layers);
  });
});

/** An initializer's value as a feed. */
function feedOf(t: TensorProto): FeedTensor {
  const raw = t.rawData.slice();
  const dims = t.dims.map(Number);
  return t.dataType === 9 ? { type: 'bool', data: raw, dims } : { type: 'float32', data: new Float32Array(raw.buffer), dims };
}

describe('weights exported as graph inputs', () => {
  const cases = [
    { label: 'old torch GPT-2: the causal-mask buffer h.0.attn.bias [1, 1, N, N] as an input', build: (t: (m: Parameters<typeof toWeightsAsInputs>[0]) => void) => buildGpt2(root, 'gpt2-buffer-input', { transform: t }), kind: 'buffers' as const },
    { label: 'training-forward graph: every parameter an input (primals_1…N)', build: (t: (m: Parameters<typeof toWeightsAsInputs>[0]) => void) => buildLlama(root, 'llama-primals', { transform: t }), kind: 'all' as const },
    { label: 'IR 3 export: every initializer also listed as an input', build: (t: (m: Parameters<typeof toWeightsAsInputs>[0]) => void) => buildLlama(root, 'llama-ir3', { transform: t }), kind: 'listed' as const },
  ];
  for (const c of cases) {
    describe(c.label, () => {
      let m: BuiltModel;
      let values = new Map<string, TensorProto>();
      before(() => { m = c.build((p) => { values = toWeightsAsInputs(p, c.kind); }); });

      test('a decoder with every block, its weights not taken for data', () => {
        const info = inspectTarget(resolveTarget(m.file));
        assert.equal(info.family, 'decoder', info.familyEvidence.join('; '));
        assert.equal(info.blocks, m.spec.layers);
        const weights = info.inputs.filter((i) => i.role === 'weight').map((i) => i.name).sort();
        assert.deepEqual(weights, [...values.keys()].sort());
        assert.ok(!info.inputs.some((i) => i.role === 'pixels'), JSON.stringify(info.inputs));
      });

      test('a run without the weights is refused, naming them and --feed; with them it matches the reference', async () => {
        if (values.size) {
          await assert.rejects(scanModel(m.file, { ids: IDS }), (e: unknown) => isEngineError(e) && e.code === 'unsupported-input' &&
            /graph inputs? without (a value|values) \(/.test(e.message) && e.message.includes([...values.keys()][0]) && /feed NAME=FILE\.npy/.test(e.message));
        }
        const givenFeeds = Object.fromEntries([...values].map(([name, t]) => [name, feedOf(t)]));
        const r = await scanModel(m.file, { ids: IDS, givenFeeds });
        assertMatchesReference(r, forwardText(m.spec, IDS), m.spec.d);
      });
    });
  }
});

describe('weights in one file per tensor (on-device exports)', () => {
  let m: BuiltModel;
  const fileOf = (t: TensorProto) => t.name.replace(/[^\w.]/g, '_');
  before(() => { m = buildLlama(root, 'llama-per-tensor', { externalData: fileOf }); });

  test('present: the scan matches the reference; inspect counts the files in one line', async () => {
    const r = await scanModel(m.file, { ids: IDS });
    assertMatchesReference(r, forwardText(m.spec, IDS), m.spec.d);
    const info = inspectTarget(resolveTarget(m.file));
    assert.ok(info.externalData.length > 20, `${info.externalData.length} files`);
    const text = view(info);
    const line = text.split('\n').find((l) => l.startsWith('weights'))!;
    assert.match(line, new RegExp(`^weights +${info.externalData.length} files, \\d+\\.\\d MB, all present$`));
  });

  test('missing: inspect names three and counts the rest; a run says how many files are missing, in one sentence', async () => {
    const dir = path.dirname(m.file);
    const info = inspectTarget(resolveTarget(m.file));
    const gone = info.externalData.slice(0, 7).map((f) => f.file);
    for (const f of gone) rmSync(path.join(dir, f));
    const after = inspectTarget(resolveTarget(m.file));
    const line = view(after).split('\n').find((l) => l.startsWith('weights'))!;
    assert.equal(line, `weights     ${info.externalData.length} files, ${line.match(/, ([\d.]+ MB),/)![1]}, 7 MISSING (${gone.slice(0, 3).join(', ')} and 4 more)`);
    assert.ok(line.length < 200, line);
    await assert.rejects(scanModel(m.file, { ids: IDS }), (e: unknown) => isEngineError(e) && e.code === 'missing-external-data' &&
      e.message.startsWith(`7 of the model's ${info.externalData.length} weight files are missing from ${dir} ("${gone[0]}", "${gone[1]}", "${gone[2]}" and 4 more;`) &&
      e.message.length < 400);
  });
});

describe('external data as the Hub holds it', () => {
  const layouts: { label: string; model: string; fileOf: (t: TensorProto, k: number) => string }[] = [
    { label: 'numbered shards beside the base file (model_q4f16.onnx_data, _1, _2)', model: 'model_q4f16.onnx', fileOf: (_t, k) => `model_q4f16.onnx_data${k % 3 ? `_${k % 3}` : ''}` },
    { label: 'numbered shards without the base file (model_q4f16.onnx_data_1 … _3)', model: 'model_q4f16.onnx', fileOf: (_t, k) => `model_q4f16.onnx_data_${(k % 3) + 1}` },
    { label: "the dynamo exporter's model.onnx.data", model: 'model.onnx', fileOf: () => 'model.onnx.data' },
    { label: 'legacy weights.pb', model: 'model.onnx', fileOf: () => 'weights.pb' },
  ];
  for (const l of layouts) {
    test(`${l.label}: found, read and scanned exactly`, async () => {
      let k = 0;
      const built = buildLlama(root, `llama-${l.label.replace(/\W+/g, '-').slice(0, 40)}`, { externalData: (t) => l.fileOf(t, k++) });
      const file = path.join(path.dirname(built.file), l.model);
      if (file !== built.file) renameSync(built.file, file);
      const info = inspectTarget(resolveTarget(path.dirname(file)));
      const expected = [...new Set(Array.from({ length: k }, (_, i) => l.fileOf(undefined as unknown as TensorProto, i)))].sort();
      assert.deepEqual(info.externalData.map((f) => f.file).sort(), expected);
      assert.ok(info.externalData.every((f) => f.present));
      const r = await scanModel(path.dirname(file), { ids: IDS });
      assertMatchesReference(r, forwardText(built.spec, IDS), built.spec.d);
    });
  }

  const POINTER = 'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 2684672\n';
  test('a weight file that is a Git LFS pointer: said so, with what to do, not "truncated"', async () => {
    const built = buildLlama(root, 'llama-lfs-weights', { externalData: 'model.onnx_data' });
    writeFileSync(path.join(path.dirname(built.file), 'model.onnx_data'), POINTER);
    const check = (e: unknown) => isEngineError(e) && e.code === 'missing-external-data' &&
      /"model\.onnx_data" is a Git LFS pointer \(a 1\d\d-byte text file standing for 2\.6 MB\), not the weights/.test(e.message) &&
      /git lfs pull/.test(e.message) && !/truncated/.test(e.message);
    await assert.rejects(scanModel(built.file, { ids: IDS }), check);
    const info = inspectTarget(resolveTarget(built.file));
    assert.ok(info.warnings.some((w) => /"model\.onnx_data" is a Git LFS pointer/.test(w)), info.warnings.join('\n'));
  });

  test('a model file that is a Git LFS pointer: said so, with what to do', async () => {
    const dir = path.join(root, 'lfs-model');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'model.onnx'), POINTER);
    await assert.rejects(scanModel(path.join(dir, 'model.onnx'), { ids: IDS }), (e: unknown) => isEngineError(e) && e.code === 'not-onnx' &&
      /model\.onnx is a Git LFS pointer \(a 1\d\d-byte text file standing for 2\.6 MB\), not the model/.test(e.message) && /git lfs pull/.test(e.message));
  });
});

describe('not a model to scan: one sentence, never a made-up block count', () => {
  test('an attention module exported alone (no residual stream)', () => {
    const m = buildLlama(root, 'llama-attention-fragment', { transform: (p) => toFragment(p, '/model/layers.0/self_attn/') });
    assert.throws(() => inspectTarget(resolveTarget(m.file)), (e: unknown) => isEngineError(e) && e.code === 'not-transformer' &&
      /^model\.onnx mixes tokens \(attention\) but has no residual stream: .* \(an attention fragment\), not a model of blocks, and there is nothing to scan\./.test(e.message));
  });

  test('one whole decoder layer exported alone is one block (it has its stream)', () => {
    const m = buildLlama(root, 'llama-layer-fragment', { transform: (p) => toFragment(p, '/model/layers.0/') });
    assert.equal(inspectTarget(resolveTarget(m.file)).blocks, 1);
  });

  test('a backward graph whose outputs are gradients, in plain ops', () => {
    const m = buildLlama(root, 'llama-gradients', { transform: (p) => {
      const g = p.graph!;
      const names = new Map(g.output.map((o, k) => [o.name, k ? `model.layers.${k}.weight_grad` : 'grad_input_ids']));
      for (const n of g.node) n.output = n.output.map((o) => names.get(o) ?? o);
      for (const o of g.output) o.name = names.get(o.name)!;
    } });
    assert.throws(() => inspectTarget(resolveTarget(m.file)), (e: unknown) => isEngineError(e) && e.code === 'training-graph' &&
      /^model\.onnx is a backward \(gradient\) graph: \d+ of its \d+ outputs are gradients \("grad_input_ids", "model\.layers\.1\.weight_grad", …\)\. Export the inference model/.test(e.message));
  });
});

describe('Attention (opset 23) computed inside a Loop body', () => {
  test('every block found as attention, scanned exactly; the attention analyses say why there are no probabilities', async () => {
    const m = buildLlama(root, 'llama-attention-in-loop', { onnx23: true, transform: toAttentionInLoop });
    const r = await scanModel(m.file, { ids: IDS });
    assert.deepEqual(r.layers.map((l) => l.mixer), new Array(m.spec.layers).fill('attention'));
    assertMatchesReference(r, forwardText(m.spec, IDS), m.spec.d);
    assert.equal(r.model.attention, 'unavailable');
    assert.match(r.attention[2].note ?? '', /^attention is computed inside the Loop \/model\/layers\.2\/self_attn\/Attention_loop's body, where its probabilities cannot be read$/);
  });
});

for (const opset of [23, 24]) describe(`ONNX's own Attention (opset ${opset}), with RMSNormalization and RotaryEmbedding`, () => {
  let m: BuiltModel;
  before(() => {
    m = buildLlama(root, `llama-onnx-attention-${opset}`, { onnx23: true, transform: (p) => { p.opsetImport.find((o) => !o.domain)!.version = BigInt(opset); } });
  });

  test('probabilities read from its qk_matmul_output (mode 3): every head of every block matches the reference', async () => {
    const r = await scanModel(m.file, { ids: IDS });
    assert.equal(r.model.attention, 'probabilities');
    assert.ok(r.attention.every((a) => a.source === 'onnx-probs' && a.heads === m.spec.heads), JSON.stringify(r.attention.map((a) => [a.source, a.heads])));
    const ref = forwardText(m.spec, IDS);
    const T = IDS.length;
    for (let layer = 0; layer < m.spec.layers; layer++) {
      const a = await analyseAttention(m.file, { layer, ids: IDS });
      assert.equal(a.probabilities.length, T);
      for (let q = 0; q < T; q++) for (let k = 0; k < T; k++) {
        let want = 0;
        for (let h = 0; h < m.spec.heads; h++) want += ref.attn[layer][(h * T + q) * T + k] / m.spec.heads;
        assert.ok(Math.abs(a.probabilities[q][k] - want) < 1e-4, `block ${layer} query ${q} key ${k}: ${a.probabilities[q][k]} vs ${want}`);
      }
      r.attention[layer].sinkScores.forEach((s, h) => {
        let want = 0;
        for (let q = 0; q < T; q++) want += ref.attn[layer][(h * T + q) * T];
        assert.ok(Math.abs(s - want / T) < 1e-4, `block ${layer} head ${h}`);
      });
    }
  });
});

describe('on-device re-implementations: generic names, weights one file per tensor, rotary cos / sin and the norm epsilon as inputs', () => {
  let m: BuiltModel;
  before(() => {
    m = buildLlama(root, 'llama-on-device', { transform: (p) => { toOnDevice(p); }, externalData: (t) => t.name.replace(/[^\w.]/g, '_') });
  });

  test('a decoder of every block; cos, sin and epsilon are not taken for an image', () => {
    const info = inspectTarget(resolveTarget(m.file));
    assert.equal(info.family, 'decoder', info.familyEvidence.join('; '));
    assert.equal(info.blocks, m.spec.layers);
    assert.deepEqual(info.inputs.filter((i) => ['rotary', 'epsilon'].includes(i.role)).map((i) => `${i.name}:${i.role}`), ['cos:rotary', 'sin:rotary', 'norm_eps:epsilon']);
    assert.equal(info.inputs.filter((i) => /^[kv]_cache_\d+$/.test(i.name) && i.role === 'past').length, 2 * m.spec.layers, 'k_cache_N / v_cache_N are the cache');
  });

  test("with config.json's rope_theta and rms_norm_eps the inputs get the model's own values: the scan matches the reference, and says what it fed", async () => {
    writeFileSync(path.join(path.dirname(m.file), 'config.json'), JSON.stringify({ rope_theta: 10000, rms_norm_eps: m.spec.eps }));
    const r = await scanModel(m.file, { ids: IDS });
    assertMatchesReference(r, forwardText(m.spec, IDS), m.spec.d);
    const note = r.input?.note ?? '';
    assert.match(note, /cos = rotary cos of positions 0…8 \(θ 10000 from config\.json\) \[1, 1, 9, 16\]/);
    assert.ok(note.includes(`norm_eps = ${m.spec.eps} from config.json`), note);
  });
});

describe('on-device rewrites exported one token at a time (NNTrainer): no cache or mask, the stream reshaped at every layer, rank-4 logits', () => {
  let named: BuiltModel;
  let anonymous: BuiltModel;
  before(() => {
    named = buildOneToken(root, 'llama-one-token', { externalData: (t) => t.name.replace(/[^\w.]/g, '_') });
    anonymous = buildOneToken(root, 'llama-one-token-anonymous', { transform: toAnonymous });
    for (const m of [named, anonymous]) writeFileSync(path.join(path.dirname(m.file), 'config.json'), JSON.stringify({ rope_theta: 10000, rms_norm_eps: m.spec.eps }));
  });

  test('every layer is a block (the Reshape between layers passes the stream on), with or without scope names; a decoder by its head', () => {
    for (const m of [named, anonymous]) {
      const info = inspectTarget(resolveTarget(m.file));
      assert.equal(info.blocks, m.spec.layers, m.name);
      assert.equal(info.family, 'decoder', info.familyEvidence.join('; '));
      assert.ok(info.familyEvidence.some((e) => e.includes('language-model head: output "output"')), info.familyEvidence.join('; '));
      assert.deepEqual(info.inputs.map((i) => `${i.name}:${i.role}`), ['input:ids', 'cos:rotary', 'sin:rotary', 'variance_epsilon:epsilon']);
      assert.equal(info.heads, m.spec.heads);
      assert.match(view(info), /^tokens {6}1 at a time \("input" is \[1, 1\]\)$/m);
      assert.equal(inspectJson(info).fixedTokens, 1);
    }
    // Qwen3's rewrite adds the epsilon input to its queries' and keys' mean squares too.
    const qwen3 = buildOneToken(root, 'qwen3-one-token', { qkNorm: true, transform: toAnonymous });
    const qwen3Info = inspectTarget(resolveTarget(qwen3.file));
    assert.equal(qwen3Info.blocks, qwen3.spec.layers);
    // Its heads are split before their norm, not right before the heads' Transpose.
    assert.equal(qwen3Info.heads, qwen3.spec.heads);
  });

  test("where the structure still falls short of the layers the weights' names count, inspect says so", () => {
    // A pass-through the locator does not know (max(x, x) between layers) breaks its chain again.
    const odd = buildOneToken(root, 'llama-one-token-max', { transform: (p) => {
      for (const n of p.graph!.node) if (n.opType === 'Reshape' && /layers\.\d+\/Reshape$/.test(n.name)) { n.opType = 'Max'; n.input[1] = n.input[0]; }
    } });
    const info = inspectTarget(resolveTarget(odd.file));
    assert.ok(info.blocks * 2 <= odd.spec.layers, `${info.blocks} blocks`);
    assert.ok(info.warnings.some((w) => w.startsWith(`The weights' names count ${odd.spec.layers} layers (layers.0 …), but ${info.blocks} block`)), info.warnings.join('\n'));
    assert.ok(!inspectTarget(resolveTarget(named.file)).warnings.some((w) => w.includes("weights' names count")));
  });

  test("one token scans exactly as the reference computes it, given the config's epsilon", async () => {
    for (const m of [named, anonymous]) {
      const r = await scanModel(m.file, { ids: [IDS[0]] });
      assert.equal(r.layers.length, m.spec.layers);
      assertMatchesReference(r, forwardText(m.spec, [IDS[0]]), m.spec.d);
      assert.ok((r.input?.note ?? '').includes(`variance_epsilon = ${m.spec.eps} from config.json [1, 1]`), r.input?.note);
    }
  });

  test('a longer input is refused in words naming the fixed input, and --truncate runs its first token', async () => {
    await assert.rejects(scanModel(named.file, { ids: IDS }), (e: unknown) => isEngineError(e) && e.code === 'too-long' &&
      /takes 1 token at a time \(its input "input" is \[1, 1\]\)/.test(e.message) && /its first token \(/.test(e.message));
    const r = await scanModel(named.file, { ids: IDS, truncate: true });
    assert.equal(r.tokens.length, 1);
    assert.ok(r.warnings.some((w) => w.startsWith(`Only the first token of the input's ${IDS.length} tokens was run`)), r.warnings.join('\n'));
    assertMatchesReference(r, forwardText(named.spec, [IDS[0]]), named.spec.d);
  });
});

describe('embeddings in 4-bit blocks read by GatherBlockQuantized (q4 exports of transformers.js and onnxruntime-genai)', () => {
  test('the vocabulary comes from the packed table; the scan matches the reference on the dequantized embeddings', async () => {
    let table: Float64Array | undefined;
    const m = buildLlama(root, 'llama-q4-embeddings', { transform: (p) => { table = toQuantizedEmbedding(p); } });
    const info = inspectTarget(resolveTarget(m.file));
    assert.equal(info.vocabSize, m.spec.vocab);
    assert.equal(info.blocks, m.spec.layers);
    assert.equal(info.family, 'decoder');
    const spec = { ...m.spec, embed: table! };
    assert.ok(spec.embed.some((v, i) => v !== m.spec.embed[i]), 'the 4-bit table differs from the float one');
    const r = await scanModel(m.file, { ids: IDS });
    assertMatchesReference(r, forwardText(spec, IDS), m.spec.d);
    assert.deepEqual(r.tokenKinds.slice(0, 1), ['first']);
  });
});

describe('an operator of a domain ONNX Runtime does not have', () => {
  let m: BuiltModel;
  before(() => {
    m = buildLlama(root, 'llama-custom-op', { transform: (p) => {
      const n = p.graph!.node.find((x) => x.name.includes('layers.2/mlp') && x.opType === 'Mul')!;
      n.opType = 'FancyGelu';
      n.domain = 'com.example.ops';
      p.opsetImport.push(create(OperatorSetIdProtoSchema, { domain: 'com.example.ops', version: 1n }));
    } });
  });

  test('inspect still reads the model and warns; a run refuses in one sentence naming the operator and its domain', async () => {
    const info = inspectTarget(resolveTarget(m.file));
    assert.equal(info.blocks, m.spec.layers);
    assert.ok(info.warnings.some((w) => w.includes('(com.example.ops: FancyGelu ×1): inspect reads it, but a run will fail')), info.warnings.join('\n'));
    await assert.rejects(scanModel(m.file, { ids: IDS }), (e: unknown) => isEngineError(e) &&
      e.message === 'model.onnx uses the operator FancyGelu of the domain com.example.ops, which ONNX Runtime does not have, so it cannot run the model (inspect still reads it). Export the model without that custom operator.');
  });
});

/**
 * A patterned side × side PNG written to `file` (channel c of pixel i is (i·mul[c] + shift·c) mod 256),
 * and its pixels as the encoder sees them: CHW, value / 255.
 */
function patternImage(file: string, mul: [number, number, number], shift: number, side: number = VLM_IMAGE.side): Float64Array {
  const png = new PNG({ width: side, height: side });
  const pixels = new Float64Array(3 * side * side);
  for (let i = 0; i < side * side; i++) {
    for (let c = 0; c < 3; c++) {
      png.data[4 * i + c] = (i * mul[c] + shift * c) % 256;
      pixels[c * side * side + i] = png.data[4 * i + c] / 255;
    }
    png.data[4 * i + 3] = 255;
  }
  writeFileSync(file, PNG.sync.write(png));
  return pixels;
}

/** The vision encoder's features by the test's own convolution: one row of width d per patch, row by row. */
function patchFeatures(conv: { w: Float64Array; b: Float64Array }, pixels: Float64Array, d: number): Float64Array[] {
  const { side, patch } = VLM_IMAGE;
  const grid = side / patch;
  const out: Float64Array[] = [];
  for (let py = 0; py < grid; py++) for (let px = 0; px < grid; px++) {
    const f = new Float64Array(d);
    for (let o = 0; o < d; o++) {
      let v = conv.b[o];
      for (let c = 0; c < 3; c++) for (let ky = 0; ky < patch; ky++) for (let kx = 0; kx < patch; kx++) {
        v += conv.w[((o * 3 + c) * patch + ky) * patch + kx] * pixels[(c * side + py * patch + ky) * side + px * patch + kx];
      }
      f[o] = v;
    }
    out.push(f);
  }
  return out;
}

describe('a vision-language folder (embed_tokens + vision_encoder + decoder_model_merged)', () => {
  const PROMPT = 'Summer is warm. Winter is cold.';
  const tok = new Tokenizer(tokenizerJson(), tokenizerConfig());
  let m: ReturnType<typeof buildVisionLanguage>;
  let image: string;
  let pixels: Float64Array;
  before(() => {
    m = buildVisionLanguage(root);
    image = path.join(root, 'vlm.png');
    pixels = patternImage(image, [7, 13, 29], 11);
  });

  /** The reference pass on the embeddings of `ids`, image rows (at the image token) from patchFeatures(). */
  function reference(ids: number[]) {
    const { d } = m.spec;
    const rows = patchFeatures(m.conv, pixels, d);
    const x = new Float64Array(ids.length * d);
    let j = 0;
    ids.forEach((id, t) => {
      const row = id === m.imageTokenId ? rows[j++] : m.spec.embed.subarray(id * d, (id + 1) * d);
      x.set(row, t * d);
    });
    assert.equal(j, rows.length);
    return forwardFromEmbeddings(m.spec, x, ids.length, true);
  }

  test('a prompt with an image: the features take four image tokens after the first; marked as image; the language model matches the reference', async () => {
    const r = await scanModel(m.dir, { prompt: PROMPT, image });
    const text = tok.encode(PROMPT).ids.map(Number);
    const ids = [text[0], ...new Array(4).fill(m.imageTokenId), ...text.slice(1)];
    assert.deepEqual(r.tokens.map((t) => t.id), ids);
    assert.deepEqual(r.tokenKinds.slice(0, 6), ['first', 'image', 'image', 'image', 'image', 'other']);
    assert.equal(r.model.blocks, m.spec.layers);
    assertMatchesReference(r, reference(ids), m.spec.d);
    assert.match(r.input.note ?? '', /The image's 4 features \(vision_encoder\.onnx\) stand in for the image tokens\./);
  });

  test("the prompt's own image token is widened to the features where it stands; given as often as there are features, it is used as it is", async () => {
    const text = tok.encode(PROMPT).ids.map(Number);
    const once = [...text.slice(0, 3), m.imageTokenId, ...text.slice(3)];
    const widened = [...text.slice(0, 3), ...new Array(4).fill(m.imageTokenId), ...text.slice(3)];
    const r = await scanModel(m.dir, { ids: once, image });
    assert.deepEqual(r.tokens.map((t) => t.id), widened);
    assertMatchesReference(r, reference(widened), m.spec.d);
    const exact = await scanModel(m.dir, { ids: widened, image });
    assert.deepEqual(exact.tokens.map((t) => t.id), widened);
    await assert.rejects(scanModel(m.dir, { ids: [...once, m.imageTokenId], image }), (e: unknown) => isEngineError(e) && e.code === 'bad-prompt' &&
      /holds the image token 2 times, but the image gives 4 features/.test(e.message));
  });

  test('inspect lists the vision encoder among the files; without an image the folder scans text as before', async () => {
    const info = inspectTarget(resolveTarget(m.dir));
    assert.deepEqual(info.pipeline?.files.map((f) => f.role), ['vision', 'embed', 'decoder']);
    const r = await scanModel(m.dir, { prompt: PROMPT });
    assert.ok(!r.tokenKinds.includes('image'));
  });
});

describe("an onnxruntime-genai folder: genai_config.json names the decoder's file", () => {
  test('the folder opens on the file it names, and scans exactly; a name that leaves the folder is not followed', async () => {
    const built = buildLlama(root, 'genai-folder');
    const dir = path.dirname(built.file);
    const named = path.join(dir, 'phi3-mini-4k-instruct-cpu-int4-rtn-block-32.onnx');
    renameSync(built.file, named);
    writeFileSync(path.join(dir, 'genai_config.json'), JSON.stringify({ model: { type: 'llama', decoder: { filename: path.basename(named), num_hidden_layers: built.spec.layers, hidden_size: built.spec.d } } }));
    assert.equal(resolveTarget(dir).main, named);
    const r = await scanModel(dir, { ids: IDS });
    assertMatchesReference(r, forwardText(built.spec, IDS), built.spec.d);
    writeFileSync(path.join(dir, 'genai_config.json'), JSON.stringify({ model: { decoder: { filename: '../elsewhere.onnx' } } }));
    assert.throws(() => resolveTarget(dir), (e: unknown) => isEngineError(e) && /holds no model/.test(e.message));
  });
});

describe("Gemma 3n's split: embed_tokens.onnx gives inputs_embeds and per_layer_inputs", () => {
  test('both reach the decoder: the scan matches the reference on the embeddings plus the per-layer rows', async () => {
    const m = buildPerLayerPair(root);
    const info = inspectTarget(resolveTarget(m.dir));
    assert.deepEqual(info.pipeline?.files.map((f) => f.role), ['embed', 'decoder']);
    const r = await scanModel(m.dir, { ids: IDS });
    const { d } = m.spec;
    const x = new Float64Array(IDS.length * d);
    IDS.forEach((id, t) => { for (let c = 0; c < d; c++) x[t * d + c] = m.spec.embed[id * d + c] + m.perLayer[id * d + c]; });
    assertMatchesReference(r, forwardFromEmbeddings(m.spec, x, IDS.length, true), d);
    assert.doesNotMatch(r.input.note ?? '', /per_layer_inputs = zeros/);
  });
});

describe("onnxruntime-genai's fused token mixers (LinearAttention, CausalConvWithState)", () => {
  const NAMED: Record<string, string> = { gdn: 'linear-attention', conv: 'convolution', attention: 'attention', mamba: 'state-space' };
  for (const kind of ['qwen35', 'lfm2'] as const) {
    test(`${kind}: every block located and named by its fused mixer`, () => {
      const m = buildHybrid(root, kind, { name: `${kind}-fused-mixers`, fusedMixers: true });
      const info = inspectTarget(resolveTarget(m.file));
      assert.equal(info.blocks, HYBRID_LAYOUTS[kind].layout.length);
      assert.deepEqual(info.layers.map((l) => l.mixer), HYBRID_LAYOUTS[kind].layout.map((k) => NAMED[k]));
    });
  }
});

describe('a vision encoder that takes flattened patches (Qwen2-VL style: hidden_states [patches, 3·P²] beside grid_thw)', () => {
  let m: BuiltModel;
  before(() => { m = buildVit(root, 'vit-flattened-patches', { transform: toFlattenedPatches }); });

  test('a vision model; fed patches run as the image they came from; --image says what to feed instead', async () => {
    const v = m.spec.vit!;
    const flatFile = m.file;
    const info = inspectTarget(resolveTarget(flatFile));
    assert.equal(info.family, 'vision', info.familyEvidence.join('; '));
    assert.deepEqual(info.inputs.map((i) => `${i.name}:${i.role}`), ['hidden_states:patches', 'grid_thw:grid', 'rotary_pos_emb:other']);
    assert.equal(info.blocks, m.spec.layers);
    // An image and the same pixels cut into patches (channel, row, column within a patch; patches row by row).
    const pixels = Float64Array.from({ length: v.channels * v.image * v.image }, (_, k) => Math.sin(k * 0.37) * 0.8);
    const grid = v.image / v.patch;
    const k = v.channels * v.patch * v.patch;
    const rows = new Float32Array(grid * grid * k);
    for (let py = 0; py < grid; py++) for (let px = 0; px < grid; px++) for (let c = 0; c < v.channels; c++) {
      for (let ky = 0; ky < v.patch; ky++) for (let kx = 0; kx < v.patch; kx++) {
        rows[(py * grid + px) * k + (c * v.patch + ky) * v.patch + kx] = pixels[(c * v.image + py * v.patch + ky) * v.image + px * v.patch + kx];
      }
    }
    const r = await scanModel(flatFile, { givenFeeds: { hidden_states: { type: 'float32', data: rows, dims: [grid * grid, k] } } });
    assertMatchesReference(r, forwardVit(m.spec, pixels), m.spec.d);
    assert.match(r.input.note ?? '', /grid_thw = one frame of the patches, rows × columns \[1, 3\]/);
    // A free dimension shared with the fed patches (num_patches) takes their count.
    assert.match(r.input.note ?? '', /rotary_pos_emb = zeros \[16, 8\]/);
  });

  test("--image is cut as preprocessor_config.json says (Qwen2-VL's processor): the scan matches the reference on the normalised pixels", async () => {
    const v = m.spec.vit!;
    const dir = path.dirname(m.file);
    const mean = [0.5, 0.4, 0.3];
    const std = [0.25, 0.2, 0.3];
    const config = path.join(dir, 'preprocessor_config.json');
    // One frame, no merging: this encoder's patches run row by row, as its position table has them.
    writeFileSync(config, JSON.stringify({
      patch_size: v.patch, temporal_patch_size: 1, merge_size: 1, min_pixels: 1, max_pixels: v.image * v.image, image_mean: mean, image_std: std,
    }));
    const image = path.join(root, 'patches.png');
    const plane = v.image * v.image;
    const pixels = patternImage(image, [5, 17, 23], 3, v.image).map((x, k) => (x - mean[Math.floor(k / plane)]) / std[Math.floor(k / plane)]);
    const r = await scanModel(m.file, { image });
    assertMatchesReference(r, forwardVit(m.spec, pixels), m.spec.d);
    const grid = v.image / v.patch;
    assert.ok((r.input.note ?? '').includes(`(${v.image}×${v.image}) kept its size (multiples of ${v.patch} within 1–${(v.image * v.image).toLocaleString('en-US')} pixels, as Qwen2-VL's processor wants) ` +
      `and was cut into ${grid}×${grid} patches of ${v.patch}×${v.patch}, listed by 1×1 merge window`), r.input.note);
    assert.match(r.input.note ?? '', /rotary_pos_emb holds the patches' rows and columns as rotary angles/);
    // The same encoder taking only the rotary angles beside its patches (no grid_thw): a vision model all the same.
    const angles = buildVit(root, 'vit-flattened-patches-angles', { transform: (p) => toFlattenedPatches(p, { grid: false }) });
    const anglesInfo = inspectTarget(resolveTarget(angles.file));
    assert.equal(anglesInfo.family, 'vision', anglesInfo.familyEvidence.join('; '));
    assert.match(anglesInfo.familyEvidence[0], /beside the rotary angles of its patches$/);
    assert.deepEqual(anglesInfo.inputs.map((i) => `${i.name}:${i.role}`), ['hidden_states:patches', 'rotary_pos_emb:other']);
    copyFileSync(config, path.join(path.dirname(angles.file), 'preprocessor_config.json'));
    assertMatchesReference(await scanModel(angles.file, { image }), forwardVit(m.spec, pixels), m.spec.d);
    writeFileSync(config, JSON.stringify({ patch_size: 14, temporal_patch_size: 2 }));
    await assert.rejects(scanModel(m.file, { image }), (e: unknown) => isEngineError(e) && e.code === 'bad-file' && /takes 192 a patch/.test(e.message));
    rmSync(config);
  });
});

describe('an audio-language folder (embed_tokens + audio_encoder + decoder_model_merged)', () => {
  test('--feed input_features goes to the audio encoder; its features take the audio tokens; the language model matches the reference', async () => {
    const m = buildAudioLanguage(root);
    const { d } = m.spec;
    const frames = 5;
    const mel = Float32Array.from({ length: m.bins * frames }, (_, k) => Math.cos(k * 0.71) * 0.9);
    const melFile = path.join(root, 'mel.npy');
    writeFileSync(melFile, npy('<f4', [1, m.bins, frames], mel));
    const info = inspectTarget(resolveTarget(m.dir));
    assert.deepEqual(info.pipeline?.files.map((f) => f.role), ['audio', 'embed', 'decoder']);
    const r = await scanModel(m.dir, { ids: IDS, feeds: { input_features: melFile } });
    const ids = [IDS[0], ...new Array(frames).fill(m.audioTokenId), ...IDS.slice(1)];
    assert.deepEqual(r.tokens.map((t) => t.id), ids);
    assert.deepEqual(r.tokenKinds.slice(0, frames + 2), ['first', ...new Array(frames).fill('audio'), 'other']);
    // The test's own features: each frame's bins through the map.
    const x = new Float64Array(ids.length * d);
    let f = 0;
    ids.forEach((id, t) => {
      for (let c = 0; c < d; c++) {
        if (id !== m.audioTokenId) { x[t * d + c] = m.spec.embed[id * d + c]; continue; }
        let v = m.map.b[c];
        for (let bin = 0; bin < m.bins; bin++) v += mel[bin * frames + f] * m.map.w[bin * d + c];
        x[t * d + c] = v;
      }
      if (id === m.audioTokenId) f++;
    });
    assertMatchesReference(r, forwardFromEmbeddings(m.spec, x, ids.length, true), d);
    assert.match(r.input.note ?? '', /The audio's 5 features \(audio_encoder\.onnx\) stand in for the audio tokens\./);
  });
});

describe('Florence-2 as onnx-community splits it (vision_encoder + embed_tokens + encoder_model + decoder_model_merged)', () => {
  test('a prompt with an image: the encoder gets the image features in place of its image tokens, the decoder its start token through embed_tokens; both stacks match the reference', async () => {
    const m = buildFlorence(root);
    const image = path.join(root, 'florence.png');
    const pixels = patternImage(image, [5, 17, 31], 3);
    const info = inspectTarget(resolveTarget(m.dir));
    assert.deepEqual(info.pipeline?.files.map((f) => f.role), ['vision', 'embed', 'encoder', 'decoder']);
    const r = await scanModel(m.dir, { ids: IDS, image });
    const { d } = m.encoder;
    const features = patchFeatures(m.conv, pixels, d);
    const encIds = [IDS[0], ...new Array(features.length).fill(m.imageTokenId), ...IDS.slice(1)];
    assert.deepEqual(r.stacks![0].tokens.map((t) => t.id), encIds);
    const S = encIds.length;
    const xEnc = new Float64Array(S * d);
    let j = 0;
    encIds.forEach((id, t) => xEnc.set(id === m.imageTokenId ? features[j++] : m.encoder.embed.subarray(id * d, (id + 1) * d), t * d));
    const enc = forwardFromEmbeddings(m.encoder, xEnc, S, false);
    const last = enc.hidden[m.encoder.layers - 1];
    const states = new Float64Array(S * d);
    for (let t = 0; t < S; t++) states.set(norm(last, t, d, m.encoder.lnfG, m.encoder.lnfB, true, m.encoder.eps), t * d);
    // The decoder's start token, embedded by the shared table.
    const dec = forwardFromEmbeddings(m.decoder, m.encoder.embed.slice(1 * d, 2 * d), 1, true, undefined, m.decoder.layers, { states, tokens: S });
    const asScan = (k: number) => ({ ...r, layers: r.stacks![k].layers });
    assertMatchesReference(asScan(0), enc, d);
    assertMatchesReference(asScan(1), dec, d);
  });
});
