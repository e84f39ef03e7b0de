import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { scanModel } from '../../src/engine/run/scan';
import { scanFile } from '../../src/engine/run/scanFile';
import { analyseAttention } from '../../src/experiments/attention/run';
import { intervene } from '../../src/experiments/intervene/run';
import { buildHybrid, HYBRID_LAYOUTS, type BuiltModel } from '../models/build';
import { toAnonymous } from '../models/layouts/variants';
import { forwardText, type Forward } from '../models/reference';
import { CLI, tempDir } from '../fixtures';
import type { ScanResult } from '../../src/engine/model/results';
import { assertMatchesReference } from './matchReference';

/**
 * Issue 10: hybrid stacks. Blocks whose token mixer is linear attention (a Scan inside an If), a
 * state-space recurrence (a Loop) or a short convolution are blocks like any other: located, scanned
 * against the float64 reference, intervened on, and named by their mixer.
 */
const root = tempDir('hybrid');
const IDS = [1, 10, 11, 12, 3, 13, 11, 14, 3];
const NAMED = { gdn: 'linear-attention', mamba: 'state-space', conv: 'convolution', attention: 'attention' } as const;

const cases: {
  label: string; kind: keyof typeof HYBRID_LAYOUTS; build: () => BuiltModel; matcher: string; mixers: (layout: readonly string[]) => string[];
}[] = [
  { label: 'Qwen3.5 layout (Gated DeltaNet: causal depthwise Conv, Scan inside an If, output gate; MoE in block 5)', kind: 'qwen35', build: () => buildHybrid(root, 'qwen35'), matcher: 'scope-names', mixers: (l) => l.map((k) => NAMED[k as keyof typeof NAMED]) },
  { label: 'Qwen3.5 as onnxruntime-genai fuses it (SkipSimplifiedLayerNormalization)', kind: 'qwen35', build: () => buildHybrid(root, 'qwen35', { name: 'qwen35-fused', fusedNorms: true }), matcher: 'fused-norm', mixers: (l) => l.map((k) => NAMED[k as keyof typeof NAMED]) },
  // Without module names a recurrence cannot be told apart: it is still a block, called recurrent.
  { label: 'Qwen3.5 with no names at all', kind: 'qwen35', build: () => buildHybrid(root, 'qwen35', { name: 'qwen35-anon', transform: toAnonymous }), matcher: 'structure', mixers: (l) => l.map((k) => (k === 'gdn' ? 'recurrent' : NAMED[k as keyof typeof NAMED])) },
  { label: 'Mamba hybrid (selective scan as a Loop)', kind: 'mamba', build: () => buildHybrid(root, 'mamba'), matcher: 'scope-names', mixers: (l) => l.map((k) => NAMED[k as keyof typeof NAMED]) },
  { label: 'LFM2 (short convolutions; MoE in block 3)', kind: 'lfm2', build: () => buildHybrid(root, 'lfm2'), matcher: 'scope-names', mixers: (l) => l.map((k) => NAMED[k as keyof typeof NAMED]) },
  // onnxruntime-genai's own operators, run by ONNX Runtime's CPU kernels.
  {
    label: 'Qwen3.5 as onnxruntime-genai writes it (LinearAttention gated_delta, CausalConvWithState with silu, SkipSimplifiedLayerNormalization)', kind: 'qwen35',
    build: () => buildHybrid(root, 'qwen35', { name: 'qwen35-genai', fusedNorms: true, fusedMixers: true }), matcher: 'fused-norm', mixers: (l) => l.map((k) => NAMED[k as keyof typeof NAMED]),
  },
  {
    label: 'LFM2 as onnxruntime-genai writes it (CausalConvWithState)', kind: 'lfm2',
    build: () => buildHybrid(root, 'lfm2', { name: 'lfm2-genai', fusedMixers: true }), matcher: 'scope-names', mixers: (l) => l.map((k) => NAMED[k as keyof typeof NAMED]),
  },
];

for (const c of cases) {
  describe(c.label, () => {
    let m: BuiltModel;
    let r: ScanResult;
    let ref: Forward;
    before(async () => {
      m = c.build();
      r = await scanModel(m.file, { ids: IDS });
      ref = forwardText(m.spec, IDS);
    });

    test('every block located, with its mixer and MLP kind', () => {
      const layout = HYBRID_LAYOUTS[c.kind];
      assert.equal(r.model.matcher, c.matcher);
      assert.equal(r.layers.length, layout.layout.length);
      assert.deepEqual(r.layers.map((l) => l.mixer), c.mixers(layout.layout));
      assert.deepEqual(r.layers.map((l) => l.mlp), layout.layout.map((_, i) => ((layout.moeBlocks as readonly number[]).includes(i) ? 'moe' : 'dense')));
      assert.deepEqual(r.model.layers.map((l) => l.mixer), r.layers.map((l) => l.mixer));
    });

    test('the planted activations, inside the non-attention blocks too, match the reference', () => {
      assertMatchesReference(r, ref, m.spec.d);
      // Planted in block 1, which is not an attention block in any of these layouts.
      assert.notEqual(r.layers[1].mixer, 'attention');
      assert.deepEqual(r.massiveTokens, [0, 4, 8]);
      assert.deepEqual(r.massiveChannels, [7, 42]);
    });

    test('attention is read where it exists and explained where it does not', () => {
      for (const a of r.attention) {
        const l = r.layers[a.layer];
        if (l.mixer === 'attention') assert.ok(a.source !== 'unavailable' && a.sinkScores.length > 0, `block ${a.layer}`);
        else {
          assert.equal(a.source, 'unavailable');
          assert.match(a.note ?? '', new RegExp(`^block ${a.layer} mixes tokens with .*: no attention probabilities$`));
        }
      }
    });
  });
}

