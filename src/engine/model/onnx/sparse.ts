import { create } from '@bufbuild/protobuf';
import { TensorProtoSchema, TensorProto_DataLocation, type GraphProto, type SparseTensorProto, type TensorProto } from 'onnx-buf';
import { EngineError } from '../../base/errors';
import { printable } from '../../base/text';
import { DT, dtypeName } from './dtype';

/**
 * ONNX Runtime turns every sparse initializer (`graph.sparse_initializer`: the non-zero values and
 * their positions) into a dense one when it loads a model. The engine does the same right after
 * reading the file, so locating, surgery, the whole graph and each segment's session (which kept
 * only dense initializers, and failed on the first block that read a sparse one) see one kind of
 * weight, with exactly the values ONNX Runtime would use.
 */

/** Bytes per element of the types a sparse initializer can hold here (4- and 2-bit types pack two or four to a byte). */
const BYTES: Partial<Record<number, number>> = {
  [DT.FLOAT]: 4, [DT.UINT8]: 1, [DT.INT8]: 1, [DT.UINT16]: 2, [DT.INT16]: 2, [DT.INT32]: 4, [DT.INT64]: 8, [DT.BOOL]: 1,
  [DT.FLOAT16]: 2, [DT.DOUBLE]: 8, [DT.UINT32]: 4, [DT.UINT64]: 8, [DT.BFLOAT16]: 2, 17: 1, 18: 1, 19: 1, 20: 1,
};

/** Dense bytes all sparse initializers of one model may expand to: the patched graph is one protobuf (2 GB at most). */
const MAX_DENSE_BYTES = 2 ** 30;

/** The bytes of a tensor stored in an external file, read by the caller (which checks the file). */
export type ReadExternal = (t: TensorProto) => Uint8Array;

/** Every graph's sparse initializers, subgraphs included. */
export function sparseInitializers(g: GraphProto): SparseTensorProto[] {
  const out = [...g.sparseInitializer];
  for (const n of g.node) for (const a of n.attribute) for (const sg of a.g ? [a.g] : a.graphs) out.push(...sparseInitializers(sg));
  return out;
}

/** Replaces each graph's sparse initializers by dense ones (a dense initializer of the same name gives way, as in ONNX Runtime). */
export function densifySparseInitializers(g: GraphProto, fileName: string, readExternal: ReadExternal): void {
  let budget = MAX_DENSE_BYTES;
  const stack = [g];
  while (stack.length) {
    const graph = stack.pop()!;
    for (const n of graph.node) for (const a of n.attribute) stack.push(...(a.g ? [a.g] : a.graphs));
    if (!graph.sparseInitializer.length) continue;
    const dense = graph.sparseInitializer.map((s) => {
      const t = densify(s, fileName, readExternal, budget);
      budget -= t.rawData.length;
      return t;
    });
    const names = new Set(dense.map((t) => t.name));
    graph.initializer = [...graph.initializer.filter((t) => !names.has(t.name)), ...dense];
    graph.sparseInitializer = [];
  }
}

