import { test } from 'node:test';
import assert from 'node:assert/strict';
import { floatToHalf, halvesToFloats } from '../../src/engine/model/onnx/dtype';

/** IEEE binary16 → binary32 by moving bits (an independent route from the engine's arithmetic). */
function byBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  let exp = (h >> 10) & 0x1f;
  let frac = h & 0x3ff;
  let bits: number;
  if (exp === 0x1f) bits = sign | 0x7f800000 | (frac << 13);
  else if (exp === 0) {
    if (frac === 0) bits = sign;
    else {
      // Subnormal: normalise the fraction.
      exp = 1;
      while (!(frac & 0x400)) { frac <<= 1; exp--; }
      bits = sign | ((exp - 15 + 127) << 23) | ((frac & 0x3ff) << 13);
    }
  } else bits = sign | ((exp - 15 + 127) << 23) | (frac << 13);
  return new Float32Array(new Uint32Array([bits >>> 0]).buffer)[0];
}

test('every one of the 65,536 halves converts exactly', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const got = halvesToFloats(all);
  for (let i = 0; i < 65536; i++) {
    const want = byBits(i);
    if (Number.isNaN(want)) assert.ok(Number.isNaN(got[i]), `0x${i.toString(16)}`);
    else assert.ok(Object.is(got[i], want), `0x${i.toString(16)}: ${got[i]} vs ${want}`);
  }
});

test('float → half → float round-trips every finite half', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const f = halvesToFloats(all);
  for (let i = 0; i < 65536; i++) if (Number.isFinite(f[i])) assert.equal(floatToHalf(f[i]), i, `0x${i.toString(16)}`);
});
