/** A run of consecutive indices shown as one row or column; `kept` marks an index kept on its own. */
export interface Bin { from: number; to: number; kept: boolean }

/**
 * Splits 0…n−1 into at most about `cap` bins for display: each index of `keep` (the massive tokens)
 * is a bin of its own, the rest are grouped in equal runs between them. n ≤ cap gives one bin each.
 */
export function binAxis(n: number, cap: number, keep: number[] = []): Bin[] {
  if (n <= cap) return Array.from({ length: n }, (_, i) => ({ from: i, to: i, kept: keep.includes(i) }));
  const own = [...new Set(keep.filter((k) => k >= 0 && k < n))].sort((a, b) => a - b);
  const width = Math.max(1, Math.ceil((n - own.length) / Math.max(1, cap - own.length)));
  const bins: Bin[] = [];
  let start = 0;
  const flush = (end: number) => {
    for (let s = start; s < end; s += width) bins.push({ from: s, to: Math.min(end, s + width) - 1, kept: false });
  };
  for (const k of own) { flush(k); bins.push({ from: k, to: k, kept: true }); start = k + 1; }
  flush(n);
  return bins;
}

/** Index → its bin, for an axis binned by binAxis. */
export function binIndex(bins: Bin[], n: number): Int32Array {
  const of = new Int32Array(n);
  bins.forEach((b, i) => { for (let x = b.from; x <= b.to; x++) of[x] = i; });
  return of;
}
