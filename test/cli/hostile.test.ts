import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { buildGpt2, buildLlama, buildVit, type BuiltModel } from '../models/build';
import * as hostile from '../models/hostile';
import { CLI, fingerprint, PAPER_PROMPT, tempDir } from '../fixtures';

/**
 * Issue 9: hostile and unusual inputs. Each test names the defect it guards; every one of them
 * failed before the fix (lost a file, hung, crashed, or reported a wrong result).
 */

function cli(args: string[], opts: { input?: string | Buffer; timeout?: number } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: opts.timeout ?? 60_000, input: opts.input });
  return { code: r.status, out: r.stdout, err: r.stderr, signal: r.signal };
}

/** A refusal: non-zero exit, one sentence on stderr matching `message`, no stack, nothing on stdout. */
function refused(r: ReturnType<typeof cli>, message: RegExp) {
  assert.equal(r.signal, null, `the command was killed (${r.signal}): it hung`);
  assert.notEqual(r.code, 0, `expected a refusal; stdout: ${r.out.slice(0, 300)}`);
  assert.match(r.err, /^massive-activations: /);
  assert.match(r.err, message);
  assert.doesNotMatch(r.err, /\n\s+at |Internal error|onnxruntime_src|onnxruntime::/, 'no stack trace, internal error or C++ signature');
  assert.equal(r.out, '');
}

function ok(r: ReturnType<typeof cli>) {
  assert.equal(r.signal, null, `the command was killed (${r.signal}): it hung`);
  assert.equal(r.code, 0, r.err);
}

