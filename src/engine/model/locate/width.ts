import type { GraphIndex } from '../onnx/graph';
import { attrInt } from '../onnx/graph';
import { fusedInput, isSkipNorm } from '../onnx/fusedOps';

/** The feature width of a tensor, read from the weights that produce it (no shape inference needed). */
export function staticWidth(g: GraphIndex, tensor: string, depth = 0): number | undefined {
  if (depth > 24) return undefined;
  const shape = g.shapeOf(tensor);
  const last = shape?.[shape.length - 1];
  if (typeof last === 'number' && last > 1) return last;
  const p = g.producer.get(tensor);
  if (!p) return undefined;
  const n = p.node;
  const w = (i: number) => g.initializer(n.input[i]);
  switch (n.opType) {
    case 'MatMul': case 'FusedMatMul': { const t = w(1); if (t && t.dims.length >= 2) return Number(t.dims[t.dims.length - 1]); break; }
    case 'Gemm': { const t = w(1); if (t && t.dims.length === 2) return Number(attrInt(n, 'transB', 0) ? t.dims[0] : t.dims[1]); break; }
    case 'MatMulNBits': return attrInt(n, 'N');
    case 'Gather': { const t = w(0); if (t && t.dims.length === 2) return Number(t.dims[1]); break; }
    case 'LayerNormalization': case 'SimplifiedLayerNormalization': case 'SkipLayerNormalization':
    case 'SkipSimplifiedLayerNormalization': case 'RMSNormalization': {
      const t = isSkipNorm(n) ? g.initializer(fusedInput(n, n.opType, 'gamma')) : w(1);
      if (t && t.dims.length === 1) return Number(t.dims[0]);
      break;
    }
    case 'EmbedLayerNormalization': { const t = w(2); if (t) return Number(t.dims[1]); break; }
    case 'Conv': { const t = w(1); if (t) return Number(t.dims[0]); break; }
  }
  for (const i of n.input) {
    if (!i) continue;
    const t = g.initializer(i);
    if (t) { if (t.dims.length === 1 && Number(t.dims[0]) > 1 && ['Add', 'Mul', 'Sub', 'Div'].includes(n.opType)) return Number(t.dims[0]); continue; }
    const r = staticWidth(g, i, depth + 1);
    if (r) return r;
  }
  return undefined;
}
