import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer } from '@huggingface/tokenizers';
import { scanMany } from '../../src/experiments/scanMany/run';
import { intervene } from '../../src/experiments/intervene/run';
import { analyseAttention } from '../../src/experiments/attention/run';
import { implicitBias } from '../../src/experiments/implicitBias/run';
import { superWeights } from '../../src/experiments/superWeights/run';
import { featureMap } from '../../src/experiments/featureMap/run';
import { fixRegMean } from '../../src/experiments/fixRegMean/run';
import { scanModel } from '../../src/engine/run/scan';
import { isEngineError } from '../../src/engine/base/errors';
import { buildGpt2, buildLlama, buildStories, buildVit, type BuiltModel } from '../models/build';
import { forwardText } from '../models/reference';
import { tokenizerConfig, tokenizerJson } from '../models/tokenizer';
import { STORIES260K_GREEDY } from '../models/llama2c';
import { PAPER_PROMPT, SKIP_SHARED, STORIES_BIN, tempDir } from '../fixtures';

const root = tempDir('experiments');
const TEXT = 'Summer is warm. Winter is cold. The river ran past the old house. Once upon a time there lived a king. The cat saw the dog. '.repeat(4);
const LONG_PROMPT = 'Once upon a time there lived a king. He had three sons and a big house by the river. The sun was warm and the sky was blue.';
const tok = new Tokenizer(tokenizerJson(), tokenizerConfig());
const encode = (s: string) => tok.encode(s).ids.map(Number);

let gpt2: BuiltModel, llama: BuiltModel, vit: BuiltModel;
before(() => {
  gpt2 = buildGpt2(root);
  llama = buildLlama(root);
  vit = buildVit(root);
});

/** Independent perplexity from the reference pass's logits. */
function referencePerplexity(m: BuiltModel, seqs: number[][], edit?: (seq: number[]) => Parameters<typeof forwardText>[2]): number {
  let nll = 0, n = 0;
  for (const ids of seqs) {
    const f = forwardText(m.spec, ids, edit?.(ids));
    const V = m.spec.vocab;
    for (let t = 0; t + 1 < ids.length; t++) {
      const row = Array.from(f.logits.subarray(t * V, (t + 1) * V));
      const mx = Math.max(...row);
      const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
      nll += lse - row[ids[t + 1]];
      n++;
    }
  }
  return Math.exp(nll / n);
}

