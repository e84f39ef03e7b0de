import assert from 'node:assert/strict';
import type { ScanResult } from '../../src/engine/model/results';
import type { Forward } from '../models/reference';

/** fp16 rounds each addition at the stream's scale: after the planted 2000s, one half-precision step is 1–2. */
const HALF_STEP = 2000 * 2 ** -10;

export function refMedian(h: Float64Array): number {
  const a = Array.from(h, Math.abs).sort((x, y) => x - y);
  return a.length % 2 ? a[a.length >> 1] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
}

/**
 * The scan against the float64 reference pass, block by block: exactly the massive entries the
 * reference has (|a| > 100 and ≥ 1000 × median), every reported value within 1% (plus one
 * half-precision step for fp16 models), and the median within 1%.
 */
export function assertMatchesReference(r: ScanResult, ref: Forward, d: number): void {
  for (const layer of r.layers) {
    const h = ref.hidden[layer.index];
    const med = refMedian(h);
    const expected: string[] = [];
    h.forEach((v, i) => { if (Math.abs(v) > 100 && Math.abs(v) >= 1000 * med) expected.push(`${Math.floor(i / d)}:${i % d}`); });
    assert.deepEqual(layer.massive.map((a) => `${a.token}:${a.channel}`).sort(), expected.sort(), `block ${layer.index}`);
    for (const a of [...layer.massive, ...layer.top]) {
      const want = h[a.token * d + a.channel];
      const slack = r.model.dtype === 'float16' ? HALF_STEP : 1e-3;
      assert.ok(Math.abs(a.value - want) <= 0.01 * Math.abs(want) + slack, `block ${layer.index} ${a.token}:${a.channel} ${a.value} vs ${want}`);
    }
    assert.ok(Math.abs(layer.median - med) <= 0.01 * med, `median ${layer.median} vs ${med}`);
  }
}
