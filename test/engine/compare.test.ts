import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { compare, type CompareResult } from '../../src/experiments/compare/run';
import { isEngineError } from '../../src/engine/base/errors';
import { buildCheckpoints, buildLlama, buildVariants } from '../models/build';
import { forwardText } from '../models/reference';
import { tokenizerJson } from '../models/tokenizer';
import { CLI, PAPER_PROMPT, tempDir } from '../fixtures';
import { sequencesFromText } from '../../src/engine/model/corpus';
import { loadTokenizer } from '../../src/engine/model/tokenizer';
import { refMedian } from './matchReference';

/**
 * Issue 12: compare. Variants of one planted model keep the same massive set and their error at the
 * massive entries is measured against the independent reference; variants whose planted channel
 * or block differ are named exactly; a checkpoint series finds the step where the massive
 * activations first pass the criterion, computed here from the reference.
 */
const root = tempDir('compare');
const IDS = [1, 10, 11, 12, 3, 13, 11, 14, 3];
let v: ReturnType<typeof buildVariants>;

before(() => { v = buildVariants(root); });

const massiveOf = (h: Float64Array, d: number) => {
  const med = refMedian(h);
  const out: number[] = [];
  h.forEach((x, i) => { if (Math.abs(x) > 100 && Math.abs(x) >= 1000 * med) out.push(i); });
  return { med, out, d };
};

describe('a model and its fp16 and 4-bit exports', () => {
  let r: CompareResult;
  before(async () => { r = await compare({ files: [v.fp32.file, v.fp16.file, v.q4.file], ids: IDS }); });

  test('the same massive set in every block, matched by index', () => {
    assert.equal(r.matching, 'index');
    assert.equal(r.aligned, 'tokens');
    for (const l of r.layers) {
      assert.deepEqual(l.onlyIn, [], `block ${l.index}`);
      assert.deepEqual(l.differences, []);
      assert.equal(l.shared.length, l.models[0].massive.length);
    }
    assert.deepEqual(r.layers[1].shared.map((s) => `${s.token}:${s.channel}`), ['0:7', '0:42', '4:7', '4:42', '8:7', '8:42']);
    assert.deepEqual(r.models.map((m) => m.dtype), ['float32', 'float16', 'int4']);
  });

  test('the 4-bit error at the massive entries and elsewhere equals the reference\'s (fp32 vs its 4-bit round trip)', () => {
    const d = v.fp32.spec.d;
    const ref = forwardText(v.fp32.spec, IDS);
    const q4 = forwardText(v.q4Spec, IDS);
    for (const l of r.layers) {
      const e = l.errors.find((x) => x.model === 2)!;
      const m = massiveOf(ref.hidden[l.index], d);
      const at = new Set(m.out);
      let mAbs = 0, eAbs = 0, n = 0;
      ref.hidden[l.index].forEach((x, i) => { const diff = Math.abs(q4.hidden[l.index][i] - x); if (at.has(i)) mAbs += diff; else { eAbs += diff; n++; } });
      if (at.size) assert.ok(Math.abs(e.massive!.abs - mAbs / at.size) <= 0.05 * (mAbs / at.size) + 0.05, `block ${l.index} massive: ${e.massive!.abs} vs ${mAbs / at.size}`);
      else assert.equal(e.massive, null);
      assert.ok(Math.abs(e.elsewhere.abs - eAbs / n) <= 0.05 * (eAbs / n) + 1e-4, `block ${l.index} elsewhere: ${e.elsewhere.abs} vs ${eAbs / n}`);
    }
  });

  test('the fp16 error at the massive entries agrees with the values each scan reports there', () => {
    for (const l of r.layers.filter((x) => x.shared.length)) {
      const e = l.errors.find((x) => x.model === 1)!;
      const fromValues = l.shared.reduce((a, s) => a + Math.abs(s.values[1] - s.values[0]), 0) / l.shared.length;
      assert.ok(Math.abs(e.massive!.abs - fromValues) < 1e-3, `block ${l.index}: ${e.massive!.abs} vs ${fromValues}`);
      assert.ok(e.massive!.rel < 0.01 && e.elsewhere.rel < 0.02);
    }
    const kl = r.variants.find((x) => x.model === 1)!;
    assert.ok(kl.kl! >= 0 && kl.kl! < 0.01 && kl.top1Agreement! > 0.8, JSON.stringify(kl));
  });
});

