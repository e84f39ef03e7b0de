import { create, toBinary } from '@bufbuild/protobuf';
import { GraphProtoSchema, ModelProtoSchema, OperatorSetIdProtoSchema, TensorProto_DataLocation, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from 'onnx-buf';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { DT, floatToHalf } from '../../src/engine/model/onnx/dtype';
import { externalDataEntries, makeNode, makeTensor, makeValueInfo, type AttrValue } from '../../src/engine/model/onnx/build';

/**
 * A small graph-writing DSL for test models. Names follow TorchScript's exporter:
 * node `/scope/Op[_k]`, output `/scope/Op[_k]_output_0`.
 */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  readonly inputs: ReturnType<typeof makeValueInfo>[] = [];
  readonly outputs: ReturnType<typeof makeValueInfo>[] = [];
  private readonly counters = new Map<string, number>();
  private scopes: string[] = [];
  private constCount = 0;

  /** Write matching [in, out] weight matrices as int8 + per-column DequantizeLinear (QDQ). */
  quantize?: RegExp;
  /** Write matching [in, out] weight matrices as 4-bit blocks for com.microsoft MatMulNBits (see `matmul`). */
  nbits?: RegExp;
  /**
   * Write hybrid token mixers as onnxruntime-genai does: short convolutions as CausalConvWithState,
   * the gated delta rule as LinearAttention (com.microsoft), instead of their decomposed forms.
   */
  fusedMixers?: boolean;

  /**
   * With `sink`, every initializer of 1 KB or more goes straight to the external data file as it is
   * made, so a model far larger than memory can be written one tensor at a time.
   */
  constructor(readonly floatType: number = DT.FLOAT, private readonly sink?: ExternalDataSink) {}

  private push(t: TensorProto): void {
    if (this.sink && t.rawData.length >= 1024) this.sink.externalize(t);
    this.inits.push(t);
  }

  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try { return fn(); } finally { this.scopes.pop(); }
  }

  private prefix(): string {
    return this.scopes.length ? `/${this.scopes.join('/')}` : '';
  }

  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: { outputs?: number; domain?: string } = {}): string[] {
    const base = `${this.prefix()}/${opType}`;
    const k = this.counters.get(base) ?? 0;
    this.counters.set(base, k + 1);
    const name = k ? `${base}_${k}` : base;
    const outs = Array.from({ length: opts.outputs ?? 1 }, (_, i) => `${name}_output_${i}`);
    this.nodes.push(makeNode(opType, inputs, outs, name, attrs, opts.domain ?? ''));
    return outs;
  }

  /** Single-output op. */
  o(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, domain?: string): string {
    return this.op(opType, inputs, attrs, { domain })[0];
  }

  /** A float initializer in the model's float type. */
  weight(name: string, dims: number[], data: ArrayLike<number>): string {
    if (this.quantize?.test(name) && dims.length === 2) return this.qdqWeight(name, dims, data);
    this.push(floatTensor(name, dims, data, this.floatType));
    return name;
  }

  /** x·W for an [in, out] weight: MatMul, or MatMulNBits when the name matches `nbits`. */
  matmul(x: string, name: string, dims: [number, number], data: ArrayLike<number>): string {
    if (!this.nbits?.test(name)) return this.o('MatMul', [x, this.weight(name, dims, data)]);
    const [K, N] = dims;
    const { packed, scales } = quantizeBlocks4(data, K, N);
    this.push(makeTensor(`${name}_Q4`, DT.UINT8, [N, K / Q4_BLOCK, Q4_BLOCK / 2], packed));
    this.push(floatTensor(`${name}_scales`, [N * (K / Q4_BLOCK)], scales, this.floatType));
    return this.o('MatMulNBits', [x, `${name}_Q4`, `${name}_scales`], { K, N, bits: 4, block_size: Q4_BLOCK, accuracy_level: 0 }, 'com.microsoft');
  }

  private qdqWeight(name: string, [rows, cols]: number[], data: ArrayLike<number>): string {
    const { q, scale } = quantizeColumns(data, rows, cols);
    this.push(makeTensor(`${name}_quantized`, DT.INT8, [rows, cols], new Uint8Array(q.buffer)));
    this.push(floatTensor(`${name}_scale`, [cols], scale, this.floatType));
    this.push(makeTensor(`${name}_zero_point`, DT.INT8, [cols], new Uint8Array(cols)));
    return this.o('DequantizeLinear', [`${name}_quantized`, `${name}_scale`, `${name}_zero_point`], { axis: 1 });
  }

  int64(values: number[], dims: number[] = [values.length], name?: string): string {
    const n = name ?? `${this.prefix()}/Constant_${this.constCount++}_output_0`;
    const raw = new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer);
    this.push(makeTensor(n, DT.INT64, dims, raw));
    return n;
  }

  scalar(v: number, name?: string): string {
    const n = name ?? `${this.prefix()}/Constant_${this.constCount++}_output_0`;
    this.push(floatTensor(n, [], [v], this.floatType));
    return n;
  }

  boolTensor(name: string, dims: number[], data: ArrayLike<number>): string {
    this.push(makeTensor(name, DT.BOOL, dims, Uint8Array.from(data)));
    return name;
  }

  input(name: string, elemType: number, shape: (number | string)[]): string {
    this.inputs.push(makeValueInfo(name, elemType, shape));
    return name;
  }

  output(name: string, elemType: number, shape?: (number | string)[]): void {
    this.outputs.push(makeValueInfo(name, elemType, shape));
  }

  graph(name: string): GraphProto {
    return create(GraphProtoSchema, { name, node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs });
  }
}

