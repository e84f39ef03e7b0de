import { create } from '@bufbuild/protobuf';
import { GraphProtoSchema, TensorProto_DataLocation, type FunctionProto, type GraphProto, type TensorProto } from 'onnx-buf';
import { EngineError } from '../../base/errors';
import { printable } from '../../base/text';
import { DT } from './dtype';

/**
 * Structural checks run right after parsing, before any graph walk or ONNX Runtime sees the model:
 * a crafted or damaged file gets a sentence naming the tensor or node and the field at fault,
 * instead of a stack overflow in a walk or ONNX Runtime's C++ signature.
 */

/** Bytes per element ×2 (4-bit types take half a byte); undefined for types without a fixed size. */
const HALF_BYTES: Partial<Record<number, number>> = {
  [DT.FLOAT]: 8, [DT.UINT8]: 2, [DT.INT8]: 2, [DT.UINT16]: 4, [DT.INT16]: 4, [DT.INT32]: 8, [DT.INT64]: 16,
  [DT.BOOL]: 2, [DT.FLOAT16]: 4, [DT.DOUBLE]: 16, [DT.UINT32]: 8, [DT.UINT64]: 16, [DT.COMPLEX64]: 16,
  [DT.COMPLEX128]: 32, [DT.BFLOAT16]: 4, 17: 2, 18: 2, 19: 2, 20: 2, 21: 1, 22: 1, 23: 1, 24: 2,
};
/** Element types ONNX defines (1–24 in ONNX 1.18+; 25–26 are the 2-bit types of later releases). */
const KNOWN_TYPES = new Set([...Object.keys(HALF_BYTES).map(Number), DT.STRING, 25, 26]);
/** No tensor of a model that runs here has more elements than this (2⁴⁰: 4 TB of fp32). */
const MAX_ELEMENTS = 2 ** 40;

export function validateModel(g: GraphProto, fileName: string, functions: FunctionProto[] = []): void {
  for (const f of functions) checkAcyclic(create(GraphProtoSchema, { node: f.node }), `the local function ${printable(f.name)}`, fileName);
  // Iterative over the graph and every nested subgraph: a crafted nesting must not blow the stack.
  for (const v of [...g.input, ...g.output]) {
    const t = v.type?.value.case === 'tensorType' ? v.type.value.value.elemType : undefined;
    if (t !== undefined && t !== 0 && !KNOWN_TYPES.has(t)) throw new EngineError('invalid-model', `${fileName} is corrupt: its ${g.input.includes(v) ? 'input' : 'output'} "${printable(v.name)}" has data type ${t}, which ONNX does not define. Re-export the model.`);
  }
  const stack: { g: GraphProto; where: string }[] = [{ g, where: 'the main graph' }];
  while (stack.length) {
    const { g: graph, where } = stack.pop()!;
    checkAcyclic(graph, where, fileName);
    for (const t of graph.initializer) checkTensor(t, fileName);
    for (const sp of graph.sparseInitializer) for (const t of [sp.values, sp.indices]) if (t) checkTensor(t, fileName);
    for (const n of graph.node) for (const a of n.attribute) {
      if (a.t) checkTensor(a.t, fileName);
      for (const t of a.tensors) checkTensor(t, fileName);
      for (const sg of a.g ? [a.g] : a.graphs) stack.push({ g: sg, where: `the subgraph ${printable(a.name)} of node ${printable(n.name || n.opType)}` });
    }
  }
}

/** Each tensor made once, and no node reachable from its own outputs (Kahn's algorithm). */
function checkAcyclic(g: GraphProto, where: string, fileName: string): void {
  const producer = new Map<string, number>();
  g.node.forEach((n, i) => n.output.forEach((o) => {
    if (!o) return;
    if (producer.has(o)) throw new EngineError('invalid-model', `${fileName} is not a valid ONNX model: the tensor "${printable(o)}" in ${where} is produced by two nodes (${printable(nodeName(g, producer.get(o)!))} and ${printable(nodeName(g, i))}).`);
    producer.set(o, i);
  }));
  const pending = new Int32Array(g.node.length);
  const users: number[][] = g.node.map(() => []);
  g.node.forEach((n, i) => {
    for (const inp of new Set(n.input)) {
      const p = inp ? producer.get(inp) : undefined;
      if (p === undefined) continue;
      pending[i]++;
      users[p].push(i);
    }
  });
  const ready: number[] = [];
  pending.forEach((c, i) => { if (!c) ready.push(i); });
  let done = 0;
  while (ready.length) {
    const i = ready.pop()!;
    done++;
    for (const u of users[i]) if (--pending[u] === 0) ready.push(u);
  }
  if (done < g.node.length) {
    const stuck = pending.findIndex((c) => c > 0);
    throw new EngineError('invalid-model', `${fileName} is not a valid ONNX model: ${where} has a cycle through node ${printable(nodeName(g, stuck))} (a node depends on its own output). Re-export the model.`);
  }
}

const nodeName = (g: GraphProto, i: number) => g.node[i].name || `#${i} (${g.node[i].opType})`;

function checkTensor(t: TensorProto, fileName: string): void {
  const name = `"${printable(t.name)}"`;
  const bad = (what: string) => new EngineError('invalid-model', `${fileName} is corrupt: the tensor ${name} ${what}. Re-export or re-download the model.`);
  if (!KNOWN_TYPES.has(t.dataType)) throw bad(`has data type ${t.dataType}, which ONNX does not define`);
  let n = 1;
  for (const d of t.dims) {
    if (d < 0n) throw bad(`has a negative dimension (${t.dims.join('×')})`);
    n *= Number(d);
  }
  if (n > MAX_ELEMENTS) throw bad(`claims ${t.dims.join('×')} elements, more than any model can hold`);
  const half = HALF_BYTES[t.dataType];
  const expected = half === undefined ? undefined : Math.ceil((n * half) / 2);
  if (t.dataLocation === TensorProto_DataLocation.EXTERNAL) {
    const kv = new Map(t.externalData.map((e) => [e.key, e.value]));
    const location = kv.get('location');
    if (!location) throw bad('is stored externally but names no file (its "location" field is missing)');
    if (location.includes('\0')) throw bad('names its external file with a NUL character');
    for (const key of ['offset', 'length']) {
      const v = kv.get(key);
      if (v !== undefined && !/^\d+$/.test(v)) throw bad(`has an external-data ${key} of "${printable(v.slice(0, 40))}", which is not a non-negative whole number`);
    }
    const length = kv.get('length');
    if (expected !== undefined && length !== undefined && Number(length) !== expected) {
      throw bad(`has shape ${t.dims.join('×')} (${expected.toLocaleString('en-US')} bytes) but its external data is ${BigInt(length).toLocaleString('en-US')} bytes long`);
    }
    return;
  }
  if (t.rawData.length) {
    if (expected !== undefined && t.rawData.length !== expected) {
      throw bad(`has shape ${t.dims.join('×')} (${expected.toLocaleString('en-US')} bytes) but holds ${t.rawData.length.toLocaleString('en-US')} bytes`);
    }
    return;
  }
  const count = t.floatData.length || t.int32Data.length || t.int64Data.length || t.doubleData.length || t.uint64Data.length || t.stringData.length;
  if (n > 0 && count === 0 && !t.segment) throw bad(`has shape ${t.dims.join('×')} but holds no data`);
}
