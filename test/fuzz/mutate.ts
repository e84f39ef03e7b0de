import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, NodeProtoSchema, StringStringEntryProtoSchema, type ModelProto } from 'onnx-buf';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { rng } from '../../src/engine/base/random';
import { toSparse } from '../models/layouts/variants';
import type { RecipeInput } from './inputs';

/**
 * A seeded mutator over the project's test models. A case is a recipe — the base model and a list
 * of mutations, each with its own parameters — so every case (and every corpus entry) is rebuilt
 * exactly from a few bytes of JSON, and a failure can be replayed by its recipe alone.
 */

export type Base = 'gpt2' | 'llama-ext' | 'vit' | 'hybrid' | 'functions';
/** Multi-file exports, copied whole: for input cases (no mutations), never drawn at random. */
export type FolderBase = 't5' | 'vlm';

export type Mutation =
  | { op: 'flip-bytes'; count: number; seed: number }
  | { op: 'truncate'; boundary: number }
  | { op: 'delete-node' | 'duplicate-node'; index: number }
  | { op: 'delete-input' | 'duplicate-input'; index: number }
  | { op: 'delete-initializer' | 'duplicate-initializer'; index: number }
  | { op: 'initializer-dims'; index: number; dim: number; value: string }
  | { op: 'input-dims'; index: number; dim: number; value: string }
  | { op: 'initializer-dtype' | 'input-dtype'; index: number; value: number }
  | { op: 'opset' | 'ir-version'; value: string }
  | { op: 'external-field'; index: number; key: 'location' | 'offset' | 'length'; value: string }
  | { op: 'control-name'; target: 'node' | 'op-type' | 'input' | 'tensor'; index: number; text: string }
  | { op: 'cycle'; from: number; to: number }
  | { op: 'attribute-int'; index: number; value: string }
  | { op: 'swap-op-types'; a: number; b: number }
  // The initializer at `index` moved to graph.sparse_initializer; `index` of its values set to a position past its shape.
  | { op: 'sparse-initializer'; index: number; form: 'linear' | 'coo'; outOfRange?: boolean }
  // Files beside the model rather than the model itself: a sidecar's text, or a symbolic link (dangling, looping).
  | { op: 'sidecar'; file: Sidecar; text: string }
  | { op: 'link'; file: string; target: string };

type Sidecar = 'config.json' | 'generation_config.json' | 'genai_config.json' | 'tokenizer_config.json' | 'preprocessor_config.json';

export interface Recipe { base: Base | FolderBase; mutations: Mutation[]; note?: string; input?: RecipeInput }

const NASTY_INTS = ['0', '1', '-1', '2147483648', '4294967296', '9223372036854775807', '-9223372036854775808', '65536', '1000000007'];
const NASTY_STRINGS = ['', '-1', '1e3', '0x10', '18446744073709551616', '../../etc/passwd', '/etc/passwd', 'a\u0000b', 'missing.bin', '.', 'model.onnx', '99999999999999999999'];
const CONTROL = ['\x1b[31mred\x1b[0m', '\x1b]0;title\x07', 'line\nbreak', 'back\rspace', '\u202eevil', '\x9b2J', '\u0000nul'];

/** A random recipe for `seed`: one to three mutations of one base model. */
export function randomRecipe(seed: number, sizes: Record<Base, ModelSizes>): Recipe {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const int = (n: number) => Math.floor(r() * Math.max(1, n));
  // Hybrid (Scan in If, Loop bodies) and local-function models reach the subgraph and inlining code.
  const base = pick(['gpt2', 'gpt2', 'llama-ext', 'vit', 'hybrid', 'functions'] as const);
  const s = sizes[base];
  const one = (): Mutation => {
    switch (int(16)) {
      case 0: return { op: 'flip-bytes', count: 1 + int(8), seed: int(1e9) };
      case 1: return { op: 'truncate', boundary: int(s.boundaries) };
      case 2: return { op: pick(['delete-node', 'duplicate-node'] as const), index: int(s.nodes) };
      case 3: return { op: pick(['delete-input', 'duplicate-input'] as const), index: int(s.inputs) };
      case 4: return { op: pick(['delete-initializer', 'duplicate-initializer'] as const), index: int(s.initializers) };
      case 5: return { op: 'initializer-dims', index: int(s.initializers), dim: int(3), value: pick(NASTY_INTS) };
      case 6: return { op: 'input-dims', index: int(s.inputs), dim: int(4), value: pick([...NASTY_INTS, 'batch', '']) };
      case 7: return { op: pick(['initializer-dtype', 'input-dtype'] as const), index: int(s.initializers), value: pick([0, 2, 7, 8, 10, 11, 16, 21, 25, 99, 1000]) };
      case 8: return { op: pick(['opset', 'ir-version'] as const), value: pick(['0', '1', '3', '99', '9223372036854775807']) };
      case 9: return { op: 'external-field', index: int(s.externalTensors || s.initializers), key: pick(['location', 'offset', 'length'] as const), value: pick(NASTY_STRINGS) };
      case 10: case 11: return { op: 'control-name', target: pick(['node', 'op-type', 'input', 'tensor'] as const), index: int(s.nodes), text: pick(CONTROL) };
      case 12: return { op: 'cycle', from: int(s.nodes), to: int(s.nodes) };
      case 13: return { op: 'attribute-int', index: int(s.nodes), value: pick(NASTY_INTS) };
      case 14: return { op: 'swap-op-types', a: int(s.nodes), b: int(s.nodes) };
      default: return { op: 'flip-bytes', count: 1, seed: int(1e9) };
    }
  };
  return { base, mutations: Array.from({ length: 1 + int(3) }, one) };
}

