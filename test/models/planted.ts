import { forwardText, forwardVit } from './reference';
import { makeSpec, rng, type Spec, type SpecOptions } from './spec';

/**
 * Builds a spec and calibrates its planted neurons with the reference pass, so the massive values
 * land at the requested size and the last block removes 97% of them.
 */
export function plantedSpec(o: SpecOptions): Spec {
  const s = makeSpec(o);
  const { plantBlock, fadeBlock, channels, values } = s.planted;
  const probe = (): { neurons: Float64Array[]; hidden: Float64Array[] } => {
    if (s.arch === 'vit') return forwardVit(s, samplePixels(s, 1));
    return forwardText(s, [s.planted.markerIds[0], 10, 11, s.planted.markerIds[1] ?? 12, 13]);
  };
  const d = s.d;
  const markerToken = s.arch === 'vit' ? 1 : 0;
  const P = s.layer[plantBlock];
  let f = probe();
  const act = f.neurons[plantBlock][markerToken * 2];
  for (let c = 0; c < 2; c++) P.w2[0 * d + channels[c]] = values[c] / act;
  f = probe();
  const F = s.layer[fadeBlock];
  const fadeAct = f.neurons[fadeBlock][markerToken * 2 + 1];
  const before = f.hidden[fadeBlock - 1];
  for (let c = 0; c < 2; c++) F.w2[1 * d + channels[c]] = (-0.97 * before[markerToken * d + channels[c]]) / fadeAct;
  return s;
}

/** A deterministic image in [-1, 1], [C, H, W]. */
export function samplePixels(s: Spec, seed: number): Float64Array {
  const v = s.vit!;
  const r = rng(seed);
  const px = new Float64Array(v.channels * v.image * v.image);
  for (let i = 0; i < px.length; i++) px[i] = Math.sin(i * 0.07 * seed) * 0.5 + (r.u() - 0.5) * 0.5;
  return px;
}
