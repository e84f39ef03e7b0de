import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { sinkRate, type SinkRateResult } from '../../src/experiments/sinkRate/run';
import { isEngineError } from '../../src/engine/base/errors';
import { buildGpt2, buildHybrid, buildLlama, type BuiltModel } from '../models/build';
import { forwardText } from '../models/reference';
import { tokenizerConfig, tokenizerJson } from '../models/tokenizer';
import { CLI, tempDir } from '../fixtures';
import view from '../../src/experiments/sinkRate/view';

/**
 * Gu et al.'s sink rate, the experiment added through the registry's steps: per head, the attention
 * on the first token averaged over queries (and inputs); a sink head exceeds ε; the rate is sink
 * heads over the heads of every attention block. The golden values come from the float64 reference
 * pass's attention probabilities, which share no code with the engine.
 */
const root = tempDir('sink-rate');
const tok = new Tokenizer(tokenizerJson(), tokenizerConfig());
const encode = (s: string) => tok.encode(s).ids.map(Number);
const PROMPTS = ['Summer is warm. Winter is cold.', 'Once upon a time there lived a king. He had three sons.'];

/** Reference scores [block][head]: mean over queries of p(query → token 0), averaged over inputs. */
function referenceScores(m: BuiltModel, inputs: number[][]): number[][] {
  const H = m.spec.heads;
  const scores = Array.from({ length: m.spec.layers }, () => new Array<number>(H).fill(0));
  for (const ids of inputs) {
    const f = forwardText(m.spec, ids);
    const T = ids.length;
    for (let b = 0; b < m.spec.layers; b++) {
      if (!f.attn[b]?.length) continue;
      for (let h = 0; h < H; h++) {
        let s = 0;
        for (let q = 0; q < T; q++) s += f.attn[b][(h * T + q) * T];
        scores[b][h] += s / T / inputs.length;
      }
    }
  }
  return scores;
}

function assertMatches(r: SinkRateResult, want: number[][], attentionBlocks: number[], epsilon: number): void {
  let heads = 0, sinks = 0;
  for (const b of r.blocks) {
    if (!attentionBlocks.includes(b.block)) continue;
    assert.equal(b.scores.length, want[b.block].length, `block ${b.block} heads`);
    b.scores.forEach((s, h) => assert.ok(Math.abs(s - want[b.block][h]) < 1e-3, `block ${b.block} head ${h}: ${s} vs ${want[b.block][h]}`));
    const expected = want[b.block].filter((s) => s > epsilon).length;
    assert.equal(b.sinkHeads, expected, `block ${b.block} sink heads`);
    assert.equal(b.rate, expected / want[b.block].length);
    heads += want[b.block].length;
    sinks += expected;
  }
  assert.equal(r.heads, heads);
  assert.equal(r.sinkHeads, sinks);
  assert.equal(r.rate, sinks / heads);
}

