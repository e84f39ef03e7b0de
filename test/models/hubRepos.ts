import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildLlama } from './build';

/**
 * A repository laid out as onnx-community's: onnx/model.onnx and onnx/model_fp16.onnx, each with its
 * external weight file, the tokenizer and config at the root, and a README the model does not read.
 * `local` is the plain export as local files (what a scan of the Hub model must equal); `blocks`, as built.
 */
export function tinyLlamaRepo(root: string): { files: Map<string, Buffer>; local: string; blocks: number } {
  const plain = buildLlama(root, 'local', { externalData: 'model.onnx_data' });
  const fp16 = buildLlama(root, 'fp16', { fp16: true, externalData: 'model_fp16.onnx_data' });
  const dir = path.dirname(plain.file);
  const read = (f: string) => readFileSync(f);
  const files = new Map([
    ['onnx/model.onnx', read(plain.file)],
    ['onnx/model.onnx_data', read(path.join(dir, 'model.onnx_data'))],
    ['onnx/model_fp16.onnx', read(fp16.file)],
    ['onnx/model_fp16.onnx_data', read(path.join(path.dirname(fp16.file), 'model_fp16.onnx_data'))],
    ['tokenizer.json', read(path.join(dir, 'tokenizer.json'))],
    ['tokenizer_config.json', read(path.join(dir, 'tokenizer_config.json'))],
    ['config.json', Buffer.from(JSON.stringify({ bos_token_id: 1 }))],
    ['README.md', Buffer.from('# tiny llama\n')],
  ]);
  return { files, local: plain.file, blocks: plain.spec.layers };
}
