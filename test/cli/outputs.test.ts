import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildCheckpoints, buildGpt2, buildLlama, buildSeq2Seq, buildVit } from '../models/build';
import { png } from '../models/hostile';
import { CLI, PAPER_PROMPT, tempDir } from '../fixtures';
import { parseArgs } from '../../src/cli/args';
import { planRun } from '../../src/cli/plan';

/**
 * Issue 25: --out and --csv never land on a file the run reads — for every command and every one of
 * its inputs, directly, through a symbolic link and through a hard link. Before the fix the second
 * model of compare, a checkpoint folder's members, the entries of --list and the images of
 * --image-dir were not protected: `compare a b --out b.onnx` replaced b.onnx with JSON.
 *
 * What a command reads is listed here from the files on disk (every file of each model's folder
 * plus the input files named on the command line), not from the code under test.
 */

const root = tempDir('outputs');

interface Case { name: string; args: string[]; inputs: string[]; csv: boolean }
const cases: Case[] = [];

/** Every regular file under a folder: a model's graph, weights and sidecars (or a checkpoint series). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** Runs `jobs` with at most `width` processes at a time (the CLI's start-up is the cost here). */
async function pool<T>(jobs: (() => Promise<T>)[], width = Math.max(2, os.availableParallelism())): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < jobs.length) { const k = next++; results[k] = await jobs[k](); }
  }));
  return results;
}

