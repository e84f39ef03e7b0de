import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, StringStringEntryProtoSchema, TrainingInfoProtoSchema } from 'onnx-buf';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { DT } from '../../src/engine/model/onnx/dtype';
import { GraphBuilder, makeModel, writeModel } from './graphBuilder';
import { rng } from './spec';

/** Inputs a user may hand the tool by mistake, each written into `dir`. */
export function buildBrokenFiles(dir: string, goodModel: string, extModelDir: string) {
  mkdirSync(dir, { recursive: true });
  const bytes = readFileSync(goodModel);
  const truncated = path.join(dir, 'truncated.onnx');
  writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const random = path.join(dir, 'random.onnx');
  const r = rng(9);
  writeFileSync(random, Uint8Array.from({ length: 4096 }, () => Math.floor(r.u() * 256)));
  const text = path.join(dir, 'notes.onnx');
  writeFileSync(text, 'These are my notes about the model, saved with the wrong extension.\n'.repeat(20));
  const empty = path.join(dir, 'empty.onnx');
  writeFileSync(empty, '');

  // A small residual CNN: residual sums but no attention anywhere.
  const b = new GraphBuilder();
  const x = b.input('pixel_values', DT.FLOAT, [1, 3, 16, 16]);
  const w = (name: string, dims: number[]) => b.weight(name, dims, Float32Array.from({ length: dims.reduce((p, q) => p * q, 1) }, () => r.normal() * 0.1));
  const c1 = b.o('Relu', [b.o('Conv', [x, w('conv1.weight', [8, 3, 3, 3])], { pads: [1, 1, 1, 1] })]);
  const c2 = b.o('Conv', [c1, w('conv2.weight', [8, 8, 3, 3])], { pads: [1, 1, 1, 1] });
  const res = b.o('Add', [c1, c2]);
  const pooled = b.o('Flatten', [b.o('GlobalAveragePool', [res])]);
  b.o('Gemm', [pooled, w('fc.weight', [10, 8]), w('fc.bias', [10])], { transB: 1 });
  b.output(b.nodes[b.nodes.length - 1].output[0], DT.FLOAT, [1, 10]);
  const cnn = path.join(dir, 'cnn.onnx');
  writeModel(makeModel(b.graph('cnn')), cnn);

  // The same good model with training info attached (what a training export carries).
  const training = path.join(dir, 'training.onnx');
  const m = fromBinary(ModelProtoSchema, readFileSync(goodModel));
  m.trainingInfo.push(create(TrainingInfoProtoSchema, { updateBinding: [create(StringStringEntryProtoSchema, { key: 'w', value: 'w_new' })] }));
  writeFileSync(training, toBinary(ModelProtoSchema, m));

  // An external-data model whose weight file is missing.
  const missingDir = path.join(dir, 'missing-weights');
  mkdirSync(missingDir, { recursive: true });
  copyFileSync(path.join(extModelDir, 'model.onnx'), path.join(missingDir, 'model.onnx'));
  const noTokDir = path.join(dir, 'no-tokenizer');
  mkdirSync(noTokDir, { recursive: true });
  copyFileSync(goodModel, path.join(noTokDir, 'model.onnx'));
  return { noTokenizer: path.join(noTokDir, 'model.onnx'), truncated, random, text, empty, cnn, training, missingWeights: path.join(missingDir, 'model.onnx') };
}
