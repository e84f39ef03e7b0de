import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema } from 'onnx-buf';
import * as ort from 'onnxruntime-node';
import { buildCheckpoints, buildGpt2, buildLlama, buildSeq2Seq, buildVit, type BuiltModel } from '../models/build';
import * as hostile from '../models/hostile';
import { toSparse } from '../models/layouts/variants';
import { externalDataEntries } from '../../src/engine/model/onnx/build';
import { forwardText } from '../models/reference';
import { assertMatchesReference } from '../engine/matchReference';
import type { ScanResult } from '../../src/engine/model/results';
import { CLI, fingerprint, PAPER_PROMPT, tempDir } from '../fixtures';

/**
 * Issue 25, "no stack traces": sidecar JSON of every shape, links that dangle or loop in model and
 * checkpoint folders, and sparse initializers in every mode. Each test failed before its fix (an
 * "Internal error" or "Unexpected error", a refusal for a file the run does not need, or a field of
 * the wrong type used or dropped without a word).
 */

function cli(args: string[], opts: { timeout?: number } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: opts.timeout ?? 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr, signal: r.signal };
}

const NO_DEVELOPER_DETAIL = /\n\s+at |Internal( error)?:|Unexpected error|onnxruntime_src|onnxruntime::/;

/** A refusal: non-zero exit, one sentence on stderr matching `message`, no stack, nothing on stdout. */
function refused(r: ReturnType<typeof cli>, message: RegExp) {
  assert.equal(r.signal, null, `the command was killed (${r.signal}): it hung`);
  assert.notEqual(r.code, 0, `expected a refusal; stdout: ${r.out.slice(0, 300)}`);
  assert.match(r.err, /^massive-activations: [^\n]+\n$/, 'one line on stderr');
  assert.match(r.err, message);
  assert.doesNotMatch(r.err, NO_DEVELOPER_DETAIL);
  assert.equal(r.out, '');
}

/** A successful --json run, parsed. */
function json<T = Record<string, unknown>>(r: ReturnType<typeof cli>): T {
  assert.equal(r.signal, null, `the command was killed (${r.signal}): it hung`);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.err, NO_DEVELOPER_DETAIL);
  return JSON.parse(r.out) as T;
}

interface ScanJson {
  warnings: string[]; model: { warnings: string[]; dtype: string }; massiveTokens: number[]; layers: unknown[]; attention: unknown[];
  input: { note?: string }; tokens: { text: string }[];
}
interface InspectJson { warnings: string[]; dtype: string; blocks: number; pipeline?: { variants: string[] } }

