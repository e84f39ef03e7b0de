import { forwardText, forwardVit } from './reference';
import { makeSpec, rng, writeGains, type Spec, type SpecOptions } from './spec';

/**
 * Builds a spec and calibrates its planted neurons with the reference pass, so the massive values
 * land at the requested size and the last block removes 97% of them.
 */
export function plantedSpec(o: SpecOptions): Spec {
  const s = makeSpec(o);
  const { plantBlock, fadeBlock, channels, values } = s.planted;
  // The plant needs only the blocks up to its own; the fade needs the whole stack.
  const probe = (blocks = s.layers): { neurons: Float64Array[]; hidden: Float64Array[] } => {
    if (s.arch === 'vit') return forwardVit(s, samplePixels(s, 1));
    return forwardText(s, [s.planted.markerIds[0], 10, 11, s.planted.markerIds[1] ?? 12, 13], undefined, blocks);
  };
  const markerToken = s.arch === 'vit' ? 1 : 0;
  const p = s.planted;
  // Gains are linear in the neuron's activation, which does not depend on them.
  let f = probe(plantBlock + 1);
  const act = f.neurons[plantBlock][markerToken * 2];
  p.plantGain = [values[0] / act, values[1] / act];
  if (!s.lazy) writeGains(s.layer[plantBlock], plantBlock, p, s.d);
  f = probe();
  const fadeAct = f.neurons[fadeBlock][markerToken * 2 + 1];
  const before = f.hidden[fadeBlock - 1];
  p.fadeGain = [(-0.97 * before[markerToken * s.d + channels[0]]) / fadeAct, (-0.97 * before[markerToken * s.d + channels[1]]) / fadeAct];
  if (!s.lazy) writeGains(s.layer[fadeBlock], fadeBlock, p, s.d);
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
