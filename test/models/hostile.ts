import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, NodeProtoSchema, type ModelProto, type TensorProto } from 'onnx-buf';
import { copyFileSync, linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { tokenizerConfig, tokenizerJson } from './tokenizer';

/**
 * Inputs a careful user or an attacker hands the tool: each built from a good test model into its
 * own folder, so a test can fingerprint the folder before and after.
 */

export function readProto(file: string): ModelProto {
  return fromBinary(ModelProtoSchema, readFileSync(file));
}

/** A copy of the model's folder with the graph rewritten by `edit` (weights inline, as built). */
export function mutated(src: string, dir: string, edit: (m: ModelProto) => void): string {
  mkdirSync(dir, { recursive: true });
  const m = readProto(src);
  edit(m);
  const file = path.join(dir, 'model.onnx');
  writeFileSync(file, toBinary(ModelProtoSchema, m));
  copyTokenizer(path.dirname(src), dir);
  return file;
}

export function copyTokenizer(from: string, to: string): void {
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(from, f), path.join(to, f));
}

const tensor = (m: ModelProto, name: string): TensorProto => {
  const t = m.graph!.initializer.find((x) => x.name === name);
  if (!t) throw new Error(`no initializer ${name}`);
  return t;
};

/** float32 values of an inline initializer, writable in place. */
function floats(t: TensorProto): Float32Array {
  const copy = new Uint8Array(t.rawData);
  t.rawData = copy;
  return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
}

/** GPT-2 (TorchScript names): one NaN in block `block`'s MLP input weight; every block from there on is NaN. */
export function nanWeights(gpt2: string, dir: string, block = 3): string {
  return mutated(gpt2, dir, (m) => { floats(tensor(m, `transformer.h.${block}.mlp.c_fc.weight`))[5] = NaN; });
}

/** GPT-2 whose every weight is zero: medians of 0, and no ratio to speak of. */
export function zeroWeights(gpt2: string, dir: string): string {
  return mutated(gpt2, dir, (m) => {
    for (const t of m.graph!.initializer) if (t.dataType === 1 && t.dims.length >= 1 && t.rawData.length) t.rawData = new Uint8Array(t.rawData.length);
  });
}

/** Two Identity nodes feeding each other, wired into the first residual Add. */
export function identityCycle(gpt2: string, dir: string): string {
  return mutated(gpt2, dir, (m) => {
    const g = m.graph!;
    g.node.push(create(NodeProtoSchema, { opType: 'Identity', name: 'loop_a', input: ['loop_b_out'], output: ['loop_a_out'] }));
    g.node.push(create(NodeProtoSchema, { opType: 'Identity', name: 'loop_b', input: ['loop_a_out'], output: ['loop_b_out'] }));
    g.node.find((n) => n.opType === 'Add')!.input[1] = 'loop_a_out';
  });
}

export function opset99(gpt2: string, dir: string): string {
  return mutated(gpt2, dir, (m) => { m.opsetImport.find((o) => !o.domain)!.version = 99n; });
}

export function irVersion99(gpt2: string, dir: string): string {
  return mutated(gpt2, dir, (m) => { m.irVersion = 99n; });
}

export function dtype99(gpt2: string, dir: string): string {
  return mutated(gpt2, dir, (m) => { tensor(m, 'transformer.wte.weight').dataType = 99; });
}

/** The token embedding claims 2³¹ rows but holds its 183. */
export function hugeRows(gpt2: string, dir: string): string {
  return mutated(gpt2, dir, (m) => { tensor(m, 'transformer.wte.weight').dims[0] = 2n ** 31n; });
}

/** An op type carrying a terminal escape sequence (red text, then a cursor move). */
export function escapeOpType(gpt2: string, dir: string): string {
  return mutated(gpt2, dir, (m) => { m.graph!.node.find((n) => n.opType === 'Add')!.opType = 'Add\x1b[31mRED\x1b[2J'; });
}

