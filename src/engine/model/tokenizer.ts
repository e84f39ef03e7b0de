import { Tokenizer } from '@huggingface/tokenizers';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { EngineError, option } from '../base/errors';
import { brokenLink, FILE_LIMITS, readJsonFile } from '../base/files';
import { readSidecar } from './sidecar';
import { printable } from '../base/text';

export interface TextTokenizer {
  file: string;
  encode(text: string): number[];
  tokenText(id: number): string;
  /** Tokens the file defines, added tokens included. */
  size(): number;
  /** What was ignored in tokenizer_config.json, in a sentence. */
  note?: string;
}

/**
 * The fields of tokenizer_config.json that @huggingface/tokenizers reads, by the type it can use:
 * a string where it iterates a list would throw inside the library, a string "false" would switch
 * a flag on.
 */
const TOKENIZER_CONFIG = {
  additional_special_tokens: 'list', remove_space: 'boolean', clean_up_tokenization_spaces: 'boolean', do_lowercase_and_remove_accent: 'boolean',
  target_lang: 'string', bos_token: 'token', eos_token: 'token', pad_token: 'token', unk_token: 'token',
} as const;

/** The model's own tokenizer.json, beside the model or one folder up (Optimum puts models in onnx/). */
export function findTokenizer(modelPath: string): string | undefined {
  const dir = path.dirname(path.resolve(modelPath));
  for (const d of [dir, path.dirname(dir)]) {
    const f = path.join(d, 'tokenizer.json');
    // A broken link is found too, so that the run says what it points to instead of "no tokenizer".
    if (existsSync(f) || brokenLink(f)) return f;
  }
  return undefined;
}

/** Reads tokenizer.json (and tokenizer_config.json beside it): regular files of bounded size only. */
export function loadTokenizer(file: string): TextTokenizer {
  const json = readJsonFile(file, 'tokenizer', FILE_LIMITS.tokenizer);
  const config = readSidecar(path.join(path.dirname(file), 'tokenizer_config.json'), 'tokenizer_config.json', 'tokenizer config', TOKENIZER_CONFIG);
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new EngineError('bad-file', `The tokenizer ${printable(file)} is not a tokenizer.json (it holds no JSON object).`);
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json as object, config?.object ?? {});
  } catch (e) {
    throw new EngineError('bad-file', `The tokenizer ${printable(file)} is not supported: ${printable((e as Error)?.message ?? String(e))}. Give token ids instead (${option('ids')}).`);
  }
  let size: number | undefined;
  return {
    file,
    encode: (text) => tok.encode(text).ids.map(Number),
    tokenText: (id) => tok.decode([id], { skip_special_tokens: false }) || (tok.id_to_token(id) ?? `<${id}>`),
    size: () => (size ??= tok.get_vocab(true).size),
    note: config?.note,
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
