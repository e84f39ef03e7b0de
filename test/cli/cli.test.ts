import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import * as path from 'node:path';
import { buildGpt2, buildLlama, buildVit, type BuiltModel } from '../models/build';
import { buildBrokenFiles } from '../models/broken';
import { CLI, fingerprint, PAPER_PROMPT, REAL_EXPORTS, SKIP_SHARED, tempDir } from '../fixtures';

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const root = tempDir('cli');
let gpt2: BuiltModel;
let ext: BuiltModel;
let vit: BuiltModel;
let broken: ReturnType<typeof buildBrokenFiles>;

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run "npm run build" first (npm test does)`);
  gpt2 = buildGpt2(root);
  ext = buildLlama(root, 'llama-ext', { externalData: 'model.onnx_data' });
  vit = buildVit(root);
  broken = buildBrokenFiles(path.join(root, 'broken'), gpt2.file, path.dirname(ext.file));
});

describe('scan', () => {
  test('--json follows the documented contract', () => {
    const r = cli('scan', gpt2.file, '--prompt', PAPER_PROMPT, '--json', '--top', '4');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.deepEqual([j.model.family, j.model.blocks, j.model.hiddenSize], ['decoder', 6, 64]);
    assert.deepEqual(j.tokens.slice(0, 5).map((t: { index: number; id: number; text: string }) => [t.index, t.id, t.text]), [[0, 1, '<s>'], [1, 10, 'summer'], [2, 11, 'is'], [3, 12, 'warm'], [4, 3, '.']]);
    assert.equal(j.layers.length, 6);
    assert.equal(j.layers[2].index, 2);
    assert.equal(j.layers[2].top.length, 4);
    const massive = j.layers[2].massive as { token: number; channel: number; value: number }[];
    assert.deepEqual(massive.map((a) => `${a.token}:${a.channel}`).sort(), ['0:42', '0:7', '4:42', '4:7', '8:42', '8:7']);
    // Signed values: channel 42 was planted negative.
    assert.ok(massive.every((a) => (a.channel === 42 ? a.value < -1000 : a.value > 1000)));
    assert.equal(j.layers[0].massive.length, 0);
    assert.equal(typeof j.layers[0].median, 'number');
    assert.deepEqual(j.attention.map((a: { layer: number }) => a.layer), [0, 1, 2, 3, 4, 5]);
    assert.ok(j.attention[3].massiveTokenShare > 0.7);
  });

  test('the table shows the layer-wise view with the massive blocks marked', () => {
    const r = cli('scan', gpt2.file, '--prompt', PAPER_PROMPT);
    assert.equal(r.code, 0, r.err);
    const rows = r.out.split('\n').filter((l) => /^\s+\d\s/.test(l));
    assert.equal(rows.length, 6);
    assert.match(rows[0], /\bno\b/);
    assert.match(rows[1], /yes \(6\)/);
    assert.match(rows[2], /2000 "<s>"@0 ch7|20\d\d "\."@\d ch7/);
    assert.match(r.out, /Massive activations .* on tokens "<s>"@0, "\."@4, "\."@8 in channels 7, 42/);
  });

  test('a long prompt\'s many massive tokens are grouped by text on one line', () => {
    const r = cli('scan', gpt2.file, '--prompt', 'Summer is warm. '.repeat(40));
    assert.equal(r.code, 0, r.err);
    // 40 sentences of 4 tokens after <s>: a "." at 4, 8, … 160.
    assert.match(r.out, /on tokens "<s>"@0, "\." ×40 \(@4, @8, … @160\) in channels 7, 42\./);
  });

  test('finds the tokenizer one folder up (Optimum keeps models in onnx/)', () => {
    const dir = path.join(root, 'optimum-style');
    mkdirSync(path.join(dir, 'onnx'), { recursive: true });
    copyFileSync(gpt2.file, path.join(dir, 'onnx', 'model.onnx'));
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(path.dirname(gpt2.file), f), path.join(dir, f));
    const r = cli('scan', path.join(dir, 'onnx', 'model.onnx'), '--prompt', 'Winter is cold.', '--json');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out).tokens.map((t: { text: string }) => t.text), ['<s>', 'winter', 'is', 'cold', '.']);
  });

  test('--ids works without a tokenizer, and thresholds are configurable', () => {
    const r = cli('scan', gpt2.file, '--ids', '1,10,11,12,3', '--json', '--ratio-threshold', '100000');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.tokens.length, 5);
    assert.ok(j.layers.every((l: { massive: unknown[] }) => l.massive.length === 0));
    assert.equal(j.settings.thresholds.ratio, 100000);
  });

  test('a vision model scans (registers carry the massive activations)', () => {
    const r = cli('scan', vit.file, '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.model.family, 'vision');
    assert.deepEqual(j.massiveTokens, [1, 2, 3, 4]);
  });
});

describe('inspect', () => {
  test('--json reports what was found without running', () => {
    const r = cli('inspect', ext.file, '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.deepEqual([j.family, j.blocks, j.hiddenSize, j.heads, j.kvHeads, j.dtype], ['decoder', 6, 64, 4, 2, 'float32']);
    assert.deepEqual(j.externalData.map((f: { file: string; present: boolean }) => [f.file, f.present]), [['model.onnx_data', true]]);
    const names = j.inputs.map((i: { name: string }) => i.name);
    assert.deepEqual(names.slice(0, 4), ['input_ids', 'attention_mask', 'position_ids', 'past_key_values.0.key']);
    assert.deepEqual(j.inputs[0], { name: 'input_ids', type: 'int64', shape: ['batch_size', 'sequence_length'], role: 'ids' });
  });

  test('works when the weight files are absent', () => {
    const r = cli('inspect', broken.missingWeights, '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.blocks, 6);
    assert.deepEqual(j.externalData.map((f: { present: boolean }) => f.present), [false]);
  });

  test('a real Gemma-3 graph whose weights are absent', { skip: SKIP_SHARED }, () => {
    const r = cli('inspect', path.join(REAL_EXPORTS, 'sentinelrs-gemma3-decoder_model_merged_q4.onnx'), '--json');
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).blocks, 34);
  });
});

describe('bad input gets a clear message, a non-zero exit and no stack trace', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['truncated model', () => ['scan', broken.truncated], /truncated or corrupt/],
    ['random bytes named .onnx', () => ['scan', broken.random], /not (a readable )?ONNX|truncated or corrupt|does not contain an ONNX graph/],
    ['a text file', () => ['inspect', broken.text], /is a text file, not an ONNX model/],
    ['an empty file', () => ['scan', broken.empty], /is empty/],
    ['a CNN with no transformer blocks', () => ['inspect', broken.cnn], /No transformer blocks found/],
    ['a training graph', () => ['scan', broken.training], /training graph/],
    ['a missing external-data file', () => ['scan', broken.missingWeights, '--ids', '1,2'], /"model\.onnx_data", which is missing/],
    ['a missing model', () => ['scan', path.join(root, 'nope.onnx')], /not found/],
    ['an empty prompt', () => ['scan', gpt2.file, '--prompt', '   '], /prompt is empty/],
    ['100k characters of prompt', () => ['scan', gpt2.file, '--prompt', 'summer is warm. '.repeat(6250)], /100,000 characters; the limit is 512 tokens/],
    ['a prompt longer than the position table', () => ['scan', gpt2.file, '--prompt', 'summer is warm. '.repeat(200)], /801 tokens; the limit is 512 tokens/],
    ['ids outside the vocabulary', () => ['scan', gpt2.file, '--ids', `1,2,${gpt2.spec.vocab}`], new RegExp(`Token id ${gpt2.spec.vocab} is outside the model's vocabulary`)],
    ['ids that are not numbers', () => ['scan', gpt2.file, '--ids', '1,two'], /"two" is not a token id/],
    ['a model over the memory limit given (said in MB, not "0 GB")', () => ['scan', gpt2.file, '--memory-limit-mb', '1'], /needs about [\d,]+ MB of memory, over the limit of 1 MB set with --memory-limit-mb\. Raise the limit/],
    ['an unknown option', () => ['scan', gpt2.file, '--promt', 'x'], /Unknown option --promt/],
    ['--out in a kernel file system (/proc/self/mem): said so, not "the folder does not exist"', () => ['scan', gpt2.file, '--ids', '1,2', '--out', '/proc/self/mem'], /cannot be written: no file can be created in \/proc\/\d+ \(a system folder such as \/proc or \/sys\)/],
    ['an option given twice (the second would win unsaid)', () => ['scan', gpt2.file, '--ids', '1,2', '--ids', '3,4'], /--ids is given twice \("1,2" and "3,4"\); give it once\./],
    ['a prompt given twice, the --name=value way', () => ['scan', gpt2.file, '--prompt=a', '--prompt=b'], /--prompt is given twice \("a" and "b"\); give it once\./],
  ];
  for (const [label, args, message] of cases) {
    test(label, () => {
      const before = fingerprint(root);
      const r = cli(...args());
      assert.notEqual(r.code, 0);
      assert.match(r.err, /^massive-activations: /);
      assert.match(r.err, message);
      assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
      assert.equal(r.out, '');
      assert.equal(fingerprint(root), before, 'the model folder is unchanged');
    });
  }

  test('a prompt for a vision model is refused', () => {
    const r = cli('scan', vit.file, '--prompt', 'hello');
    assert.notEqual(r.code, 0);
    assert.match(r.err, /without token inputs/);
  });

  test('text for a model without a tokenizer points to --ids with ids that run', () => {
    const r = cli('scan', broken.noTokenizer, '--prompt', 'hello');
    assert.notEqual(r.code, 0);
    const offered = /No tokenizer\.json next to model\.onnx .* give token ids instead \(--ids ([\d,]+)\)/.exec(r.err);
    assert.ok(offered, r.err);
    const run = cli('scan', broken.noTokenizer, '--ids', offered[1], '--json');
    assert.equal(run.code, 0, run.err);
    assert.deepEqual(JSON.parse(run.out).tokens.map((t: { id: number }) => t.id), offered[1].split(',').map(Number));
    // inspect offers the same ids, so a user who looks before running sees them.
    assert.match(cli('inspect', broken.noTokenizer).out, new RegExp(`tokenizer   none: run with --ids, e\\.g\\. --ids ${offered[1]} \\(`));
  });
});

