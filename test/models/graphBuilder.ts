import { create, toBinary } from '@bufbuild/protobuf';
import { GraphProtoSchema, ModelProtoSchema, OperatorSetIdProtoSchema, TensorProto_DataLocation, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from 'onnx-buf';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { DT, floatToHalf } from '../../src/engine/onnx/dtype';
import { externalDataEntries, makeNode, makeTensor, makeValueInfo, type AttrValue } from '../../src/engine/onnx/build';

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

  constructor(readonly floatType: number = DT.FLOAT) {}

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
    this.inits.push(floatTensor(name, dims, data, this.floatType));
    return name;
  }

  private qdqWeight(name: string, [rows, cols]: number[], data: ArrayLike<number>): string {
    const { q, scale } = quantizeColumns(data, rows, cols);
    this.inits.push(makeTensor(`${name}_quantized`, DT.INT8, [rows, cols], new Uint8Array(q.buffer)));
    this.inits.push(floatTensor(`${name}_scale`, [cols], scale, this.floatType));
    this.inits.push(makeTensor(`${name}_zero_point`, DT.INT8, [cols], new Uint8Array(cols)));
    return this.o('DequantizeLinear', [`${name}_quantized`, `${name}_scale`, `${name}_zero_point`], { axis: 1 });
  }

  int64(values: number[], dims: number[] = [values.length], name?: string): string {
    const n = name ?? `${this.prefix()}/Constant_${this.constCount++}_output_0`;
    const raw = new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer);
    this.inits.push(makeTensor(n, DT.INT64, dims, raw));
    return n;
  }

  scalar(v: number, name?: string): string {
    const n = name ?? `${this.prefix()}/Constant_${this.constCount++}_output_0`;
    this.inits.push(floatTensor(n, [], [v], this.floatType));
    return n;
  }

  boolTensor(name: string, dims: number[], data: ArrayLike<number>): string {
    this.inits.push(makeTensor(name, DT.BOOL, dims, Uint8Array.from(data)));
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

/** Writes the model; with `externalData`, every initializer over 1 KB goes to that file beside it. */
export function writeModel(model: ModelProto, file: string, externalData?: string): void {
  if (externalData) {
    const chunks: Uint8Array[] = [];
    let offset = 0;
    for (const t of model.graph!.initializer) {
      if (t.rawData.length < 1024) continue;
      const data = t.rawData;
      const pad = (4096 - (offset % 4096)) % 4096;
      if (pad) { chunks.push(new Uint8Array(pad)); offset += pad; }
      chunks.push(data);
      t.dataLocation = TensorProto_DataLocation.EXTERNAL;
      t.externalData = externalDataEntries(externalData, offset, data.length);
      t.rawData = new Uint8Array(0);
      offset += data.length;
    }
    writeFileSync(path.join(path.dirname(file), externalData), Buffer.concat(chunks));
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
