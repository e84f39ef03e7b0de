import type { GraphProto, NodeProto, TensorProto } from 'onnx-buf';
import { outerReads } from '../../model/onnx/graph';

/**
 * A patched model cut into consecutive segments of blocks, each its own ONNX Runtime session over
 * the same weight files. Runs hand the residual stream and whatever else later blocks read (masks,
 * positions, rotary caches, attention sums) from one segment to the next, so that
 *  - results come out block by block, long before the pass ends;
 *  - a run can stop between two segments (Cancel) without killing anything;
 *  - a request about block L runs blocks 0…L only, and a run whose inputs differ from the last one
 *    only from block L on (an intervention at L) starts there, from the states kept of the last run.
 * Every node lands in exactly one segment, so the weights are read once, as by one whole session.
 */

/** One segment: its blocks [from, to), its nodes and what crosses its borders. */
export interface SegmentPlan {
  from: number;
  to: number;
  nodes: NodeProto[];
  /** Tensors it reads that an earlier segment or the caller's feeds provide. */
  inputs: string[];
  /** Tensors it makes that later segments read, or that the graph outputs. */
  outputs: string[];
  initializers: TensorProto[];
}

/** Everything a node reads, subgraphs' reads of the enclosing scope included. */
function readsOf(n: NodeProto): string[] {
  const r = n.input.filter(Boolean);
  for (const a of n.attribute) for (const sg of a.g ? [a.g] : a.graphs) r.push(...outerReads(sg));
  return r;
}


/**
 * Assigns each node the first segment whose blocks need it (walking back from each segment's
 * targets: its blocks' outputs and exposed tensors); what only the graph's other outputs need
 * (final norm, LM head, caches) goes to the earliest segment its inputs allow. Dead nodes are dropped.
 */
export function planSegments(g: GraphProto, targets: string[][], blocksPerSegment: number): SegmentPlan[] {
  const blocks = targets.length;
  const size = Math.max(1, Math.min(blocksPerSegment, blocks));
  const producer = new Map<string, number>();
  g.node.forEach((n, i) => n.output.forEach((o) => { if (o) producer.set(o, i); }));
  const reads = g.node.map(readsOf);
  const live = new Uint8Array(g.node.length);
  const walk = (start: string[], mark: (i: number) => boolean) => {
    const stack = [...start];
    while (stack.length) {
      const i = producer.get(stack.pop()!);
      if (i === undefined || !mark(i)) continue;
      stack.push(...reads[i]);
    }
  };
  walk(g.output.map((o) => o.name), (i) => (live[i] ? false : (live[i] = 1, true)));
  const seg = new Int32Array(g.node.length).fill(-1);
  const ranges: [number, number][] = [];
  for (let from = 0; from < blocks; from += size) ranges.push([from, Math.min(blocks, from + size)]);
  ranges.forEach(([from, to], k) => walk(targets.slice(from, to).flat(), (i) => (seg[i] >= 0 ? false : (seg[i] = k, true))));
  // Leftovers go after their producers; surgery appends nodes, so the list is not in topological order.
  const place = (root: number) => {
    const stack: [number, boolean][] = [[root, false]];
    while (stack.length) {
      const [i, expanded] = stack.pop()!;
      if (seg[i] >= 0) continue;
      if (!expanded) {
        stack.push([i, true]);
        for (const t of reads[i]) { const j = producer.get(t); if (j !== undefined && seg[j] < 0) stack.push([j, false]); }
        continue;
      }
      seg[i] = reads[i].reduce((k, t) => Math.max(k, seg[producer.get(t) ?? -1] ?? 0), 0);
    }
  };
  g.node.forEach((_, i) => { if (seg[i] < 0 && live[i]) place(i); });
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const graphOutputs = new Set(g.output.map((o) => o.name));
  const readBy = new Map<string, number>();
  g.node.forEach((_, i) => { if (seg[i] >= 0) for (const t of reads[i]) readBy.set(t, Math.max(readBy.get(t) ?? -1, seg[i])); });
  return ranges.map(([from, to], k) => {
    const nodes = g.node.filter((_, i) => seg[i] === k);
    const made = new Set(nodes.flatMap((n) => n.output.filter(Boolean)));
    const read = new Set(g.node.flatMap((_, i) => (seg[i] === k ? reads[i] : [])));
    const inputs = [...read].filter((t) => !made.has(t) && !inits.has(t));
    const outputs = [...made].filter((t) => graphOutputs.has(t) || (readBy.get(t) ?? -1) > k);
    const initializers = [...read].filter((t) => !made.has(t) && inits.has(t)).map((t) => inits.get(t)!);
    return { from, to, nodes, inputs, outputs, initializers };
  });
}

/**
 * The first tensor a segment reads that nothing provides — no node makes it and it is no graph
 * input or initializer — with the node that reads it: the graph is broken (a node or input lost),
 * and ONNX Runtime would refuse it as one graph too.
 */
export function unprovidedRead(g: GraphProto, plans: SegmentPlan[]): { tensor: string; node: string } | undefined {
  const inputs = new Set(g.input.map((i) => i.name));
  const made = new Set(plans.flatMap((p) => p.nodes.flatMap((n) => n.output.filter(Boolean))));
  for (const p of plans) {
    for (const t of p.inputs) {
      if (inputs.has(t) || made.has(t)) continue;
      const n = p.nodes.find((x) => readsOf(x).includes(t));
      return { tensor: t, node: n?.name || `#${n ? g.node.indexOf(n) : '?'} (${n?.opType ?? '?'})` };
    }
  }
  return undefined;
}