describe('experiment subcommands', () => {
  test('intervene --json follows the contract, and --csv writes the table', () => {
    const csvFile = path.join(root, 'intervention.csv');
    const r = cli('intervene', gpt2.file, '--layer', '1', '--mode', 'zero', '--prompt', PAPER_PROMPT, '--json', '--csv', csvFile);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.layer, 1);
    assert.equal(j.mode, 'zero');
    assert.equal(j.changed.length, 6);
    assert.deepEqual(Object.keys(j.changed[0]).sort(), ['channel', 'from', 'to', 'token']);
    assert.ok(j.klMean > 0 && j.top1Agreement >= 0 && j.top1Agreement <= 1);
    assert.ok(j.perplexity.before > 0 && j.perplexity.after > j.perplexity.before);
    const csv = readFileSync(csvFile, 'utf8').trim().split('\n');
    assert.equal(csv[0], 'layer,mode,token,channel,from,to');
    assert.equal(csv.length, 7);
  });

  test('intervene --mode mean and --no-perplexity', () => {
    const r = cli('intervene', gpt2.file, '--layer', '2', '--mode', 'mean', '--prompt', PAPER_PROMPT, '--no-perplexity', '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.perplexity, null);
    assert.ok(j.changed.every((c: { from: number; to: number }) => Math.abs(c.to - c.from) < 0.01 * Math.abs(c.from)));
  });

  test('intervene --mode values writes exactly what is asked', () => {
    const r = cli('intervene', gpt2.file, '--layer', '1', '--mode', 'values', '--values', '0:7=5,4:42=-3', '--prompt', PAPER_PROMPT, '--json', '--no-perplexity');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(
      JSON.parse(r.out).changed.map((c: { token: number; channel: number; to: number }) => [c.token, c.channel, c.to]),
      [[0, 7, 5], [4, 42, -3]],
    );
  });

  test('attention --json follows the contract', () => {
    const r = cli('attention', gpt2.file, '--layer', '3', '--prompt', PAPER_PROMPT, '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.layer, 3);
    assert.deepEqual(j.heads.map((h: { head: number }) => h.head), [0, 1, 2, 3]);
    assert.ok(j.heads.every((h: { sinkScore: number }) => h.sinkScore > 0.3));
    assert.ok(j.massiveTokenShare > 0.7);
  });

  test('scan --image --json marks cls, register and patch tokens', () => {
    const file = path.join(root, 'tiny.png');
    const img = new PNG({ width: 32, height: 32 });
    img.data.fill(200);
    writeFileSync(file, PNG.sync.write(img));
    const r = cli('scan', vit.file, '--image', file, '--json');
    assert.equal(r.code, 0, r.err);
    const kinds = JSON.parse(r.out).tokens.map((t: { kind: string }) => t.kind);
    assert.deepEqual(kinds.slice(0, 6), ['cls', 'register', 'register', 'register', 'register', 'patch']);
    assert.equal(kinds.length, 21);
  });

  test('the other experiments print their tables', () => {
    const textFile = path.join(root, 'corpus.txt');
    writeFileSync(textFile, 'Summer is warm. Winter is cold. The river ran past the old house. '.repeat(6));
    const many = cli('scan-many', gpt2.file, '--text-file', textFile, '--seq-len', '12', '--count', '3');
    assert.equal(many.code, 0, many.err);
    assert.match(many.out, /3 inputs \(text\)/);
    assert.match(many.out, /7 +first +1 +2000/);
    const fm = cli('feature-map', gpt2.file, '--layer', '2', '--prompt', PAPER_PROMPT);
    assert.equal(fm.code, 0, fm.err);
    assert.match(fm.out, /massive channels: 7, 42/);
    const sw = cli('super-weights', gpt2.file, '--prompt', PAPER_PROMPT);
    assert.equal(sw.code, 0, sw.err);
    assert.match(sw.out, /^0 +7 /m);
    const ib = cli('implicit-bias', gpt2.file, '--layer', '3', '--prompt', PAPER_PROMPT);
    assert.equal(ib.code, 0, ib.err);
    assert.match(ib.out, /cosine similarity between queries of the part from those tokens: 0\.99/);
    const fr = cli('fix-reg-mean', vit.file, '--count', '3');
    assert.equal(fr.code, 0, fr.err);
    assert.match(fr.out, /set to their mean \(Fix-Reg-Mean\)/);
  });

  test('experiment errors are clear', () => {
    const noLayer = cli('intervene', gpt2.file, '--mode', 'zero');
    assert.notEqual(noLayer.code, 0);
    assert.match(noLayer.err, /Give the block with --layer/);
    const badLayer = cli('attention', gpt2.file, '--layer', '9', '--prompt', PAPER_PROMPT);
    assert.match(badLayer.err, /Block 9 does not exist: model\.onnx has blocks 0–5/);
    const badMode = cli('intervene', gpt2.file, '--layer', '1', '--mode', 'halve');
    assert.match(badMode.err, /--mode must be zero, mean or values/);
    const badValues = cli('intervene', gpt2.file, '--layer', '1', '--mode', 'values', '--values', '0:7');
    assert.match(badValues.err, /is not token:channel=value/);
    const fixText = cli('fix-reg-mean', gpt2.file);
    assert.match(fixText.err, /for vision transformers/);
  });
});
