import { TensorProto_DataType as DT } from 'onnx-buf';

export { DT };

/** ONNX element type → the type string onnxruntime-node uses for tensors. */
export function ortType(dt: number): 'float32' | 'float16' | 'int64' | 'int32' | 'bool' | 'int8' | 'uint8' | 'float64' | undefined {
  switch (dt) {
    case DT.FLOAT: return 'float32';
    case DT.FLOAT16: return 'float16';
    case DT.INT64: return 'int64';
    case DT.INT32: return 'int32';
    case DT.BOOL: return 'bool';
    case DT.INT8: return 'int8';
    case DT.UINT8: return 'uint8';
    case DT.DOUBLE: return 'float64';
    default: return undefined;
  }
}

/** The type string of an onnxruntime-node tensor → its ONNX element type (ortType's inverse, and the types it leaves out). */
export function onnxTypeOf(ort: string): number | undefined {
  return ORT_TO_ONNX[ort];
}
const ORT_TO_ONNX: Record<string, number> = {
  float32: DT.FLOAT, float16: DT.FLOAT16, float64: DT.DOUBLE, int64: DT.INT64, int32: DT.INT32, int16: DT.INT16, int8: DT.INT8,
  uint64: DT.UINT64, uint32: DT.UINT32, uint16: DT.UINT16, uint8: DT.UINT8, bool: DT.BOOL, string: DT.STRING,
};

export function dtypeName(dt: number): string {
  return ortType(dt) ?? (DT[dt]?.toLowerCase() ?? `type${dt}`);
}

export function bytesPerElement(dt: number): number {
  switch (dt) {
    case DT.DOUBLE: case DT.INT64: case DT.UINT64: return 8;
    case DT.FLOAT: case DT.INT32: case DT.UINT32: return 4;
    case DT.FLOAT16: case DT.BFLOAT16: case DT.INT16: case DT.UINT16: return 2;
    case DT.INT4: case DT.UINT4: return 0.5;
    default: return 1;
  }
}

/** IEEE half → number. Hidden states of fp16 models come back as Uint16Array. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

let halfTable: Float32Array | undefined;

/** Halves to floats through a 65,536-entry table: a scan converts every block's stream of an fp16 model. */
export function halvesToFloats(h: Uint16Array): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) halfTable[i] = halfToFloat(i);
  }
  const t = halfTable;
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) out[i] = t[h[i]];
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  let exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (((x >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    let half = mant >> shift;
    if ((mant >> (shift - 1)) & 1) half += 1;
    return sign | half;
  }
  let half = sign | (exp << 10) | (mant >> 13);
  if (mant & 0x1000) half += 1; // round to nearest
  exp = 0;
  return half;
}
