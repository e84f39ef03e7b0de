import { fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, TensorProto_DataLocation, type ModelProto, type TensorProto, type GraphProto } from 'onnx-buf';
import { closeSync, existsSync, openSync, readFileSync, readSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../../base/errors';
import { fileError, kindOf, lfsPointerMessage, lfsPointerSize, lfsPointerSizeOf, statFile } from '../../base/files';
import { firstFew, printable } from '../../base/text';
import { externalDataEntries } from './build';
import { densifySparseInitializers, sparseInitializers } from './sparse';
import { validateModel } from './validate';
import { keepRuntimeDefinitions } from './duplicates';

export interface ExternalFile {
  /** Location exactly as written in the model. */
  file: string;
  /** Absolute path it resolves to beside the model (links not followed). */
  resolved: string;
  /** The file itself, every link followed (present files only). */
  real?: string;
  present: boolean;
  /** Bytes the model expects to read from it (sum of tensor lengths). */
  bytesNeeded: number;
  /** Actual size on disk when present. */
  size?: number;
  /** A Git LFS pointer stands here: the size of the file it stands for. */
  lfsPointer?: number;
}

export interface LoadedModel {
  /** The path as given, made absolute; links are kept, so sidecars are found beside it. */
  path: string;
  dir: string;
  /** The model file itself, every link followed (a Hugging Face cache's blobs/<sha>). */
  realPath: string;
  /**
   * The folder ONNX Runtime reads weights from. ONNX Runtime follows links and refuses weights
   * that resolve outside it, so this is a real folder holding the real model and weight files.
   */
  weightsDir: string;
  size: number;
  mtimeMs: number;
  proto: ModelProto;
  /** The file's bytes: inline weights in `proto` are views into it (see externalizeInlineWeights). */
  bytes: Uint8Array;
  externalFiles: ExternalFile[];
  /** What the file does that ONNX Runtime accepts with a warning (the model's warnings repeat them). */
  notes: string[];
}

const MAX_IN_MEMORY = 2 ** 31 - 1;

/** Reads and validates an ONNX file. Never writes anything. */
export function loadModel(file: string): LoadedModel {
  const abs = path.resolve(file);
  if (!existsSync(abs)) throw new EngineError('not-found', `Model file not found: ${printable(abs)}`);
  const st = statFile(abs, 'model file');
  if (st.isDirectory()) throw new EngineError('not-onnx', `${printable(abs)} is a folder; give the path of an .onnx file inside it.`);
  if (!st.isFile()) throw new EngineError('not-onnx', `${printable(abs)} is ${kindOf(st)}, not a model file; give the path of an .onnx file.`);
  if (st.size === 0) throw new EngineError('not-onnx', `${printable(abs)} is empty: it is not an ONNX model.`);
  if (st.size > MAX_IN_MEMORY) {
    throw new EngineError('not-onnx', `${printable(abs)} is ${(st.size / 2 ** 30).toFixed(1)} GB in a single file; ONNX protobuf files are limited to 2 GB. Export the model with external data (weights in a separate .onnx_data file).`);
  }
  let bytes: Buffer;
  let realPath: string;
  try {
    realPath = realpathSync.native(abs);
    bytes = readFileSync(abs);
  } catch (e) {
    throw fileError(e, abs, 'model file', 'not-onnx');
  }
  const { proto, notes } = parseModel(bytes, abs);
  const dir = path.dirname(abs);
  const externalFiles = listExternalFiles(proto, dir, realPath);
  densifySparseInitializers(proto.graph!, printable(path.basename(abs)), (t) => readExternalTensor(t, externalFiles, dir, path.basename(abs)));
  return {
    path: abs, dir, realPath, weightsDir: weightsFolder(realPath, dir, externalFiles), size: st.size, mtimeMs: st.mtimeMs,
    proto, bytes, externalFiles, notes,
  };
}

/** Names exporters give gradients: grad_x, x_grad, x.grad, x_grad_3 (torch autograd, ORT training). */
const GRADIENT_NAME = /(^|[._])grad(_\d+)?$|^grad[._]/i;

function parseModel(bytes: Uint8Array, abs: string): { proto: ModelProto; notes: string[] } {
  const pointer = lfsPointerSize(bytes);
  if (pointer !== undefined) throw new EngineError('not-onnx', lfsPointerMessage(path.basename(abs), bytes.length, pointer, 'model'));
  if (looksLikeText(bytes)) {
    throw new EngineError('not-onnx', `${path.basename(abs)} is a text file, not an ONNX model (ONNX files are binary protobuf).`);
  }
  let proto: ModelProto;
  try {
    proto = fromBinary(ModelProtoSchema, bytes);
  } catch (e) {
    throw new EngineError('not-onnx', `${path.basename(abs)} is not a readable ONNX model (${(e as Error).message}). The file may be truncated or corrupt; re-export or re-download it.`);
  }
  const g = proto.graph;
  if (!g || g.node.length === 0 || proto.irVersion === 0n) {
    throw new EngineError('not-onnx', `${path.basename(abs)} does not contain an ONNX graph. The file may be truncated, corrupt or not an ONNX model.`);
  }
  // A backward graph written in plain ops still says what it computes in its outputs' names.
  const gradients = g.output.filter((o) => GRADIENT_NAME.test(o.name));
  if (g.output.length && gradients.length * 2 >= g.output.length) {
    throw new EngineError('training-graph', `${path.basename(abs)} is a backward (gradient) graph: ${gradients.length} of its ${g.output.length} outputs are gradients ` +
      `(${gradients.slice(0, 2).map((o) => `"${printable(o.name)}"`).join(', ')}${gradients.length > 2 ? ', …' : ''}). Export the inference model (model.eval(), no loss) and open that.`);
  }
  if (proto.trainingInfo.length > 0 || g.node.some((n) => n.domain.startsWith('ai.onnx.preview.training') || n.opType.endsWith('Grad') || n.opType === 'Gradient')) {
    throw new EngineError('training-graph', `${path.basename(abs)} is a training graph (it contains gradient or optimizer nodes). Export the inference model (model.eval(), no loss) and open that.`);
  }
  // Before validation, which refuses a name made twice: ONNX Runtime runs these (see duplicates.ts).
  const notes = keepRuntimeDefinitions(g, printable(path.basename(abs)));
  validateModel(g, printable(path.basename(abs)), proto.functions);
  return { proto, notes };
}

function looksLikeText(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 512);
  if (n === 0) return false;
  let printable = 0;
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127)) printable++;
  }
  return printable / n > 0.97;
}