describe('variants whose planted mechanism differs', () => {
  test('another planted channel: 42 only in A, 43 only in B, channel 7 shared — by token and by kind', async () => {
    const r = await compare({ files: [v.fp32.file, v.channel43.file], ids: IDS });
    const l = r.layers[2];
    assert.deepEqual(l.shared.map((s) => `${s.token}:${s.channel}`), ['0:7', '4:7', '8:7']);
    assert.deepEqual(l.onlyIn.map((o) => `${o.model}:${o.token}:${o.channel}`), ['0:0:42', '0:4:42', '0:8:42', '1:0:43', '1:4:43', '1:8:43']);
    assert.deepEqual(l.differences.map((x) => `${x.kind}:${x.channel}:${x.models.join('+')}`).sort(), ['delimiter:42:0', 'delimiter:43:1', 'first-delimiter:42:0', 'first-delimiter:43:1', 'first:42:0', 'first:43:1']);
  });

  test('another planted block: block 1 has them only in A, from block 2 on both', async () => {
    const r = await compare({ files: [v.fp32.file, v.block2.file], ids: IDS });
    assert.equal(r.layers[1].shared.length, 0);
    assert.deepEqual([...new Set(r.layers[1].onlyIn.map((o) => o.model))], [0]);
    assert.equal(r.layers[2].shared.length, 6);
    assert.deepEqual(r.layers[2].onlyIn, []);
  });

  test('different depths are matched by relative depth, and said so', async () => {
    const deep = buildLlama(root, 'cmp-deep', { layers: 11 });
    const r = await compare({ files: [v.fp32.file, deep.file], ids: IDS });
    assert.equal(r.matching, 'relative-depth');
    assert.match(r.notes.join(' '), /The models have 6 and 11 blocks: blocks are matched by relative depth/);
    // Block i of 6 ↔ block round(i·10/5) of 11: 0, 2, 4, 6, 8, 10.
    assert.deepEqual(r.layers.map((l) => l.models[1].block), [0, 2, 4, 6, 8, 10]);
    // The deep model plants in block 1 too, so block 0 ↔ 0 has none and the rest share the planted set.
    assert.equal(r.layers[1].shared.length, 6);
  });
});

describe('tokens, inputs and checkpoints', () => {
  test('models whose tokenizers disagree are refused, or compared by token kind when asked', async () => {
    const dir = path.join(root, 'other-tokenizer');
    mkdirSync(dir);
    copyFileSync(v.fp32.file, path.join(dir, 'model.onnx'));
    // The same words at other ids (within the vocabulary): "summer" is 11 here, "is" 10.
    const tj = tokenizerJson() as { model: { vocab: Record<string, number> } };
    [tj.model.vocab.summer, tj.model.vocab.is] = [tj.model.vocab.is, tj.model.vocab.summer];
    writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tj));
    await assert.rejects(compare({ files: [v.fp32.file, path.join(dir, 'model.onnx')], prompt: PAPER_PROMPT }), (e: unknown) => isEngineError(e) && /turn the input into different tokens \(9 and 9; first difference at token 1: "summer" vs "summer"\)/.test(e.message));
    const r = await compare({ files: [v.fp32.file, path.join(dir, 'model.onnx')], prompt: PAPER_PROMPT, alignByText: true });
    assert.equal(r.aligned, 'kind');
    assert.deepEqual(r.layers[2].shared.map((s) => `${s.kind}:${s.channel}`).sort(), ['delimiter:42', 'delimiter:7', 'first-delimiter:42', 'first-delimiter:7', 'first:42', 'first:7']);
  });

  test('two prompts on one model: the same massive activations on the first token and the first delimiter', async () => {
    const r = await compare({ files: [v.fp32.file], prompts: [PAPER_PROMPT, 'The river ran past the old house.'] });
    assert.equal(r.mode, 'inputs');
    assert.deepEqual(r.models.map((m) => m.tokens), [9, 9]);
    const l = r.layers[2];
    assert.deepEqual(l.shared.map((s) => `${s.kind}:${s.channel}`).sort(), ['first-delimiter:42', 'first-delimiter:7', 'first:42', 'first:7']);
    // Only the first prompt has a second ".".
    assert.deepEqual(l.differences.map((x) => `${x.kind}:${x.channel}:${x.models.join('+')}`).sort(), ['delimiter:42:0', 'delimiter:7:0']);
  });

  test('two id sequences on one model (a model without a tokenizer): each runs its own ids, labelled by them', async () => {
    const other = [1, 12, 14, 3, 10];
    const r = await compare({ files: [v.fp32.file], idSets: [IDS, other] });
    assert.equal(r.mode, 'inputs');
    assert.deepEqual(r.models.map((m) => m.tokens), [IDS.length, other.length]);
    assert.deepEqual(r.models.map((m) => m.input), [`ids ${IDS.join(', ')}`, `ids ${other.join(', ')}`]);
    // The reference on each sequence: its massive tokens are the first and each "." (id 3).
    const d = v.fp32.spec.d;
    for (const [k, ids] of [IDS, other].entries()) {
      const ref = forwardText(v.fp32.spec, ids).hidden[3];
      const tokens = [...new Set(massiveOf(ref, d).out.map((i) => Math.floor(i / d)))].sort((a, b) => a - b);
      const mine = [...new Set(r.layers[2].models[k].massive.map((a) => a.token))].sort((a, b) => a - b);
      assert.deepEqual(mine, tokens, `sequence ${k}`);
    }
  });

  test('a checkpoint series: the emergence step is where the reference first passes the criterion', async () => {
    const c = buildCheckpoints(root);
    const r = await compare({ files: c.specs.map((_, k) => path.join(c.dir, `step-${(k + 1) * 1000}`, 'model.onnx')), series: true, ids: IDS });
    const d = c.specs[0].d;
    // Independently: the first checkpoint whose reference pass has an entry > 100 and ≥ 1000× the median.
    const firstMassive = c.specs.findIndex((s) => forwardText(s, IDS).hidden.some((h) => massiveOf(h, d).out.length > 0));
    assert.ok(firstMassive > 0, 'the series starts without massive activations');
    assert.deepEqual([...new Set(r.series!.emergence.map((e) => e.checkpoint))], [firstMassive]);
    assert.deepEqual(r.series!.emergence.find((e) => e.kind === 'first' && e.channel === 7)!.step, (firstMassive + 1) * 1000);
    assert.equal(r.series!.ratio.length, 6);
    assert.ok(r.series!.ratio[5][2]! > r.series!.ratio[0][2]!, 'the ratio grows over training');
  });

  test('compare --json follows the contract; a checkpoint folder is a series; --csv writes one row per block and model', () => {
    const out = spawnSync(process.execPath, [CLI, 'compare', v.fp32.file, v.channel43.file, '--ids', IDS.join(','), '--json'], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    const j = JSON.parse(out.stdout);
    assert.deepEqual(j.models.map((m: { path: string; blocks: number }) => [path.basename(path.dirname(m.path)), m.blocks]), [['cmp-fp32', 6], ['cmp-channel43', 6]]);
    const l = j.layers[2];
    assert.equal(l.index, 2);
    assert.deepEqual(Object.keys(l.models[0]).filter((k) => ['median', 'top', 'massive'].includes(k)).sort(), ['massive', 'median', 'top']);
    assert.deepEqual(l.shared[0], { token: 0, channel: 7, kind: 'first', values: l.shared[0].values, ratios: [1, l.shared[0].values[1] / l.shared[0].values[0]], sameSign: true });
    assert.ok(l.onlyIn.some((o: { model: number; token: number; channel: number; value: number }) =>
      o.model === 1 && o.token === 0 && o.channel === 43 && o.value < -1000));
    const series = spawnSync(process.execPath, [CLI, 'compare', path.join(root, 'checkpoints'), '--ids', IDS.join(',')], { encoding: 'utf8' });
    assert.equal(series.status, 0, series.stderr);
    assert.match(series.stdout, /Emergence over the checkpoints/);
    assert.match(series.stdout, /First passing the criterion: first ch7 at step-2000 \(step 2000\), block 1/);
    const csvFile = path.join(root, 'cmp.csv');
    assert.equal(spawnSync(process.execPath, [CLI, 'compare', v.fp32.file, v.fp16.file, '--ids', IDS.join(','), '--csv', csvFile], { encoding: 'utf8' }).status, 0);
  });
});

