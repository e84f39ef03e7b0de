import type { AttentionAnalysis } from '../experiments/attention/run';

/*
 * Why a list is empty, in the words the command line and the panel share: "none" alone reads as a
 * finding even where there was nothing that could have been found (a linear mixer has no attention
 * map to have sink heads in).
 */

/** The sink heads of an attention analysis, or why there are none. */
export function sinkHeadsText(a: Pick<AttentionAnalysis, 'heads' | 'note'>): string {
  if (!a.heads.length) return `none: ${a.note ?? 'this graph does not expose attention probabilities (fused attention)'}`;
  const sinks = a.heads.filter((h) => h.isSink).map((h) => h.head);
  return sinks.length ? sinks.join(', ') : `none (no head puts ≥ 0.3 of its attention on the first token; ${a.heads.length} heads)`;
}

/** Massive tokens or channels of one input, or that this input has none (another might). */
export function massiveListText(items: number[], what: 'tokens' | 'channels'): string {
  return items.length ? items.join(', ') : `none on this input (no activation passes the criterion, so no ${what} carry one)`;
}
