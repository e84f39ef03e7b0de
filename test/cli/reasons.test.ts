import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { buildGpt2, buildHybrid } from '../models/build';
import { CLI, PAPER_PROMPT, tempDir } from '../fixtures';

/**
 * Every "none" says why: a list that is empty because nothing could be there (a linear mixer has no
 * attention map to have sink heads in) reads differently from one that is empty on this input.
 */
const root = tempDir('reasons');
const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

test('attention on a Gated DeltaNet block of a hybrid: "sink heads: none", with the reason (it used to be a bare "none")', () => {
  const m = buildHybrid(root, 'qwen35');
  const r = cli(['attention', m.file, '--layer', '0', '--prompt', PAPER_PROMPT]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^sink heads: none: block 0 mixes tokens with .+: no attention probabilities$/m);
  // The same model's attention block has heads to judge: a list, or "none" with the test it failed.
  const a = cli(['attention', m.file, '--layer', '3', '--prompt', PAPER_PROMPT]);
  assert.equal(a.status, 0, a.stderr);
  assert.match(a.stdout, /^sink heads: (\d+(, \d+)*|none \(no head puts ≥ 0\.3 of its attention on the first token; \d+ heads\))$/m);
});

test('a block without massive activations says they are absent on this input, not just "none"', () => {
  const m = buildGpt2(root);
  const r = cli(['feature-map', m.file, '--layer', '0', '--prompt', PAPER_PROMPT]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^massive channels: none on this input \(no activation passes the criterion, so no channels carry one\)$/m);
  const planted = cli(['feature-map', m.file, '--layer', '2', '--prompt', PAPER_PROMPT]);
  assert.match(planted.stdout, /^massive channels: 7, 42$/m);
});
