import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildEmbedPair, buildGpt2, buildSeq2Seq, buildVit, type BuiltModel, type FolderModel } from '../models/build';
import { forwardText } from '../models/reference';
import { forwardSeq2Seq } from '../models/seq2seq';
import type { Spec } from '../models/spec';
import { vocabulary } from '../models/tokenizer';
import { assertMatchesReference } from '../engine/matchReference';
import type { ScanResult } from '../../src/engine/model/results';
import { CLI, fingerprint, PAPER_PROMPT, tempDir } from '../fixtures';
import { npy } from '../models/npy';
import { png } from '../models/hostile';

/**
 * Issue 25: every result labelled by what ran, and a feed's cost bounded before it is read. Each
 * test names the defect it guards; each failed before the fix (a result labelled with an input
 * that did not run, a feed ignored or refused for the wrong reason, or a process that aborted).
 */

function cli(args: string[], timeout = 60_000) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout });
  return { code: r.status, out: r.stdout, err: r.stderr, signal: r.signal, ms: performance.now() - t0 };
}

/** A refusal: non-zero exit, one sentence on stderr matching `message`, no stack, nothing on stdout. */
function refused(r: ReturnType<typeof cli>, message: RegExp) {
  assert.equal(r.signal, null, `the command was killed (${r.signal}): it hung`);
  assert.notEqual(r.code, 0, `expected a refusal; stdout: ${r.out.slice(0, 300)}`);
  assert.match(r.err, /^massive-activations: [^\n]+\n$/, 'one line on stderr');
  assert.match(r.err, message);
  assert.doesNotMatch(r.err, /\n\s+at |Internal error|Unexpected error|onnxruntime_src|onnxruntime::|SIGABRT/, 'no stack trace, internal error or crash');
  assert.equal(r.out, '');
}

function json(r: ReturnType<typeof cli>) {
  assert.equal(r.signal, null, `the command was killed (${r.signal})`);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out);
}

