import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { readFeedFile, FEED_LIMITS } from '../../src/engine/model/feedFiles';
import { intervene } from '../../src/experiments/intervene/run';
import type { ClassifiedInput } from '../../src/engine/model/feeds';
import { DT } from '../../src/engine/model/onnx/dtype';
import { isEngineError, userMessage } from '../../src/engine/base/errors';
import { cliWording } from '../../src/shared/cliWording';
import { vscodeWording } from '../../src/host/wording';
import { EngineClient } from '../../src/worker/client';
import { buildGpt2, type BuiltModel } from '../models/build';
import { npy } from '../models/npy';
import { vocabulary } from '../models/tokenizer';
import { tempDir, WORKER } from '../fixtures';

/**
 * Issue 25 in the engine, where the VS Code front end meets it too (its massiveActivations.feeds
 * setting beside the panel's prompt or ids box): one source per input, worded as settings; the
 * reader of .npy and JSON feeds, its conversions and its memory bound.
 */

const root = tempDir('feed-inputs');
const words = vocabulary();
const FED = ['<s>', 'cat', 'is', 'cold', '.', 'the', 'dog', 'was', '.'].map((w) => words.indexOf(w));
let gpt2: BuiltModel;
let noTokenizer: string;
let client: EngineClient;
const feed = (name: string, content: string | Buffer) => { const f = path.join(root, name); writeFileSync(f, content); return f; };
const input = (name: string, elemType: number, shape: (number | string)[], role: ClassifiedInput['role'] = 'other'): ClassifiedInput => (
  { name, elemType, shape, role });
const BOUNDS = { maxTokens: 2048 };

before(() => {
  assert.ok(existsSync(WORKER), `${WORKER} is missing: run "npm run build" first (npm test does)`);
  gpt2 = buildGpt2(root);
  noTokenizer = path.join(root, 'no-tokenizer', 'model.onnx');
  mkdirSync(path.dirname(noTokenizer));
  copyFileSync(gpt2.file, noTokenizer);
  client = new EngineClient(WORKER);
});
after(async () => { await client?.dispose(); });

const failure = (p: Promise<unknown>) => p.then(() => assert.fail('expected a refusal'), (e: unknown) => e);