for (const name of ['gpt2', 'llama'] as const) {
  describe(`experiments on the planted ${name}`, () => {
    const model = () => (name === 'gpt2' ? gpt2 : llama);

    test('scan-many: the same channels and values on every input, on the first token and the delimiters', async () => {
      const r = await scanMany(model().file, { text: TEXT, seqLen: 16, count: 6 });
      assert.equal(r.inputs, 6);
      const rows = r.constancy.map((c) => `${c.kind}:${c.channel}`).sort();
      assert.deepEqual(rows, ['delimiter:42', 'delimiter:7', 'first-delimiter:42', 'first-delimiter:7', 'first:42', 'first:7']);
      for (const c of r.constancy) {
        assert.equal(c.frequency, 1, `${c.kind}:${c.channel} in every input`);
        assert.ok(c.std / Math.abs(c.mean) < 0.01, `${c.kind}:${c.channel} ${c.mean} ± ${c.std}`);
        assert.ok(Math.abs(c.mean - m2(c.channel)) < 0.01 * Math.abs(m2(c.channel)));
        assert.deepEqual(c.layers, [1, 2, 3, 4]);
      }
      assert.deepEqual(r.locations.map((l) => l.kind).sort(), ['delimiter', 'first', 'first-delimiter']);
      assert.equal(r.layers[2].massiveInputs, 6);
      assert.equal(r.layers[0].massiveInputs, 0);
      assert.ok(r.layers[2].top[0].std < 0.01 * r.layers[2].top[0].mean);
      function m2(ch: number) { return ch === 7 ? 2000 : -1500; }
    });

    test('intervene: set-to-zero changes the output far more than set-to-mean; perplexity matches an independent computation', async () => {
      const evalText = 'Summer is warm. Winter is cold. The river ran past the old house.';
      const zero = await intervene(model().file, { layer: 1, mode: 'zero', prompt: PAPER_PROMPT, evalText, seqLen: 64 });
      const mean = await intervene(model().file, { layer: 1, mode: 'mean', prompt: PAPER_PROMPT, meanText: TEXT, evalText, seqLen: 64 });
      assert.deepEqual(zero.changed.map((c) => `${c.token}:${c.channel}`).sort(), ['0:42', '0:7', '4:42', '4:7', '8:42', '8:7']);
      assert.ok(zero.changed.every((c) => c.to === 0), 'zeroed');
      assert.ok(mean.changed.every((c) => Math.abs(c.to - c.from) < 0.01 * Math.abs(c.from)), 'means sit at the planted values');
      assert.ok(zero.klMean! > 10 * mean.klMean!, `KL zero ${zero.klMean} vs mean ${mean.klMean}`);
      assert.equal(mean.top1Agreement, 1);
      // Perplexity, before and after, recomputed from the reference pass with the same edit.
      const ids = encode(evalText);
      const before = referencePerplexity(model(), [ids]);
      const after = referencePerplexity(model(), [ids], (seq) => (l, x) => {
        if (l !== 1) return;
        seq.forEach((id, t) => { if (id === 1 || id === 3) for (const c of [7, 42]) x[t * model().spec.d + c] = 0; });
      });
      assert.equal(zero.perplexity!.tokens, ids.length - 1);
      assert.ok(Math.abs(zero.perplexity!.before - before) < 1e-3 * before, `${zero.perplexity!.before} vs ${before}`);
      assert.ok(Math.abs(zero.perplexity!.after! - after) < 1e-3 * after, `${zero.perplexity!.after!} vs ${after}`);
      assert.ok(zero.perplexity!.after! > 2 * zero.perplexity!.before, `zero: ${zero.perplexity!.before} → ${zero.perplexity!.after!}`);
      // The paper: 5.47 → inf for zero, 5.47 → 5.47 for mean. A random-weight model is touchier, so
      // "unchanged" here means within 2%, and a tiny fraction of zero's change.
      const dMean = Math.abs(mean.perplexity!.after! - mean.perplexity!.before);
      assert.ok(dMean < 0.02 * mean.perplexity!.before, `mean: ${mean.perplexity!.before} → ${mean.perplexity!.after!}`);
      assert.ok(dMean < 0.05 * (zero.perplexity!.after! - zero.perplexity!.before));
    });

    test('attention: sink heads and the share on massive tokens in the planted blocks only', async () => {
      const ids = encode(LONG_PROMPT);
      const ref = forwardText(model().spec, ids);
      for (let layer = 0; layer < model().spec.layers; layer++) {
        const a = await analyseAttention(model().file, { layer, ids });
        const sinkBlock = model().spec.planted.sinkBlocks.includes(layer);
        const T = ids.length;
        a.heads.forEach((h) => {
          let want = 0;
          for (let q = 0; q < T; q++) want += ref.attn[layer][(h.head * T + q) * T];
          assert.ok(Math.abs(h.sinkScore - want / T) < 1e-3, `block ${layer} head ${h.head}`);
          assert.equal(h.isSink, sinkBlock, `block ${layer} head ${h.head} sink score ${h.sinkScore}`);
        });
        if (sinkBlock) assert.ok(a.massiveTokenShare! >= 0.7, `block ${layer}: ${a.massiveTokenShare}`);
        else assert.ok(a.massiveTokenShare! < 0.6, `block ${layer}: ${a.massiveTokenShare}`);
        assert.equal(a.probabilities.length, T);
        assert.ok(Math.abs(a.probabilities[5].reduce((x, y) => x + y, 0) - 1) < 1e-4);
        assert.equal(a.logits![0][1], null, 'masked logits are absent');
      }
    });

    test('implicit bias: the part from the massive tokens is nearly the same for every query', async () => {
      for (const layer of model().spec.planted.sinkBlocks) {
        const r = await implicitBias(model().file, { layer, prompt: LONG_PROMPT });
        assert.equal(r.afterOutputProjection, true);
        assert.ok(r.sinkPartCosine > 0.95, `block ${layer}: ${r.sinkPartCosine}`);
        assert.ok(r.sinkPartCosine > r.restPartCosine + 0.1, `block ${layer}: ${r.sinkPartCosine} vs rest ${r.restPartCosine}`);
        assert.ok(r.sinkNormShare > 0.5);
      }
    });

    test('super weights: the planted neuron and channels, with their weights', async () => {
      const r = await superWeights(model().file, { prompt: PAPER_PROMPT });
      assert.equal(r.layer, 1);
      const d = model().spec.d;
      assert.deepEqual(r.candidates.map((c) => `${c.row}:${c.column}`).sort(), ['0:42', '0:7']);
      for (const c of r.candidates) {
        const planted = model().spec.layer[1].w2[0 * d + c.column];
        assert.ok(Math.abs(c.weight - planted) < 1e-4 * Math.abs(planted));
        assert.ok(c.share > 0.99);
      }
    });

    test('feature map: massive channels keep their own columns when the map is binned', async () => {
      const r = await featureMap(model().file, { layer: 2, prompt: PAPER_PROMPT, maxColumns: 16 });
      assert.deepEqual(r.massiveChannels, [7, 42]);
      assert.ok(r.columns.length <= 16);
      const ref = forwardText(model().spec, encode(PAPER_PROMPT)).hidden[2];
      const d = model().spec.d;
      r.columns.forEach((c, i) => {
        for (let t = 0; t < r.tokens.length; t++) {
          let want = 0;
          for (let ch = c.from; ch <= c.to; ch++) want = Math.max(want, Math.abs(ref[t * d + ch]));
          assert.ok(Math.abs(r.values[t][i] - want) < 1e-3 * Math.max(1, want), `token ${t} ${c.from}-${c.to}`);
        }
      });
      assert.deepEqual(r.columns.filter((c) => c.massive).map((c) => [c.from, c.to]), [[7, 7], [42, 42]]);
    });

    test('LLM.int8() outlier features match the definition applied to the reference states', async () => {
      const ids = encode(PAPER_PROMPT);
      const r = await scanModel(model().file, { ids });
      const ref = forwardText(model().spec, ids);
      const d = model().spec.d;
      const expected: number[] = [];
      for (let c = 0; c < d; c++) {
        const layers = ref.hidden.filter((h) => ids.filter((_, t) => Math.abs(h[t * d + c]) >= 6).length >= 0.06 * ids.length).length;
        if (layers >= 0.25 * ref.hidden.length) expected.push(c);
      }
      assert.deepEqual(r.outlierFeatures.map((f) => f.channel).sort((a, b) => a - b), expected);
      assert.ok(expected.includes(7) && expected.includes(42));
    });
  });
}