const root = tempDir('hostile');
let gpt2: BuiltModel;
let ext: BuiltModel;
let vit: BuiltModel;
const asRoot = process.getuid?.() === 0;

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run "npm run build" first (npm test does)`);
  gpt2 = buildGpt2(root);
  ext = buildLlama(root, 'llama-ext', { externalData: 'model.onnx_data' });
  vit = buildVit(root);
});

describe('outputs never touch inputs (data loss)', () => {
  test('--out onto the model is refused and the model is unchanged', () => {
    const before = fingerprint(path.dirname(gpt2.file));
    for (const cmd of [['scan', gpt2.file, '--prompt', PAPER_PROMPT], ['inspect', gpt2.file]]) {
      refused(cli([...cmd, '--out', gpt2.file]), /--out .*model\.onnx is the model; writing there would destroy it/);
    }
    assert.equal(fingerprint(path.dirname(gpt2.file)), before);
  });

  test('--csv onto the external weights, the tokenizer, or through a link or hard link to the model is refused', () => {
    const dir = path.dirname(ext.file);
    const before = fingerprint(dir);
    refused(cli(['scan', ext.file, '--ids', '1,2', '--csv', path.join(dir, 'model.onnx_data')]), /is the model's weight file model\.onnx_data/);
    refused(cli(['scan', ext.file, '--ids', '1,2', '--out', path.join(dir, 'tokenizer.json')]), /is the model's tokenizer\.json/);
    const link = path.join(root, 'link-to-model.json');
    symlinkSync(ext.file, link);
    refused(cli(['scan', ext.file, '--ids', '1,2', '--out', link]), /is the model \(/);
    const hard = hostile.hardLink(path.join(dir, 'model.onnx_data'), path.join(root, 'hard-link.csv'));
    refused(cli(['scan', ext.file, '--ids', '1,2', '--csv', hard]), /is the model's weight file/);
    assert.equal(fingerprint(dir), before);
  });

  test('--out equal to --csv, or onto an input file, is refused', () => {
    const same = path.join(root, 'same.out');
    refused(cli(['scan', gpt2.file, '--out', same, '--csv', same]), /--out and --csv both name .*same\.out; one would overwrite the other/);
    assert.ok(!existsSync(same));
    const prompt = path.join(root, 'prompt.txt');
    writeFileSync(prompt, PAPER_PROMPT);
    refused(cli(['scan', gpt2.file, '--prompt-file', prompt, '--csv', prompt]), /is the --prompt-file input/);
    assert.equal(readFileSync(prompt, 'utf8'), PAPER_PROMPT);
  });

  test('outputs are written whole, by rename (an existing file is replaced, no temporary file is left)', () => {
    const dir = path.join(root, 'outputs');
    mkdirSync(dir);
    const out = path.join(dir, 'scan.json');
    writeFileSync(out, 'old contents');
    const inode = statSync(out).ino;
    ok(cli(['scan', gpt2.file, '--prompt', PAPER_PROMPT, '--out', out, '--csv', path.join(dir, 'scan.csv')]));
    assert.equal(JSON.parse(readFileSync(out, 'utf8')).layers.length, 6);
    assert.notEqual(statSync(out).ino, inode, 'replaced by rename, not rewritten in place');
    assert.deepEqual(readdirSync(dir).sort(), ['scan.csv', 'scan.json']);
    refused(cli(['scan', gpt2.file, '--out', path.join(dir, 'no-such-folder', 'x.json')]), /folder of the JSON output file .* does not exist/);
    refused(cli(['scan', gpt2.file, '--out', dir]), /is a folder; give a file name/);
  });
});

describe('links are followed the way users expect', () => {
  test('a Hugging Face cache (snapshot links into blobs/), inline weights', () => {
    const model = hostile.hfCache(path.dirname(gpt2.file), path.join(root, 'hf-inline'));
    assert.ok(lstatSync(model).isSymbolicLink());
    const r = cli(['scan', model, '--prompt', PAPER_PROMPT, '--json']);
    ok(r);
    assert.deepEqual(JSON.parse(r.out).massiveTokens, [0, 4, 8]);
  });

  test('a Hugging Face cache with external weights, and a symlinked checkout folder', () => {
    const cached = hostile.hfCache(path.dirname(ext.file), path.join(root, 'hf-ext'));
    const a = cli(['scan', cached, '--ids', '1,10,11,12,3', '--json']);
    ok(a);
    assert.deepEqual(JSON.parse(a.out).massiveTokens, [0, 4]);
    const linkedDir = path.join(root, 'checkout-link');
    symlinkSync(path.dirname(ext.file), linkedDir);
    const b = cli(['scan', path.join(linkedDir, 'model.onnx'), '--ids', '1,10,11,12,3', '--json']);
    ok(b);
    assert.deepEqual(JSON.parse(b.out).massiveTokens, [0, 4]);
  });

  test('a weight file that links outside the model\'s folder is still refused', () => {
    const model = hostile.escapingWeights(ext.file, path.join(root, 'escape'), path.join(root, 'elsewhere', 'secret.bin'));
    refused(cli(['scan', model, '--ids', '1,2']), /weight file "model\.onnx_data" is a link to .*secret\.bin, outside the model's folder/);
  });
});

describe('non-finite values are results, not noise', () => {
  test('NaN weights in block 3: the scan is marked not valid from block 3, earlier blocks are intact', () => {
    const model = hostile.nanWeights(gpt2.file, path.join(root, 'nan'));
    const r = cli(['scan', model, '--prompt', PAPER_PROMPT, '--json']);
    ok(r);
    const j = JSON.parse(r.out);
    assert.equal(j.valid, false);
    assert.equal(j.nonFinite.firstLayer, 3);
    assert.match(j.warnings[0], /Not a valid scan: the output of block 3/);
    assert.deepEqual(j.layers.map((l: { nonFinite: { count: number } }) => l.nonFinite.count > 0), [false, false, false, true, true, true]);
    assert.ok(j.layers[2].massive.length === 6 && Number.isFinite(j.layers[2].median), 'block 2 is measured as before');
    const t = cli(['scan', model, '--prompt', PAPER_PROMPT]);
    ok(t);
    assert.match(t.out, /NOT VALID: non-finite values \(NaN \/ Inf\) from block 3 on/);
    assert.doesNotMatch(t.out, /Infinity×|NaN×/);
  });

  test('all-zero weights: the ratio is n/a, never Infinity', () => {
    const model = hostile.zeroWeights(gpt2.file, path.join(root, 'zeros'));
    const j = JSON.parse(cli(['scan', model, '--prompt', PAPER_PROMPT, '--json']).out);
    assert.ok(j.layers.every((l: { ratio: number | null }) => l.ratio === null));
    const t = cli(['scan', model, '--prompt', PAPER_PROMPT]).out;
    assert.doesNotMatch(t, /Infinity/);
    assert.match(t, /n\/a/);
  });

  test('experiments refuse a NaN baseline instead of printing metrics of NaN', () => {
    const model = hostile.nanWeights(gpt2.file, path.join(root, 'nan-exp'));
    refused(cli(['intervene', model, '--layer', '1', '--mode', 'zero', '--prompt', PAPER_PROMPT]), /original run of the model produced NaN or infinite values \(from block 3 on\)/);
    refused(cli(['attention', model, '--layer', '1', '--prompt', PAPER_PROMPT]), /produced NaN or infinite values/);
  });

  test('an intervention that overflows the model is flagged, not reported as metrics of NaN', () => {
    // 1e39 is a finite number to JavaScript but +Inf once written into a float32 stream.
    const r = cli(['intervene', gpt2.file, '--layer', '1', '--mode', 'values', '--values', '0:7=1e39', '--prompt', PAPER_PROMPT, '--json']);
    ok(r);
    const j = JSON.parse(r.out);
    assert.equal(j.nonFinite, true);
    assert.equal(j.top1Agreement, null);
    assert.equal(j.klMean, null);
    assert.match(j.note, /made the model produce NaN or infinite values/);
  });
});

describe('bounds everywhere (no hang, no runaway work)', () => {
  test('counts beyond the documented maxima and non-decimal numbers are refused at once', () => {
    refused(cli(['scan-many', gpt2.file, '--count', '1e9']), /--count must be a whole number from 1 to 10,000; got "1e9"/);
    refused(cli(['scan-many', gpt2.file, '--count', '1000000000']), /--count must be a whole number from 1 to 10,000/);
    refused(cli(['fix-reg-mean', vit.file, '--count', '1000000000']), /--count must be a whole number from 2 to 10,000/);
    refused(cli(['scan', gpt2.file, '--top', '99999999']), /--top must be a whole number from 1 to 1,000/);
  });

  test('--threads beyond the cores is capped with a note', () => {
    const r = cli(['scan', gpt2.file, '--prompt', PAPER_PROMPT, '--threads', '100000']);
    ok(r);
    assert.match(r.err, /note: --threads 100000 is more than this machine's \d+ cores; using \d+/);
  });

  test('a tokenizer.json that is a FIFO neither hangs an --ids run nor a text run', () => {
    const dir = path.join(root, 'fifo');
    mkdirSync(dir);
    copyFileSync(gpt2.file, path.join(dir, 'model.onnx'));
    execFileSync('mkfifo', [path.join(dir, 'tokenizer.json')]);
    const a = cli(['scan', path.join(dir, 'model.onnx'), '--ids', '1,10,11', '--json'], { timeout: 30_000 });
    ok(a);
    assert.match(JSON.parse(a.out).input.note, /tokenizer .* is a named pipe \(FIFO\), not a regular file/);
    refused(cli(['scan', path.join(dir, 'model.onnx'), '--prompt', 'hello'], { timeout: 30_000 }), /is a named pipe \(FIFO\), not a regular file/);
  });

  test('a tokenizer.json linked to /dev/zero is refused before it is read', () => {
    const model = hostile.withTokenizer(gpt2.file, path.join(root, 'devzero'), { link: '/dev/zero' });
    refused(cli(['scan', model, '--prompt', 'hello'], { timeout: 30_000 }), /tokenizer .* is a device, not a regular file/);
  });

  test('a binary --prompts-file is refused, not read as 1,700 prompts', () => {
    const bin = path.join(root, 'prompts.bin');
    writeFileSync(bin, readFileSync(gpt2.file).subarray(0, 100_000));
    refused(cli(['scan-many', gpt2.file, '--prompts-file', bin]), /prompts file looks binary \(a NUL byte at offset \d+\)|prompts file is not valid UTF-8/);
  });
});

describe('crashes become sentences', () => {
  test('an Identity → Identity cycle', () => {
    const model = hostile.identityCycle(gpt2.file, path.join(root, 'cycle'));
    for (const cmd of ['inspect', 'scan']) refused(cli([cmd, model]), /is not a valid ONNX model: the main graph has a cycle through node/);
  });

  test('an image path that is a folder, and a preprocessor_config.json with a size of 10⁶', () => {
    refused(cli(['scan', vit.file, '--image', root]), /The image .* is a folder/);
    const model = hostile.withPreprocessor(vit.file, path.join(root, 'pre-huge'), { size: 1e6 });
    refused(cli(['scan', model, '--image', hostile.png(path.join(root, 'a.png'))]), /preprocessor config: size is 1000000, not a whole number of pixels from 1 to 8192/);
  });

  test('an unreadable model file', { skip: asRoot ? 'running as root: every file is readable' : false }, () => {
    const dir = path.join(root, 'unreadable');
    mkdirSync(dir);
    copyFileSync(gpt2.file, path.join(dir, 'model.onnx'));
    execFileSync('chmod', ['000', path.join(dir, 'model.onnx')]);
    refused(cli(['scan', path.join(dir, 'model.onnx')]), /Permission denied for the model file/);
  });
});

describe('every input validated or reported', () => {
  test('intervention targets out of range are errors naming the range', () => {
    refused(cli(['intervene', gpt2.file, '--layer', '1', '--mode', 'values', '--values', '99:7=5', '--prompt', PAPER_PROMPT]), /Cannot set token 99, channel 7: the input has tokens 0–8 and channels 0–63/);
    refused(cli(['intervene', gpt2.file, '--layer', '1', '--mode', 'zero', '--channels', '9999', '--prompt', PAPER_PROMPT]), /Channel 9999 does not exist: the model's channels are 0–63/);
  });

  test('scan-many --ids runs exactly the given sequences', () => {
    const r = cli(['scan-many', gpt2.file, '--ids', '1,10,11,3;1,13,3']);
    ok(r);
    assert.match(r.out, /^2 inputs \(ids\), 3–4 tokens each/);
  });

  test('ids are strictly decimal', () => {
    for (const ids of ['0x10,2', '0b11', '1e2', '1.0']) refused(cli(['scan', gpt2.file, '--ids', ids]), /is not a token id; pass decimal whole numbers/);
  });

  test('a preprocessor_config.json with std 0 or a string mean is refused, not an all-NaN scan', () => {
    const img = hostile.png(path.join(root, 'b.png'));
    refused(cli(['scan', hostile.withPreprocessor(vit.file, path.join(root, 'std0'), { image_std: [0, 0.2, 0.2] }), '--image', img]), /a standard deviation must be above 0/);
    refused(cli(['scan', hostile.withPreprocessor(vit.file, path.join(root, 'mean-str'), { image_mean: 'half' }), '--image', img]), /image_mean must be a number or a list of 1 or 3 numbers/);
  });

  test('invalid UTF-8 in a prompt is reported with its offset unless replacement is asked for', () => {
    const file = path.join(root, 'latin1.txt');
    writeFileSync(file, Buffer.concat([Buffer.from('summer is warm'), Buffer.from([0xe9]), Buffer.from(' winter.')]));
    refused(cli(['scan', gpt2.file, '--prompt-file', file]), /prompt file is not valid UTF-8 \(first invalid byte at offset 14\)/);
    refused(cli(['scan', gpt2.file, '--prompt-file', '-'], { input: Buffer.from([0x73, 0xff]) }), /not valid UTF-8 \(first invalid byte at offset 1\)/);
    ok(cli(['scan', gpt2.file, '--prompt-file', file, '--replace-invalid-utf8']));
  });

  test('a broken tokenizer.json does not block an --ids run that does not need it', () => {
    const model = hostile.withTokenizer(gpt2.file, path.join(root, 'broken-tok'), { content: '{"version": "1.0", "model": ' });
    const r = cli(['scan', model, '--ids', '1,10,11,12,3', '--json']);
    ok(r);
    const j = JSON.parse(r.out);
    assert.deepEqual(j.massiveTokens, [0, 4]);
    assert.match(j.input.note, /Token texts are not shown: The tokenizer .* is not valid JSON/);
  });
});

describe('messages keep the cause and say what to do', () => {
  test('opset 99, IR version 99 and data type 99 keep ONNX Runtime\'s cause, not its C++ signatures', () => {
    refused(cli(['scan', hostile.opset99(gpt2.file, path.join(root, 'opset99'))]), /Opset 99 is under development.*Re-export the model with an officially released opset/);
    refused(cli(['scan', hostile.irVersion99(gpt2.file, path.join(root, 'ir99'))]), /Unsupported model IR version: 99, max supported IR version: \d+/);
    refused(cli(['scan', hostile.dtype99(gpt2.file, path.join(root, 'dtype99'))]), /the tensor "transformer\.wte\.weight" has data type 99, which ONNX does not define/);
  });

  test('an inline tensor claiming 2³¹ rows names the tensor and both sizes', () => {
    refused(cli(['scan', hostile.hugeRows(gpt2.file, path.join(root, 'rows'))]), /tensor "transformer\.wte\.weight" has shape 2147483648×64 \(549,755,813,888 bytes\) but holds 46,848 bytes/);
  });

  test('a negative or absurd external-data length names the field', () => {
    refused(cli(['scan', hostile.externalField(ext.file, path.join(root, 'neg-length'), 'length', '-5'), '--ids', '1,2']), /external-data length of "-5", which is not a non-negative whole number/);
    refused(cli(['inspect', hostile.externalField(ext.file, path.join(root, 'big-length'), 'length', String(2n ** 62n))]), /but its external data is 4,611,686,018,427,387,904 bytes long/);
  });

  test('a tokenizer from another model is named as such', () => {
    refused(cli(['scan', hostile.foreignTokenizer(gpt2.file, path.join(root, 'foreign')), '--prompt', PAPER_PROMPT]), /The tokenizer .* does not belong to this model: it turned the prompt into token id \d+, but the model's vocabulary has 183 tokens/);
  });
});

describe('model-controlled strings are escaped', () => {
  test('an op type with escape sequences reaches the terminal escaped', () => {
    const r = cli(['scan', hostile.escapeOpType(gpt2.file, path.join(root, 'esc-op'))]);
    assert.notEqual(r.code, 0);
    assert.ok(!r.err.includes('\x1b'), 'no raw ESC on stderr');
    assert.match(r.err, /Add\\u001b\[31mRED/);
  });

  test('a token text with an OSC sequence is escaped in the table and in JSON', () => {
    const model = hostile.escapeTokenizer(gpt2.file, path.join(root, 'esc-tok'));
    const t = cli(['scan', model, '--ids', '1,10,11,12,3']);
    ok(t);
    assert.ok(!t.out.includes('\x1b') && !t.out.includes('\x07'), 'no raw ESC or BEL on stdout');
    assert.match(t.out, /\\u001b\]0;pwned\\u0007/);
    const j = cli(['scan', model, '--ids', '1,10,11,12,3', '--json']);
    assert.ok(!j.out.includes('\x1b'));
    assert.equal(JSON.parse(j.out).tokens[3].text, '\x1b]0;pwned\x07\x1b[2J', 'JSON keeps the exact text, escaped');
  });

  test('a tokenizer.json linked to /etc/passwd is refused without echoing its content', () => {
    const model = hostile.withTokenizer(gpt2.file, path.join(root, 'passwd'), { link: '/etc/passwd' });
    const r = cli(['scan', model, '--prompt', 'hello']);
    refused(r, /is not valid JSON/);
    assert.doesNotMatch(r.err, /root:|\/bin\/(ba)?sh/);
  });
});