export function allInitializers(g: GraphProto): TensorProto[] {
  const out = [...g.initializer];
  for (const n of g.node) for (const a of n.attribute) {
    if (a.g) out.push(...allInitializers(a.g));
    for (const sg of a.graphs) out.push(...allInitializers(sg));
  }
  return out;
}

export function externalLocation(t: TensorProto): { location: string; offset: number; length: number } | undefined {
  if (t.dataLocation !== TensorProto_DataLocation.EXTERNAL) return undefined;
  const kv = new Map(t.externalData.map((e) => [e.key, e.value]));
  const location = kv.get('location');
  if (!location) return undefined;
  return { location, offset: Number(kv.get('offset') ?? 0), length: Number(kv.get('length') ?? 0) };
}

/**
 * External weight files. A location must stay inside the model's folder as written (no absolute
 * paths, no "..") and, links followed, inside the model's real folder or the folder the link sits
 * in: that admits Hugging Face caches (snapshots/<rev>/model.onnx_data → ../../blobs/<sha>) and
 * symlinked checkouts, and still refuses a weight file that is a link to anywhere else.
 */
function listExternalFiles(proto: ModelProto, dir: string, realModel: string): ExternalFile[] {
  const files = new Map<string, ExternalFile>();
  const allowed = [realOrNull(dir), path.dirname(realModel)].filter((d): d is string => !!d);
  const sparseParts = sparseInitializers(proto.graph!).flatMap((sp) => [sp.values, sp.indices]).filter((t): t is TensorProto => !!t);
  for (const t of [...allInitializers(proto.graph!), ...sparseParts]) {
    const loc = externalLocation(t);
    if (!loc) continue;
    let f = files.get(loc.location);
    if (!f) {
      const resolved = path.resolve(dir, loc.location);
      if (!inside(resolved, dir) || path.isAbsolute(loc.location)) {
        throw new EngineError('unsafe-external-data', `The model points its weights outside its own folder (${printable(loc.location)}). ONNX Runtime refuses such paths; move the weight file next to the model and fix its location.`);
      }
      const present = existsSync(resolved);
      let real: string | undefined;
      let size: number | undefined;
      if (present) {
        const st = statFile(resolved, 'weight file');
        if (!st.isFile()) throw new EngineError('missing-external-data', `The model's weight file "${printable(loc.location)}" is ${kindOf(st)}, not a regular file.`);
        size = st.size;
        real = realpathSync.native(resolved);
        if (!allowed.some((d) => inside(real!, d))) {
          throw new EngineError('unsafe-external-data', `The model's weight file "${printable(loc.location)}" is a link to ${printable(real)}, outside the model's folder. Weights are only read from the model's own folder (or, for a linked model, the folder its file lives in).`);
        }
      }
      const lfsPointer = present ? lfsPointerSizeOf(resolved, size!) : undefined;
      f = { file: loc.location, resolved, real, present, bytesNeeded: 0, size, ...(lfsPointer !== undefined ? { lfsPointer } : {}) };
      files.set(loc.location, f);
    }
    f.bytesNeeded = Math.max(f.bytesNeeded, loc.offset + loc.length);
  }
  return [...files.values()];
}