describe('vision: registers', () => {
  test('Fix-Reg-Mean barely changes the output; zeroing the registers changes it a lot', async () => {
    const r = await fixRegMean(vit.file, { count: 4 });
    assert.equal(r.registers, 4);
    assert.equal(r.tokens, 1 + 4 + 16);
    assert.ok(r.fixRegMean && r.zeroRegisters, 'both edits kept the output finite');
    assert.ok(r.fixRegMean.relativeL2 < 0.01, `${r.fixRegMean.relativeL2}`);
    assert.ok(r.zeroRegisters.relativeL2 > 10 * r.fixRegMean.relativeL2);
    assert.ok(r.registerSpread[2].deviation < 0.01 * r.registerSpread[2].meanNorm, 'register features are nearly constant');
  });

  test('scan-many over images: massive activations sit on registers', async () => {
    const r = await scanMany(vit.file, {});
    assert.deepEqual(r.locations.map((l) => l.kind), ['register']);
    assert.deepEqual([...new Set(r.constancy.map((c) => c.channel))].sort((a, b) => a - b), [7, 42]);
  });

  test('feature map gives a patch grid', async () => {
    const r = await featureMap(vit.file, { layer: 2 });
    assert.deepEqual([r.patchMap!.rows, r.patchMap!.cols], [4, 4]);
    assert.deepEqual(r.tokenKinds.slice(0, 6), ['cls', 'register', 'register', 'register', 'register', 'patch']);
  });
});

