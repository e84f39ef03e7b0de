import type { ModelProto } from 'onnx-buf';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { DT } from '../../src/engine/onnx/dtype';
import { quantizeColumns, writeModel } from './graphBuilder';
import { fusedGpt2Model } from './layouts/fused';
import { gpt2Model } from './layouts/gpt2';
import { llamaModel } from './layouts/llama';
import { vitModel } from './layouts/vit';
import { readLlama2c } from './llama2c';
import { plantedSpec } from './planted';
import type { Spec } from './spec';
import { tokenizerConfig, tokenizerJson, vocabulary } from './tokenizer';

/** Writes the test models, each in its own folder as `model.onnx` (+ tokenizer for text models). */
export interface BuiltModel { name: string; file: string; spec: Spec; kind: 'text' | 'vision' }

function emit(root: string, name: string, spec: Spec, model: ModelProto, opts: { kind?: 'text' | 'vision'; tokenizer?: boolean; externalData?: string } = {}): BuiltModel {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'model.onnx');
  writeModel(model, file, opts.externalData);
  if (opts.tokenizer ?? true) {
    writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
    writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig()));
  }
  return { name, file, spec, kind: opts.kind ?? 'text' };
}

export function textSpec(arch: 'gpt2' | 'llama', seed = 7): Spec {
  return plantedSpec({ arch, vocab: vocabulary().length, seed });
}

/** The planted GPT-2 (TorchScript layout) with its tokenizer: the demo model. */
export function buildGpt2(root: string, name = 'gpt2-planted'): BuiltModel {
  const spec = textSpec('gpt2');
  return emit(root, name, spec, gpt2Model(spec));
}

export function buildLlama(root: string, name = 'llama-planted', opts: { fp16?: boolean; qdq?: boolean; externalData?: string; transform?: (m: ModelProto) => void } = {}): BuiltModel {
  const spec = opts.qdq ? quantizedSpec(textSpec('llama')) : textSpec('llama');
  const model = llamaModel(spec, opts.fp16 ? DT.FLOAT16 : DT.FLOAT, { qdq: opts.qdq });
  opts.transform?.(model);
  return emit(root, name, spec, model, { externalData: opts.externalData });
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
  const spec = textSpec('gpt2');
  return emit(root, name, spec, fusedGpt2Model(spec));
}

export function buildVit(root: string, name = 'vit-registers-planted'): BuiltModel {
  const spec = plantedSpec({ arch: 'vit', vocab: 2, seed: 11, vit: { channels: 3, image: 32, patch: 8, registers: 4 } });
  return emit(root, name, spec, vitModel(spec), { kind: 'vision', tokenizer: false });
}

/** The real trained stories260K checkpoint converted to the LLaMA layout (no tokenizer ships with it). */
export function buildStories(root: string, bin: string, name = 'stories260K'): BuiltModel {
  const spec = readLlama2c(bin);
  return emit(root, name, spec, llamaModel(spec), { tokenizer: false });
}