export interface ModelSizes { nodes: number; inputs: number; initializers: number; externalTensors: number; boundaries: number }

export function sizesOf(file: string): ModelSizes {
  const bytes = readFileSync(file);
  const m = fromBinary(ModelProtoSchema, bytes);
  const g = m.graph!;
  return {
    nodes: g.node.length, inputs: g.input.length, initializers: g.initializer.length,
    externalTensors: g.initializer.filter((t) => t.externalData.length).length, boundaries: fieldBoundaries(bytes).length,
  };
}

/**
 * Offsets where a protobuf field of the model or of its graph ends: truncating there leaves a
 * file that parses (or nearly), which reaches deeper than cutting at random.
 */
export function fieldBoundaries(b: Uint8Array): number[] {
  const out: number[] = [];
  const walk = (start: number, limit: number, depth: number) => {
    const end = Math.min(limit, b.length);
    let i = start;
    while (i < end) {
      const [tag, a] = varint(b, i);
      const wire = Number(tag & 7n);
      const field = Number(tag >> 3n);
      let next: number;
      if (wire === 0) next = varint(b, a)[1];
      else if (wire === 2) { const [len, c] = varint(b, a); next = c + Number(len); if (depth === 0 && field === 7) walk(c, next, 1); }
      else if (wire === 1) next = a + 8;
      else if (wire === 5) next = a + 4;
      else return;
      if (next > end || next <= i) return;
      out.push(next);
      i = next;
    }
  };
  walk(0, b.length, 0);
  return [...new Set(out)].filter((x) => x < b.length).sort((x, y) => x - y);
}

function varint(b: Uint8Array, i: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  while (i < b.length) {
    const x = b[i++];
    v |= BigInt(x & 0x7f) << shift;
    if (!(x & 0x80)) break;
    shift += 7n;
  }
  return [v, i];
}

/** Writes the case into `dir`: the mutated model plus the files it needs (tokenizer, weights). */
export function applyRecipe(recipe: Recipe, bases: Record<Base | FolderBase, string>, dir: string): string {
  const src = bases[recipe.base];
  if (statSync(src).isDirectory()) {
    cpSync(src, dir, { recursive: true });
    return dir;
  }
  mkdirSync(dir, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'model.onnx_data', 'preprocessor_config.json']) {
    const p = path.join(path.dirname(src), f);
    if (existsSync(p)) copyFileSync(p, path.join(dir, f));
  }
  let bytes: Uint8Array = readFileSync(src);
  for (const mut of recipe.mutations) {
    if (mut.op === 'sidecar') writeFileSync(path.join(dir, mut.file), mut.text);
    else if (mut.op === 'link') { rmSync(path.join(dir, mut.file), { force: true }); symlinkSync(mut.target, path.join(dir, mut.file)); }
    else bytes = mutate(bytes, mut);
  }
  const file = path.join(dir, 'model.onnx');
  writeFileSync(file, bytes);
  return file;
}