describe('sink rate', () => {
  let gpt2: BuiltModel, llama: BuiltModel;
  before(() => {
    gpt2 = buildGpt2(root);
    llama = buildLlama(root);
  });

  test('GPT-2 layout, one prompt: per-head first-token attention and the rate match the reference; planted sink blocks are all sinks', async () => {
    const ids = encode(PROMPTS[1]);
    const r = await sinkRate(gpt2.file, { ids });
    const want = referenceScores(gpt2, [ids]);
    const all = want.map((_, b) => b);
    assertMatches(r, want, all, 0.3);
    assert.equal(r.epsilon, 0.3);
    assert.deepEqual(r.tokensPerInput, [ids.length]);
    for (const b of gpt2.spec.planted.sinkBlocks) assert.equal(r.blocks[b].rate, 1, `planted sink block ${b}`);
  });

  test('Llama layout (rotary, grouped heads), several prompts averaged, another ε', async () => {
    const r = await sinkRate(llama.file, { prompts: PROMPTS, epsilon: 0.5 });
    const want = referenceScores(llama, PROMPTS.map(encode));
    assertMatches(r, want, want.map((_, b) => b), 0.5);
    assert.equal(r.inputs, 2);
    assert.deepEqual(r.tokensPerInput, PROMPTS.map((p) => encode(p).length));
  });

  test('a hybrid: linear-attention blocks have no rate and say why; the rate counts attention heads only', async () => {
    const m = buildHybrid(root, 'qwen35');
    const ids = [1, 10, 11, 12, 3, 13, 11, 14, 3];
    const r = await sinkRate(m.file, { ids });
    const attentionBlocks = r.blocks.filter((b) => b.rate !== null).map((b) => b.block);
    assert.ok(attentionBlocks.length > 0 && attentionBlocks.length < r.blocks.length, 'the hybrid has both kinds of block');
    for (const b of r.blocks.filter((x) => x.rate === null)) {
      assert.match(b.note ?? '', new RegExp(`^block ${b.block} mixes tokens with .*: no attention probabilities$`));
      assert.deepEqual(b.scores, []);
    }
    assertMatches(r, referenceScores(m, [ids]), attentionBlocks, 0.3);
  });

  test('the text view of a model with no readable attention says why instead of "0 of 0"', () => {
    const note = 'block 0 mixes tokens with a state-space recurrence: no attention probabilities';
    const blocks = [{ block: 0, scores: [], sinkHeads: 0, rate: null, note }];
    const text = view.text({ epsilon: 0.3, inputs: 1, tokensPerInput: [3], blocks, rate: null, heads: 0, sinkHeads: 0 });
    assert.match(text, /^sink rate \(ε = 0\.3\): n\/a — no block has attention heads/);
    assert.ok(text.includes(note));
    assert.doesNotMatch(text, /0 of 0/);
  });

  test('ε outside 0…1 is refused before anything runs', async () => {
    await assert.rejects(sinkRate(gpt2.file, { ids: [1, 2, 3], epsilon: 1.5 }), (e: unknown) => isEngineError(e) && e.code === 'bad-argument' && /from 0 to 1/.test(e.message));
  });

  test('CLI: sink-rate with --prompts-file averages the prompts; --json, --csv, and clear refusals', () => {
    const dir = tempDir('sink-rate-cli');
    const prompts = path.join(dir, 'prompts.txt');
    writeFileSync(prompts, PROMPTS.join('\n') + '\n\n');
    const csv = path.join(dir, 'sinks.csv');
    const run = spawnSync(process.execPath, [CLI, 'sink-rate', gpt2.file, '--prompts-file', prompts, '--epsilon', '0.4', '--json', '--csv', csv], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const r = JSON.parse(run.stdout) as SinkRateResult;
    const want = referenceScores(gpt2, PROMPTS.map(encode));
    assertMatches(r, want, want.map((_, b) => b), 0.4);
    const lines = spawnSync('cat', [csv], { encoding: 'utf8' }).stdout.trim().split('\n');
    assert.equal(lines[0], 'block,head,first_token_attention,sink,epsilon,note');
    assert.equal(lines.length, 1 + gpt2.spec.layers * gpt2.spec.heads);

    const text = spawnSync(process.execPath, [CLI, 'sink-rate', gpt2.file, '--prompt', PROMPTS[0]], { encoding: 'utf8' });
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^sink rate \(ε = 0\.3\): \d+\.\d% — \d+ of \d+ heads give the first token more than 0\.3 of their attention/);

    const both = spawnSync(process.execPath, [CLI, 'sink-rate', gpt2.file, '--prompts-file', prompts, '--prompt', 'x'], { encoding: 'utf8' });
    assert.equal(both.status, 1);
    assert.match(both.stderr, /either --prompts-file or one input/);
    const bad = spawnSync(process.execPath, [CLI, 'sink-rate', gpt2.file, '--prompt', 'x', '--epsilon', 'half'], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--epsilon must be a number from 0 to 1; got "half"/);
  });
});
