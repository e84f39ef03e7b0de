import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { openModel, type OpenModel, type SessionSettings } from '../../src/engine/run/session';
import { probeKey, SCAN_PROBES, type ProbeRequest } from '../../src/engine/run/probes';
import { scanModel } from '../../src/engine/run/scan';
import { featureMap } from '../../src/experiments/featureMap/run';
import { intervene } from '../../src/experiments/intervene/run';
import { analyseAttention } from '../../src/experiments/attention/run';
import { isEngineError } from '../../src/engine/base/errors';
import type { BlockResult } from '../../src/engine/model/results';
import { buildFusedLlama, buildGpt2, buildHybrid, buildLlama, buildVit, type BuiltModel } from '../models/build';
import { spawnSync } from 'node:child_process';
import { CLI, PAPER_PROMPT, tempDir } from '../fixtures';

/**
 * Segmented runs (src/engine/run/segments/) against one whole graph: the same statistics bit for bit,
 * results block by block, Cancel between blocks, and requests that run only the blocks they need.
 * Model runs are counted on ONNX Runtime's own session.run (each segment is one run).
 */
const root = tempDir('segments');
const WHOLE: SessionSettings = { blocksPerSegment: Infinity };

let runs = 0;
let created = 0;
const proto = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype;
const realRun = proto.run;
const realCreate = ort.InferenceSession.create;
before(() => {
  proto.run = function (this: ort.InferenceSession, ...a: Parameters<typeof realRun>) { runs++; return realRun.apply(this, a); } as typeof realRun;
  (ort.InferenceSession as { create: typeof realCreate }).create = ((...a: Parameters<typeof realCreate>) => {
    created++;
    return realCreate(...a);
  }) as typeof realCreate;
});
after(() => { proto.run = realRun; (ort.InferenceSession as { create: typeof realCreate }).create = realCreate; });

/** One session per request and setting for a test, like the engine's cache. */
function opener(settings: SessionSettings) {
  const opened = new Map<string, Promise<OpenModel>>();
  return (f: string, p: ProbeRequest) => {
    const k = JSON.stringify([f, probeKey(p)]);
    if (!opened.has(k)) opened.set(k, openModel(f, p, settings));
    return opened.get(k)!;
  };
}

describe('segmented scans equal whole-graph scans, bit for bit', () => {
  const models: [string, () => BuiltModel][] = [
    ['GPT-2 (inline weights, tied embeddings)', () => buildGpt2(root)],
    ['LLaMA with external weights (rotary caches and the mask cross every border)', () => buildLlama(root, 'llama-ext', { externalData: 'model.onnx_data' })],
    ['fused SkipSimplifiedLayerNormalization', () => buildFusedLlama(root)],
    ['Mamba hybrid (Loop bodies read the outer scope)', () => buildHybrid(root, 'mamba')],
    ['ViT with registers', () => buildVit(root)],
  ];
  for (const [label, build] of models) {
    test(label, async () => {
      const m = build();
      const input = m.spec.arch === 'vit' ? {} : { prompt: PAPER_PROMPT };
      const whole = await scanModel(m.file, { ...input, open: opener(WHOLE) });
      for (const blocksPerSegment of [1, 2, 4]) {
        const seg = await scanModel(m.file, { ...input, open: opener({ blocksPerSegment }) });
        assert.deepEqual(seg.layers, whole.layers, `${blocksPerSegment} block(s) per segment: layer statistics`);
        assert.deepEqual(seg.attention, whole.attention, `${blocksPerSegment} block(s) per segment: attention`);
        assert.deepEqual(seg.outlierFeatures, whole.outlierFeatures);
      }
      assert.ok(whole.massiveChannels.length, 'the planted model has massive activations to compare');
    });
  }
});