export function floatTensor(name: string, dims: number[], data: ArrayLike<number>, floatType: number): TensorProto {
  if (floatType === DT.FLOAT16) {
    const h = new Uint16Array(data.length);
    for (let i = 0; i < data.length; i++) h[i] = floatToHalf(data[i]);
    return makeTensor(name, DT.FLOAT16, dims, new Uint8Array(h.buffer));
  }
  return makeTensor(name, DT.FLOAT, dims, new Uint8Array(Float32Array.from(data).buffer));
}

export function makeModel(graph: GraphProto, opts: { opset?: number; msDomain?: boolean; producer?: string } = {}): ModelProto {
  const opsetImport = [create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(opts.opset ?? 17) })];
  if (opts.msDomain) opsetImport.push(create(OperatorSetIdProtoSchema, { domain: 'com.microsoft', version: 1n }));
  return create(ModelProtoSchema, { irVersion: 8n, opsetImport, producerName: opts.producer ?? 'pytorch', producerVersion: '2.1.0', graph });
}

/**
 * An external data file written as tensors arrive: each tensor's bytes are appended (4 KB aligned,
 * so ONNX Runtime can map them) and the tensor is rewritten to point at them.
 */
export class ExternalDataSink {
  private readonly fd: number;
  private offset = 0;

  constructor(private readonly file: string) {
    this.fd = openSync(file, 'w');
  }

  externalize(t: TensorProto): void {
    const pad = (4096 - (this.offset % 4096)) % 4096;
    if (pad) { writeSync(this.fd, new Uint8Array(pad)); this.offset += pad; }
    const data = t.rawData;
    for (let at = 0; at < data.length;) at += writeSync(this.fd, data, at, data.length - at);
    t.dataLocation = TensorProto_DataLocation.EXTERNAL;
    t.externalData = externalDataEntries(path.basename(this.file), this.offset, data.length);
    t.rawData = new Uint8Array(0);
    this.offset += data.length;
  }

  close(): number {
    closeSync(this.fd);
    return this.offset;
  }
}

/**
 * Writes the model; with `externalData`, every initializer over 1 KB goes to that file beside it, or
 * (a function) to the file it names for the tensor: one file per tensor (on-device exports), numbered shards.
 */
export function writeModel(model: ModelProto, file: string, externalData?: string | ((t: TensorProto) => string)): void {
  if (typeof externalData === 'string') {
    const sink = new ExternalDataSink(path.join(path.dirname(file), externalData));
    for (const t of model.graph!.initializer) if (t.rawData.length >= 1024) sink.externalize(t);
    sink.close();
  } else if (externalData) {
    const sinks = new Map<string, ExternalDataSink>();
    for (const t of model.graph!.initializer) {
      if (t.rawData.length < 1024) continue;
      const name = externalData(t);
      if (!sinks.has(name)) sinks.set(name, new ExternalDataSink(path.join(path.dirname(file), name)));
      sinks.get(name)!.externalize(t);
    }
    for (const sink of sinks.values()) sink.close();
  }
  writeFileSync(file, toBinary(ModelProtoSchema, model));
}

/** Symmetric int8 per output column: scale = max|w| / 127 (float32), q = round(w / scale). */
export function quantizeColumns(data: ArrayLike<number>, rows: number, cols: number): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(cols);
  for (let j = 0; j < cols; j++) {
    let m = 0;
    for (let i = 0; i < rows; i++) m = Math.max(m, Math.abs(data[i * cols + j]));
    scale[j] = m > 0 ? m / 127 : 1;
  }
  const q = new Int8Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) q[i * cols + j] = Math.max(-127, Math.min(127, Math.round(data[i * cols + j] / scale[j])));
  return { q, scale };
}

export const Q4_BLOCK = 32;

/**
 * MatMulNBits' 4-bit layout for an [K, N] (in, out) weight: per output column n and block of 32
 * inputs, a float scale (max|w| / 7, symmetric) and codes q = round(w / scale) + 8 in 0..15 packed
 * two per byte, low nibble first along K; the default zero point 8 is implied. `dequantized` is the
 * round trip, [K, N], for the reference pass.
 */
export function quantizeBlocks4(data: ArrayLike<number>, K: number, N: number): { packed: Uint8Array; scales: Float32Array; dequantized: Float64Array } {
  if (K % Q4_BLOCK) throw new Error(`K=${K} is not a multiple of ${Q4_BLOCK}`);
  const kBlocks = K / Q4_BLOCK;
  const packed = new Uint8Array(N * K / 2);
  const scales = new Float32Array(N * kBlocks);
  const dequantized = new Float64Array(K * N);
  for (let n = 0; n < N; n++) for (let kb = 0; kb < kBlocks; kb++) {
    let m = 0;
    for (let k = kb * Q4_BLOCK; k < (kb + 1) * Q4_BLOCK; k++) m = Math.max(m, Math.abs(data[k * N + n]));
    const scale = Math.fround(m > 0 ? m / 7 : 1);
    scales[n * kBlocks + kb] = scale;
    for (let i = 0; i < Q4_BLOCK; i++) {
      const k = kb * Q4_BLOCK + i;
      const q = Math.max(0, Math.min(15, Math.round(data[k * N + n] / scale) + 8));
      dequantized[k * N + n] = (q - 8) * scale;
      const byte = (n * kBlocks + kb) * (Q4_BLOCK / 2) + (i >> 1);
      packed[byte] |= i & 1 ? q << 4 : q;
    }
  }
  return { packed, scales, dequantized };
}
