/**
 * Statistics of one hidden state, laid out [tokens, channels] row-major. Pure functions over
 * typed arrays so the worker, the CLI and the tests share them.
 */

export interface Activation { token: number; channel: number; value: number }

export interface Thresholds {
  /** |a| must exceed this (the paper: 100). */
  absolute: number;
  /** |a| must be at least this many times the layer's median |a| (the paper: 1000). */
  ratio: number;
}

export const PAPER_THRESHOLDS: Thresholds = { absolute: 100, ratio: 1000 };

/** NaN and ±Infinity in a hidden state: a result (the model is broken there), never folded into the statistics. */
export interface NonFinite {
  count: number;
  nan: number;
  posInf: number;
  negInf: number;
  /** The first non-finite entry in token-major order. */
  first: { token: number; channel: number } | null;
}

export interface BlockStats {
  /** Median |a| over the finite entries (NaN when there are none). */
  median: number;
  nonFinite: NonFinite;
  top: Activation[];
  massive: Activation[];
  /** True when more massive activations exist than were listed. */
  massiveTruncated: boolean;
  maxPerToken: Float32Array;
  maxPerChannel: Float32Array;
  /** Per channel, how many tokens have |a| ≥ the LLM.int8() outlier magnitude (6). */
  outlierTokens: Uint32Array;
}

/** LLM.int8() (Dettmers et al.): a feature is an outlier when |x| ≥ 6 in ≥ 25% of layers and ≥ 6% of positions. */
export const INT8_OUTLIER = { magnitude: 6, layerFraction: 0.25, positionFraction: 0.06 };

