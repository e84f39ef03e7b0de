import * as path from 'node:path';
import { EngineError } from './errors';
import { readChecked, textOf } from './files';
import type { ClassifiedInput, FeedTensor } from './feeds';
import { DT, floatToHalf, halvesToFloats } from './onnx/dtype';
import { printable } from './text';

/**
 * A tensor the user supplies for a model input: a .npy file (little-endian, C order) or JSON —
 * `{"dims": [1, 5, 8], "data": [...]}` or a nested array. Converted to the input's own type and
 * checked against its declared shape.
 */

const MAX_FEED_BYTES = 1024 * 2 ** 20;

export function readFeedFile(file: string, input: ClassifiedInput): FeedTensor {
  const what = `tensor for the input "${printable(input.name)}"`;
  const bytes = readChecked(file, what, MAX_FEED_BYTES);
  const { dims, values } = /\.npy$/i.test(file) ? parseNpy(bytes, file) : parseJson(textOf(bytes, what), file);
  const declared = input.shape;
  if (declared.length && declared.length !== dims.length) {
    throw new EngineError('bad-argument', `${printable(path.basename(file))} is ${dims.join('×')} but the input "${printable(input.name)}" takes rank ${declared.length} (${declared.join('×')}).`);
  }
  declared.forEach((d, k) => {
    if (typeof d === 'number' && d > 0 && dims[k] !== d) throw new EngineError('bad-argument', `${printable(path.basename(file))} has ${dims[k]} along axis ${k}, but the input "${printable(input.name)}" is declared ${declared.join('×')}.`);
  });
  const n = dims.reduce((a, b) => a * b, 1);
  if (values.length !== n) throw new EngineError('bad-argument', `${printable(path.basename(file))} holds ${values.length} values for dims ${dims.join('×')} (${n}).`);
  return tensorOf(input.elemType, values, dims, input.name);
}

function tensorOf(elemType: number, v: ArrayLike<number | bigint>, dims: number[], name: string): FeedTensor {
  const num = (x: number | bigint) => Number(x);
  switch (elemType) {
    case DT.FLOAT: return { type: 'float32', data: Float32Array.from(v as ArrayLike<number>, num), dims };
    case DT.FLOAT16: return { type: 'float16', data: Uint16Array.from(v as ArrayLike<number>, (x) => floatToHalf(num(x))), dims };
    case DT.INT64: return { type: 'int64', data: BigInt64Array.from(v as ArrayLike<number>, (x) => BigInt(Math.trunc(num(x)))), dims };
    case DT.INT32: return { type: 'int32', data: Int32Array.from(v as ArrayLike<number>, num), dims };
    case DT.BOOL: return { type: 'bool', data: Uint8Array.from(v as ArrayLike<number>, (x) => (num(x) ? 1 : 0)), dims };
    case DT.UINT8: return { type: 'uint8', data: Uint8Array.from(v as ArrayLike<number>, num), dims };
    default: throw new EngineError('unsupported-input', `The input "${printable(name)}" has a data type that cannot be fed from a file here.`);
  }
}

function parseJson(text: string, file: string): { dims: number[]; values: number[] } {
  let j: unknown;
  try { j = JSON.parse(text); } catch { throw new EngineError('bad-file', `${printable(path.basename(file))} is not valid JSON; give {"dims": [...], "data": [...]} or a nested array.`); }
  if (j && typeof j === 'object' && !Array.isArray(j)) {
    const o = j as { dims?: unknown; data?: unknown };
    if (!Array.isArray(o.dims) || !o.dims.every((d) => Number.isInteger(d) && d >= 0) || !Array.isArray(o.data)) throw new EngineError('bad-file', `${printable(path.basename(file))} needs "dims" (whole numbers) and "data" (numbers).`);
    return { dims: o.dims as number[], values: numbers(o.data.flat(Infinity), file) };
  }
  if (!Array.isArray(j)) throw new EngineError('bad-file', `${printable(path.basename(file))} holds neither a nested array nor {"dims", "data"}.`);
  const dims: number[] = [];
  for (let a: unknown = j; Array.isArray(a); a = a[0]) dims.push(a.length);
  return { dims, values: numbers(j.flat(Infinity), file) };
}

function numbers(xs: unknown[], file: string): number[] {
  if (!xs.every((x) => typeof x === 'number' && Number.isFinite(x))) throw new EngineError('bad-file', `${printable(path.basename(file))} holds values that are not finite numbers.`);
  return xs as number[];
}

/** NumPy's .npy format, versions 1–3: magic, header length, a Python-dict header, the raw array. */
function parseNpy(b: Buffer, file: string): { dims: number[]; values: ArrayLike<number | bigint> } {
  const name = printable(path.basename(file));
  if (b.length < 10 || b.readUInt32BE(0) !== 0x934e554d || b[4] !== 0x50 || b[5] !== 0x59) throw new EngineError('bad-file', `${name} is not a .npy file (no \\x93NUMPY magic).`);
  const major = b[6];
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = b.subarray(major === 1 ? 10 : 12, start).toString('latin1');
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shape === undefined) throw new EngineError('bad-file', `${name} has an unreadable .npy header.`);
  if (/'fortran_order'\s*:\s*True/.test(header)) throw new EngineError('bad-file', `${name} is stored in Fortran order; save it with numpy.ascontiguousarray first.`);
  const dims = shape.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const body = b.subarray(start);
  const view = (Ctor: { new (buf: ArrayBuffer, off: number, len: number): ArrayLike<number | bigint>; BYTES_PER_ELEMENT: number }) => {
    const copy = new Uint8Array(body).buffer;
    return new Ctor(copy, 0, Math.floor(copy.byteLength / Ctor.BYTES_PER_ELEMENT));
  };
  switch (descr) {
    case '<f4': return { dims, values: view(Float32Array) };
    case '<f8': return { dims, values: view(Float64Array) };
    case '<f2': return { dims, values: halvesToFloats(view(Uint16Array) as Uint16Array) };
    case '<i8': return { dims, values: view(BigInt64Array) };
    case '<i4': return { dims, values: view(Int32Array) };
    case '|b1': case '|u1': return { dims, values: view(Uint8Array) };
    case '|i1': return { dims, values: view(Int8Array) };
    default: throw new EngineError('bad-file', `${name} holds dtype ${printable(descr)}; give float32, float64, float16, int64, int32, int8, uint8 or bool (little-endian).`);
  }
}
