import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { quantizeColumns, writeModel } from './graphBuilder';
import { gpt2Model } from './layouts/gpt2';
import { llamaModel } from './layouts/llama';
import { fusedGpt2Model } from './layouts/fused';
import { vitModel } from './layouts/vit';
import { readLlama2c } from './llama2c';
import { DT } from '../../src/engine/onnx/dtype';
import { plantedSpec } from './planted';
import type { Spec } from './spec';
import { tokenizerConfig, tokenizerJson, vocabulary } from './tokenizer';

export interface BuiltModel { name: string; file: string; spec: Spec; kind: 'text' | 'vision' }

function withTokenizer(dir: string): void {
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig()));
}

export function textSpec(arch: 'gpt2' | 'llama', seed = 7): Spec {
  return plantedSpec({ arch, vocab: vocabulary().length, seed });
}

/** The planted GPT-2 (TorchScript layout) with its tokenizer: the demo model. */
export function buildGpt2(root: string, name = 'gpt2-planted'): BuiltModel {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const spec = textSpec('gpt2');
  const file = path.join(dir, 'model.onnx');
  writeModel(gpt2Model(spec), file);
  withTokenizer(dir);
  return { name, file, spec, kind: 'text' };
}

export function buildLlama(root: string, name = 'llama-planted', opts: { fp16?: boolean; qdq?: boolean; externalData?: string; transform?: (m: ReturnType<typeof llamaModel>) => void } = {}): BuiltModel {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const spec = opts.qdq ? quantizedSpec(textSpec('llama')) : textSpec('llama');
  const file = path.join(dir, 'model.onnx');
  const model = llamaModel(spec, opts.fp16 ? DT.FLOAT16 : DT.FLOAT, { qdq: opts.qdq });
  opts.transform?.(model);
  writeModel(model, file, opts.externalData);
  withTokenizer(dir);
  return { name, file, spec, kind: 'text' };
}

/**
 * The spec with its projection matrices replaced by their int8 round trip, so the reference pass
 * computes exactly what the QDQ graph computes.
 */
function quantizedSpec(s: Spec): Spec {
  const dims = { wq: [s.d, s.d], wk: [s.d, s.kvHeads * (s.d / s.heads)], wv: [s.d, s.kvHeads * (s.d / s.heads)], wo: [s.d, s.d], w1: [s.d, s.ffn], w3: [s.d, s.ffn], w2: [s.ffn, s.d] } as const;
  for (const l of s.layer) for (const [k, [rows, cols]] of Object.entries(dims)) {
    const w = l[k as keyof typeof dims];
    const { q, scale } = quantizeColumns(w, rows, cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) w[i * cols + j] = q[i * cols + j] * scale[j];
  }
  return s;
}

export function buildFused(root: string, name = 'gpt2-fused-planted'): BuiltModel {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const spec = textSpec('gpt2');
  const file = path.join(dir, 'model.onnx');
  writeModel(fusedGpt2Model(spec), file);
  withTokenizer(dir);
  return { name, file, spec, kind: 'text' };
}

export function buildVit(root: string, name = 'vit-registers-planted'): BuiltModel {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const spec = plantedSpec({ arch: 'vit', vocab: 2, seed: 11, vit: { channels: 3, image: 32, patch: 8, registers: 4 } });
  const file = path.join(dir, 'model.onnx');
  writeModel(vitModel(spec), file);
  return { name, file, spec, kind: 'vision' };
}

/** The real trained stories260K checkpoint converted to the LLaMA layout (no tokenizer ships with it). */
export function buildStories(root: string, bin: string, name = 'stories260K'): BuiltModel {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const spec = readLlama2c(bin);
  const file = path.join(dir, 'model.onnx');
  writeModel(llamaModel(spec), file);
  return { name, file, spec, kind: 'text' };
}