describe('the panel and its feeds setting, through the engine process', () => {
  test('a feed of input_ids beside the panel\'s prompt or ids is refused, worded as the setting and the control', async () => {
    const a = feed('A.json', JSON.stringify([FED]));
    const cases: [{ prompt?: string; ids?: number[] }, RegExp][] = [
      [{ prompt: 'Summer is warm.' }, /the panel's prompt/],
      [{ ids: [1, 10] }, / and the panel's Token ids box both give/],
    ];
    for (const [options, other] of cases) {
      const e = await failure(client.call('scan', { file: gpt2.file, options: { ...options, feeds: { input_ids: a } } }).result);
      assert.ok(isEngineError(e), String(e));
      const inCode = userMessage(e, vscodeWording);
      assert.match(inCode, /^the massiveActivations\.feeds setting \(\{ "input_ids": "A\.json" \}\) and /);
      assert.match(inCode, other);
      assert.match(inCode, /both give input_ids; give one\.$/);
      assert.doesNotMatch(inCode, /--|\u27e6/);
      assert.match(userMessage(e, cliWording), /^--feed input_ids=A\.json and --(prompt|ids) both give input_ids/);
    }
  });

  test('a blank prompt or an empty ids box is no source: the fed ids run, and are the tokens shown', async () => {
    const a = feed('A.json', JSON.stringify([FED]));
    const withTokenizer = await client.call('scan', { file: gpt2.file, options: { prompt: '  ', feeds: { input_ids: a } } }).result;
    assert.deepEqual(withTokenizer.tokens.map((t) => t.text), FED.map((id) => words[id]));
    const without = await client.call('scan', { file: noTokenizer, options: { ids: [], feeds: { input_ids: a } } }).result;
    assert.deepEqual(without.tokens.map((t) => t.text), FED.map((id) => `<${id}>`));
    assert.deepEqual(without.layers.map((l) => l.massive), withTokenizer.layers.map((l) => l.massive));
  });
});

describe('experiments on fed ids', () => {
  test('intervene (mean) on fed input_ids equals intervene on the same ids typed: the mean and perplexity sequences keep their own ids', async () => {
    const a = feed('A.json', JSON.stringify([FED]));
    const opts = { layer: 2, mode: 'mean' as const, meanCount: 2, evalCount: 2, seqLen: 16 };
    const fed = await intervene(gpt2.file, { ...opts, feeds: { input_ids: a } });
    const typed = await intervene(gpt2.file, { ...opts, ids: FED });
    assert.ok(fed.changed.length > 0, 'the planted massive activations were set to their mean');
    assert.deepEqual(fed, typed);
  });
});

describe('reading feeds', () => {
  test('JSON: nested arrays and {"dims", "data"} (nested or flat, other keys skipped) give the same tensor', () => {
    const want = [1.5, -2, 3e-3, 4, 5, 6];
    const i = input('x', DT.FLOAT, ['batch', 2, 3]);
    const forms = [
      '[[[1.5, -2, 3e-3], [4, 5, 6]]]',
      '\ufeff {"note": {"a": [true, null, "}"]}, "dims": [1, 2, 3], "data": [1.5, -2, 0.003, 4, 5, 6]}',
      '{"data": [[[1.5, -2, 3E-3], [4, 5.0, 6]]], "dims": [1, 2, 3]}',
    ];
    for (const text of forms) {
      const t = readFeedFile(feed('x.json', text), i, BOUNDS);
      assert.deepEqual([t.type, t.dims, Array.from(t.data as Float32Array)], ['float32', [1, 2, 3], Array.from(Float32Array.from(want))]);
    }
  });

  test('JSON that is not a regular tensor of numbers is refused in a sentence', () => {
    const i = input('x', DT.FLOAT, []);
    const cases: [string, RegExp][] = [
      ['[[1, 2], [3]]', /bad\.json is not a regular nested array/],
      ['[[1, 2], 3]', /bad\.json is not a regular nested array/],
      ['[1, NaN]', /bad\.json holds a value that is not a number at byte 4/],
      ['[1, "2"]', /bad\.json holds a value that is not a number/],
      ['[1, 2', /bad\.json is not valid JSON \(expected "," or "\]" at byte 5\)/],
      ['[1] x', /bad\.json is not valid JSON \(more after the tensor at byte 4\)/],
      ['{"dims": [2], "data": [1, 2, 3]}', /bad\.json holds 3 values for dims 2 \(2\)/],
      ['{"dims": [-1], "data": []}', /bad\.json needs "dims" \(whole numbers\) and "data" \(numbers\)/],
      ['"tensor"', /bad\.json holds neither a nested array nor \{"dims", "data"\}/],
      [`${'['.repeat(40)}1${']'.repeat(40)}`, /bad\.json nests arrays over 32 deep \(at byte 33\), deeper than any tensor's dimensions/],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => readFeedFile(feed('bad.json', text), i, BOUNDS), (e: unknown) => isEngineError(e) && message.test(e.message), text);
    }
  });

  test('.npy: each dtype converts to the input\'s type; values a whole-number input cannot hold are refused with their position', () => {
    const i64 = input('ids', DT.INT64, ['batch_size', 'sequence_length'], 'ids');
    const fromI4 = readFeedFile(feed('a.npy', npy('<i4', [1, 3], Int32Array.from([5, 0, 182]))), i64, BOUNDS);
    assert.deepEqual([fromI4.type, Array.from(fromI4.data as BigInt64Array)], ['int64', [5n, 0n, 182n]]);
    const fromF8 = readFeedFile(feed('b.npy', npy('<f8', [1, 2], Float64Array.from([7, -3]))), i64, BOUNDS);
    assert.deepEqual(Array.from(fromF8.data as BigInt64Array), [7n, -3n]);
    const f32 = input('e', DT.FLOAT16, ['batch', 2]);
    const half = readFeedFile(feed('c.npy', npy('<f8', [1, 2], Float64Array.from([0.5, -2]))), f32, BOUNDS);
    assert.deepEqual(Array.from(half.data as Uint16Array), [0x3800, 0xc000], 'IEEE halves of 0.5 and -2');
    const i32 = input('n', DT.INT32, ['batch', 2]);
    assert.throws(() => readFeedFile(feed('d.npy', npy('<i8', [1, 2], BigInt64Array.from([1n, 2n ** 40n]))), i32, BOUNDS),
      (e: unknown) => isEngineError(e) && /d\.npy holds 1099511627776 at \[0, 1\], outside what the input "n" \(int32\) takes here/.test(e.message));
    assert.throws(() => readFeedFile(feed('e.npy', npy('<i8', [1, 2], BigInt64Array.from([2n ** 62n, 0n]))), i32, BOUNDS),
      (e: unknown) => isEngineError(e) && /e\.npy holds 4611686018427387904 at \[0, 0\]/.test(e.message));
    assert.throws(() => readFeedFile(feed('f.npy', npy('<u8', [1, 1], new BigUint64Array(1))), i64, BOUNDS),
      (e: unknown) => isEngineError(e) && /f\.npy holds dtype <u8/.test(e.message));
  });

  test('a batch other than 1, and a past given as empty, are refused with the reason', () => {
    assert.throws(() => readFeedFile(feed('two.json', '[[1, 2], [3, 4]]'), input('input_ids', DT.INT64, ['batch_size', 'sequence_length'], 'ids'), BOUNDS),
      (e: unknown) => isEngineError(e) && /two\.json has 2 along axis 0 \(batch_size\); the engine runs one input at a time/.test(e.message));
    const past = input('past_key_values.0.key', DT.FLOAT, ['batch_size', 2, 'past_sequence_length', 16], 'past');
    assert.throws(() => readFeedFile(feed('past.npy', npy('<f4', [1, 2, 0, 16], new Float32Array(0))), past, BOUNDS),
      (e: unknown) => isEngineError(e) && /past\.npy holds no values .* An empty cache is what the engine feeds by default: drop this feed\./.test(e.message));
  });

  test(`a JSON feed at the ${FEED_LIMITS.json / 2 ** 20} MB limit is read in bounded memory (JSON.parse took 3.1 GB for 64 MB of "0,")`, () => {
    const n = (FEED_LIMITS.json - 4) >> 1;
    const f = feed('cap.json', `[[${'0,'.repeat(n - 1)}7]]`);
    const before = process.resourceUsage().maxRSS * 1024;
    const t = readFeedFile(f, input('x', DT.INT64, ['batch', 'n']), BOUNDS);
    const grew = process.resourceUsage().maxRSS * 1024 - before;
    assert.deepEqual([t.dims, (t.data as BigInt64Array)[n - 1]], [[1, n], 7n]);
    // The file (64 MB) and the int64 tensor (256 MB): about 320 MB measured.
    assert.ok(grew < 450 * 2 ** 20, `the peak grew by ${(grew / 2 ** 20).toFixed(0)} MB`);
  });
});
