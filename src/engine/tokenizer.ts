import { Tokenizer } from '@huggingface/tokenizers';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { EngineError } from './errors';

export interface TextTokenizer {
  file: string;
  encode(text: string): number[];
  tokenText(id: number): string;
}

/** The model's own tokenizer.json, beside the model or one folder up (Optimum puts models in onnx/). */
export function findTokenizer(modelPath: string): string | undefined {
  const dir = path.dirname(path.resolve(modelPath));
  for (const d of [dir, path.dirname(dir)]) {
    const f = path.join(d, 'tokenizer.json');
    if (existsSync(f)) return f;
  }
  return undefined;
}

export function loadTokenizer(file: string): TextTokenizer {
  let json: unknown;
  let config: unknown = {};
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
    const cfg = path.join(path.dirname(file), 'tokenizer_config.json');
    if (existsSync(cfg)) config = JSON.parse(readFileSync(cfg, 'utf8'));
  } catch (e) {
    throw new EngineError('bad-argument', `Cannot read the tokenizer ${file}: ${(e as Error).message}`);
  }
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json as object, config as object);
  } catch (e) {
    throw new EngineError('bad-argument', `The tokenizer ${file} is not supported: ${(e as Error).message}. Pass token ids with --ids instead.`);
  }
  return {
    file,
    encode: (text) => tok.encode(text).ids.map(Number),
    tokenText: (id) => tok.decode([id], { skip_special_tokens: false }) || (tok.id_to_token(id) ?? `<${id}>`),
  };
}