function mutate(bytes: Uint8Array, mut: Exclude<Mutation, { op: 'sidecar' | 'link' }>): Uint8Array {
  if (mut.op === 'flip-bytes') {
    const out = new Uint8Array(bytes);
    const r = rng(mut.seed);
    for (let k = 0; k < mut.count; k++) out[Math.floor(r() * out.length)] ^= 1 << Math.floor(r() * 8);
    return out;
  }
  if (mut.op === 'truncate') {
    const b = fieldBoundaries(bytes);
    return bytes.subarray(0, b.length ? b[mut.boundary % b.length] : bytes.length >> 1);
  }
  let m: ModelProto;
  try {
    m = fromBinary(ModelProtoSchema, bytes);
  } catch {
    return bytes; // an earlier byte-level mutation broke the file: structured edits do not apply
  }
  const g = m.graph;
  if (!g) return bytes;
  const at = <T>(xs: T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);
  switch (mut.op) {
    case 'delete-node': if (g.node.length) g.node.splice(mut.index % g.node.length, 1); break;
    case 'duplicate-node': { const n = at(g.node, mut.index); if (n) g.node.push(create(NodeProtoSchema, { ...n })); break; }
    case 'delete-input': if (g.input.length) g.input.splice(mut.index % g.input.length, 1); break;
    case 'duplicate-input': { const v = at(g.input, mut.index); if (v) g.input.push(v); break; }
    case 'delete-initializer': if (g.initializer.length) g.initializer.splice(mut.index % g.initializer.length, 1); break;
    case 'duplicate-initializer': { const t = at(g.initializer, mut.index); if (t) g.initializer.push(t); break; }
    case 'initializer-dims': { const t = at(g.initializer, mut.index); if (t?.dims.length) t.dims[mut.dim % t.dims.length] = BigInt(mut.value); break; }
    case 'input-dims': {
      const v = at(g.input, mut.index);
      const shape = v?.type?.value.case === 'tensorType' ? v.type.value.value.shape : undefined;
      const d = shape?.dim.length ? shape.dim[mut.dim % shape.dim.length] : undefined;
      if (d) d.value = /^-?\d+$/.test(mut.value) ? { case: 'dimValue', value: BigInt(mut.value) } : { case: 'dimParam', value: mut.value };
      break;
    }
    case 'initializer-dtype': { const t = at(g.initializer, mut.index); if (t) t.dataType = mut.value; break; }
    case 'input-dtype': { const v = at(g.input, mut.index); if (v?.type?.value.case === 'tensorType') v.type.value.value.elemType = mut.value; break; }
    case 'opset': { const o = m.opsetImport.find((x) => !x.domain); if (o) o.version = BigInt(mut.value); break; }
    case 'ir-version': m.irVersion = BigInt(mut.value); break;
    case 'external-field': {
      const ext = g.initializer.filter((t) => t.externalData.length);
      const t = at(ext.length ? ext : g.initializer, mut.index);
      if (!t) break;
      if (!t.externalData.length) { t.dataLocation = 1; t.externalData.push(create(StringStringEntryProtoSchema, { key: 'location', value: 'model.onnx' })); }
      const e = t.externalData.find((x) => x.key === mut.key);
      if (e) e.value = mut.value; else t.externalData.push(create(StringStringEntryProtoSchema, { key: mut.key, value: mut.value }));
      break;
    }
    case 'control-name': {
      const n = at(g.node, mut.index);
      if (!n) break;
      if (mut.target === 'node') n.name = `${n.name}${mut.text}`;
      else if (mut.target === 'op-type') n.opType = `${n.opType}${mut.text}`;
      else if (mut.target === 'input') { const v = at(g.input, mut.index); if (v) renameTensor(m, v.name, `${v.name}${mut.text}`); }
      else if (n.output[0]) renameTensor(m, n.output[0], `${n.output[0]}${mut.text}`);
      break;
    }
    case 'cycle': {
      // Feed an earlier node from a later node's output: a cycle (or a forward reference).
      const a = at(g.node, Math.min(mut.from, mut.to));
      const b = at(g.node, Math.max(mut.from, mut.to));
      if (a && b && a.input.length && b.output[0]) a.input[0] = b.output[0];
      break;
    }
    case 'attribute-int': {
      const n = at(g.node, mut.index);
      const a = n?.attribute.find((x) => x.type === 2);
      if (a) a.i = BigInt(mut.value);
      break;
    }
    case 'sparse-initializer': {
      const t = at(g.initializer, mut.index);
      if (!t) break;
      const name = t.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      if (!toSparse(m, new RegExp(`^${name}$`), mut.form === 'coo' ? /./ : undefined).length || !mut.outOfRange) break;
      const ix = g.sparseInitializer[g.sparseInitializer.length - 1].indices!;
      const v = new BigInt64Array(new Uint8Array(ix.rawData).buffer);
      if (v.length) v[v.length - 1] = 1n << 40n;
      ix.rawData = new Uint8Array(v.buffer);
      break;
    }
    case 'swap-op-types': {
      const a = at(g.node, mut.a);
      const b = at(g.node, mut.b);
      if (a && b) [a.opType, b.opType] = [b.opType, a.opType];
      break;
    }
  }
  return toBinary(ModelProtoSchema, m);
}

function renameTensor(m: ModelProto, from: string, to: string): void {
  const g = m.graph!;
  for (const n of g.node) {
    n.input = n.input.map((x) => (x === from ? to : x));
    n.output = n.output.map((x) => (x === from ? to : x));
  }
  for (const v of [...g.input, ...g.output, ...g.valueInfo]) if (v.name === from) v.name = to;
  for (const t of g.initializer) if (t.name === from) t.name = to;
}