const inside = (file: string, dir: string) => file.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);

function realOrNull(p: string): string | null {
  try { return realpathSync.native(p); } catch { return null; }
}

/** A real folder holding the real model file and every present weight file (see LoadedModel.weightsDir). */
function weightsFolder(realModel: string, dir: string, files: ExternalFile[]): string {
  const candidates = [path.dirname(realModel), realOrNull(dir)].filter((d): d is string => !!d);
  const present = files.filter((f) => f.real);
  for (const c of candidates) if (inside(realModel, c) && present.every((f) => inside(f.real!, c))) return c;
  // Weights linked from two unrelated places: ONNX Runtime can read only one folder.
  throw new EngineError('unsafe-external-data', `The model file links to ${printable(path.dirname(realModel))} but its weights live elsewhere (${printable(path.dirname(present[0]?.real ?? dir))}); ONNX Runtime reads a model's weights from one folder. Put the model and its weight files (or links to them) in one folder.`);
}

/**
 * Points every external tensor at its real file relative to weightsDir, in memory: ONNX Runtime
 * then reads the same bytes it would have read through the links, and its containment check passes.
 */
export function pointWeightsAtRealFiles(m: LoadedModel): void {
  const byLocation = new Map(m.externalFiles.filter((f) => f.real).map((f) => [f.file, path.relative(m.weightsDir, f.real!)]));
  for (const t of allInitializers(m.proto.graph!)) {
    if (t.dataLocation !== TensorProto_DataLocation.EXTERNAL) continue;
    for (const e of t.externalData) if (e.key === 'location' && byLocation.has(e.value)) e.value = byLocation.get(e.value)!;
  }
}

/**
 * The bytes of a (sparse initializer's) tensor kept in an external file, read at load time: ONNX
 * Runtime expands sparse initializers when it loads the model, so the engine needs them then too.
 */