/** k-th smallest (0-based) of `a`, reordering it in place. Expected linear time (Hoare selection). */
export function selectKth(a: Float32Array | Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    // Median of three guards against sorted input; the data here is often near-sorted by channel.
    const mid = (lo + hi) >>> 1;
    const x = a[lo], y = a[mid], z = a[hi];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) { const t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

/**
 * k-th smallest |x| (0-based) by radix selection on the float bits: for non-negative floats the
 * IEEE bit patterns sort like the numbers, so one histogram over the top 16 bits finds the bucket
 * and a second pass looks only inside it. Linear time, no copy of x. With `alsoBelow`, returns the
 * (k−1)-th too, from the same two passes (the two middle values of an even count).
 */
export function kthSmallestAbs(x: Float32Array, k: number): number;
export function kthSmallestAbs(x: Float32Array, k: number, alsoBelow: true): [number, number];
export function kthSmallestAbs(x: Float32Array, k: number, alsoBelow = false): number | [number, number] {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const hist = new Uint32Array(1 << 15);
  for (let i = 0; i < bits.length; i++) hist[(bits[i] & 0x7fffffff) >>> 16]++;
  const first = alsoBelow ? k - 1 : k;
  let bucket = 0;
  let before = 0;
  while (before + hist[bucket] <= first) before += hist[bucket++];
  // The (k−1)-th may close one bucket and the k-th open the next non-empty one: take both.
  let last = bucket;
  let through = before + hist[bucket];
  while (through <= k) through += hist[++last];
  const inRange = new Float32Array(through - before);
  let j = 0;
  for (let i = 0; i < bits.length; i++) {
    const b = (bits[i] & 0x7fffffff) >>> 16;
    if (b >= bucket && b <= last) inRange[j++] = Math.abs(x[i]);
  }
  const kth = selectKth(inRange, k - before);
  if (!alsoBelow) return kth;
  // After selection everything left of the k-th is no larger: the (k−1)-th is their maximum.
  let below = -Infinity;
  for (let i = 0; i < k - before; i++) if (inRange[i] > below) below = inRange[i];
  return [below, kth];
}

/** How many entries of x are NaN or ±Infinity (exponent bits all ones). */
export function countNonFinite(x: Float32Array): number {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  let n = 0;
  for (let i = 0; i < bits.length; i++) if ((bits[i] & 0x7f800000) === 0x7f800000) n++;
  return n;
}

/**
 * Exact median of the finite |x| (mean of the two middle values for an even count); NaN when no
 * entry is finite. Non-finite bit patterns sort above every finite one, so the radix selection
 * only has to be told how many finite entries there are.
 */
export function medianAbs(x: ArrayLike<number>, nonFinite?: number): number {
  if (x instanceof Float32Array) {
    const n = x.length - (nonFinite ?? countNonFinite(x));
    if (n <= 0) return NaN;
    if (n % 2) return kthSmallestAbs(x, n >> 1);
    const [lo, hi] = kthSmallestAbs(x, n >> 1, true);
    return (lo + hi) / 2;
  }
  const finite: number[] = [];
  for (let i = 0; i < x.length; i++) if (Number.isFinite(x[i])) finite.push(Math.abs(x[i]));
  const n = finite.length;
  if (n === 0) return NaN;
  const a = Float64Array.from(finite);
  const hiMid = selectKth(a, n >> 1);
  if (n % 2) return hiMid;
  // After selection everything left of n/2 is ≤ the pivot: the lower middle is their maximum.
  let loMid = -Infinity;
  for (let i = 0; i < n >> 1; i++) if (a[i] > loMid) loMid = a[i];
  return (loMid + hiMid) / 2;
}

/** The k largest magnitudes offered so far with their flat positions, largest first (ties: first offered first). */
class TopAbs {
  readonly vals: number[] = [];
  readonly idx: number[] = [];
  /** Anything not above this cannot enter (−1 until k values are held). */
  floor = -1;

  constructor(private readonly k: number) {}

  offer(v: number, i: number): void {
    // A sorted buffer of size k beats a heap for the small k used here.
    let p = this.vals.length;
    while (p > 0 && this.vals[p - 1] < v) p--;
    this.vals.splice(p, 0, v);
    this.idx.splice(p, 0, i);
    if (this.vals.length > this.k) { this.vals.pop(); this.idx.pop(); }
    if (this.vals.length === this.k) this.floor = this.vals[this.k - 1];
  }

  activations(x: ArrayLike<number>, channels: number): Activation[] {
    return this.idx.map((i) => ({ token: Math.floor(i / channels), channel: i % channels, value: x[i] }));
  }
}

/** The k largest |x| with their positions, largest first. */
export function topKAbs(x: ArrayLike<number>, channels: number, k: number): Activation[] {
  const top = new TopAbs(k);
  if (k > 0) for (let i = 0; i < x.length; i++) { const v = Math.abs(x[i]); if (v > top.floor) top.offer(v, i); }
  return top.activations(x, channels);
}

export function blockStats(x: ArrayLike<number>, tokens: number, channels: number, topK: number, th: Thresholds, maxMassive = 1000): BlockStats {
  const bad = x instanceof Float32Array ? countNonFinite(x) : Array.prototype.filter.call(x, (v: number) => !Number.isFinite(v)).length;
  const median = medianAbs(x, bad);
  const top = new TopAbs(topK);
  const maxPerToken = new Float32Array(tokens);
  const maxPerChannel = new Float32Array(channels);
  const outlierTokens = new Uint32Array(channels);
  const massive: Activation[] = [];
  const nonFinite: NonFinite = { count: bad, nan: 0, posInf: 0, negInf: 0, first: null };
  let truncated = false;
  // With no finite median there is no "×1000 the median" to pass: nothing is massive.
  const bar = Number.isFinite(median) ? Math.max(th.absolute, th.ratio * median) : Infinity;
  for (let t = 0; t < tokens; t++) {
    const row = t * channels;
    for (let c = 0; c < channels; c++) {
      const v = x[row + c];
      const a = Math.abs(v);
      if (bad && !(a <= Number.MAX_VALUE)) {
        if (a !== a) nonFinite.nan++;
        else if (v > 0) nonFinite.posInf++;
        else nonFinite.negInf++;
        nonFinite.first ??= { token: t, channel: c };
        continue;
      }
      if (a > maxPerToken[t]) maxPerToken[t] = a;
      if (a > maxPerChannel[c]) maxPerChannel[c] = a;
      if (a >= INT8_OUTLIER.magnitude) outlierTokens[c]++;
      if (a > top.floor && topK > 0) top.offer(a, row + c);
      if (a > th.absolute && a >= bar) {
        if (massive.length < maxMassive) massive.push({ token: t, channel: c, value: v });
        else truncated = true;
      }
    }
  }
  massive.sort((p, q) => Math.abs(q.value) - Math.abs(p.value));
  return { median, nonFinite, top: top.activations(x, channels), massive, massiveTruncated: truncated, maxPerToken, maxPerChannel, outlierTokens };
}

/** |top-1| ÷ median, or null when it is not a number (median 0, no finite entries). */
export function topRatio(top1: number | undefined, median: number): number | null {
  if (top1 === undefined || !(median > 0) || !Number.isFinite(median)) return null;
  const r = Math.abs(top1) / median;
  return Number.isFinite(r) ? r : null;
}

/**
 * Attention probabilities [heads, queries, keys] → the share each head gives to `tokens`,
 * averaged over the queries that can see at least one of them (a causal query before the token
 * cannot attend to it, and counting it would dilute the share); bidirectional attention counts all.
 */
export function attentionShare(
  p: ArrayLike<number>, heads: number, queries: number, keys: number, tokens: number[], causal = true,
): { perHead: number[]; mean: number } {
  const perHead: number[] = [];
  const set = tokens.filter((t) => t < keys);
  if (!set.length) return { perHead: new Array(heads).fill(0), mean: 0 };
  const first = causal ? Math.min(...set) : 0;
  const offset = keys - queries; // queries see keys up to offset + q
  for (let h = 0; h < heads; h++) {
    let sum = 0;
    let n = 0;
    for (let q = 0; q < queries; q++) {
      if (offset + q < first) continue;
      const row = (h * queries + q) * keys;
      let s = 0;
      for (const k of set) s += p[row + k];
      sum += s;
      n++;
    }
    perHead.push(n ? sum / n : 0);
  }
  return { perHead, mean: perHead.reduce((a, b) => a + b, 0) / Math.max(1, heads) };
}

/** Mean attention each head gives the first token (Gu et al.'s sink score). */
export function sinkScores(p: ArrayLike<number>, heads: number, queries: number, keys: number): number[] {
  const out: number[] = [];
  for (let h = 0; h < heads; h++) {
    let s = 0;
    for (let q = 0; q < queries; q++) s += p[(h * queries + q) * keys];
    out.push(s / queries);
  }
  return out;
}

/** Row-wise softmax in place over the last axis, ignoring -inf/masked entries naturally. */
export function softmaxRows(x: Float32Array, cols: number): Float32Array {
  for (let r = 0; r < x.length / cols; r++) {
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x[r * cols + c]);
    let s = 0;
    for (let c = 0; c < cols; c++) { const e = Math.exp(x[r * cols + c] - m); x[r * cols + c] = e; s += e; }
    for (let c = 0; c < cols; c++) x[r * cols + c] /= s;
  }
  return x;
}

