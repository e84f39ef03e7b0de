import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkMemory } from '../../src/engine/model/memory';
import type { PreparedModel } from '../../src/engine/model/inspect';
import { ortCause } from '../../src/engine/run/session';
import { firstInvalidUtf8 } from '../../src/engine/base/files';
import { jsonSafe, printable, terminalSafe } from '../../src/engine/base/text';
import { blockStats, medianAbs, PAPER_THRESHOLDS, topRatio } from '../../src/engine/measure/stats';

test('ONNX Runtime messages keep the cause and lose the source location and C++ signature', () => {
  // Verbatim messages from onnxruntime-node 1.30 on the mutated test models.
  const ir = '/onnxruntime_src/onnxruntime/core/graph/model.cc:202 onnxruntime::Model::Model(onnx::ModelProto&&, const onnxruntime::PathString&, const onnxruntime::IOnnxRuntimeOpSchemaRegistryList*, const onnxruntime::logging::Logger&, const onnxruntime::ModelOptions&) Unsupported model IR version: 99, max supported IR version: 13';
  assert.equal(ortCause(ir), 'Unsupported model IR version: 99, max supported IR version: 13.');
  const ext = 'Deserialize tensor transformer.wte.weight failed.tensorprotoutils.cc:594 GetExternalDataInfo TensorProto: transformer.wte.weight external data size mismatch. Computed size: 549755813888, external_data.length: 46848';
  assert.equal(ortCause(ext), 'Deserialize tensor transformer.wte.weight failed. TensorProto: transformer.wte.weight external data size mismatch. Computed size: 549755813888, external_data.length: 46848.');
  const graph = "/onnxruntime_src/onnxruntime/core/graph/graph.cc:1555 void onnxruntime::Graph::InitializeStateFromModelFileGraphProto() This is an invalid model. Graph output (present.3.key) does not exist in the graph.";
  assert.equal(ortCause(graph), 'This is an invalid model. Graph output (present.3.key) does not exist in the graph.');
  assert.equal(ortCause('[ONNXRuntimeError] : 1 : FAIL : Load model failed'), 'Load model failed.');
  assert.equal(ortCause('op Add\x1b[31m'), 'op Add\\u001b[31m.');
});

test('memory estimates from impossible declared sizes say the file is corrupt, not "close other programs"', () => {
  const p = (hiddenSize: number, heads: number) => ({ loaded: { size: 1e6, externalFiles: [] }, info: { dtype: 'float32', hiddenSize, heads, blocks: 6 } }) as unknown as PreparedModel;
  assert.throws(() => checkMemory(p(2 ** 40, 2 ** 30), 512, 2 ** 34), /declares sizes no machine can hold \(width 1099511627776, 1073741824 heads, 6 blocks, 512 tokens\); the file is corrupt/);
  assert.throws(() => checkMemory(p(4096, 32), 100_000, 2 ** 34), /Scanning this model on 100000 tokens needs about [\d,.]+ GB of memory, over the limit of 16 GB set with the memoryLimit option/);
  assert.doesNotThrow(() => checkMemory(p(64, 4), 16, 2 ** 34));
});

test('the first invalid UTF-8 byte is found, overlongs and surrogates included', () => {
  const enc = (...b: number[]) => Uint8Array.from(b);
  assert.equal(firstInvalidUtf8(new TextEncoder().encode('Grüße, 世界 😀')), -1);
  assert.equal(firstInvalidUtf8(enc(0x61, 0xe9, 0x62)), 1); // Latin-1 é
  assert.equal(firstInvalidUtf8(enc(0xc0, 0xaf)), 0); // overlong "/"
  assert.equal(firstInvalidUtf8(enc(0x61, 0xed, 0xa0, 0x80)), 1); // UTF-16 surrogate
  assert.equal(firstInvalidUtf8(enc(0x61, 0x62, 0xf0, 0x9f, 0x98)), 2); // cut short
  // The same verdict as the platform's strict decoder on every 2-byte sequence.
  for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b += 17) {
    const bytes = enc(a, b);
    let strict = true;
    try { new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch { strict = false; }
    assert.equal(firstInvalidUtf8(bytes) < 0, strict, `${a.toString(16)} ${b.toString(16)}`);
  }
});

test('control characters are escaped, text and line structure kept', () => {
  assert.equal(printable('a\x1b[2Jb\nc\u202e'), 'a\\u001b[2Jb\\nc\\u202e');
  assert.equal(terminalSafe('row 1\n\tx\x07\x9b'), 'row 1\n\tx\\u0007\\u009b');
  const doc = jsonSafe(JSON.stringify({ t: 'x\x9by\u2066' }));
  assert.ok(!/[\u0080-\u009f\u2066]/.test(doc));
  assert.equal(JSON.parse(doc).t, 'x\x9by\u2066', 'still the same JSON value');
});

test('statistics over NaN and ±Inf: counted, left out of median, top and massive', () => {
  const x = new Float32Array(64).fill(0.5);
  x[3] = NaN; x[10] = Infinity; x[20] = -Infinity; x[40] = 5000;
  const s = blockStats(x, 8, 8, 3, PAPER_THRESHOLDS);
  assert.deepEqual({ ...s.nonFinite }, { count: 3, nan: 1, posInf: 1, negInf: 1, first: { token: 0, channel: 3 } });
  assert.equal(s.median, 0.5);
  assert.deepEqual(s.top.map((a) => a.value), [5000, 0.5, 0.5]);
  assert.deepEqual(s.massive.map((a) => [a.token, a.channel]), [[5, 0]]);
  assert.ok(Array.from(s.maxPerToken).every(Number.isFinite));
  assert.ok(Number.isNaN(medianAbs(Float32Array.of(NaN, Infinity))));
  assert.equal(topRatio(5, 0), null);
  assert.equal(topRatio(5, NaN), null);
  assert.equal(topRatio(5000, 0.5), 10000);
});
