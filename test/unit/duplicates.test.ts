import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { create, clone } from '@bufbuild/protobuf';
import { GraphProtoSchema, type NodeProto, type TensorProto } from 'onnx-buf';
import * as ort from 'onnxruntime-node';
import { makeNode, makeTensor, makeValueInfo } from '../../src/engine/model/onnx/build';
import { DT } from '../../src/engine/model/onnx/dtype';
import { keepRuntimeDefinitions, LARGE_BYTES } from '../../src/engine/model/onnx/duplicates';
import { validateModel } from '../../src/engine/model/onnx/validate';
import { isEngineError } from '../../src/engine/base/errors';
import { makeModel, writeModel } from '../models/graphBuilder';
import { tempDir } from '../fixtures';

/**
 * Which of several definitions of one name ONNX Runtime computes with, asked of ONNX Runtime itself:
 * y = x + k, with k defined by initializers and Constant nodes. The engine's choice must give the
 * same y when ONNX Runtime runs the graph it keeps; where it refuses, ONNX Runtime's choice is the
 * one that is not defined. An ONNX Runtime upgrade that changes the rule fails here first.
 */
const root = tempDir('duplicates');
let n = 0;
const filled = (v: number, len: number) => new Uint8Array(new Float32Array(len).fill(v).buffer);
const init = (v: number, len: number) => makeTensor('k', DT.FLOAT, [len], filled(v, len));
const constant = (name: string, v: number, len: number) => makeNode('Constant', [], ['k'], name, { value: makeTensor('', DT.FLOAT, [len], filled(v, len)) });

function graph(len: number, nodes: NodeProto[], inits: TensorProto[]) {
  return create(GraphProtoSchema, {
    name: 'g', node: [...nodes, makeNode('Add', ['x', 'k'], ['y'], 'add')], initializer: inits,
    input: [makeValueInfo('x', DT.FLOAT, [len])], output: [makeValueInfo('y', DT.FLOAT, [len])],
  });
}

async function run(g: ReturnType<typeof graph>, len: number): Promise<number> {
  const file = path.join(root, `g${n++}.onnx`);
  writeModel(makeModel(g), file);
  const s = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
  const y = (await s.run({ x: new ort.Tensor('float32', new Float32Array(len), [len]) })).y.data as Float32Array;
  await s.release();
  return y[0];
}

const cases: { label: string; nodes: (len: number) => NodeProto[]; inits: (len: number) => TensorProto[] }[] = [
  { label: 'two Constant nodes', nodes: (l) => [constant('a', 10, l), constant('b', 20, l)], inits: () => [] },
  { label: 'three Constant nodes', nodes: (l) => [constant('a', 10, l), constant('b', 20, l), constant('c', 30, l)], inits: () => [] },
  { label: 'an initializer and a Constant node', nodes: (l) => [constant('a', 10, l)], inits: (l) => [init(1, l)] },
  { label: 'two initializers', nodes: () => [], inits: (l) => [init(1, l), init(2, l)] },
  { label: 'two initializers and two Constant nodes', nodes: (l) => [constant('a', 10, l), constant('b', 20, l)], inits: (l) => [init(1, l), init(2, l)] },
];

for (const len of [2, LARGE_BYTES / 4 - 1]) {
  for (const c of cases) {
    test(`${len * 4} bytes, ${c.label}, different values: the engine keeps the definition ONNX Runtime computes with`, async () => {
      const original = graph(len, c.nodes(len), c.inits(len));
      const kept = clone(GraphProtoSchema, original);
      const notes = keepRuntimeDefinitions(kept, 'g.onnx');
      assert.equal(notes.length, 1);
      assert.match(notes[0], /^g\.onnx defines a tensor more than once in the main graph \(e\.g\. "k" by .*\); the model runs as ONNX Runtime runs it/);
      assert.equal(kept.initializer.length + kept.node.filter((x) => x.opType === 'Constant').length, 1, 'one definition left');
      validateModel(kept, 'g.onnx');
      assert.equal(await run(kept, len), await run(original, len));
    });
  }
}

for (const c of cases) {
  const len = LARGE_BYTES / 4;
  test(`${len * 4} bytes, ${c.label}: equal values are kept once; different ones are refused`, async () => {
    const equal = graph(len, c.nodes(len).map((x) => constant(x.name, 7, len)), c.inits(len).map(() => init(7, len)));
    const kept = clone(GraphProtoSchema, equal);
    keepRuntimeDefinitions(kept, 'g.onnx');
    assert.equal(await run(kept, len), await run(equal, len));
    assert.equal(await run(kept, len), 7);
    const differing = graph(len, c.nodes(len), c.inits(len));
    assert.throws(() => keepRuntimeDefinitions(differing, 'g.onnx'), (e: unknown) => isEngineError(e) && e.code === 'invalid-model' && /defines the tensor "k" \d times in the main graph, with different values/.test(e.message));
  });
}

test('a name a Constant node and an ordinary node both make is refused, as ONNX Runtime refuses it', async () => {
  const g = graph(2, [constant('a', 10, 2), makeNode('Neg', ['x'], ['k'], 'neg')], []);
  await assert.rejects(run(g, 2), /Duplicate definition of name \(k\)/);
  const kept = clone(GraphProtoSchema, g);
  assert.deepEqual(keepRuntimeDefinitions(kept, 'g.onnx'), []);
  assert.throws(() => validateModel(kept, 'g.onnx'), /the tensor "k" in the main graph is produced by two nodes \(a and neg\)/);
});
