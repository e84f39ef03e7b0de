import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeModel } from './graphBuilder';
import { gpt2Model } from './layouts/gpt2';
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