test("ONNX Runtime's LinearAttention and CausalConvWithState compute the reference's mixers: every block's whole stream, as the scan reads it", async () => {
  for (const kind of ['qwen35', 'lfm2'] as const) {
    const m = buildHybrid(root, kind, { name: `${kind}-genai-streams`, fusedMixers: true });
    const r = await scanFile(m.file, { ids: IDS, keepStreams: true });
    const ref = forwardText(m.spec, IDS);
    r.streams!.forEach((x, layer) => {
      const want = ref.hidden[layer];
      let worst = 0;
      x.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - want[i]) / (1 + Math.abs(want[i]))); });
      assert.ok(worst < 1e-4, `${kind} block ${layer} (${HYBRID_LAYOUTS[kind].layout[layer]}): off by ${worst}`);
    });
  }
});

test('an intervention on a linear-attention block matches the reference', async () => {
  const m = buildHybrid(root, 'qwen35', { name: 'qwen35-intervene' });
  const res = await intervene(m.file, { layer: 1, mode: 'zero', ids: IDS, evalText: null });
  assert.deepEqual(res.changed.map((c) => `${c.token}:${c.channel}`).sort(), ['0:42', '0:7', '4:42', '4:7', '8:42', '8:7']);
  // The reference with the same edit: the KL the engine reports must come from these logits.
  const d = m.spec.d;
  const plain = forwardText(m.spec, IDS);
  const edited = forwardText(m.spec, IDS, (layer, x) => { if (layer === 1) for (const t of [0, 4, 8]) for (const ch of [7, 42]) x[t * d + ch] = 0; });
  const V = m.spec.vocab;
  let kl = 0;
  for (let t = 0; t < IDS.length; t++) {
    const lp = logSoftmax(plain.logits.subarray(t * V, (t + 1) * V));
    const lq = logSoftmax(edited.logits.subarray(t * V, (t + 1) * V));
    kl += lp.reduce((a, v, i) => a + Math.exp(v) * (v - lq[i]), 0);
  }
  kl /= IDS.length;
  assert.ok(Math.abs(res.klMean! - kl) <= 0.02 * kl + 1e-6, `KL ${res.klMean} vs reference ${kl}`);
});

test('attention analysis of a linear-attention block says why there is nothing to show', async () => {
  const m = buildHybrid(root, 'mamba', { name: 'mamba-attention' });
  const a = await analyseAttention(m.file, { layer: 0, ids: IDS });
  assert.equal(a.heads.length, 0);
  assert.equal(a.note, 'block 0 mixes tokens with a state-space recurrence: no attention probabilities');
  const b = await analyseAttention(m.file, { layer: 2, ids: IDS });
  assert.ok(b.heads.length > 0);
});

test('inspect --json lists every block with its mixer; the scan table has a mixer column', () => {
  const m = buildHybrid(root, 'lfm2', { name: 'lfm2-cli' });
  const j = JSON.parse(spawnSync(process.execPath, [CLI, 'inspect', m.file, '--json'], { encoding: 'utf8' }).stdout);
  assert.deepEqual(j.layers.map((l: { index: number; mixer: string }) => [l.index, l.mixer]), [[0, 'convolution'], [1, 'convolution'], [2, 'attention'], [3, 'convolution'], [4, 'convolution'], [5, 'attention']]);
  const scan = spawnSync(process.execPath, [CLI, 'scan', m.file, '--ids', IDS.join(',')], { encoding: 'utf8' });
  assert.equal(scan.status, 0, scan.stderr);
  assert.match(scan.stdout, /^ *3 {2}convolution \+ moe {2}2000/m);
  const json = JSON.parse(spawnSync(process.execPath, [CLI, 'scan', m.file, '--ids', IDS.join(','), '--json'], { encoding: 'utf8' }).stdout);
  assert.deepEqual(json.layers.map((l: { mixer: string }) => l.mixer), ['convolution', 'convolution', 'attention', 'convolution', 'convolution', 'attention']);
});

function logSoftmax(x: Float64Array): Float64Array {
  const m = Math.max(...x);
  const lse = m + Math.log(x.reduce((a, v) => a + Math.exp(v - m), 0));
  return x.map((v) => v - lse);
}