describe('stories260K: no massive activations, no sink-driven findings', { skip: SKIP_SHARED }, () => {
  let stories: BuiltModel;
  before(() => { stories = buildStories(root, STORIES_BIN); });

  test('scan-many over random sequences and the greedy text finds nothing', async () => {
    const r = await scanMany(stories.file, { count: 4, seqLen: 32, idsList: undefined });
    assert.equal(r.inputKind, 'random-ids');
    assert.deepEqual(r.constancy, []);
    assert.deepEqual(r.locations, []);
    assert.ok(r.layers.every((l) => l.massiveInputs === 0));
  });

  test('interventions change nothing and attention claims no share', async () => {
    const iv = await intervene(stories.file, { layer: 1, mode: 'zero', ids: STORIES260K_GREEDY });
    assert.deepEqual(iv.changed, []);
    assert.equal(iv.klMean, 0);
    assert.equal(iv.perplexity!.before, iv.perplexity!.after!);
    assert.equal(iv.perplexity!.source, 'input');
    const a = await analyseAttention(stories.file, { layer: 2, ids: STORIES260K_GREEDY });
    assert.equal(a.massiveTokenShare, null);
    assert.ok(a.shareByLayer.every((s) => s.share === null));
    await assert.rejects(implicitBias(stories.file, { layer: 2, ids: STORIES260K_GREEDY }), (e: unknown) => isEngineError(e) && /No massive activations/.test(e.message));
    const sw = await superWeights(stories.file, { ids: STORIES260K_GREEDY });
    assert.equal(sw.layer, null);
  });
});

describe('cancellation', () => {
  test('an experiment aborted mid-run rejects, and the engine stays usable', async () => {
    const ctl = new AbortController();
    let runs = 0;
    await assert.rejects(
      scanMany(gpt2.file, { text: TEXT, seqLen: 8, count: 20, signal: ctl.signal, onProgress: (p) => { if (p.stage === 'run' && ++runs === 3) ctl.abort(); } }),
      (e: unknown) => isEngineError(e) && e.code === 'cancelled',
    );
    assert.equal(runs, 3);
    const r = await scanModel(gpt2.file, { prompt: PAPER_PROMPT });
    assert.deepEqual(r.massiveChannels, [7, 42]);
  });
});

test('attention on a prompt over 128 tokens: the matrices are binned to about matrixTokens, the massive tokens keep their own rows and columns', async () => {
  const prompt = 'Summer is warm. '.repeat(60);
  const a = await analyseAttention(gpt2.file, { layer: 2, prompt, matrixTokens: 128, maxTokens: 2048 });
  assert.equal(a.tokens.length, 241);
  // Shares and sink scores still use every token.
  assert.equal(a.massiveTokens.length, 61);
  // The bins cover every token once, in order; each massive token is a bin of its own.
  assert.deepEqual(a.bins.flatMap((b) => Array.from({ length: b.to - b.from + 1 }, (_, i) => b.from + i)), a.tokens.map((t) => t.index));
  for (const t of a.massiveTokens) assert.ok(a.bins.some((b) => b.from === t && b.to === t && b.kept), `token ${t} has its own bin`);
  assert.ok(a.bins.length < 241 && a.bins.length <= 128 + a.massiveTokens.length, `${a.bins.length} bins`);
  assert.equal(a.probabilities.length, a.bins.length);
  assert.equal(a.probabilities[0].length, a.bins.length);
  // Each binned cell is the mean over its queries of the attention its keys get together, from the full matrix.
  const full = await analyseAttention(gpt2.file, { layer: 2, prompt, matrixTokens: 4096, maxTokens: 2048 });
  assert.equal(full.probabilities.length, 241);
  for (const [r, rb] of a.bins.entries()) for (const [c, cb] of a.bins.entries()) {
    let want = 0;
    for (let q = rb.from; q <= rb.to; q++) for (let k = cb.from; k <= cb.to; k++) want += full.probabilities[q][k];
    want /= rb.to - rb.from + 1;
    assert.ok(Math.abs(a.probabilities[r][c] - want) < 1e-5, `cell ${r},${c}: ${a.probabilities[r][c]} vs ${want}`);
  }
  // Rows still sum to one: binning keys keeps every query's attention.
  for (const row of a.probabilities) assert.ok(Math.abs(row.reduce((x, y) => x + y, 0) - 1) < 1e-4);
});
