import { create, toBinary } from '@bufbuild/protobuf';
import { GraphProtoSchema, ModelProtoSchema, type ModelProto, type ValueInfoProto } from 'onnx-buf';
import type * as ort from 'onnxruntime-node';
import { EngineError } from '../../base/errors';
import { makeValueInfo } from '../../model/onnx/build';
import { onnxTypeOf } from '../../model/onnx/dtype';
import type { SegmentPlan } from './plan';

/** The segment as a model of its own: same opsets, functions and metadata, its nodes only. */
export function segmentModel(
  model: ModelProto, p: SegmentPlan, declared: Map<string, ValueInfoProto>, inferred: Map<string, number>, given: Map<string, ort.Tensor>,
): Uint8Array {
  const g = model.graph!;
  const inputInfo = p.inputs.map((name) => {
    const v = declared.get(name);
    if (v?.type?.value.case === 'tensorType' && v.type.value.value.shape) return v;
    const t = given.get(name);
    const elemType = (v?.type?.value.case === 'tensorType' ? v.type.value.value.elemType : 0) || (t && onnxTypeOf(t.type)) || inferred.get(name);
    if (!elemType) throw new EngineError('runtime', `Internal: segment ${p.from}–${p.to - 1} reads ${name}, whose type is unknown.`);
    // Symbolic sizes (the session must accept any sequence length, as the whole graph does), of
    // the rank the tensor has when it is at hand; otherwise the rank is left open.
    return makeValueInfo(name, elemType, t?.dims.map((_, i) => `${name}__${i}`));
  });
  const outputInfo = p.outputs.map((name) => declared.get(name) ?? makeValueInfo(name));
  const names = new Set([...p.inputs, ...p.outputs, ...p.nodes.flatMap((n) => n.output)]);
  const graph = create(GraphProtoSchema, {
    ...g, node: p.nodes, input: inputInfo, output: outputInfo, initializer: p.initializers,
    valueInfo: g.valueInfo.filter((v) => names.has(v.name) && !p.inputs.includes(v.name) && !p.outputs.includes(v.name)),
    sparseInitializer: [],
  });
  return toBinary(ModelProtoSchema, create(ModelProtoSchema, { ...model, graph }));
}
