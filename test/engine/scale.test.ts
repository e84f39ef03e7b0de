import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, TensorProto_DataLocation } from 'onnx-buf';
import { closeSync, cpSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { scanModel } from '../../src/engine/run/scan';
import { estimateScanBytes } from '../../src/engine/model/memory';
import { prepareModel } from '../../src/engine/model/inspect';
import { isEngineError } from '../../src/engine/base/errors';
import { weightBytes } from '../../src/worker/sessionCache';
import { featureMap } from '../../src/experiments/featureMap/run';
import type { Opener } from '../../src/engine/run/forward';
import { openModel, run } from '../../src/engine/run/session';
import { SCAN_PROBES } from '../../src/engine/run/probes';
import { classifyInputs, textFeeds } from '../../src/engine/model/feeds';
import { externalDataEntries } from '../../src/engine/model/onnx/build';
import { GraphIndex } from '../../src/engine/model/onnx/graph';
import { buildScaleLlama, q4RoundTrip, scaleSpec, type BuiltModel, type LlamaShape, type WeightFormat } from '../models/build';
import { plantedSpec } from '../models/planted';
import { forwardText } from '../models/reference';
import type { Spec } from '../models/spec';
import { tempDir } from '../fixtures';
import { assertMatchesReference } from './matchReference';

/**
 * The scale path, on a model small enough to check against the reference pass but written exactly
 * as the 1.1B benchmark model is: blocks made on demand, weights streamed into external data,
 * fp32 / fp16 / 4-bit MatMulNBits. Timings are the benchmark's business (npm run bench:scale).
 */
const root = tempDir('scale');
const shape: LlamaShape = { layers: 6, d: 256, ffn: 704, heads: 8, kvHeads: 2, vocab: 512, maxPos: 1024 };
/** BOS, ordinary words, "." every 8 tokens: the planted markers are ids 1 and 3. */
const ids = (n: number) => Array.from({ length: n }, (_, i) => (i === 0 ? 1 : i % 8 === 0 ? 3 : 10 + ((i * 37) % 400)));
const markerPositions = (a: number[]) => a.flatMap((id, i) => (id === 1 || id === 3 ? [i] : []));

const lazy = scaleSpec(shape);
// 4-bit: an eager spec whose projections are their own 4-bit round trip, so the reference pass
// computes exactly what MatMulNBits does.
const q4: Spec = q4RoundTrip(plantedSpec({ arch: 'llama', ...shape, seed: 5 }));
const formats: [WeightFormat, Spec][] = [['fp32', lazy], ['fp16', lazy], ['q4', q4]];

for (const [format, spec] of formats) {
  describe(`streamed ${format} LLaMA with external data`, () => {
    let m: BuiltModel;
    before(() => { m = buildScaleLlama(root, `llama-${format}`, spec, format); });

    test('the graph file holds no weights: every tensor of 1 KB or more is external, 4 KB aligned', () => {
      const proto = fromBinary(ModelProtoSchema, readFileSync(m.file));
      const data = statSync(path.join(path.dirname(m.file), 'model.onnx_data')).size;
      assert.ok(statSync(m.file).size < data / 20, `graph ${statSync(m.file).size} B vs data ${data} B`);
      let external = 0;
      for (const t of proto.graph!.initializer) {
        if (t.dataLocation !== TensorProto_DataLocation.EXTERNAL) { assert.ok(t.rawData.length < 1024, `${t.name} inline with ${t.rawData.length} B`); continue; }
        const entry = Object.fromEntries(t.externalData.map((e) => [e.key, e.value]));
        assert.equal(Number(entry.offset) % 4096, 0, t.name);
        assert.ok(Number(entry.offset) + Number(entry.length) <= data, t.name);
        external++;
      }
      assert.ok(external >= shape.layers * 7, `${external} external tensors`);
      if (format === 'q4') assert.ok(proto.graph!.node.filter((n) => n.opType === 'MatMulNBits').length === shape.layers * 7);
    });

    test('scan reports exactly the planted blocks, tokens and channels, values within 1% of the reference', async () => {
      const input = ids(40);
      const r = await scanModel(m.file, { ids: input });
      assert.equal(r.model.blocks, shape.layers);
      assertMatchesReference(r, forwardText(spec, input), shape.d);
      assert.deepEqual(r.massiveTokens, markerPositions(input));
      assert.deepEqual(r.massiveChannels, [7, 42]);
      if (format === 'q4') assert.equal(r.model.quantization.includes('MatMulNBits'), true);
    });
  });
}

describe('long prompts', () => {
  let m: BuiltModel;
  before(() => { m = buildScaleLlama(root, 'llama-long', lazy, 'fp32'); });

  test('a 1000-token scan finds the planted pattern at every marker and reads attention only as per-key sums', async () => {
    const input = ids(1000);
    const r = await scanModel(m.file, { ids: input, maxTokens: 1000 });
    assert.deepEqual(r.massiveTokens, markerPositions(input));
    assert.deepEqual(r.massiveChannels, [7, 42]);
    assert.deepEqual(r.layers.filter((l) => l.massive.length).map((l) => l.index), [1, 2, 3, 4]);
    for (const b of lazy.planted.sinkBlocks) assert.ok(r.attention[b].massiveTokenShare! > 0.5, `block ${b} share ${r.attention[b].massiveTokenShare}`);
  });

  test('the scan session returns nothing of size heads × tokens²', async () => {
    const T = 600;
    const om = await openModel(m.file, SCAN_PROBES);
    const out = await run(om, textFeeds(classifyInputs(om.prepared.index), ids(T)));
    const sizes = Object.entries(out).map(([name, t]) => [name, t.dims.map(Number)] as const);
    const count = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);
    assert.equal(sizes.filter(([, d]) => d.at(-1) === T && count(d) === shape.heads * T).length, shape.layers, 'per-key sums for every block');
    for (const [name, dims] of sizes) assert.ok(!(dims.at(-1) === T && dims.at(-2) === T), `${name} is ${dims.join('×')}`);
  });

  test('each block waits for the previous block\'s attention sums, so only one block\'s probabilities are alive', async () => {
    const om = await openModel(m.file, SCAN_PROBES);
    const index = new GraphIndex(om.prepared.loaded.proto.graph!);
    const ancestors = (t: string, seen = new Set<string>()): Set<string> => {
      const stack = [t];
      while (stack.length) {
        const n = index.producer.get(stack.pop()!)?.node;
        for (const i of n?.input ?? []) if (i && !seen.has(i)) { seen.add(i); stack.push(i); }
      }
      return seen;
    };
    for (let b = 0; b + 1 < shape.layers; b++) {
      const sums = om.probe(`blocks.${b}.attn.key_sums`).map((a) => a.tensor);
      assert.ok(sums.length && sums.every((t) => ancestors(om.probe(`blocks.${b + 1}.resid_post`)[0].tensor).has(t)), `block ${b + 1} does not wait for ${sums.join(', ')}`);
    }
  });
});

