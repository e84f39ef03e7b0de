import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseArgs } from '../../src/cli/args';
import { COMMANDS } from '../../src/cli/commands';
import { EXPERIMENTS } from '../../src/experiments/registry';
import { commandText, type KeepInput } from '../../src/experiments/commandLine';
import { scanFlags } from '../../src/experiments/scan/view';
import { tempDir } from '../fixtures';

/**
 * Export Report cites each run as the command line that reproduces it: every experiment's
 * `cli.flags` must be read back by the CLI's own parser and `args` into the very options it was
 * given (defaults aside), inputs kept as files included.
 */
const dir = tempDir('command-line');
let kept = 0;
const keep: KeepInput = (name, content) => {
  const f = path.join(dir, `${kept++}-${name}`);
  writeFileSync(f, content);
  return f;
};
const MODEL = '/models/m.onnx';

/** Options as the engine sees them: no undefined keys, defaults as no flag gives them, a corpus by its text. */
function normal(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || (k === 'threads' && v === 0) || (k === 'perHead' && v === false) || (k === 'alignByText' && v === false) || (k === 'series' && v === false)) continue;
    if (k === 'attention' && v === true) continue;
    if (k === 'thresholds' && JSON.stringify(v) === JSON.stringify({ absolute: 100, ratio: 1000 })) continue;
    out[k] = v && typeof v === 'object' && 'file' in v ? readFileSync((v as { file: string }).file, 'utf8') : v;
  }
  // Plain objects throughout (--feed's map has no prototype).
  return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
}

function readBack(name: string, argv: string[]) {
  const a = parseArgs([name, MODEL, ...argv]);
  return COMMANDS[name].args(a.model!, a.flags, a.rest) as { file: string; options: Record<string, unknown> };
}

const long = 'Summer is warm. Winter is cold. '.repeat(12);
const CASES: { [K in keyof typeof EXPERIMENTS]: Record<string, unknown>[] } = {
  featureMap: [{ prompt: 'Summer is warm.', layer: 2, maxColumns: 192, thresholds: { absolute: 100, ratio: 1000 }, maxTokens: 2048, threads: 0 }, { ids: [1, 2, 3], layer: 0, truncate: true, maxTokens: 2 }],
  attention: [{ prompt: "It's \"quoted\" $HOME `x`", layer: 1, perHead: true, matrixTokens: 128 }, { prompt: long, layer: 3, thresholds: { absolute: 50, ratio: 200.5 }, memoryLimitBytes: 512 * 2 ** 20 }],
  intervene: [
    { prompt: 'line one\nline two', layer: 1, mode: 'values', values: [{ token: 0, channel: 7, value: -1500.25 }, { token: 4, channel: 42, value: 0.000001 }] },
    { ids: [5, 6], layer: 0, mode: 'mean', channels: [7, 42], meanText: 'a text to average over', meanCount: 4, evalText: null, seqLen: 16 },
    { layer: 2, mode: 'zero', evalText: 'eval text', wholeGraph: true, feeds: { pixel_values: '/data/x.npy', mask: '/data/m.json' } },
  ],
  implicitBias: [{ image: '/images/cat 1.png', layer: 4 }],
  superWeights: [{ prompt: '' }, { prompt: '\ufeffBOM first' }, { prompt: 'bad \ufffd byte' }],
  fixRegMean: [{ images: ['/a.png', '/b c.jpg'] }, { count: 8, threads: 2 }],
  sinkRate: [{ prompts: ['first prompt', 'second prompt'], epsilon: 0.3 }, { ids: [1, 2], epsilon: 0.05 }],
  scanMany: [
    { text: 'a long document '.repeat(50), seqLen: 64, count: 4, topK: 5 },
    { idsList: [[1, 2, 3], [1, 3, 2]] },
    { prompts: ['one', 'two'], maxTokens: 100 },
    { images: ['/x.png'], count: 2 },
    { idsList: [[1]], firstId: 1, count: 3, seqLen: 8 },
  ],
  compare: [
    { files: [MODEL, '/models/m_fp16.onnx'], prompt: 'Summer is warm.', topK: 3, alignByText: true },
    { files: [MODEL], prompts: ['Summer is warm.', 'Winter is cold.'] },
    { files: [MODEL], prompts: ['a', 'b', 'c'] },
    { files: [MODEL, '/models/m2.onnx'], text: 'corpus '.repeat(40), count: 2, seqLen: 8 },
  ],
};

test('every experiment\'s command line reads back, through the CLI\'s parser, into the options it was made from', () => {
  for (const [method, cases] of Object.entries(CASES) as [keyof typeof EXPERIMENTS, Record<string, unknown>[]][]) {
    const e = EXPERIMENTS[method];
    for (const o of cases) {
      const argv = (e.cli.flags as (o: unknown, k: KeepInput) => string[])(o, keep);
      const back = readBack(e.cli.name, argv);
      assert.equal(back.file, MODEL, `${method}: ${argv.join(' ')}`);
      const want = normal(o);
      // compare's models are the positional arguments; its other files follow MODEL.
      if (method === 'compare') delete want.files;
      const got = normal(back.options);
      if (method === 'compare') { assert.deepEqual(got.files, o.files); delete got.files; }
      assert.deepEqual(got, want, `${method}: ${commandText([e.cli.name, MODEL, ...argv])}`);
    }
  }
});

test('scan\'s command line reads back into its options', () => {
  for (const o of [{ prompt: 'Summer is warm.', topK: 10, maxTokens: 2048, threads: 0 }, { ids: [1, 2], attention: false, decoderIds: [0] }, { image: '/i.png', variant: 'fp16' }]) {
    const back = readBack('scan', scanFlags(o, keep));
    assert.deepEqual(normal(back.options), normal(o));
  }
});

test('what has no command line says why instead of citing a wrong one', () => {
  assert.throws(() => EXPERIMENTS.fixRegMean.cli.flags({ images: ['/a,b.png'] }, keep), /cannot be given in --images/);
  assert.throws(() => EXPERIMENTS.sinkRate.cli.flags({ prompts: ['one\ntwo'] }, keep), /prompts file holds one prompt a line/);
  assert.throws(() => EXPERIMENTS.compare.cli.flags({ files: [MODEL], idSets: [[1], [2]] }, keep), /has no command line/);
});

test('a shell reads each quoted argument back as it was', () => {
  const args = ['plain', "it's", 'a b', '$HOME', '`x`', 'new\nline', '"q"', '', 'ü'];
  const r = spawnSync('sh', ['-c', `printf '%s\\0' ${commandText(args).slice('massive-activations '.length)}`], { encoding: 'utf8' });
  assert.deepEqual(r.stdout.split('\0').slice(0, -1), args);
});
