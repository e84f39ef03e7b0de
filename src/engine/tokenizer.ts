import { Tokenizer } from '@huggingface/tokenizers';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { EngineError, option } from './errors';
import { FILE_LIMITS, readJsonFile } from './files';
import { printable } from './text';

export interface TextTokenizer {
  file: string;
  encode(text: string): number[];
  tokenText(id: number): string;
  /** Tokens the file defines, added tokens included. */
  size(): number;
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

/** Reads tokenizer.json (and tokenizer_config.json beside it): regular files of bounded size only. */
export function loadTokenizer(file: string): TextTokenizer {
  const json = readJsonFile(file, 'tokenizer', FILE_LIMITS.tokenizer);
  const cfg = path.join(path.dirname(file), 'tokenizer_config.json');
  const config = existsSync(cfg) ? readJsonFile(cfg, 'tokenizer config') : {};
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new EngineError('bad-file', `The tokenizer ${printable(file)} is not a tokenizer.json (it holds no JSON object).`);
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json as object, (config && typeof config === 'object' ? config : {}) as object);
  } catch (e) {
    throw new EngineError('bad-file', `The tokenizer ${printable(file)} is not supported: ${printable((e as Error)?.message ?? String(e))}. Pass token ids with ${option('ids')} instead.`);
  }
  let size: number | undefined;
  return {
    file,
    encode: (text) => tok.encode(text).ids.map(Number),
    tokenText: (id) => tok.decode([id], { skip_special_tokens: false }) || (tok.id_to_token(id) ?? `<${id}>`),
    size: () => (size ??= tok.get_vocab(true).size),
  };
}

/**
 * For runs given token ids the tokenizer only names the tokens: a tokenizer that cannot be read
 * must not block them. Returns undefined and says why instead.
 */
export function optionalTokenizer(file: string | undefined): { tok?: TextTokenizer; note?: string } {
  if (!file) return {};
  try {
    return { tok: loadTokenizer(file) };
  } catch (e) {
    return { note: `Token texts are not shown: ${(e as Error).message}` };
  }
}
