import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scanModel } from '../../src/engine/run/scan';
import { apiWording, word } from '../../src/engine/base/errors';
import { featureMap } from '../../src/experiments/featureMap/run';
import { buildGpt2 } from '../models/build';
import { PAPER_PROMPT, tempDir } from '../fixtures';

/**
 * An input over the token limit: refused (naming both ways out), or with `truncate` run on its first
 * maxTokens tokens, exactly those of the whole input, and said. Compared with a run of the first
 * tokens given alone.
 */
const m = buildGpt2(tempDir('truncate'));
/** Warnings name options for each front end to word: here in the engine's own words. */
const said = (r: { warnings: string[] }) => r.warnings.map((w) => word(w, apiWording));

test('too long: refused, and the refusal offers truncation; truncated, the first tokens run exactly as given alone', async () => {
  await assert.rejects(scanModel(m.file, { prompt: PAPER_PROMPT, maxTokens: 4 }), (e: Error) => /The input is 9 tokens; the limit is 4 tokens .* or run its first 4 tokens \(the truncate option\)\./.test(e.message));
  const whole = await scanModel(m.file, { prompt: PAPER_PROMPT });
  const cut = await scanModel(m.file, { prompt: PAPER_PROMPT, maxTokens: 4, truncate: true });
  assert.deepEqual(cut.tokens.map((t) => t.id), whole.tokens.slice(0, 4).map((t) => t.id));
  assert.ok(said(cut).includes('Only the first 4 of the input\'s 9 tokens were run: the input was cut at the token limit, as asked.'), said(cut).join(' | '));
  const alone = await scanModel(m.file, { ids: whole.tokens.slice(0, 4).map((t) => t.id!) });
  assert.deepEqual(cut.layers.map((l) => l.top[0].value), alone.layers.map((l) => l.top[0].value), 'a causal model\'s first tokens do not see the rest');
  // Ids the same way; an input within the limit is untouched and says nothing.
  const ids = await scanModel(m.file, { ids: whole.tokens.map((t) => t.id!), maxTokens: 5, truncate: true });
  assert.equal(ids.tokens.length, 5);
  assert.ok(said(ids).some((w) => w.startsWith('Only the first 5 of the input\'s 9 tokens')));
  const within = await scanModel(m.file, { prompt: PAPER_PROMPT, truncate: true });
  assert.equal(within.tokens.length, 9);
  assert.ok(!said(within).some((w) => w.startsWith('Only the first')));
});

test('a text far over the limit is cut before it is tokenised, and says the input had more tokens than it counted', async () => {
  const long = `${PAPER_PROMPT} `.repeat(40); // 1,280 characters: over 32 × 2
  await assert.rejects(scanModel(m.file, { prompt: long, maxTokens: 2 }), /The input is 1,280 characters; the limit is 2 tokens/);
  const cut = await scanModel(m.file, { prompt: long, maxTokens: 2, truncate: true });
  assert.equal(cut.tokens.length, 2);
  assert.match(said(cut).join(' '), /Only the first 2 of the input's more than [\d,]+ tokens were run/);
  // Every experiment takes it: a block's map on the first tokens.
  const fm = await featureMap(m.file, { layer: 2, prompt: long, maxTokens: 3, truncate: true });
  assert.equal(fm.tokens.length, 3);
});