describe('weights beyond 2 GB in the external data file', () => {
  test('are read by ONNX Runtime in place, never through a JS buffer (readFile refuses files over 2 GB)', async () => {
    const src = buildScaleLlama(root, 'llama-far', lazy, 'fp32');
    const dir = path.join(root, 'llama-beyond-2gb');
    cpSync(path.dirname(src.file), dir, { recursive: true });
    // The same bytes moved 2.5 GB into a sparse file: the hole costs no disk.
    const shift = 2.5 * 2 ** 30;
    const bytes = readFileSync(path.join(dir, 'model.onnx_data'));
    const fd = openSync(path.join(dir, 'model.onnx_data'), 'w');
    writeSync(fd, bytes, 0, bytes.length, shift);
    closeSync(fd);
    const proto = fromBinary(ModelProtoSchema, readFileSync(path.join(dir, 'model.onnx')));
    for (const t of proto.graph!.initializer) {
      if (t.dataLocation !== TensorProto_DataLocation.EXTERNAL) continue;
      const e = Object.fromEntries(t.externalData.map((x) => [x.key, x.value]));
      t.externalData = externalDataEntries(e.location, Number(e.offset) + shift, Number(e.length));
    }
    writeFileSync(path.join(dir, 'model.onnx'), toBinary(ModelProtoSchema, proto));
    assert.throws(() => readFileSync(path.join(dir, 'model.onnx_data')), /2 GiB|too large|ERR_FS_FILE_TOO_LARGE/);
    const before = statSync(path.join(dir, 'model.onnx_data'));
    const input = ids(24);
    const r = await scanModel(path.join(dir, 'model.onnx'), { ids: input });
    assert.deepEqual(r.massiveTokens, markerPositions(input));
    assert.deepEqual(r.massiveChannels, [7, 42]);
    const after = statSync(path.join(dir, 'model.onnx_data'));
    assert.deepEqual([after.size, after.mtimeMs], [before.size, before.mtimeMs]);
  });
});

describe('sessions at scale', () => {
  test('a model whose weights cannot fit is refused before ONNX Runtime loads it; fp16 counts twice', async () => {
    const m = buildScaleLlama(root, 'llama-fp16-mem', lazy, 'fp16');
    const data = weightBytes(m.file);
    const p = prepareModel(m.file);
    assert.ok(estimateScanBytes(p, 1) >= 2 * data, 'ONNX Runtime on CPU holds fp16 weights as fp32 too');
    await assert.rejects(openModel(m.file, SCAN_PROBES, { memoryLimitBytes: data }), (e: unknown) => isEngineError(e) && e.code === 'out-of-memory' && /^Loading this model needs about/.test(e.message));
    const om = await openModel(m.file, SCAN_PROBES, { memoryLimitBytes: 3 * data + 2 ** 28 });
    await om.session.release();
  });

  test('a block\'s feature map runs on the scan\'s session: clicking a block does not load the model again', async () => {
    const m = buildScaleLlama(root, 'llama-sessions', lazy, 'fp32');
    const variants = new Set<string>();
    const open: Opener = (f, v, s) => { variants.add(JSON.stringify(v)); return openModel(f, v, s); };
    const input = ids(24);
    const scan = await scanModel(m.file, { ids: input, open });
    const map = await featureMap(m.file, { ids: input, layer: 2, open });
    assert.deepEqual(map.massiveChannels, scan.massiveChannels);
    assert.equal(variants.size, 1, [...variants].join(' vs '));
  });
});
