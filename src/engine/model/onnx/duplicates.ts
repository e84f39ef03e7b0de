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

interface Definition { kind: 'initializer' | 'node'; index: number; bytes: number }

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
  const label = (x: Definition) => (x.kind === 'initializer' ? 'an initializer' : printable(g.node[x.index].name || `#${x.index} (Constant)`));
  const tensorOf = (x: Definition) => (x.kind === 'initializer' ? g.initializer[x.index] : constantTensor(g.node[x.index]));
  // Named for the note before the superseded definitions leave the graph.
  const [name, first] = duplicated[0];
  const by = first.map(label);
  const dropInit = new Set<number>();
  const dropNode = new Set<number>();
  for (const [tensor, d] of duplicated) {
    const equal = d.every((x) => sameData(tensorOf(d[0]), tensorOf(x)));
    if (!equal && d.some((x) => x.bytes >= LARGE_BYTES)) {
      throw new EngineError('invalid-model', `${fileName} defines the tensor "${printable(tensor)}" ${d.length} times in ${where}, with different values ` +
        `(${d.map(label).join(', ')}). ONNX Runtime warns and picks one by rules that differ with tensor size and version, ` +
        'so which weights the model computes with is not defined. Re-export the model.');
    }
    const kept = d[d.length - 1];
    for (const x of d) if (x !== kept) (x.kind === 'initializer' ? dropInit : dropNode).add(x.index);
  }
  g.initializer = g.initializer.filter((_, i) => !dropInit.has(i));
  g.node = g.node.filter((_, i) => !dropNode.has(i));
  const count = duplicated.length;
  return `${fileName} defines ${count === 1 ? 'a tensor' : `${count.toLocaleString('en-US')} tensors`} more than once in ${where} ` +
    `(e.g. "${printable(name)}" by ${by.join(' and ')}); the model runs as ONNX Runtime runs it, with the definition ONNX Runtime uses. ` +
    'Re-export the model to remove the duplicates.';
}

/** Same type, shape and values (bytes compared in place: weights can be large); external data by its file range. */
function sameData(a: TensorProto | undefined, b: TensorProto | undefined): boolean {
  if (!a || !b) return false;
  if (a === b) return true;
  if (a.dataType !== b.dataType || a.dims.join('x') !== b.dims.join('x')) return false;
  const ext = (t: TensorProto) => t.externalData.map((e) => `${e.key}=${e.value}`).join(';');
  if (a.externalData.length || b.externalData.length) return ext(a) === ext(b);
  if (a.rawData.length || b.rawData.length) return Buffer.compare(a.rawData, b.rawData) === 0;
  const typed = (t: TensorProto) => JSON.stringify([t.floatData, t.int32Data, t.int64Data.map(String), t.doubleData, t.uint64Data.map(String), t.stringData.map((x) => Buffer.from(x).toString('base64'))]);
  return typed(a) === typed(b);
}