function densify(s: SparseTensorProto, fileName: string, readExternal: ReadExternal, budget: number): TensorProto {
  const v = s.values;
  const name = v?.name ?? '';
  const corrupt = (what: string) => new EngineError('invalid-model', `${fileName} is corrupt: ${what}. Re-export or re-download the model.`);
  const bad = (what: string) => corrupt(`the sparse initializer "${printable(name)}" ${what}`);
  if (!v) throw corrupt('a sparse initializer has no values');
  if (!name) throw corrupt('a sparse initializer has no name (its values tensor names none)');
  const size = BYTES[v.dataType];
  if (size === undefined) {
    throw new EngineError('unsupported-input', `${fileName} holds the sparse initializer "${printable(name)}" of type ${dtypeName(v.dataType)}; `
      + 'the engine expands sparse initializers of numeric types only. Re-export the model with this tensor dense.');
  }
  const dims = s.dims.map(Number);
  if (s.dims.some((d) => d < 0n)) throw bad(`has a negative dimension (${s.dims.join('×')})`);
  const count = dims.reduce((a, b) => a * b, 1);
  const shape = dims.join('×') || 'a scalar';
  if (count * size > budget) {
    throw new EngineError('unsupported-input', `${fileName}'s sparse initializers expand to more than ${MAX_DENSE_BYTES / 2 ** 30} GB of dense weights `
      + `("${printable(name)}" is ${shape}), more than the engine expands in memory. Re-export the model with dense weights in an external file.`);
  }
  const values = bytesOf(v, size, readExternal, bad);
  const nnz = values.length / size;
  const valuesShaped = v.dims.length === 0 || (v.dims.length === 1 && Number(v.dims[0]) === nnz);
  if (!Number.isInteger(nnz) || !valuesShaped) throw bad(`has values of shape ${v.dims.join('×')} but holds ${values.length} bytes`);
  const ix = s.indices;
  if (!ix && nnz) throw bad('has values but no indices');
  const index = ix ? indicesOf(ix, readExternal, bad) : [];
  const rank = dims.length;
  const tuples = ix?.dims.length === 2;
  const indicesShaped = !ix || (tuples ? Number(ix.dims[0]) === nnz && Number(ix.dims[1]) === rank : ix.dims.length <= 1);
  if (!indicesShaped) throw bad(`has indices of shape ${ix!.dims.join('×')} for ${nnz} values of rank ${rank}`);
  if (index.length !== (tuples ? nnz * rank : nnz)) throw bad(`has ${nnz} values but ${tuples ? index.length / Math.max(rank, 1) : index.length} indices`);
  const out = new Uint8Array(count * size);
  const strides = dims.map((_, k) => dims.slice(k + 1).reduce((a, b) => a * b, 1));
  for (let k = 0; k < nnz; k++) {
    let at = 0;
    if (tuples) {
      for (let r = 0; r < rank; r++) {
        const i = index[k * rank + r];
        if (!(i >= 0 && i < dims[r])) throw bad(`has an index (${i}) outside its shape ${shape}`);
        at += i * strides[r];
      }
    } else {
      at = index[k];
      if (!(at >= 0 && at < count)) throw bad(`has an index (${at}) outside its shape ${shape}`);
    }
    out.set(values.subarray(k * size, (k + 1) * size), at * size);
  }
  return create(TensorProtoSchema, { name, dataType: v.dataType, dims: s.dims, rawData: out });
}

/** A tensor's elements as little-endian bytes, from raw_data, an external file or its typed field. */
function bytesOf(t: TensorProto, size: number, readExternal: ReadExternal, bad: (what: string) => EngineError): Uint8Array {
  if (t.dataLocation === TensorProto_DataLocation.EXTERNAL) return readExternal(t);
  if (t.rawData.length) return t.rawData;
  switch (t.dataType) {
    case DT.FLOAT: return new Uint8Array(Float32Array.from(t.floatData).buffer);
    case DT.DOUBLE: return new Uint8Array(Float64Array.from(t.doubleData).buffer);
    case DT.INT64: return new Uint8Array(BigInt64Array.from(t.int64Data).buffer);
    case DT.UINT64: return new Uint8Array(BigUint64Array.from(t.uint64Data).buffer);
    case DT.UINT32: return new Uint8Array(Uint32Array.from(t.uint64Data, Number).buffer);
    case DT.INT32: return new Uint8Array(Int32Array.from(t.int32Data).buffer);
    default:
      // 8- and 16-bit types (float16 and bfloat16 as their bits) are stored one per int32_data entry.
      if (size === 2) return new Uint8Array(Uint16Array.from(t.int32Data).buffer);
      if (size === 1) return Uint8Array.from(t.int32Data);
      throw bad('holds no readable values');
  }
}

/** The indices as numbers (int64 per the standard; int32, int16 and int8, which ONNX Runtime also reads). */
function indicesOf(t: TensorProto, readExternal: ReadExternal, bad: (what: string) => EngineError): number[] {
  const size = { [DT.INT64]: 8, [DT.INT32]: 4, [DT.INT16]: 2, [DT.INT8]: 1 }[t.dataType];
  if (!size) throw bad(`has indices of type ${dtypeName(t.dataType)}; indices are int64`);
  if (t.dataLocation !== TensorProto_DataLocation.EXTERNAL && !t.rawData.length) return t.dataType === DT.INT64 ? t.int64Data.map(Number) : [...t.int32Data];
  const raw = t.dataLocation === TensorProto_DataLocation.EXTERNAL ? readExternal(t) : t.rawData;
  if (raw.length % size) throw bad(`has ${raw.length} bytes of indices, not a whole number of ${dtypeName(t.dataType)} values`);
  const copy = new Uint8Array(raw);
  const view = new DataView(copy.buffer);
  const at = (k: number) => (size === 8 ? Number(view.getBigInt64(k * 8, true))
    : size === 4 ? view.getInt32(k * 4, true) : size === 2 ? view.getInt16(k * 2, true) : view.getInt8(k));
  return Array.from({ length: raw.length / size }, (_, k) => at(k));
}