describe('results block by block', () => {
  let m: BuiltModel;
  before(() => { m = buildLlama(root, 'llama-8', { layers: 8 }); });

  test('each block\'s statistics arrive as soon as its segment has run, before the next one runs', async () => {
    const open = opener({ blocksPerSegment: 1 });
    await open(m.file, SCAN_PROBES);
    const seen: { layer: BlockResult; runsSoFar: number }[] = [];
    runs = 0;
    const r = await scanModel(m.file, { prompt: PAPER_PROMPT, open, onProgress: (p) => { if (p.layer) seen.push({ layer: p.layer, runsSoFar: runs }); } });
    assert.deepEqual(seen.map((s) => s.layer.index), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(seen.map((s) => s.runsSoFar), [1, 2, 3, 4, 5, 6, 7, 8], 'block b is reported after b + 1 segment runs');
    assert.deepEqual(seen.map((s) => s.layer), r.layers, 'what streamed is what the scan returns');
  });

  test('Cancel mid-pass stops at the next border; the same sessions serve the next scan', async () => {
    const open = opener({ blocksPerSegment: 2 });
    const expected = await scanModel(m.file, { prompt: PAPER_PROMPT, open: opener(WHOLE) });
    const ctl = new AbortController();
    const seen: number[] = [];
    runs = 0;
    await assert.rejects(
      scanModel(m.file, {
        prompt: PAPER_PROMPT, open, signal: ctl.signal,
        onProgress: (p) => { if (p.layer) { seen.push(p.layer.index); if (p.layer.index === 2) ctl.abort(); } },
      }),
      (e: unknown) => isEngineError(e) && e.code === 'cancelled',
    );
    assert.deepEqual(seen, [0, 1, 2, 3], 'the segment holding block 2 finished; no later one ran');
    assert.equal(runs, 2);
    const again = await scanModel(m.file, { prompt: PAPER_PROMPT, open });
    assert.deepEqual(again.layers, expected.layers);
  });
});

describe('requests run only the blocks they need', () => {
  let m: BuiltModel;
  before(() => { m = buildLlama(root, 'llama-prefix', { layers: 8 }); });

  test('a feature map of block 3 runs blocks 0–3; after a scan of the same input, only block 3', async () => {
    const whole = await featureMap(m.file, { layer: 3, prompt: PAPER_PROMPT, open: opener(WHOLE) });
    const open = opener({ blocksPerSegment: 1 });
    runs = 0;
    const cold = await featureMap(m.file, { layer: 3, prompt: PAPER_PROMPT, open });
    assert.equal(runs, 4, 'segments 0–3 of 8');
    assert.deepEqual(cold, whole);
    const fresh = opener({ blocksPerSegment: 1 });
    await scanModel(m.file, { prompt: PAPER_PROMPT, open: fresh });
    runs = 0;
    assert.deepEqual(await featureMap(m.file, { layer: 3, prompt: PAPER_PROMPT, open: fresh }), whole);
    assert.equal(runs, 1, 'resumed from the state the scan kept before block 3');
    runs = 0;
    await featureMap(m.file, { layer: 3, prompt: 'Winter is cold.', open: fresh });
    assert.equal(runs, 4, 'another input starts from block 0');
  });

  test('an intervention at block 5 runs the edited passes from block 5 on, with the same result', async () => {
    // An input no earlier test ran: no state kept of it anywhere.
    const o = { layer: 5, mode: 'zero' as const, prompt: 'Winter is cold. Summer is warm. Autumn is mild.', evalText: null };
    const whole = await intervene(m.file, { ...o, open: opener(WHOLE) });
    runs = 0;
    const seg = await intervene(m.file, { ...o, open: opener({ blocksPerSegment: 1 }) });
    assert.deepEqual(seg, whole);
    assert.ok(seg.changed.length > 0);
    assert.equal(runs, 8 + 3, 'the original pass (8 segments), then the edited one from block 5 (segments 5–7)');
  });

  test('an intervention after a scan of the same input: the blocks before it are the scan\'s sessions, and its passes start at the edit', async () => {
    const open = opener({ blocksPerSegment: 1 });
    await scanModel(m.file, { prompt: PAPER_PROMPT, open });
    const whole = await intervene(m.file, { layer: 4, mode: 'zero', prompt: PAPER_PROMPT, evalText: null, open: opener(WHOLE) });
    created = 0;
    runs = 0;
    const seg = await intervene(m.file, { layer: 4, mode: 'zero', prompt: PAPER_PROMPT, evalText: null, open });
    assert.deepEqual(seg, whole);
    assert.equal(created, 2, 'new sessions only for block 4 (the edit) and block 5 (reads the edited stream)');
    assert.equal(runs, 4 + 4, 'the original pass and the edited one, each from block 4 on');
  });

  test('a block click\'s attention view runs blocks 0…L with the scan\'s massive tokens', async () => {
    const open = opener({ blocksPerSegment: 1 });
    const scan = await scanModel(m.file, { prompt: PAPER_PROMPT, open });
    const full = await analyseAttention(m.file, { layer: 3, prompt: PAPER_PROMPT, open: opener(WHOLE) });
    runs = 0;
    const a = await analyseAttention(m.file, { layer: 3, prompt: PAPER_PROMPT, prefix: true, massiveTokens: scan.massiveTokens, open });
    assert.equal(runs, 4);
    assert.deepEqual(a.heads, full.heads);
    assert.deepEqual(a.probabilities, full.probabilities);
    assert.deepEqual(a.shareByLayer, full.shareByLayer.slice(0, 4));
  });
});

test('the CLI\'s --whole-graph gives the same statistics as the default segmented run', () => {
  const m = buildLlama(root, 'llama-cli', { externalData: 'model.onnx_data' });
  const scan = (...extra: string[]) => {
    const r = spawnSync(process.execPath, [CLI, 'scan', m.file, '--prompt', PAPER_PROMPT, '--json', ...extra], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { layers: unknown[]; massiveChannels: number[] };
  };
  const segmented = scan();
  const whole = scan('--whole-graph');
  assert.deepEqual(segmented.layers, whole.layers);
  assert.deepEqual(whole.massiveChannels, [7, 42]);
});
