/** Next-token distributions from logits rows: log-softmax, KL, top-1, negative log-likelihood. */

export function logSoftmaxRow(logits: Float32Array, row: number, vocab: number): Float64Array {
  const out = new Float64Array(vocab);
  let m = -Infinity;
  for (let v = 0; v < vocab; v++) m = Math.max(m, logits[row * vocab + v]);
  let s = 0;
  for (let v = 0; v < vocab; v++) s += Math.exp(logits[row * vocab + v] - m);
  const lse = m + Math.log(s);
  for (let v = 0; v < vocab; v++) out[v] = logits[row * vocab + v] - lse;
  return out;
}

/** KL(P‖Q) in nats between two rows' next-token distributions. */
export function klRow(p: Float32Array, q: Float32Array, row: number, vocab: number): number {
  const lp = logSoftmaxRow(p, row, vocab);
  const lq = logSoftmaxRow(q, row, vocab);
  let kl = 0;
  for (let v = 0; v < vocab; v++) kl += Math.exp(lp[v]) * (lp[v] - lq[v]);
  return Math.max(0, kl);
}

export function argmaxRow(x: Float32Array, row: number, vocab: number): number {
  let best = 0;
  for (let v = 1; v < vocab; v++) if (x[row * vocab + v] > x[row * vocab + best]) best = v;
  return best;
}

/** Sum of −log p(ids[t+1] | ids[..t]) over the sequence, and how many tokens were predicted. */
export function sequenceNll(logits: Float32Array, ids: number[], vocab: number): { nll: number; predicted: number } {
  let nll = 0;
  for (let t = 0; t + 1 < ids.length; t++) nll -= logSoftmaxRow(logits, t, vocab)[ids[t + 1]];
  return { nll, predicted: Math.max(0, ids.length - 1) };
}
