import type { GraphProto, NodeProto, TensorProto } from 'onnx-buf';
import { EngineError } from '../../base/errors';
import { printable } from '../../base/text';
import { bytesPerElement } from './dtype';

/**
 * ONNX Runtime turns Constant nodes into initializers when it loads a graph; where initializers or
 * Constant nodes define one name several times it warns ("Duplicate initializer … the model will use
 * the latest encountered initializer") and runs the model. Exporters do write such files (ONNX
 * Runtime's own transformers test models, whose duplicates are equal). Which definition it computes
 * with is not what the warning says for every tensor: measured on onnxruntime-node 1.30
 * (test/unit/duplicates.test.ts pins it against the runtime), a tensor under LARGE_BYTES takes the
 * last definition (initializers first, then Constant nodes in graph order), while for larger ones the
 * choice moves with the other definitions around them. So the engine
 *  - keeps one of equal definitions (whichever: they hold the same values);
 *  - keeps the last of differing small ones, as ONNX Runtime does;
 *  - refuses differing large ones (weights, not constants): which weights such a model computes with
 *    is not defined, and an analysis of it could not be trusted;
 * and says what it did. A name an ordinary node also produces is left for validation to refuse, as
 * ONNX Runtime refuses it ("Duplicate definition of name").
 */
export const LARGE_BYTES = 128;

export function keepRuntimeDefinitions(g: GraphProto, fileName: string): string[] {
  const notes: string[] = [];
  const stack: { g: GraphProto; where: string }[] = [{ g, where: 'the main graph' }];
  while (stack.length) {
    const { g: graph, where } = stack.pop()!;
    const note = dedupe(graph, where, fileName);
    if (note) notes.push(note);
    for (const n of graph.node) for (const a of n.attribute) {
      for (const sg of a.g ? [a.g] : a.graphs) stack.push({ g: sg, where: `the subgraph ${printable(a.name)} of node ${printable(n.name || n.opType)}` });
    }
  }
  return notes;
}

const isConstant = (n: NodeProto) => n.opType === 'Constant' && (!n.domain || n.domain === 'ai.onnx') && n.output.length === 1 && !!n.output[0];

/** The tensor a Constant node holds (value, or one of the value_* scalars and lists: all small). */
const constantTensor = (n: NodeProto): TensorProto | undefined => n.attribute.find((a) => a.name === 'value')?.t;

function dataBytes(t: TensorProto | undefined): number {
  if (!t) return 0;
  const elements = t.dims.reduce((a, d) => a * Number(d), 1);
  return elements * bytesPerElement(t.dataType);
}

type Definition = { kind: 'initializer'; index: number; bytes: number } | { kind: 'node'; index: number; bytes: number };

function dedupe(g: GraphProto, where: string, fileName: string): string | undefined {
  // Every definition of each name, in the order ONNX Runtime meets them.
  const defs = new Map<string, Definition[]>();
  const add = (name: string, d: Definition) => { if (name) defs.set(name, [...(defs.get(name) ?? []), d]); };
  g.initializer.forEach((t, index) => add(t.name, { kind: 'initializer', index, bytes: dataBytes(t) }));
  g.node.forEach((n, index) => { if (isConstant(n)) add(n.output[0], { kind: 'node', index, bytes: dataBytes(constantTensor(n)) }); });
  // A name an ordinary node also writes is not ONNX Runtime's case: validation refuses it, as ONNX Runtime does.
  const written = new Set(g.node.filter((n) => !isConstant(n)).flatMap((n) => n.output));
  const duplicated = [...defs].filter(([name, d]) => d.length > 1 && !written.has(name));
  if (!duplicated.length) return undefined;
  // Named for the note before the superseded definitions leave the graph.
  const [name, d] = duplicated[0];
  const by = d.map((x) => (x.kind === 'initializer' ? 'an initializer' : printable(g.node[x.index].name || `#${x.index} (Constant)`)));
  const dropInit = new Set<number>();
  const dropNode = new Set<number>();
  for (const [tensor, defs] of duplicated) {
    const values = defs.map((x) => valueKey(x.kind === 'initializer' ? g.initializer[x.index] : constantTensor(g.node[x.index])));
    const equal = values.every((v) => v !== undefined && v === values[0]);
    if (!equal && defs.some((x) => x.bytes >= LARGE_BYTES)) {
      throw new EngineError('invalid-model', `${fileName} defines the tensor "${printable(tensor)}" ${defs.length} times in ${where}, with different values ` +
        `(${defs.map((x) => (x.kind === 'initializer' ? 'an initializer' : printable(g.node[x.index].name || `#${x.index} (Constant)`))).join(', ')}). ` +
        'ONNX Runtime warns and picks one by rules that differ with tensor size and version, so which weights the model computes with is not defined. Re-export the model.');
    }
    const kept = defs[defs.length - 1];
    for (const x of defs) if (x !== kept) (x.kind === 'initializer' ? dropInit : dropNode).add(x.index);
  }
  g.initializer = g.initializer.filter((_, i) => !dropInit.has(i));
  g.node = g.node.filter((_, i) => !dropNode.has(i));
  const count = duplicated.length;
  return `${fileName} defines ${count === 1 ? 'a tensor' : `${count.toLocaleString('en-US')} tensors`} more than once in ${where} ` +
    `(e.g. "${printable(name)}" by ${by.join(' and ')}); the model runs as ONNX Runtime runs it, with the definition ONNX Runtime uses. ` +
    'Re-export the model to remove the duplicates.';
}

/**
 * A tensor's values as a string to compare (inline data only; an external one compares by its file
 * range, which is equal only when it is the same data).
 */
function valueKey(t: TensorProto | undefined): string | undefined {
  if (!t) return undefined;
  const parts = [String(t.dataType), t.dims.join('x')];
  if (t.externalData.length) parts.push(t.externalData.map((e) => `${e.key}=${e.value}`).join(';'));
  else if (t.rawData.length) parts.push(Buffer.from(t.rawData).toString('base64'));
  else parts.push(JSON.stringify([t.floatData, t.int32Data, t.int64Data.map(String), t.doubleData, t.uint64Data.map(String), t.stringData.map((b) => Buffer.from(b).toString('base64'))]));
  return parts.join('|');
}