test('many inputs from a text: statistics averaged, massive activations counted where they hold in most inputs', async () => {
  const text = 'Summer is warm. Winter is cold. The river ran past the old house. '.repeat(8);
  const r = await compare({ files: [v.fp32.file, v.channel43.file], text, count: 4, seqLen: 12 });
  assert.equal(r.inputs, 4);
  assert.equal(r.aligned, 'kind');
  const l = r.layers[2];
  assert.deepEqual(l.shared.map((s) => `${s.kind}:${s.channel}`).sort(), ['delimiter:7', 'first-delimiter:7', 'first:7']);
  assert.deepEqual(l.differences.map((x) => `${x.kind}:${x.channel}:${x.models.join('+')}`).sort(), ['delimiter:42:0', 'delimiter:43:1', 'first-delimiter:42:0', 'first-delimiter:43:1', 'first:42:0', 'first:43:1']);
  // The averages are those of the single-input comparisons on the same sequences.
  const seqs = sequencesFromText(text, loadTokenizer(path.join(path.dirname(v.fp32.file), 'tokenizer.json')), 12, 4);
  const singles = [];
  for (const ids of seqs) singles.push(await compare({ files: [v.fp32.file, v.channel43.file], ids }));
  const meanMedian = singles.reduce((a, x) => a + x.layers[2].models[0].median, 0) / singles.length;
  assert.ok(Math.abs(l.models[0].median - meanMedian) < 1e-9);
  const meanErr = singles.reduce((a, x) => a + x.layers[2].models[1].median, 0) / singles.length;
  assert.ok(Math.abs(l.models[1].median - meanErr) < 1e-9);
  assert.ok(l.models[0].median > 0 && l.shared.every((s) => s.values[0] > 1000));
});
