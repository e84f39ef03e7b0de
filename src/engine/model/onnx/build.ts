import { create } from '@bufbuild/protobuf';
import {
  StringStringEntryProtoSchema, type StringStringEntryProto,
  AttributeProtoSchema, AttributeProto_AttributeType, NodeProtoSchema, TensorProtoSchema, TypeProtoSchema,
  TypeProto_TensorSchema, TensorShapeProtoSchema, TensorShapeProto_DimensionSchema, ValueInfoProtoSchema,
  type AttributeProto, type NodeProto, type TensorProto, type ValueInfoProto,
} from 'onnx-buf';

/** Small constructors for the graph surgery and the test-model builder. */
export type AttrValue = number | number[] | string | TensorProto | { floats: number[] } | { float: number };

export function makeAttr(name: string, v: AttrValue): AttributeProto {
  if (typeof v === 'number') return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i: BigInt(v) });
  if (typeof v === 'string') return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v)) return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INTS, ints: v.map(BigInt) });
  if ('floats' in v) return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOATS, floats: v.floats });
  if ('float' in v) return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOAT, f: v.float });
  return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.TENSOR, t: v });
}

export function makeNode(opType: string, inputs: string[], outputs: string[], name: string, attrs: Record<string, AttrValue> = {}, domain = ''): NodeProto {
  return create(NodeProtoSchema, {
    opType, input: inputs, output: outputs, name, domain,
    attribute: Object.entries(attrs).map(([k, v]) => makeAttr(k, v)),
  });
}

export function makeValueInfo(name: string, elemType?: number, shape?: (number | string)[]): ValueInfoProto {
  if (elemType === undefined) return create(ValueInfoProtoSchema, { name });
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: {
        case: 'tensorType',
        value: create(TypeProto_TensorSchema, {
          elemType,
          shape: shape && create(TensorShapeProtoSchema, {
            dim: shape.map((d) => create(TensorShapeProto_DimensionSchema, {
              value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d },
            })),
          }),
        }),
      },
    }),
  });
}

export function makeTensor(name: string, dataType: number, dims: number[], raw: Uint8Array): TensorProto {
  return create(TensorProtoSchema, { name, dataType, dims: dims.map(BigInt), rawData: raw as Uint8Array<ArrayBuffer> });
}

/** The key/value entries that point a tensor at bytes in a file beside the model. */
export function externalDataEntries(location: string, offset: number, length: number): StringStringEntryProto[] {
  return [
    create(StringStringEntryProtoSchema, { key: 'location', value: location }),
    create(StringStringEntryProtoSchema, { key: 'offset', value: String(offset) }),
    create(StringStringEntryProtoSchema, { key: 'length', value: String(length) }),
  ];
}