function readExternalTensor(t: TensorProto, files: ExternalFile[], dir: string, modelName: string): Uint8Array {
  const loc = externalLocation(t)!;
  const f = files.find((x) => x.file === loc.location)!;
  if (!f.present) {
    throw new EngineError('missing-external-data',
      `The model's weights are in "${printable(f.file)}", which is missing from ${printable(dir)}. Put the weight file next to ${printable(modelName)}.`);
  }
  if (f.lfsPointer !== undefined) throw new EngineError('missing-external-data', lfsPointerMessage(`"${printable(f.file)}"`, f.size!, f.lfsPointer, 'weights'));
  const length = loc.length || Math.max(0, (f.size ?? 0) - loc.offset);
  if (loc.offset + length > (f.size ?? 0)) {
    throw new EngineError('missing-external-data',
      `The weight file "${printable(f.file)}" is ${f.size} bytes but the model reads up to byte ${loc.offset + length}: it is truncated. `
      + 'Re-download or re-export it.');
  }
  const out = new Uint8Array(length);
  let fd: number | undefined;
  try {
    fd = openSync(f.real!, 'r');
    for (let done = 0; done < length;) {
      const n = readSync(fd, out, done, length - done, loc.offset + done);
      if (!n) throw new EngineError('missing-external-data', `The weight file "${printable(f.file)}" ended early: it is truncated. Re-download it.`);
      done += n;
    }
  } catch (e) {
    throw fileError(e, f.resolved, 'weight file', 'missing-external-data');
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return out;
}

/** Throws a clear error naming the first missing or short weight file. */
export function requireExternalFiles(m: LoadedModel): void {
  const missing = m.externalFiles.filter((f) => !f.present);
  if (missing.length > 1) {
    const mb = missing.reduce((a, f) => a + f.bytesNeeded, 0) / 2 ** 20;
    const names = firstFew(missing.map((f) => `"${printable(f.file)}"`));
    throw new EngineError('missing-external-data', `${missing.length.toLocaleString('en-US')} of the model's ${m.externalFiles.length.toLocaleString('en-US')} weight files are missing from ${printable(m.dir)} (${names}; ${mb.toFixed(1)} MB or more). Put them next to ${printable(path.basename(m.path))}.`);
  }
  for (const f of m.externalFiles) {
    if (f.lfsPointer !== undefined) throw new EngineError('missing-external-data', lfsPointerMessage(`"${printable(f.file)}"`, f.size!, f.lfsPointer, 'weights'));
    if (!f.present) {
      throw new EngineError('missing-external-data', `The model's weights are in "${printable(f.file)}", which is missing from ${printable(m.dir)}. Put the weight file next to ${path.basename(m.path)} (it is ${(f.bytesNeeded / 2 ** 20).toFixed(1)} MB or more).`);
    }
    if (f.size !== undefined && f.size < f.bytesNeeded) {
      throw new EngineError('missing-external-data', `The weight file "${printable(f.file)}" is ${f.size} bytes but the model reads up to byte ${f.bytesNeeded}: it is truncated. Re-download or re-export it.`);
    }
  }
}

/**
 * Points every large inline initializer at its own bytes inside the original .onnx file, as
 * external data. The patched graph handed to ONNX Runtime is then a few KB, the weights are read
 * once from the user's file (never copied or rewritten), and a scan's memory stays near a plain
 * session's. Returns the number of bytes moved out of the graph.
 */
export function externalizeInlineWeights(m: LoadedModel, minBytes = 1024): number {
  const location = path.relative(m.weightsDir, m.realPath);
  let moved = 0;
  for (const t of allInitializers(m.proto.graph!)) {
    const raw = t.rawData;
    if (t.dataLocation === TensorProto_DataLocation.EXTERNAL || raw.length < minBytes || raw.buffer !== m.bytes.buffer) continue;
    const offset = raw.byteOffset - m.bytes.byteOffset;
    if (offset < 0 || offset + raw.length > m.bytes.length) continue;
    t.dataLocation = TensorProto_DataLocation.EXTERNAL;
    t.externalData = externalDataEntries(location, offset, raw.length);
    t.rawData = new Uint8Array(0);
    moved += raw.length;
  }
  detachFromFileBytes(m.proto.graph!, m.bytes.buffer);
  return moved;
}

/** Small tensors still view the file's buffer, which would keep all of it alive: copy them out. */
function detachFromFileBytes(g: GraphProto, buffer: ArrayBufferLike): void {
  const fix = (t: TensorProto | undefined) => {
    if (t && t.rawData.length && t.rawData.buffer === buffer) t.rawData = new Uint8Array(t.rawData);
  };
  g.initializer.forEach(fix);
  for (const n of g.node) for (const a of n.attribute) {
    fix(a.t);
    a.tensors.forEach(fix);
    if (a.g) detachFromFileBytes(a.g, buffer);
    for (const sg of a.graphs) detachFromFileBytes(sg, buffer);
  }
}
