import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attentionShare, attentionShareFromSums, kthSmallestAbs, sinkScoresFromSums, blockStats, medianAbs, selectKth, sinkScores, topKAbs } from '../../src/engine/measure/stats';
import { rng } from '../models/spec';

function sortedMedian(x: number[]): number {
  const a = x.map(Math.abs).sort((p, q) => p - q);
  const n = a.length;
  return n % 2 ? a[n >> 1] : (a[n / 2 - 1] + a[n / 2]) / 2;
}

test('selectKth agrees with sorting on random, sorted, constant and duplicate-heavy arrays', () => {
  const r = rng(3);
  const cases: number[][] = [
    Array.from({ length: 1001 }, () => r.normal()),
    Array.from({ length: 500 }, (_, i) => i),
    Array.from({ length: 500 }, (_, i) => 500 - i),
    new Array(64).fill(2),
    Array.from({ length: 999 }, () => Math.floor(r.u() * 4)),
  ];
  for (const c of cases) {
    const sorted = [...c].sort((p, q) => p - q);
    for (const k of [0, 1, c.length >> 1, c.length - 1]) {
      assert.equal(selectKth(Float32Array.from(c), k), Math.fround(sorted[k]));
    }
  }
});

test('medianAbs is the exact median of |x| for odd and even lengths', () => {
  const r = rng(5);
  for (const n of [1, 2, 7, 8, 1000, 1001]) {
    const x = Array.from({ length: n }, () => r.normal() * 3);
    assert.ok(Math.abs(medianAbs(Float32Array.from(x)) - sortedMedian(Array.from(Float32Array.from(x)))) < 1e-6, `n=${n}`);
  }
  assert.ok(Number.isNaN(medianAbs(new Float32Array(0))));
  // A view into a larger buffer (how ONNX Runtime hands tensors back) and a plain array.
  const big = Float32Array.from({ length: 3000 }, () => r.normal());
  const view = big.subarray(1000, 2001);
  assert.equal(medianAbs(view), sortedMedian(Array.from(view)));
  const plain = Array.from({ length: 100 }, () => r.normal());
  assert.ok(Math.abs(medianAbs(plain) - sortedMedian(plain)) < 1e-12);
});

test('kthSmallestAbs handles values spread over many magnitudes and heavy ties', () => {
  const r = rng(11);
  const x = Float32Array.from({ length: 20000 }, (_, i) => (i % 3 ? r.normal() * 10 ** Math.floor(r.u() * 8 - 4) : 0.5));
  const sorted = Array.from(x, Math.abs).sort((p, q) => p - q);
  for (const k of [0, 1, 6666, 10000, 13333, 19999]) assert.equal(kthSmallestAbs(x, k), sorted[k]);
  for (const k of [1, 6666, 10000, 19999]) assert.deepEqual(kthSmallestAbs(x, k, true), [sorted[k - 1], sorted[k]]);
});

test('the two middle values may sit in different radix buckets, with empty buckets between', () => {
  // 1e-3 … 1e3: every value in its own 16-bit bucket, thousands of empty ones between neighbours.
  const x = Float32Array.from([1e3, -1e-3, 10, -0.1, 1, -100]);
  assert.deepEqual(kthSmallestAbs(x, 3, true), [1, 10]);
  assert.equal(medianAbs(x), (1 + 10) / 2);
  assert.equal(medianAbs(Float32Array.from([-2, 1])), 1.5);
});

test('topKAbs returns the largest magnitudes with signed values and positions', () => {
  const x = new Float32Array(3 * 4);
  x[1 * 4 + 2] = -50; x[2 * 4 + 3] = 20; x[0] = 30; x[5] = 1;
  assert.deepEqual(topKAbs(x, 4, 3), [
    { token: 1, channel: 2, value: -50 },
    { token: 0, channel: 0, value: 30 },
    { token: 2, channel: 3, value: 20 },
  ]);
});

test('blockStats applies both thresholds of the paper', () => {
  const tokens = 10, channels = 100;
  const x = new Float32Array(tokens * channels).map((_, i) => ((i * 7919) % 13) / 13 - 0.5); // |x| ≤ 0.5
  x[0 * channels + 7] = 2000;   // massive
  x[4 * channels + 42] = -1500; // massive, negative
  x[9 * channels + 1] = 150;    // > 100 but only ~600× the median
  const s = blockStats(x, tokens, channels, 3, { absolute: 100, ratio: 1000 });
  assert.ok(s.median > 0.2 && s.median < 0.3);
  assert.deepEqual(s.massive.map((a) => [a.token, a.channel, a.value]), [[0, 7, 2000], [4, 42, -1500]]);
  assert.equal(s.maxPerToken[4], 1500);
  assert.equal(s.maxPerChannel[7], 2000);
  // Lowering the ratio threshold admits the third one.
  assert.equal(blockStats(x, tokens, channels, 3, { absolute: 100, ratio: 100 }).massive.length, 3);
});

test('attentionShare counts only the marked keys and ignores queries that cannot see them', () => {
  // One head, 3 queries × 3 keys, causal.
  const p = Float32Array.from([1, 0, 0, 0.5, 0.5, 0, 0.2, 0.3, 0.5]);
  assert.deepEqual(attentionShare(p, 1, 3, 3, [0]).perHead.map((v) => +v.toFixed(6)), [+((1 + 0.5 + 0.2) / 3).toFixed(6)]);
  // Token 1 is invisible to query 0: averaged over queries 1 and 2 only.
  assert.equal(+attentionShare(p, 1, 3, 3, [1]).mean.toFixed(6), +((0.5 + 0.3) / 2).toFixed(6));
  assert.deepEqual(sinkScores(p, 1, 3, 3).map((v) => +v.toFixed(6)), [+((1 + 0.5 + 0.2) / 3).toFixed(6)]);
});

test('shares and sink scores from per-key sums equal those from the full probabilities', () => {
  const r = rng(21);
  const H = 3, T = 12;
  for (const causal of [true, false]) {
    const p = new Float32Array(H * T * T);
    for (let h = 0; h < H; h++) for (let q = 0; q < T; q++) {
      const visible = causal ? q + 1 : T;
      const w = Array.from({ length: visible }, () => r.u() + 0.01);
      const z = w.reduce((a, b) => a + b, 0);
      w.forEach((v, k) => { p[(h * T + q) * T + k] = v / z; });
    }
    const sums = new Float32Array(H * T);
    for (let h = 0; h < H; h++) for (let q = 0; q < T; q++) for (let k = 0; k < T; k++) sums[h * T + k] += p[(h * T + q) * T + k];
    for (const marks of [[0, 5], [3, 7], [11]]) {
      const full = attentionShare(p, H, T, T, marks, causal).perHead;
      const fromSums = attentionShareFromSums(sums, H, T, T, marks, causal).perHead;
      full.forEach((v, h) => assert.ok(Math.abs(v - fromSums[h]) < 1e-5, `causal=${causal} ${marks} head ${h}: ${v} vs ${fromSums[h]}`));
    }
    assert.deepEqual(sinkScoresFromSums(sums, H, T, T).map((v) => v.toFixed(5)), sinkScores(p, H, T, T).map((v) => v.toFixed(5)));
  }
});
