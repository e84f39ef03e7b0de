import { clone, create } from '@bufbuild/protobuf';
import { AttributeProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema, type AttributeProto, type FunctionProto, type GraphProto, type ModelProto, type NodeProto } from 'onnx-buf';
import { EngineError } from '../../base/errors';
import { printable } from '../../base/text';

/**
 * Expands calls to the model's local functions (torch.export-based exporters, onnxscript and
 * `export_modules_as_functions` keep whole modules — attention among them — as FunctionProtos), so
 * the locator, the surgery and interventions see every node. Calls inside function bodies and in
 * subgraphs are expanded too; attribute references take the caller's value (or the function's
 * default). Every tensor internal to a call gets a name unique to that call. Only the in-memory
 * model changes; ONNX Runtime runs the expanded graph, which computes the same thing.
 */

const MAX_DEPTH = 32;

const keyOf = (domain: string, name: string, overload = '') => `${domain}\u0000${name}\u0000${overload}`;

export function inlineFunctions(m: ModelProto): { calls: number; functions: string[] } {
  if (!m.functions.length) return { calls: 0, functions: [] };
  const byKey = new Map(m.functions.map((f) => [keyOf(f.domain, f.name, f.overload), f]));
  const used = new Set<string>();
  let calls = 0;
  let counter = 0;

  const expandNodes = (nodes: NodeProto[], depth: number): NodeProto[] => {
    const out: NodeProto[] = [];
    for (const n of nodes) {
      const f = byKey.get(keyOf(n.domain, n.opType, n.overload));
      if (!f) {
        for (const a of n.attribute) for (const sg of a.g ? [a.g] : a.graphs) expandGraph(sg, depth);
        out.push(n);
        continue;
      }
      if (depth >= MAX_DEPTH) throw new EngineError('invalid-model', `The model's local function ${printable(f.name)} calls itself (or nests more than ${MAX_DEPTH} deep); it cannot be expanded.`);
      calls++;
      used.add(`${f.domain}.${f.name}`);
      out.push(...expandNodes(expandCall(n, f, `${n.name || n.opType}#${counter++}/`), depth + 1));
    }
    return out;
  };
  const expandGraph = (g: GraphProto, depth: number) => { g.node = expandNodes(g.node, depth); };

  expandGraph(m.graph!, 0);
  // Function bodies may use operator sets the model itself does not import.
  for (const f of m.functions) for (const o of f.opsetImport) {
    if (!m.opsetImport.some((x) => x.domain === o.domain)) m.opsetImport.push(create(OperatorSetIdProtoSchema, { domain: o.domain, version: o.version }));
  }
  return { calls, functions: [...used] };
}

/** The body of `f` for one call: formal names bound to the caller's, internal names made unique. */
function expandCall(call: NodeProto, f: FunctionProto, prefix: string): NodeProto[] {
  const rename = new Map<string, string>();
  f.input.forEach((formal, i) => rename.set(formal, call.input[i] ?? ''));
  f.output.forEach((formal, i) => rename.set(formal, call.output[i] ?? ''));
  for (const n of f.node) for (const o of n.output) if (o && !rename.has(o)) rename.set(o, `${prefix}${o}`);
  const callAttrs = new Map(call.attribute.map((a) => [a.name, a]));
  const defaults = new Map(f.attributeProto.map((a) => [a.name, a]));
  const name = (t: string) => (t ? rename.get(t) ?? t : t);
  return f.node.map((n) => create(NodeProtoSchema, {
    ...n,
    name: `${prefix}${n.name || n.opType}`,
    input: n.input.map(name),
    output: n.output.map(name),
    attribute: n.attribute.flatMap((a) => resolveAttribute(a, callAttrs, defaults, rename)),
  }));
}

/** An attribute of a body node: its own value, or the value its reference names on the call. */
function resolveAttribute(
  a: AttributeProto, callAttrs: Map<string, AttributeProto>, defaults: Map<string, AttributeProto>, rename: Map<string, string>,
): AttributeProto[] {
  if (a.refAttrName) {
    const v = callAttrs.get(a.refAttrName) ?? defaults.get(a.refAttrName);
    return v ? [create(AttributeProtoSchema, { ...v, name: a.name, refAttrName: '' })] : [];
  }
  if (a.g || a.graphs.length) {
    // Subgraphs of body nodes read the function's tensors by name: rename those reads.
    const copy = clone(AttributeProtoSchema, a);
    for (const sg of copy.g ? [copy.g] : copy.graphs) renameReads(sg, rename);
    return [copy];
  }
  return [a];
}

function renameReads(g: GraphProto, rename: Map<string, string>): void {
  const local = new Set([...g.input.map((i) => i.name), ...g.initializer.map((t) => t.name), ...g.node.flatMap((n) => n.output)]);
  for (const n of g.node) {
    n.input = n.input.map((i) => (i && !local.has(i) ? rename.get(i) ?? i : i));
    for (const a of n.attribute) for (const sg of a.g ? [a.g] : a.graphs) renameReads(sg, rename);
  }
  for (const o of g.output) if (!local.has(o.name)) o.name = rename.get(o.name) ?? o.name;
}