/** An external-data model whose first weight's fields are edited (negative length, huge length, …). */
export function externalField(extModel: string, dir: string, key: string, value: string): string {
  mkdirSync(dir, { recursive: true });
  const m = readProto(extModel);
  const t = m.graph!.initializer.find((x) => x.externalData.length)!;
  const e = t.externalData.find((x) => x.key === key);
  if (e) e.value = value; else t.externalData.push({ ...t.externalData[0], key, value });
  const file = path.join(dir, 'model.onnx');
  writeFileSync(file, toBinary(ModelProtoSchema, m));
  copyFileSync(path.join(path.dirname(extModel), 'model.onnx_data'), path.join(dir, 'model.onnx_data'));
  return file;
}

/**
 * A Hugging Face cache: snapshots/<rev>/ holds links to blobs/<sha> (model, weights, tokenizer).
 * Returns the snapshot's model path.
 */
export function hfCache(modelDir: string, root: string): string {
  const blobs = path.join(root, 'blobs');
  const snap = path.join(root, 'snapshots', '0123abcd');
  mkdirSync(blobs, { recursive: true });
  mkdirSync(snap, { recursive: true });
  for (const [k, name] of ['model.onnx', 'model.onnx_data', 'tokenizer.json', 'tokenizer_config.json'].entries()) {
    try { copyFileSync(path.join(modelDir, name), path.join(blobs, `sha${k}`)); } catch { continue; }
    symlinkSync(path.join('..', '..', 'blobs', `sha${k}`), path.join(snap, name));
  }
  return path.join(snap, 'model.onnx');
}

/** An external-data model whose weight file is a link to a file outside its folder. */
export function escapingWeights(extModel: string, dir: string, outside: string): string {
  mkdirSync(dir, { recursive: true });
  mkdirSync(path.dirname(outside), { recursive: true });
  copyFileSync(path.join(path.dirname(extModel), 'model.onnx_data'), outside);
  copyFileSync(extModel, path.join(dir, 'model.onnx'));
  symlinkSync(outside, path.join(dir, 'model.onnx_data'));
  return path.join(dir, 'model.onnx');
}

/** The tokenizer of "another model": the same words at ids past this model's vocabulary. */
export function foreignTokenizer(gpt2: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(gpt2, path.join(dir, 'model.onnx'));
  const tj = tokenizerJson() as { model: { vocab: Record<string, number> } };
  for (const w of Object.keys(tj.model.vocab)) if (tj.model.vocab[w] > 3) tj.model.vocab[w] += 13000;
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tj));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig()));
  return path.join(dir, 'model.onnx');
}

/** A tokenizer whose word for "warm" is an escape sequence, so a scan table would print it. */
export function escapeTokenizer(gpt2: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(gpt2, path.join(dir, 'model.onnx'));
  const tj = tokenizerJson() as { model: { vocab: Record<string, number> }; pre_tokenizer: unknown; normalizer: unknown };
  const id = tj.model.vocab.warm;
  delete tj.model.vocab.warm;
  tj.model.vocab['\x1b]0;pwned\x07\x1b[2J'] = id;
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tj));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig()));
  return path.join(dir, 'model.onnx');
}

/** A model folder whose tokenizer.json is not what it seems: a link elsewhere, or given content. */
export function withTokenizer(gpt2: string, dir: string, tokenizer: { link?: string; content?: string | Uint8Array }): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(gpt2, path.join(dir, 'model.onnx'));
  const f = path.join(dir, 'tokenizer.json');
  if (tokenizer.link) symlinkSync(tokenizer.link, f);
  else writeFileSync(f, tokenizer.content ?? '');
  return path.join(dir, 'model.onnx');
}

/** A copy of a vision model with its own preprocessor_config.json. */
export function withPreprocessor(vit: string, dir: string, config: unknown): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(vit, path.join(dir, 'model.onnx'));
  writeFileSync(path.join(dir, 'preprocessor_config.json'), JSON.stringify(config));
  return path.join(dir, 'model.onnx');
}

export function png(file: string, size = 32, fill = 200): string {
  const img = new PNG({ width: size, height: size });
  img.data.fill(fill);
  writeFileSync(file, PNG.sync.write(img));
  return file;
}

export function hardLink(target: string, link: string): string {
  linkSync(target, link);
  return link;
}
