import { closeSync, openSync, readSync } from 'node:fs';
import * as path from 'node:path';
import type { TensorProto } from 'onnx-buf';
import { DT, halvesToFloats } from './dtype';
import { externalLocation, type LoadedModel } from './load';
import type { GraphIndex } from './graph';

/**
 * The values of a float weight (fp32 or fp16), read from the model's own files: inline data, or
 * the byte range an external-data entry points at. Returns undefined for other types.
 */
export function readWeight(m: LoadedModel, g: GraphIndex, name: string): { data: Float32Array; dims: number[] } | undefined {
  const t = g.initializers.get(name);
  if (!t || (t.dataType !== DT.FLOAT && t.dataType !== DT.FLOAT16)) return undefined;
  const dims = t.dims.map(Number);
  const bytes = tensorBytes(m, t);
  if (!bytes) {
    if (t.floatData.length) return { data: Float32Array.from(t.floatData), dims };
    return undefined;
  }
  if (t.dataType === DT.FLOAT) {
    const copy = new Uint8Array(bytes);
    return { data: new Float32Array(copy.buffer), dims };
  }
  const h = new Uint16Array(new Uint8Array(bytes).buffer);
  return { data: halvesToFloats(h), dims };
}

function tensorBytes(m: LoadedModel, t: TensorProto): Uint8Array | undefined {
  const ext = externalLocation(t);
  if (!ext) return t.rawData.length ? t.rawData : undefined;
  // Before the session opens, locations are as written beside the model; after, relative to weightsDir.
  const file = m.externalFiles.find((f) => f.file === ext.location)?.real ?? path.join(m.weightsDir, ext.location);
  const fd = openSync(file, 'r');
  try {
    const buf = new Uint8Array(ext.length);
    readSync(fd, buf, 0, ext.length, ext.offset);
    return buf;
  } finally {
    closeSync(fd);
  }
}
