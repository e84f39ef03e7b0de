import { attrInts } from '../onnx/graph';
import type { PreparedModel } from '../inspect';

/** Anything holding a prepared model (an open session does). */
type Holder = { prepared: Pick<PreparedModel, 'index' | 'info'> };

/** Patch grid of a ViT: from the patch Conv on the pixel input and the input's spatial size. */
export function patchGrid(m: Holder, height?: number, width?: number): { rows: number; cols: number; patch: number } | undefined {
  const g = m.prepared.index;
  const pixels = m.prepared.info.inputs.find((i) => i.role === 'pixels');
  if (!pixels) return undefined;
  const conv = g.consumersOf(pixels.name).map((c) => c.node).find((n) => n.opType === 'Conv');
  if (!conv) return undefined;
  const k = attrInts(conv, 'kernel_shape') ?? g.initializer(conv.input[1])?.dims.slice(2).map(Number);
  const strides = attrInts(conv, 'strides') ?? k;
  if (!k || !strides) return undefined;
  const h = height ?? (typeof pixels.shape[2] === 'number' ? pixels.shape[2] : undefined);
  const w = width ?? (typeof pixels.shape[3] === 'number' ? pixels.shape[3] : undefined);
  if (!h || !w) return undefined;
  return { rows: Math.floor((h - k[0]) / strides[0]) + 1, cols: Math.floor((w - k[1]) / strides[1]) + 1, patch: k[0] };
}

export function patchCount(m: Holder, height?: number, width?: number): number {
  const g = patchGrid(m, height, width);
  return g ? g.rows * g.cols : 0;
}