const bytes = (files: string[]) => files.map((f) => readFileSync(f).toString('base64'));

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run "npm run build" first (npm test does)`);
  const gpt2 = buildGpt2(root);
  const other = buildLlama(root, 'llama-b');
  const ext = buildLlama(root, 'llama-ext', { externalData: 'model.onnx_data' });
  const vit = buildVit(root);
  const seq = buildSeq2Seq(root);
  const series = buildCheckpoints(root);
  const inputs = path.join(root, 'inputs');
  mkdirSync(inputs);
  const text = (name: string, body: string) => { const f = path.join(inputs, name); writeFileSync(f, body); return f; };
  const prompt = text('prompt.txt', PAPER_PROMPT);
  const corpus = text('corpus.txt', `${PAPER_PROMPT} Spring is mild. Autumn is cool.\n`.repeat(20));
  const prompts = text('prompts.txt', `${PAPER_PROMPT}\nSpring is mild.\n`);
  const imgDir = path.join(inputs, 'images');
  mkdirSync(imgDir);
  const imgA = png(path.join(imgDir, 'a.png'), 32, 120);
  const imgB = png(path.join(imgDir, 'b.png'), 32, 200);
  const ids = path.join(inputs, 'ids.json');
  writeFileSync(ids, JSON.stringify([[0, 5, 6, 1, 7]]));
  const list = text('checkpoints.txt', readdirSync(series.dir).sort().slice(0, 3).map((d) => path.join(series.dir, d, 'model.onnx')).join('\n'));
  const listed = readFileSync(list, 'utf8').split('\n');
  const model = (f: string) => filesUnder(path.dirname(f));
  const add = (name: string, args: string[], inputFiles: string[], csv = true) => cases.push({ name, args, inputs: inputFiles, csv });

  add('inspect', ['inspect', ext.file], model(ext.file), false);
  add('scan --prompt-file', ['scan', gpt2.file, '--prompt-file', prompt], [...model(gpt2.file), prompt]);
  add('scan --feed (external weights)', ['scan', ext.file, '--feed', `input_ids=${ids}`], [...model(ext.file), ids]);
  add('scan --image', ['scan', vit.file, '--image', imgA], [...model(vit.file), imgA]);
  add('scan (encoder-decoder folder)', ['scan', seq.dir, '--ids', '1,2,3'], filesUnder(seq.dir));
  add('compare A B', ['compare', gpt2.file, other.file, '--ids', '0,5,6,1'], [...model(gpt2.file), ...model(other.file)]);
  add('compare A B C (external weights)', ['compare', gpt2.file, other.file, ext.file, '--ids', '0,5,6,1'], [...model(gpt2.file), ...model(other.file), ...model(ext.file)]);
  add('compare CHECKPOINTS_FOLDER', ['compare', series.dir, '--ids', '0,5,6,1'], filesUnder(series.dir));
  add('compare --list F', ['compare', '--list', list, '--ids', '0,5,6,1'], [list, ...listed.flatMap(model)]);
  add('compare --text-file', ['compare', gpt2.file, other.file, '--text-file', corpus, '--count', '2', '--seq-len', '8'], [...model(gpt2.file), ...model(other.file), corpus]);
  add('scan-many --text-file', ['scan-many', gpt2.file, '--text-file', corpus, '--count', '2', '--seq-len', '8'], [...model(gpt2.file), corpus]);
  add('scan-many --prompts-file', ['scan-many', gpt2.file, '--prompts-file', prompts], [...model(gpt2.file), prompts]);
  add('scan-many --images', ['scan-many', vit.file, '--images', `${imgA},${imgB}`], [...model(vit.file), imgA, imgB]);
  add('scan-many --image-dir', ['scan-many', vit.file, '--image-dir', imgDir], [...model(vit.file), imgA, imgB]);
  add('fix-reg-mean --image-dir', ['fix-reg-mean', vit.file, '--image-dir', imgDir], [...model(vit.file), imgA, imgB]);
  add('fix-reg-mean --images', ['fix-reg-mean', vit.file, '--images', `${imgA},${imgB}`], [...model(vit.file), imgA, imgB]);
  add('feature-map --prompt-file', ['feature-map', gpt2.file, '--layer', '2', '--prompt-file', prompt], [...model(gpt2.file), prompt]);
  add('attention --image', ['attention', vit.file, '--layer', '2', '--image', imgB], [...model(vit.file), imgB]);
  add('implicit-bias', ['implicit-bias', ext.file, '--layer', '2', '--prompt-file', prompt], [...model(ext.file), prompt]);
  add('super-weights', ['super-weights', gpt2.file, '--prompt-file', prompt], [...model(gpt2.file), prompt]);
  add('sink-rate --prompts-file', ['sink-rate', gpt2.file, '--prompts-file', prompts], [...model(gpt2.file), prompts]);
  add('intervene (text files)', ['intervene', gpt2.file, '--layer', '2', '--mode', 'mean', '--mean-text-file', corpus, '--eval-text-file', prompts],
    [...model(gpt2.file), corpus, prompts]);
});

/** The command line as the CLI plans it (parse, build the engine call, check outputs): nothing runs. */
function plan(args: string[]): string | undefined {
  try {
    const parsed = parseArgs(args);
    planRun({ ...parsed, command: parsed.command! });
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

const REFUSED = /writing there would destroy it|one would overwrite the other/;

describe('no output lands on an input', () => {
  test('each input of each command, as --out, as --csv and as a hard link, is refused', () => {
    const links = path.join(root, 'links');
    mkdirSync(links);
    let n = 0;
    const failures: string[] = [];
    let checked = 0;
    for (const c of cases) {
      for (const input of c.inputs) {
        const hard = path.join(links, `hard-${n++}${path.extname(input)}`);
        linkSync(input, hard);
        const tries: [string, string][] = [['--out', input], ['--out', hard], ...(c.csv ? [['--csv', input], ['--csv', hard]] as [string, string][] : [])];
        for (const [flag, file] of tries) {
          checked++;
          const message = plan([...c.args, flag, file]);
          if (!message || !REFUSED.test(message)) failures.push(`${c.name}: ${flag} ${path.relative(root, file)}: ${message ?? 'accepted'}`);
        }
      }
    }
    assert.deepEqual(failures, [], `${failures.length} of ${checked} outputs onto an input were accepted`);
    assert.ok(checked > 300, `${checked} refusals checked`);
  });

  test('through the command line, each command refuses its last input as --out (and a symbolic link to it as --csv), files unchanged', async () => {
    const links = path.join(root, 'cli-links');
    mkdirSync(links);
    const jobs = cases.map((c, k) => {
      const input = c.inputs.at(-1)!;
      const soft = path.join(links, `soft-${k}${path.extname(input)}`);
      symlinkSync(input, soft);
      return { c, args: [...c.args, '--out', c.csv ? path.join(links, `ok-${k}.json`) : input, ...(c.csv ? ['--csv', soft] : [])] };
    });
    const before = new Map(cases.flatMap((c) => c.inputs).map((f) => [f, readFileSync(f).toString('base64')]));
    const results = await pool(jobs.map((j) => () => run(j.args)));
    results.forEach((r, k) => {
      assert.notEqual(r.code, 0, `${jobs[k].c.name}: accepted`);
      assert.match(r.err, /^massive-activations: .*(writing there would destroy it)/, jobs[k].c.name);
      assert.doesNotMatch(r.err, /\n\s+at |Internal error/);
      assert.equal(r.out, '');
    });
    const changed = [...before].filter(([f, b]) => readFileSync(f).toString('base64') !== b).map(([f]) => f);
    assert.deepEqual(changed, [], 'every input is byte for byte what it was');
  });

  test('the same commands with an output elsewhere run, and their inputs stay as they were', async () => {
    const outDir = path.join(root, 'outs');
    mkdirSync(outDir);
    const picked = cases.filter((c) => /compare A B$|scan-many --image-dir|compare --list|fix-reg-mean --image-dir/.test(c.name));
    assert.equal(picked.length, 4);
    const before = picked.map((c) => bytes(c.inputs));
    const results = await pool(picked.map((c, k) => () => run([...c.args, '--out', path.join(outDir, `${k}.json`), '--csv', path.join(outDir, `${k}.csv`)])));
    results.forEach((r, k) => {
      assert.equal(r.code, 0, `${picked[k].name}: ${r.err}`);
      assert.ok(JSON.parse(readFileSync(path.join(outDir, `${k}.json`), 'utf8')), 'the JSON document was written');
      assert.deepEqual(bytes(picked[k].inputs), before[k], `${picked[k].name}: inputs unchanged`);
    });
  });

  test('a copy of an input (same bytes, another file) is not mistaken for it', async () => {
    const c = cases.find((x) => x.name === 'scan --prompt-file')!;
    const copy = path.join(root, 'prompt-copy.txt');
    copyFileSync(c.args[3], copy);
    const r = await run([...c.args, '--out', copy]);
    assert.equal(r.code, 0, r.err);
    assert.ok(JSON.parse(readFileSync(copy, 'utf8')).layers.length > 0);
  });
});