const root = tempDir('feeds');
/** "<s> summer is warm . winter is cold ." */
const IDS = [1, 10, 11, 12, 3, 13, 11, 14, 3];
const words = vocabulary();
/** "<s> cat is cold . the dog was .": as long as the default prompt, so a run that ignored the feed would still run. */
const FED = ['<s>', 'cat', 'is', 'cold', '.', 'the', 'dog', 'was', '.'].map((w) => words.indexOf(w));
let gpt2: BuiltModel;
let noTokenizer: string;
let vit: BuiltModel;
let s2s: FolderModel & { encoder: Spec; decoder: Spec };
let pair: FolderModel & { spec: Spec };
/** The embed pair's decoder in a folder of its own: nothing computes its inputs_embeds. */
let embedsOnly: string;
const feed = (name: string, content: string | Buffer) => { const f = path.join(root, name); writeFileSync(f, content); return f; };

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run "npm run build" first (npm test does)`);
  gpt2 = buildGpt2(root);
  vit = buildVit(root);
  s2s = buildSeq2Seq(root);
  pair = buildEmbedPair(root);
  // Neither this folder nor its parent holds a tokenizer.json.
  noTokenizer = path.join(root, 'no-tokenizer', 'model.onnx');
  mkdirSync(path.dirname(noTokenizer));
  copyFileSync(gpt2.file, noTokenizer);
  embedsOnly = path.join(root, 'embeds-only', 'decoder_model_merged.onnx');
  mkdirSync(path.dirname(embedsOnly));
  copyFileSync(pair.files.decoder, embedsOnly);
});

/** The planted spec's embedding rows for `ids`: what embed_tokens.onnx computes, from the spec itself. */
function embeddings(spec: Spec, ids: number[]): Float32Array {
  const x = new Float32Array(ids.length * spec.d);
  ids.forEach((id, t) => { for (let c = 0; c < spec.d; c++) x[t * spec.d + c] = spec.embed[id * spec.d + c]; });
  return x;
}

describe('a feed file nested deeper than any tensor', () => {
  test('is named with its real cause, the depth of the file the user gave (it read "The model\'s graph is nested or chained too deeply")', () => {
    const deep = feed('deep-feed.json', `${'['.repeat(200_000)}1${']'.repeat(200_000)}`);
    refused(cli(['scan', gpt2.file, '--feed', `input_ids=${deep}`]), /^massive-activations: deep-feed\.json nests arrays over 32 deep \(at byte 33\), deeper than any tensor's dimensions/);
  });
});

describe('one source per model input', () => {
  test('a fed input_ids with --ids or --prompt is refused, naming both (it ran the file and labelled the tokens of --ids)', () => {
    const a = feed('A.json', JSON.stringify([IDS]));
    refused(cli(['scan', gpt2.file, '--feed', `input_ids=${a}`, '--ids', '2,3']), /--feed input_ids=A\.json and --ids both give input_ids; give one\./);
    refused(cli(['scan', gpt2.file, '--feed', `input_ids=${a}`, '--prompt', PAPER_PROMPT]),
      /--feed input_ids=A\.json and --prompt both give input_ids; give one\./);
    refused(cli(['intervene', gpt2.file, '--layer', '2', '--mode', 'zero', '--feed', `input_ids=${a}`, '--ids', '1,2']),
      /--feed input_ids=A\.json and --ids both give input_ids/);
  });

  test('the same input fed twice is refused, naming both files (the second silently won)', () => {
    const a = feed('A.json', JSON.stringify([IDS]));
    const b = feed('B.json', JSON.stringify([[1, 3]]));
    refused(cli(['scan', gpt2.file, '--feed', `input_ids=${a}`, '--feed', `input_ids=${b}`]),
      /--feed input_ids=.*A\.json and --feed input_ids=.*B\.json both give input_ids; give one\./);
  });

  test('compare --prompt2 with --ids is refused (both runs ran the ids, labelled with two prompts); --prompt P --prompt2 Q labels each by its prompt', () => {
    refused(cli(['compare', gpt2.file, '--ids', '1,10,11', '--prompt2', 'Winter is cold.']), /--ids and --prompt2 both give the model's input/);
    const prompts = path.join(root, 'prompts.txt');
    writeFileSync(prompts, 'Summer is warm.\nWinter is cold.\n');
    refused(cli(['compare', gpt2.file, '--ids', '1,10,11', '--prompts-file', prompts]), /--ids and --prompts-file both give the model's input/);
    const j = json(cli(['compare', gpt2.file, '--prompt', 'Summer is warm.', '--prompt2', 'Winter is cold.', '--json']));
    assert.deepEqual(j.models.map((m: { input: string; tokens: number }) => [m.input, m.tokens]), [['Summer is warm.', 5], ['Winter is cold.', 5]]);
  });

  test('an encoder-decoder folder refuses a feed of the decoder\'s encoder_hidden_states (it was ignored without a word)', () => {
    const states = feed('states.npy', npy('<f4', [1, IDS.length, s2s.decoder.d], new Float32Array(IDS.length * s2s.decoder.d)));
    const before = fingerprint(s2s.dir);
    const r = cli(['scan', s2s.dir, '--ids', IDS.join(','), '--feed', `encoder_hidden_states=${states}`]);
    refused(r, /--feed encoder_hidden_states=states\.npy and the output of encoder_model\.onnx both give encoder_hidden_states; give one/);
    assert.ok(r.ms < 15_000, `refused before the encoder ran, in ${r.ms} ms`);
    assert.equal(fingerprint(s2s.dir), before);
  });

  test('an image and a feed of pixel_values are refused together', () => {
    const image = png(path.join(root, 'grey.png'));
    const pixels = feed('pixels.npy', npy('<f4', [1, 3, 32, 32], new Float32Array(3 * 32 * 32)));
    refused(cli(['scan', vit.file, '--image', image, '--feed', `pixel_values=${pixels}`]),
      /--feed pixel_values=pixels\.npy and --image both give pixel_values; give one\./);
  });

  test('an embed_tokens folder refuses inputs_embeds fed together with --ids', () => {
    const e = feed('E.npy', npy('<f4', [1, IDS.length, pair.spec.d], embeddings(pair.spec, IDS)));
    refused(cli(['scan', pair.dir, '--ids', IDS.join(','), '--feed', `inputs_embeds=${e}`]),
      /--feed inputs_embeds=E\.npy and --ids \(through embed_tokens\.onnx\) both give inputs_embeds; give one\./);
  });
});

describe('fed token ids: the tokens shown are the ids that ran', () => {
  test('input_ids fed alone: the tokens are the file\'s ids (texts from the tokenizer) and the values the reference\'s on those ids', () => {
    const a = feed('A.json', JSON.stringify([FED]));
    const j = json(cli(['scan', gpt2.file, '--feed', `input_ids=${a}`, '--json']));
    assert.deepEqual(j.tokens.map((t: { id: number; text: string }) => [t.id, t.text]), FED.map((id) => [id, words[id]]));
    assert.equal(j.input.kind, 'ids');
    assertMatchesReference(j as ScanResult, forwardText(gpt2.spec, FED), gpt2.spec.d);
  });

  test('a model without tokenizer.json runs on fed input_ids alone, its tokens named <id> (it was refused for lacking a tokenizer)', () => {
    const a = feed('A.npy', npy('<i8', [1, FED.length], BigInt64Array.from(FED.map(BigInt))));
    const j = json(cli(['scan', noTokenizer, '--feed', `input_ids=${a}`, '--json']));
    assert.deepEqual(j.tokens.map((t: { text: string }) => t.text), FED.map((id) => `<${id}>`));
    assert.equal(j.input.tokenizer, null);
    assertMatchesReference(j as ScanResult, forwardText(gpt2.spec, FED), gpt2.spec.d);
  });

  test('fed ids are checked like typed ids: -1, the vocabulary size, 2^64+511 and 2.7 are refused with the file, the value and its position (all ran)', () => {
    const V = gpt2.spec.vocab;
    const cases: [string, string, RegExp][] = [
      ['neg.json', '[[1, 10, -1]]', /Token id -1 at \[0, 2\] of neg\.json is outside the model's vocabulary \(0–182\)/],
      ['vocab.json', `[[1, ${V}]]`, /Token id 183 at \[0, 1\] of vocab\.json is outside the model's vocabulary \(0–182\)/],
      ['huge.json', '[[1, 18446744073709552127]]', /huge\.json holds 18446744073709552127 at \[0, 1\], beyond the whole numbers a JSON number holds exactly/],
      ['frac.json', '{"dims": [1, 3], "data": [1, 2.7, 3]}', /frac\.json holds 2\.7 at \[0, 1\]; the input "input_ids" takes whole numbers/],
    ];
    for (const [name, text, message] of cases) refused(cli(['scan', gpt2.file, '--feed', `input_ids=${feed(name, text)}`]), message);
    const negNpy = feed('neg.npy', npy('<i8', [1, 3], BigInt64Array.from([1n, -1n, 3n])));
    refused(cli(['scan', gpt2.file, '--feed', `input_ids=${negNpy}`]), /Token id -1 at \[0, 1\] of neg\.npy is outside the model's vocabulary/);
    const fracNpy = feed('frac.npy', npy('<f8', [1, 2], Float64Array.from([1, 2.7])));
    refused(cli(['scan', gpt2.file, '--feed', `input_ids=${fracNpy}`]), /frac\.npy holds 2\.7 at \[0, 1\]; the input "input_ids" takes whole numbers/);
  });

  test('an encoder-decoder folder runs its encoder on fed input_ids and its decoder from the start token (the feed reached both)', () => {
    const a = feed('A.json', JSON.stringify([FED]));
    const j = json(cli(['scan', s2s.dir, '--feed', `input_ids=${a}`, '--json']));
    assert.deepEqual(j.stacks.map((st: { tokens: { id: number }[] }) => st.tokens.map((t) => t.id)), [FED, [1]]);
    const ref = forwardSeq2Seq(s2s.encoder, s2s.decoder, FED, [1]);
    assertMatchesReference({ ...j, layers: j.stacks[0].layers } as ScanResult, ref.encoder, s2s.encoder.d);
    assertMatchesReference({ ...j, layers: j.stacks[1].layers } as ScanResult, ref.decoder, s2s.decoder.d);
  });
});

describe('empty feeds are refused', () => {
  test('[], [[]], dims with a 0 and an empty .npy are refused with a sentence (an empty list silently became synthetic input)', () => {
    const cases: [string, string | Buffer][] = [
      ['empty.json', '[]'], ['empty-row.json', '[[]]'], ['empty-dims.json', '{"dims": [1, 0], "data": []}'],
      ['empty.npy', npy('<i8', [1, 0], new BigInt64Array(0))],
    ];
    for (const [name, content] of cases) {
      refused(cli(['scan', gpt2.file, '--feed', `input_ids=${feed(name, content)}`]),
        new RegExp(`${name.replace('.', '\\.')} holds no values \\(dims [0-9×]+\\); the input "input_ids" needs at least one`));
    }
    refused(cli(['scan', vit.file, '--feed', `pixel_values=${feed('empty-px.json', '[]')}`]), /empty-px\.json holds no values/);
  });
});

describe('inputs_embeds feeds set the sequence length', () => {
  test('a decoder runs on fed inputs_embeds: their 9 positions set the mask and positions, the values match the reference (it could not run)', () => {
    const e = feed('E.npy', npy('<f4', [1, IDS.length, pair.spec.d], embeddings(pair.spec, IDS)));
    const j = json(cli(['scan', embedsOnly, '--feed', `inputs_embeds=${e}`, '--json']));
    assert.equal(j.tokens.length, IDS.length);
    assert.equal(j.input.kind, 'feed');
    assertMatchesReference(j as ScanResult, forwardText(pair.spec, IDS), pair.spec.d);
    // In the folder with embed_tokens.onnx, the feed alone is the input as well.
    const k = json(cli(['scan', pair.dir, '--feed', `inputs_embeds=${e}`, '--json']));
    assertMatchesReference(k as ScanResult, forwardText(pair.spec, IDS), pair.spec.d);
  });
});

describe('a feed\'s size is checked against its input before it is read', () => {
  /** A .npy whose header declares `shape` and whose body is a hole of the right size (a sparse file). */
  function sparseNpy(name: string, descr: string, shape: number[], itemBytes: number, bodyBytes = shape.reduce((a, b) => a * b, 1) * itemBytes) {
    const head = npy(descr, shape, new Uint8Array(0));
    const f = feed(name, head);
    truncateSync(f, head.length + bodyBytes);
    return f;
  }

  test('a 960 MB .npy is refused from its header in a moment (the process aborted with SIGABRT)', () => {
    const n = 960 * 2 ** 20;
    const ids = sparseNpy('big-ids.npy', '<i8', [1, n / 8], 8);
    const r = cli(['scan', gpt2.file, '--feed', `input_ids=${ids}`]);
    refused(r, /big-ids\.npy has 125,829,120 along axis 1 \(sequence_length\), over the limit of 512 tokens/);
    assert.ok(r.ms < 10_000, `answered in ${r.ms.toFixed(0)} ms`);
    const embeds = sparseNpy('big-embeds.npy', '<f4', [1, n / 4 / 64, 64], 4);
    refused(cli(['scan', embedsOnly, '--feed', `inputs_embeds=${embeds}`]),
      /big-embeds\.npy has 3,932,160 along axis 1 \(sequence_length\), over the limit of/);
    // Fixed dims are compared from the header too.
    const wide = sparseNpy('wide.npy', '<f4', [1, 4, 65], 4);
    refused(cli(['scan', embedsOnly, '--feed', `inputs_embeds=${wide}`]),
      /wide\.npy has 65 along axis 2, but the input "inputs_embeds" is declared batch_size×sequence_length×64/);
  });

  test('a .npy whose body is shorter or longer than its header declares is refused', () => {
    refused(cli(['scan', gpt2.file, '--feed', `input_ids=${sparseNpy('short.npy', '<i8', [1, 4], 8, 16)}`]),
      /short\.npy is truncated: its header declares 1×4 int64 values \(32 bytes\), but 16 bytes follow it/);
    refused(cli(['scan', gpt2.file, '--feed', `input_ids=${sparseNpy('long.npy', '<i8', [1, 4], 8, 40)}`]),
      /long\.npy holds 40 bytes after its header, but the header declares 1×4 int64 values \(32 bytes\)/);
  });

  test('a 200 MB JSON feed is refused by its size, saying why and to use .npy (it took 4.45 GB)', () => {
    const f = feed('big.json', '[[');
    truncateSync(f, 200 * 2 ** 20);
    const r = cli(['scan', embedsOnly, '--feed', `inputs_embeds=${f}`]);
    refused(r, /big\.json is 200 MB; JSON feeds are read up to 64 MB .*Save the tensor as \.npy/);
    assert.ok(r.ms < 10_000, `answered in ${r.ms.toFixed(0)} ms`);
  });
});
