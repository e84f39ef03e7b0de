import type { GraphProto, NodeProto } from 'onnx-buf';
import { DT } from '../../model/onnx/dtype';

const TO_INT64 = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression']);
const TO_BOOL = new Set(['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
/** Ops whose output takes the type of an input other than the first. */
const TYPE_FROM_INPUT: Record<string, number> = { Where: 1, ScatterND: 0, Expand: 0, Reshape: 0 };

/**
 * The element type of every border tensor the graph does not declare, by the ONNX type rules of
 * its producer (most ops keep their first input's type). Lets every segment's session open at
 * once instead of on the first run; what stays unknown is typed from the tensor on that run.
 */
export function inferElemTypes(g: GraphProto, wanted: Set<string>): Map<string, number> {
  const types = new Map<string, number>();
  for (const v of [...g.input, ...g.valueInfo, ...g.output]) if (v.type?.value.case === 'tensorType' && v.type.value.value.elemType) types.set(v.name, v.type.value.value.elemType);
  for (const t of g.initializer) types.set(t.name, t.dataType);
  const producer = new Map<string, NodeProto>();
  for (const n of g.node) for (const o of n.output) if (o) producer.set(o, n);
  const typeOf = (root: string): number | undefined => {
    const stack = [root];
    while (stack.length) {
      const t = stack[stack.length - 1];
      if (types.has(t)) { stack.pop(); continue; }
      const n = producer.get(t);
      if (!n) { stack.pop(); types.set(t, 0); continue; }
      const ms = n.domain === 'com.microsoft';
      const op = n.domain && n.domain !== 'ai.onnx' && !ms ? '' : n.opType;
      const slot = n.output.indexOf(t);
      let result: number | undefined;
      if (TO_INT64.has(op)) result = DT.INT64;
      else if (TO_BOOL.has(op)) result = DT.BOOL;
      else if (op === 'Cast') result = Number(n.attribute.find((a) => a.name === 'to')?.i ?? 0);
      else if (op === 'Constant') result = n.attribute.find((a) => a.name === 'value')?.t?.dataType ?? (n.attribute.some((a) => a.name.startsWith('value_int')) ? DT.INT64 : n.attribute.some((a) => a.name.startsWith('value_float')) ? DT.FLOAT : 0);
      else if (op === 'ConstantOfShape') result = n.attribute.find((a) => a.name === 'value')?.t?.dataType ?? DT.FLOAT;
      else if (op === 'CastLike') { const x = n.input[1]; if (!types.has(x)) { stack.push(x); continue; } result = types.get(x); }
      else if (ms) {
        // Contrib ops compute in the type of their first floating-point input (token ids come first in some).
        const pending = n.input.filter((x) => x && !types.has(x));
        if (pending.length) { stack.push(...pending); continue; }
        result = n.input.map((x) => (x ? types.get(x) : 0)).find((e) => e === DT.FLOAT || e === DT.FLOAT16 || e === DT.DOUBLE || e === DT.BFLOAT16);
      }
      else if (op === 'TopK' && slot === 1) result = DT.INT64;
      else if (op && (slot === 0 || op === 'Split' || op === 'TopK') && !['If', 'Loop', 'Scan', 'QuantizeLinear', 'MatMulInteger', 'ConvInteger', 'QLinearMatMul', 'QLinearConv', 'DequantizeLinear', 'DynamicQuantizeLinear', 'OneHot', 'EyeLike', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial'].includes(op)) {
        const x = n.input[TYPE_FROM_INPUT[op] ?? 0];
        if (x && !types.has(x)) { stack.push(x); continue; }
        result = x ? types.get(x) : 0;
      }
      types.set(t, result ?? 0);
      stack.pop();
    }
    return types.get(root) || undefined;
  };
  const out = new Map<string, number>();
  for (const t of wanted) { const e = typeOf(t); if (e) out.set(t, e); }
  return out;
}
