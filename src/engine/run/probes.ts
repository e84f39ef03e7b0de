import { EngineError } from '../base/errors';
import type { AttentionLocation } from '../model/locate/types';

/**
 * Named probe points: the tensors an analysis reads from (or writes into) a model, named the way
 * TransformerLens names its hooks (`blocks.3.hook_resid_post` is `blocks.3.resid_post` here). An
 * analysis asks for names; the run layer finds the tensors behind them in whatever graph the
 * export has (exposure.ts) and hands back graph outputs to read. `blocks.*.…` names every block.
 */
export const PROBE_POINTS = {
  /**
   * The residual stream after the block, [batch, tokens, channels]. Always read: segments are cut
   * there (see segments/plan.ts). The one point that can be edited.
   */
  'resid_post': { edit: true },
  /**
   * Attention probabilities, [batch, heads, queries, keys], one per attention op of the block (self
   * and cross). A graph that gives only scores (MultiHeadAttention's qk output) has them as scores,
   * softmax applied on reading (see the kind).
   */
  'attn.pattern': { edit: false },
  /**
   * Per-key sums of the probabilities over queries, [batch, heads, 1, keys] in float32, computed in
   * the graph: what scans read, as it stays small at long context. Where the same block's pattern is
   * read too, the graph does not compute them twice: the reader sums the pattern.
   */
  'attn.key_sums': { edit: false },
  /** Attention scores before the softmax, [batch, heads, queries, keys], where the graph has them apart. */
  'attn.scores': { edit: false },
  /** Attention values, [batch, kv heads, keys, head size], where the graph has them apart (unfused attention). */
  'attn.v': { edit: false },
  /** The input of the MLP's down projection, [batch, tokens, ffn width], with the projection's weight. */
  'mlp.down_in': { edit: false },
} as const;

export type ProbePoint = keyof typeof PROBE_POINTS;
/** `blocks.<N>.<point>`, or `blocks.*.<point>` for every block. */
export type ProbeName = `blocks.${number | '*'}.${ProbePoint}`;

/** What a session is opened for: the points read back after a run, and those edited by inputs. */
export interface ProbeRequest {
  read: ProbeName[];
  /** Each edited point gets two graph inputs, a mask and values: stream = where(mask, values, stream). */
  edit?: ProbeName[];
}

/** What a scan reads: every block's key sums (and streams, always there). A block click's feature map reuses it. */
export const SCAN_PROBES: ProbeRequest = { read: ['blocks.*.attn.key_sums'] };

/** A graph tensor behind a probe point. */
export interface ProbeTensor {
  /** The graph output to read after a run (absent from a run that did not reach its block). */
  tensor: string;
  /** Attention points: which attention op of the block, in the graph's order (matches a pattern with its scores and values). */
  op?: number;
  /** Attention points: the op it comes from; a 'mha-qk' pattern holds scores. */
  kind?: AttentionLocation['kind'];
  cross?: boolean;
  /** attn.v: the output projection's weight, which maps the heads back to the stream. */
  outProj?: string;
  /** mlp.down_in: the down projection's weight. */
  weight?: string;
}

export interface ParsedProbe { block: number | '*'; point: ProbePoint }

const NAME = /^blocks\.(\*|0|[1-9]\d*)\.([a-z_.]+)$/;

/** A name's block and point. Names are written in code, so a bad one is a bug: it throws. */
export function parseProbe(name: string): ParsedProbe {
  const m = NAME.exec(name);
  if (!m || !Object.hasOwn(PROBE_POINTS, m[2])) {
    throw new EngineError('runtime', `Internal: "${name}" is no probe point (expected blocks.<N or *>.<${Object.keys(PROBE_POINTS).join(' | ')}>).`);
  }
  return { block: m[1] === '*' ? '*' : Number(m[1]), point: m[2] as ProbePoint };
}

const nameOf = (p: ParsedProbe): ProbeName => `blocks.${p.block}.${p.point}`;

/** Wildcards first, then blocks in order, then points: one spelling per set of names. */
function canonicalNames(names: readonly string[]): ProbeName[] {
  const parsed = names.map(parseProbe);
  const every = new Set(parsed.filter((p) => p.block === '*').map((p) => p.point));
  const kept = parsed.filter((p) => p.block === '*' || !every.has(p.point));
  const order = (p: ParsedProbe) => (p.block === '*' ? -1 : p.block);
  kept.sort((a, b) => order(a) - order(b) || (a.point < b.point ? -1 : a.point > b.point ? 1 : 0));
  return [...new Set(kept.map(nameOf))];
}

/**
 * The request in one spelling: names checked, sorted and deduplicated, a block's name dropped where
 * `*` covers it, and streams left out of the reads (they are always there). Sessions are cached by
 * it, so two requests for the same graph must come out equal.
 */
export function canonicalProbes(r: ProbeRequest): ProbeRequest {
  const read = canonicalNames(r.read).filter((n) => parseProbe(n).point !== 'resid_post');
  const edit = canonicalNames(r.edit ?? []);
  for (const n of edit) if (!PROBE_POINTS[parseProbe(n).point].edit) throw new EngineError('runtime', `Internal: ${n} cannot be edited; only blocks.N.resid_post can.`);
  return edit.length ? { read, edit } : { read };
}

/** The cache key of a request: equal for requests of the same graph. */
export function probeKey(r: ProbeRequest): string {
  return JSON.stringify(canonicalProbes(r));
}

/**
 * Names of points of one block given by the caller. A number that is no block number names nothing,
 * so the session still opens and the experiment's own check (checkBlock) tells the user what is wrong.
 */
export function blockProbes(block: number, points: ProbePoint[]): ProbeName[] {
  return Number.isSafeInteger(block) && block >= 0 ? points.map((p): ProbeName => `blocks.${block}.${p}`) : [];
}

/** Whether the names cover one block's point (`*` covers every block). */
export function covers(names: readonly ProbeName[], name: ProbeName): boolean {
  const { point, block } = parseProbe(name);
  return names.some((n) => { const p = parseProbe(n); return p.point === point && (p.block === '*' || p.block === block); });
}

/** The names with `*` spelled out for a model of `blocks` blocks; blocks it does not have name nothing. */
export function expandProbes(names: readonly ProbeName[], blocks: number): (ParsedProbe & { block: number; name: ProbeName })[] {
  const out = new Map<ProbeName, ParsedProbe & { block: number; name: ProbeName }>();
  for (const n of names) {
    const p = parseProbe(n);
    const list = p.block === '*' ? Array.from({ length: blocks }, (_, b) => b) : p.block < blocks ? [p.block] : [];
    for (const block of list) { const name = nameOf({ block, point: p.point }); out.set(name, { block, point: p.point, name }); }
  }
  return [...out.values()].sort((a, b) => a.block - b.block || (a.point < b.point ? -1 : a.point > b.point ? 1 : 0));
}
