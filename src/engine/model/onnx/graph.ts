import type { AttributeProto, GraphProto, NodeProto, TensorProto, ValueInfoProto } from 'onnx-buf';

/** Read-only index over one graph: who produces and who consumes each tensor, in topological order. */
export class GraphIndex {
  readonly producer = new Map<string, { node: NodeProto; index: number; slot: number }>();
  readonly consumers = new Map<string, { node: NodeProto; index: number; slot: number }[]>();
  readonly initializers = new Map<string, TensorProto>();
  readonly valueInfo = new Map<string, ValueInfoProto>();
  readonly inputs: Set<string>;
  readonly outputs: Set<string>;

  constructor(readonly graph: GraphProto) {
    graph.node.forEach((node, index) => {
      node.output.forEach((o, slot) => { if (o) this.producer.set(o, { node, index, slot }); });
      node.input.forEach((i, slot) => {
        if (!i) return;
        let list = this.consumers.get(i);
        if (!list) this.consumers.set(i, (list = []));
        list.push({ node, index, slot });
      });
      // Subgraphs read outer tensors implicitly; count those as consumers too.
      for (const a of node.attribute) for (const sg of a.g ? [a.g] : a.graphs) for (const name of outerReads(sg)) {
        let list = this.consumers.get(name);
        if (!list) this.consumers.set(name, (list = []));
        list.push({ node, index, slot: -1 });
      }
    });
    for (const t of graph.initializer) this.initializers.set(t.name, t);
    for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) this.valueInfo.set(v.name, v);
    this.inputs = new Set(graph.input.map((i) => i.name).filter((n) => !this.initializers.has(n)));
    this.outputs = new Set(graph.output.map((o) => o.name));
  }

  nodeIndexOf(tensor: string): number {
    return this.producer.get(tensor)?.index ?? -1;
  }

  consumersOf(tensor: string) {
    return this.consumers.get(tensor) ?? [];
  }

  isConstant(tensor: string): boolean {
    // Loops, not recursion: a long Identity chain must not exhaust the stack.
    let t = tensor;
    for (let steps = 0; steps < this.graph.node.length + 1; steps++) {
      if (this.initializers.has(t)) return true;
      const p = this.producer.get(t);
      if (!p) return false;
      if (p.node.opType === 'Constant') return true;
      if (p.node.opType !== 'Identity') return false;
      t = p.node.input[0];
    }
    return false;
  }

  initializer(tensor: string): TensorProto | undefined {
    let t = tensor;
    for (let steps = 0; steps < this.graph.node.length + 1; steps++) {
      const init = this.initializers.get(t);
      if (init) return init;
      const p = this.producer.get(t);
      if (p?.node.opType === 'Constant') return p.node.attribute.find((a) => a.name === 'value')?.t;
      // Identity, and Dequantize/Cast of a weight, still have the weight's shape.
      if (!p || !['Identity', 'DequantizeLinear', 'Cast'].includes(p.node.opType)) return undefined;
      t = p.node.input[0];
    }
    return undefined;
  }

  /** Static shape from value_info, with symbolic dims as strings. */
  shapeOf(tensor: string): (number | string)[] | undefined {
    const t = this.initializer(tensor);
    if (t) return t.dims.map(Number);
    const v = this.valueInfo.get(tensor);
    if (v?.type?.value.case !== 'tensorType') return undefined;
    const s = v.type.value.value.shape;
    if (!s) return undefined;
    return s.dim.map((d) => (d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : '?'));
  }

  elemTypeOf(tensor: string): number | undefined {
    const t = this.initializer(tensor);
    if (t) return t.dataType;
    const v = this.valueInfo.get(tensor);
    return v?.type?.value.case === 'tensorType' ? v.type.value.value.elemType : undefined;
  }
}

export function attr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

export function attrInt(node: NodeProto, name: string, dflt?: number): number | undefined {
  const a = attr(node, name);
  return a ? Number(a.i) : dflt;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = attr(node, name);
  return a ? a.ints.map(Number) : undefined;
}

/** Names a subgraph reads from its enclosing scope. */
export function outerReads(g: GraphProto): Set<string> {
  const defined = new Set<string>([...g.input.map((i) => i.name), ...g.initializer.map((t) => t.name)]);
  const reads = new Set<string>();
  for (const n of g.node) {
    for (const i of n.input) if (i && !defined.has(i)) reads.add(i);
    for (const a of n.attribute) for (const sg of a.g ? [a.g] : a.graphs) for (const r of outerReads(sg)) if (!defined.has(r)) reads.add(r);
    for (const o of n.output) defined.add(o);
  }
  return reads;
}

/** What a node reads: its inputs, and the outer tensors its subgraphs (If, Loop, Scan bodies) read by name. */
export function nodeReads(n: NodeProto): string[] {
  const reads = n.input.filter(Boolean);
  for (const a of n.attribute) for (const sg of a.g ? [a.g] : a.graphs) reads.push(...outerReads(sg));
  return reads;
}

export function metadata(node: NodeProto, key: string): string | undefined {
  return node.metadataProps.find((p) => p.key === key)?.value;
}

/** Values of a small int64 tensor. rawData may be a view into a larger Buffer: copy before reinterpreting. */
export function int64Values(t: TensorProto): number[] {
  if (t.int64Data.length) return t.int64Data.map(Number);
  const bytes = new Uint8Array(t.rawData.length);
  bytes.set(t.rawData);
  return Array.from(new BigInt64Array(bytes.buffer), Number);
}