/** A pattern matching `text` as it is (long messages, written out). */
const literally = (...text: string[]) => new RegExp(text.join('').replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

/** The warnings that match, from everywhere a scan or inspect reports them. */
const said = (r: { warnings: string[]; model?: { warnings: string[] } }, re: RegExp) => [...r.warnings, ...(r.model?.warnings ?? [])].filter((w) => re.test(w));

const IDS = [1, 10, 11, 12, 3];
const root = tempDir('sidecars');
let gpt2: BuiltModel;
let vit: BuiltModel;

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run "npm run build" first (npm test does)`);
  gpt2 = buildGpt2(root);
  vit = buildVit(root);
});

/** A copy of the GPT-2 folder (model, tokenizer) with extra files, as `name/`. */
function gpt2With(name: string, files: Record<string, string> = {}, sub = ''): string {
  const dir = path.join(root, name);
  mkdirSync(path.join(dir, sub), { recursive: true });
  cpSync(path.dirname(gpt2.file), path.join(dir, sub), { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
  return path.join(dir, sub, 'model.onnx');
}

describe('config.json of any shape: the run goes on and says once what was ignored', () => {
  for (const text of ['null', '[1, 2]', '"gpt2"', '5', 'true']) {
    test(`config.json holding ${text}, beside the model`, () => {
      const model = gpt2With(`config-${text.replace(/\W/g, '') || 'x'}`, { 'config.json': text });
      const before = fingerprint(path.dirname(model));
      const i = json<InspectJson>(cli(['inspect', model, '--json']));
      assert.equal(said(i, /config\.json holds .*not a JSON object/).length, 1, i.warnings.join(' | '));
      const s = json<ScanJson>(cli(['scan', model, '--ids', IDS.join(','), '--json']));
      assert.deepEqual(s.massiveTokens, [0, 4]);
      assert.equal(said(s, /config\.json holds .*not a JSON object/).length, 1, s.warnings.join(' | '));
      assert.equal(fingerprint(path.dirname(model)), before);
    });
  }

  test('config.json holding null one folder up (an onnx/ export) breaks no command', () => {
    const model = gpt2With('config-up', { 'config.json': 'null' }, 'onnx');
    const i = json<InspectJson>(cli(['inspect', model, '--json']));
    assert.equal(said(i, /config\.json holds null, not a JSON object/).length, 1, i.warnings.join(' | '));
    json(cli(['scan', model, '--prompt', PAPER_PROMPT, '--json']));
    json(cli(['feature-map', model, '--layer', '2', '--ids', IDS.join(','), '--json']));
  });

  test('fields of the wrong type are ignored with one note naming them; the well-typed ones are still used', () => {
    const model = gpt2With('config-types', {
      'config.json': JSON.stringify({
        num_hidden_layers: '6', hidden_size: 64.5, text_config: 5, bos_token_id: [1], layer_types: ['full_attention', 3],
        n_layer: 7, n_embd: 64, vocab_size: 'many', max_position_embeddings: 'long',
      }),
    });
    for (const r of [json<InspectJson>(cli(['inspect', model, '--json'])), json<ScanJson>(cli(['scan', model, '--ids', IDS.join(','), '--json']))]) {
      const notes = said(r, /wrong type/);
      assert.equal(notes.length, 1, r.warnings.join(' | '));
      for (const f of ['num_hidden_layers is "6"', 'hidden_size is 64.5', 'text_config is 5', 'bos_token_id is [1]', 'layer_types is ["full_attention",3]', 'vocab_size is "many"']) {
        assert.match(notes[0], literally(f));
      }
      assert.doesNotMatch(notes[0], /\bn_layer\b|\bn_embd\b|\bmax_position_embeddings\b/, 'only the fields the engine reads are checked');
      // n_layer (a whole number) is still read: the located model's 6 blocks disagree with it.
      assert.deepEqual(said(r, /says/), ['config.json says 7 layers, but 6 blocks were located.']);
    }
  });

  test('generation_config.json and genai_config.json that are not objects, or hold wrong types, are ignored with a note', () => {
    const model = gpt2With('config-siblings', {
      'config.json': JSON.stringify({ n_layer: 6 }),
      'generation_config.json': 'null',
      'genai_config.json': JSON.stringify({ model: { decoder: { num_hidden_layers: 'six', hidden_size: 64 } } }),
    });
    const i = json<InspectJson>(cli(['inspect', model, '--json']));
    assert.equal(said(i, /generation_config\.json holds null, not a JSON object/).length, 1, i.warnings.join(' | '));
    const genai = literally('genai_config.json has a field of the wrong type, ignored: model.decoder.num_hidden_layers is "six"');
    assert.equal(said(i, genai).length, 1, i.warnings.join(' | '));
    const broken = gpt2With('config-genai-null', { 'genai_config.json': '[]' });
    const s = json<ScanJson>(cli(['scan', broken, '--ids', IDS.join(','), '--json']));
    assert.equal(said(s, /genai_config\.json holds a list, not a JSON object/).length, 1, s.warnings.join(' | '));
  });

  test('tokenizer_config.json of the wrong shape: text is still tokenised, and the input note says what was ignored', () => {
    const plain = json<ScanJson>(cli(['scan', gpt2.file, '--prompt', PAPER_PROMPT, '--json']));
    for (const [name, text, note] of [
      ['tokcfg-null', 'null', /tokenizer_config\.json holds null, not a JSON object/],
      ['tokcfg-types', JSON.stringify({ additional_special_tokens: 'x', clean_up_tokenization_spaces: 'no', bos_token: '<s>' }), literally(
        'tokenizer_config.json has fields of the wrong type, ignored: additional_special_tokens is "x" (not a list), ',
        'clean_up_tokenization_spaces is "no" (not true or false)')],
    ] as const) {
      const model = gpt2With(name, { 'tokenizer_config.json': text });
      const s = json<ScanJson>(cli(['scan', model, '--prompt', PAPER_PROMPT, '--json']));
      assert.deepEqual(s.tokens.map((t) => t.text), plain.tokens.map((t) => t.text));
      assert.deepEqual(s.massiveTokens, [0, 4, 8]);
      assert.match(s.input.note ?? '', note);
    }
  });

  test('a preprocessor_config.json holding null: the image runs with the documented defaults, said in the input note', () => {
    const img = hostile.png(path.join(root, 'a.png'));
    const model = hostile.withPreprocessor(vit.file, path.join(root, 'pre-null'), null);
    const s = json<ScanJson>(cli(['scan', model, '--image', img, '--json']));
    const plain = json<ScanJson>(cli(['scan', vit.file, '--image', img, '--json']));
    assert.deepEqual(s.layers, plain.layers, 'the built model has no preprocessor config either: the same defaults');
    assert.match(s.input.note ?? '', /preprocessor_config\.json holds null, not a JSON object, so it was ignored/);
  });

  test('a seq2seq decoder start token of the wrong type is not used: said in the refusal, or in a note when bos_token_id stands in', () => {
    const s2s = buildSeq2Seq(root, 't5-start');
    writeFileSync(path.join(s2s.dir, 'config.json'), JSON.stringify({ num_layers: 6, decoder_start_token_id: '1' }));
    refused(cli(['scan', s2s.dir, '--ids', IDS.join(',')]), literally(
      'config.json\'s decoder_start_token_id is "1", not a whole number, so the decoder has nothing to start from. Give its input ids (--decoder-ids 0)'));
    writeFileSync(path.join(s2s.dir, 'config.json'), JSON.stringify({ num_layers: 6, decoder_start_token_id: '1', bos_token_id: 1 }));
    const r = json<ScanJson & { stacks: { tokens: { id: number }[] }[] }>(cli(['scan', s2s.dir, '--ids', IDS.join(','), '--json']));
    assert.deepEqual(r.stacks[1].tokens.map((t) => t.id), [1]);
    assert.equal(said(r, /decoder_start_token_id is "1"/).length, 1, r.warnings.join(' | '));
  });
});

describe('links that dangle or loop', () => {
  let series: ReturnType<typeof buildCheckpoints>;
  before(() => { series = buildCheckpoints(root, 'series'); });

  const compareSeries = (dir: string) =>
    json<{ models: { name: string }[]; notes: string[]; series: unknown }>(cli(['compare', dir, '--ids', IDS.join(','), '--json'], { timeout: 300_000 }));

  test('a dangling link among six checkpoints: the six run, and the note names the one skipped', () => {
    const dir = path.join(root, 'series-dangling');
    cpSync(series.dir, dir, { recursive: true });
    symlinkSync(path.join(root, 'deleted-run', 'step-7000'), path.join(dir, 'step-7000'));
    symlinkSync('gone.onnx', path.join(dir, 'step-0500.onnx'));
    const before = fingerprint(dir);
    const r = compareSeries(dir);
    assert.deepEqual(r.models.map((m) => m.name), ['step-1000', 'step-2000', 'step-3000', 'step-4000', 'step-5000', 'step-6000']);
    assert.ok(r.series);
    assert.equal(r.notes.filter((n) => /Skipped/.test(n)).length, 1, r.notes.join(' | '));
    assert.match(r.notes.join(' '), literally('Skipped step-0500.onnx (a link to gone.onnx, which does not exist) and step-7000 (a link to ',
      path.join(root, 'deleted-run', 'step-7000'), ', which does not exist).'));
    assert.equal(fingerprint(dir), before);
  });

  test('links that loop (a → b → a), a link to the series\' own folder and one to its last checkpoint leave the series as it is', () => {
    const dir = path.join(root, 'series-loops');
    cpSync(series.dir, dir, { recursive: true });
    symlinkSync('b', path.join(dir, 'a'));
    symlinkSync('a', path.join(dir, 'b'));
    symlinkSync('.', path.join(dir, 'again'));
    // Sorted first, a training run's "latest" made the last checkpoint the series' first.
    symlinkSync('step-6000', path.join(dir, 'latest'));
    const r = compareSeries(dir);
    assert.deepEqual(r.models.map((m) => m.name), ['step-1000', 'step-2000', 'step-3000', 'step-4000', 'step-5000', 'step-6000']);
    assert.deepEqual(r.notes.filter((n) => /Skipped/.test(n)), [
      'Skipped a (a symbolic link that loops back on itself), b (a symbolic link that loops back on itself) and latest (the same checkpoint as step-6000).',
    ]);
  });

  test('a series whose only checkpoints are broken links is refused, naming them', () => {
    const dir = path.join(root, 'series-broken');
    mkdirSync(dir);
    symlinkSync('x', path.join(dir, 'step-1'));
    symlinkSync('step-1', path.join(dir, 'x'));
    symlinkSync('nowhere.onnx', path.join(dir, 'step-2.onnx'));
    refused(cli(['compare', dir, '--ids', '1,2']), literally('holds no two checkpoints that can be read: step-1 (a symbolic link that loops back on itself), ',
      'step-2.onnx (a link to nowhere.onnx, which does not exist), x (a symbolic link that loops back on itself). Fix or remove those entries'));
  });

  test('broken variant links in a model folder are left out of its variants, with a note; naming one says what it is', () => {
    const model = gpt2With('variants-broken');
    const dir = path.dirname(model);
    symlinkSync('nowhere.onnx', path.join(dir, 'model_fp16.onnx'));
    symlinkSync('model_q8.onnx', path.join(dir, 'model_q4.onnx'));
    symlinkSync('model_q4.onnx', path.join(dir, 'model_q8.onnx'));
    cpSync(model, path.join(dir, 'model_int8.onnx'));
    const i = json<InspectJson>(cli(['inspect', dir, '--json']));
    assert.deepEqual(i.pipeline?.variants, ['', 'int8']);
    const leftOut = literally('model_fp16.onnx (a link to nowhere.onnx, which does not exist), model_q4.onnx (a symbolic link that loops back on itself) ',
      'and model_q8.onnx (a symbolic link that loops back on itself) were left out of the folder\'s models.');
    assert.equal(said(i, leftOut).length, 1, i.warnings.join(' | '));
    refused(cli(['scan', dir, '--variant', 'fp16', '--ids', '1,2']), /model_fp16\.onnx is a link to nowhere\.onnx, which does not exist/);
    const loop = path.join(root, 'loop.onnx');
    symlinkSync(loop, loop);
    refused(cli(['inspect', loop]), /loop\.onnx is a symbolic link that loops back on itself/);
  });

  test('a dangling leftover weight-file link beside a model whose weights are elsewhere does not stop it', () => {
    const ext = buildLlama(root, 'llama-leftover', { externalData: 'model.onnx_data' });
    symlinkSync('gone', path.join(path.dirname(ext.file), 'model.onnx.data'));
    assert.deepEqual(json<ScanJson>(cli(['scan', ext.file, '--ids', IDS.join(','), '--json'])).massiveTokens, [0, 4]);
  });

  test('a tokenizer.json left dangling (a Hugging Face cache whose blob never arrived) is named as such', () => {
    const model = gpt2With('tok-dangling');
    unlinkSync(path.join(path.dirname(model), 'tokenizer.json'));
    symlinkSync('../../blobs/0a1b2c', path.join(path.dirname(model), 'tokenizer.json'));
    refused(cli(['scan', model, '--prompt', PAPER_PROMPT]), /The tokenizer .*tokenizer\.json is a link to \.\.\/\.\.\/blobs\/0a1b2c, which does not exist/);
    const s = json<ScanJson>(cli(['scan', model, '--ids', IDS.join(','), '--json']));
    assert.deepEqual(s.massiveTokens, [0, 4]);
    assert.match(s.input.note ?? '', /Token texts are not shown: .*is a link to .*, which does not exist/);
  });
});

describe('a graph that lost a node', () => {
  test('a tensor nothing provides is named, block by block as for one graph (not "Internal: segment … whose type is unknown")', () => {
    const model = hostile.mutated(gpt2.file, path.join(root, 'lost-node'), (m) => {
      m.graph!.node = m.graph!.node.filter((n) => n.name !== '/transformer/h.2/mlp/act/Add_1');
    });
    for (const mode of [[], ['--whole-graph']]) {
      refused(cli(['scan', model, '--ids', '1,2', ...mode]), literally('model.onnx is not a valid ONNX model: node /transformer/h.2/mlp/act/Mul_3 reads ',
        '"/transformer/h.2/mlp/act/Add_1_output_0", which no node, graph input or initializer provides. Re-export the model.'));
    }
  });
});

describe('sparse initializers (graph.sparse_initializer) in every mode', () => {
  let sparse: string;
  let moved: string[];
  before(() => {
    // The embedding (read by block 0's segment), every MLP input weight (one per block's segment)
    // and the output projections' biases; block 2's in [NNZ, rank] index tuples, the rest linearized.
    sparse = hostile.mutated(gpt2.file, path.join(root, 'sparse'), (m) => {
      moved = toSparse(m, /wte\.weight$|mlp\.c_fc\.weight$|c_proj\.bias$/, /h\.2\.mlp\.c_fc/);
    });
  });

  test('the built file really is sparse, and plain ONNX Runtime runs it to the dense model\'s logits', async () => {
    const g = fromBinary(ModelProtoSchema, readFileSync(sparse)).graph!;
    assert.equal(g.sparseInitializer.length, moved.length);
    assert.ok(moved.length >= 13);
    assert.ok(!g.initializer.some((t) => moved.includes(t.name)));
    const logits = async (file: string) => {
      const s = await ort.InferenceSession.create(file);
      const T = IDS.length;
      const feeds = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(IDS, BigInt), [1, T]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
        position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: T }, (_, i) => BigInt(i)), [1, T]),
      };
      const out = (await s.run(feeds))[s.outputNames[0]].data as Float32Array;
      await s.release();
      return Array.from(out);
    };
    assert.deepEqual(await logits(sparse), await logits(gpt2.file));
  });

  test('scan block by block and as one graph: the reference pass\'s numbers, identical to the dense model\'s', () => {
    const ref = forwardText(gpt2.spec, IDS);
    const dense = json<ScanJson>(cli(['scan', gpt2.file, '--ids', IDS.join(','), '--json']));
    for (const mode of [[], ['--whole-graph']]) {
      const s = json<ScanJson>(cli(['scan', sparse, '--ids', IDS.join(','), '--json', ...mode]));
      assertMatchesReference(s as unknown as ScanResult, ref, gpt2.spec.d);
      assert.deepEqual(s.massiveTokens, [0, 4]);
      assert.deepEqual(s.layers, dense.layers, `${mode.join(' ') || 'segmented'}: every statistic as the dense model's`);
      assert.deepEqual(s.attention, dense.attention);
      assert.equal(s.model.dtype, 'float32');
    }
  });

  test('inspect and an experiment (feature map) see the model the dense file is', () => {
    assert.deepEqual(json(cli(['inspect', sparse, '--json'])), json(cli(['inspect', gpt2.file, '--json'])));
    const fm = (file: string) => json(cli(['feature-map', file, '--layer', '2', '--ids', IDS.join(','), '--json']));
    assert.deepEqual(fm(sparse), fm(gpt2.file));
  });

  test('sparse values kept in an external file (which ONNX Runtime reads too) give the same scan; a missing one is named', () => {
    const dir = path.join(root, 'sparse-ext');
    const model = hostile.mutated(gpt2.file, dir, (m) => {
      toSparse(m, /h\.3\.mlp\.c_fc\.weight$/);
      const v = m.graph!.sparseInitializer[0].values!;
      writeFileSync(path.join(dir, 'sparse.bin'), Buffer.concat([Buffer.alloc(16), v.rawData]));
      v.dataLocation = 1;
      v.externalData = externalDataEntries('sparse.bin', 16, v.rawData.length);
      v.rawData = new Uint8Array(0);
    });
    const dense = json<ScanJson>(cli(['scan', gpt2.file, '--ids', IDS.join(','), '--json']));
    assert.deepEqual(json<ScanJson>(cli(['scan', model, '--ids', IDS.join(','), '--json'])).layers, dense.layers);
    unlinkSync(path.join(dir, 'sparse.bin'));
    refused(cli(['scan', model, '--ids', IDS.join(',')]), /The model's weights are in "sparse\.bin", which is missing from/);
  });

  test('a sparse initializer whose index lies outside its shape is refused in a sentence naming it', () => {
    const bad = hostile.mutated(gpt2.file, path.join(root, 'sparse-bad'), (m) => {
      toSparse(m, /h\.1\.mlp\.c_fc\.weight$/);
      const ix = m.graph!.sparseInitializer[0].indices!;
      const v = new BigInt64Array(new Uint8Array(ix.rawData).buffer);
      v[v.length - 1] = 10n ** 9n;
      ix.rawData = new Uint8Array(v.buffer);
    });
    for (const cmd of [['inspect', bad], ['scan', bad, '--ids', '1,2']]) {
      refused(cli(cmd), literally('model.onnx is corrupt: the sparse initializer "transformer.h.1.mlp.c_fc.weight" ',
        'has an index (1000000000) outside its shape 64×256.'));
    }
  });
});