/** Outlier features from per-layer counts: channel → number of layers where it is an outlier, and its max |x|. */
export function int8Outliers(
  perLayer: { outlierTokens: Uint32Array; maxPerChannel: Float32Array }[], tokens: number,
): { channel: number; layers: number; maxAbs: number }[] {
  if (!perLayer.length) return [];
  const channels = perLayer[0].outlierTokens.length;
  const out: { channel: number; layers: number; maxAbs: number }[] = [];
  for (let c = 0; c < channels; c++) {
    let layers = 0;
    let maxAbs = 0;
    for (const l of perLayer) {
      if (l.outlierTokens[c] >= INT8_OUTLIER.positionFraction * tokens) layers++;
      maxAbs = Math.max(maxAbs, l.maxPerChannel[c]);
    }
    if (layers >= INT8_OUTLIER.layerFraction * perLayer.length && layers > 0) out.push({ channel: c, layers, maxAbs });
  }
  return out.sort((a, b) => b.maxAbs - a.maxAbs);
}

/**
 * The same share from per-key sums over queries ([heads, keys], what the graph reduces to at long
 * context). Exact: in causal attention a query before a key gives it nothing, so the column sum of
 * a marked key is the sum over the queries that can see it.
 */
export function attentionShareFromSums(
  sums: ArrayLike<number>, heads: number, keys: number, queries: number, tokens: number[], causal = true,
): { perHead: number[]; mean: number } {
  const set = tokens.filter((t) => t < keys);
  if (!set.length) return { perHead: new Array(heads).fill(0), mean: 0 };
  const offset = keys - queries;
  const seeing = causal ? queries - Math.max(0, Math.min(...set) - offset) : queries;
  const perHead = Array.from({ length: heads }, (_, h) => set.reduce((a, k) => a + sums[h * keys + k], 0) / Math.max(1, seeing));
  return { perHead, mean: perHead.reduce((a, b) => a + b, 0) / Math.max(1, heads) };
}

/** Sink scores from per-key sums: the first key's sum over all queries, averaged. */
export function sinkScoresFromSums(sums: ArrayLike<number>, heads: number, keys: number, queries: number): number[] {
  return Array.from({ length: heads }, (_, h) => sums[h * keys] / queries);
}
