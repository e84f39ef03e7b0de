import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cachedModels } from '../../src/hub/cache';
import { hubEnv, hubSpecFrom } from '../../src/hub/ref';
import { tempDir } from '../fixtures';

test('what users type or paste for a Hub model becomes hf://OWNER/NAME[@REVISION]; anything else names none', () => {
  const cases: [string, string | undefined][] = [
    ['onnx-community/Qwen3-0.6B-ONNX', 'hf://onnx-community/Qwen3-0.6B-ONNX'],
    ['  onnx-community/Qwen3-0.6B-ONNX  ', 'hf://onnx-community/Qwen3-0.6B-ONNX'],
    ['onnx-community/Qwen3-0.6B-ONNX@refs/pr/3', 'hf://onnx-community/Qwen3-0.6B-ONNX@refs/pr/3'],
    ['hf://Xenova/gpt2@v1.0', 'hf://Xenova/gpt2@v1.0'],
    ['https://huggingface.co/onnx-community/Qwen3-0.6B-ONNX', 'hf://onnx-community/Qwen3-0.6B-ONNX'],
    ['https://huggingface.co/onnx-community/Qwen3-0.6B-ONNX/tree/main/onnx', 'hf://onnx-community/Qwen3-0.6B-ONNX'],
    ['https://huggingface.co/Xenova/gpt2/blob/v1.0/onnx/model.onnx', 'hf://Xenova/gpt2@v1.0'],
    ['https://hf.co/Xenova/gpt2?library=transformers', 'hf://Xenova/gpt2'],
    ['gpt2', undefined],
    ['not a repo', undefined],
    ['a/b/c', undefined],
    ['https://example.com/a/b', undefined],
    ['owner/../x', undefined],
  ];
  for (const [typed, want] of cases) assert.equal(hubSpecFrom(typed), want, typed);
});

test('the cache\'s ONNX models as huggingface_hub lays them out: refs name the snapshots, onnx/ is the folder, the rest is left out', () => {
  const cache = tempDir('hub-cache-list');
  const repo = (name: string) => path.join(cache, name);
  const file = (p: string, body = 'x') => { mkdirSync(path.dirname(p), { recursive: true }); writeFileSync(p, body); };
  // Two snapshots of one repository: main (graphs under onnx/) and a pull request's (graph at the root).
  file(path.join(repo('models--onnx-community--tiny'), 'blobs', 'b1'));
  file(path.join(repo('models--onnx-community--tiny'), 'refs', 'main'), 'a'.repeat(40));
  file(path.join(repo('models--onnx-community--tiny'), 'refs', 'pr', '1'), 'b'.repeat(40));
  mkdirSync(path.join(repo('models--onnx-community--tiny'), 'snapshots', 'a'.repeat(40), 'onnx'), { recursive: true });
  symlinkSync('../../../blobs/b1', path.join(repo('models--onnx-community--tiny'), 'snapshots', 'a'.repeat(40), 'onnx', 'model_q4.onnx'));
  // A link whose blob is gone is not a graph here.
  symlinkSync('../../../blobs/gone', path.join(repo('models--onnx-community--tiny'), 'snapshots', 'a'.repeat(40), 'onnx', 'model.onnx'));
  file(path.join(repo('models--onnx-community--tiny'), 'snapshots', 'b'.repeat(40), 'model.onnx'));
  // A commit nobody's ref names, a repository with no graph, a dataset, a lock folder.
  file(path.join(repo('models--Xenova--gpt2'), 'snapshots', 'c'.repeat(40), 'onnx', 'decoder_model_merged.onnx'));
  file(path.join(repo('models--google--bert'), 'snapshots', 'd'.repeat(40), 'model.safetensors'));
  file(path.join(repo('datasets--acme--text'), 'snapshots', 'e'.repeat(40), 'x.onnx'));
  mkdirSync(path.join(cache, '.locks'), { recursive: true });
  // In the order a reader looks for them: by name, whatever its case.
  const found = cachedModels({ ...hubEnv({}), cache }).map((m) => [m.repo, m.revision, path.relative(cache, m.folder), m.graphs.join(',')]);
  assert.deepEqual(found, [
    ['onnx-community/tiny', 'main', path.join('models--onnx-community--tiny', 'snapshots', 'a'.repeat(40), 'onnx'), 'model_q4.onnx'],
    ['onnx-community/tiny', 'pr/1', path.join('models--onnx-community--tiny', 'snapshots', 'b'.repeat(40)), 'model.onnx'],
    ['Xenova/gpt2', 'ccccccc', path.join('models--Xenova--gpt2', 'snapshots', 'c'.repeat(40), 'onnx'), 'decoder_model_merged.onnx'],
  ]);
  assert.deepEqual(cachedModels({ ...hubEnv({}), cache: path.join(cache, 'absent') }), [], 'no cache yet: nothing, no error');
});
