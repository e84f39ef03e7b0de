import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { blockProbes, canonicalProbes, covers, expandProbes, parseProbe, probeKey, SCAN_PROBES, type ProbeName } from '../../src/engine/run/probes';

/** Probe names are the sessions' cache keys: equal requests must make equal keys, typos must throw. */
describe('probe names', () => {
  test('parse into a block (or *) and a point', () => {
    assert.deepEqual(parseProbe('blocks.3.attn.pattern'), { block: 3, point: 'attn.pattern' });
    assert.deepEqual(parseProbe('blocks.*.attn.key_sums'), { block: '*', point: 'attn.key_sums' });
    assert.deepEqual(parseProbe('blocks.12.mlp.down_in'), { block: 12, point: 'mlp.down_in' });
  });

  test('a misspelt name is a bug: it throws', () => {
    for (const bad of ['blocks.3.attn.patern', 'blocks.3.hook_resid_post', 'block.3.resid_post', 'blocks.-1.resid_post', 'blocks.03.resid_post', 'blocks.1.5.resid_post', 'blocks..resid_post', 'blocks.3.constructor', 'blocks.3.toString']) {
      assert.throws(() => parseProbe(bad), /Internal: .* is no probe point/, bad);
      assert.throws(() => probeKey({ read: [bad as ProbeName] }), /no probe point/, bad);
    }
  });

  test('only the stream can be edited', () => {
    assert.throws(() => canonicalProbes({ read: [], edit: ['blocks.1.attn.pattern'] }), /cannot be edited/);
    assert.deepEqual(canonicalProbes({ read: [], edit: ['blocks.1.resid_post'] }), { read: [], edit: ['blocks.1.resid_post'] });
  });

  test('the canonical request is sorted and deduplicated, * absorbs single blocks, streams are implied', () => {
    assert.deepEqual(canonicalProbes({ read: ['blocks.10.attn.v', 'blocks.2.attn.v', 'blocks.2.attn.scores', 'blocks.2.attn.v', 'blocks.*.attn.key_sums', 'blocks.4.attn.key_sums', 'blocks.3.resid_post'] }),
      { read: ['blocks.*.attn.key_sums', 'blocks.2.attn.scores', 'blocks.2.attn.v', 'blocks.10.attn.v'] });
    assert.deepEqual(canonicalProbes({ read: [], edit: [] }), { read: [] });
    assert.equal(probeKey({ read: ['blocks.*.resid_post'] }), probeKey({ read: [] }));
    assert.equal(probeKey({ read: ['blocks.1.attn.pattern', 'blocks.0.attn.pattern'] }), probeKey({ read: ['blocks.0.attn.pattern', 'blocks.1.attn.pattern'] }));
    assert.notEqual(probeKey(SCAN_PROBES), probeKey({ ...SCAN_PROBES, edit: ['blocks.4.resid_post'] }));
    assert.notEqual(probeKey({ read: ['blocks.1.attn.pattern'] }), probeKey({ read: ['blocks.*.attn.pattern'] }));
  });

  test('a caller\'s block number that is no block names nothing (the experiment\'s checkBlock reports it)', () => {
    assert.deepEqual(blockProbes(3, ['attn.pattern', 'attn.v']), ['blocks.3.attn.pattern', 'blocks.3.attn.v']);
    for (const bad of [-1, 1.5, NaN, Infinity, 1e21]) assert.deepEqual(blockProbes(bad, ['resid_post']), [], String(bad));
  });

  test('* covers and expands to every block the model has', () => {
    assert.ok(covers(['blocks.*.attn.key_sums'], 'blocks.7.attn.key_sums'));
    assert.ok(!covers(['blocks.*.attn.key_sums'], 'blocks.7.attn.pattern'));
    assert.ok(covers(['blocks.7.attn.pattern'], 'blocks.7.attn.pattern'));
    assert.ok(!covers(['blocks.7.attn.pattern'], 'blocks.6.attn.pattern'));
    assert.deepEqual(expandProbes(['blocks.*.resid_post', 'blocks.1.resid_post', 'blocks.9.attn.v', 'blocks.0.attn.v'], 3).map((p) => p.name),
      ['blocks.0.attn.v', 'blocks.0.resid_post', 'blocks.1.resid_post', 'blocks.2.resid_post']);
  });
});
