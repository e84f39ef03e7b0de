import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { FileChanges } from '../../src/host/fileChanges';
import { tempDir } from '../fixtures';

/** A watcher on `files` and its reports, in order. */
function watch(files: string[]) {
  const reports: string[][] = [];
  let wake: (() => void) | undefined;
  const w = new FileChanges(files, (changed) => { reports.push(changed.map((f) => path.basename(f))); wake?.(); }, 50);
  // The watcher does not keep the process alive (an extension's must not): the wait does.
  const next = () => new Promise<string[]>((resolve) => {
    if (reports.length) { resolve(reports.shift()!); return; }
    const alive = setInterval(() => undefined, 1000);
    wake = () => { wake = undefined; clearInterval(alive); resolve(reports.shift()!); };
  });
  return { w, next, reports };
}

describe('model file changes (what marks results stale)', () => {
  test('a file replaced by renaming a new one over it (how exporters and caches write) is reported', async () => {
    const dir = tempDir('changes');
    const model = path.join(dir, 'model.onnx');
    writeFileSync(model, 'one');
    const { w, next } = watch([model]);
    writeFileSync(path.join(dir, 'model.onnx.tmp'), 'two, longer');
    renameSync(path.join(dir, 'model.onnx.tmp'), model);
    assert.deepEqual(await next(), ['model.onnx']);
    w.dispose();
  });

  test('a weight file rewritten in place is reported; another file in the folder is not', async () => {
    const dir = tempDir('changes');
    const model = path.join(dir, 'model.onnx'), weights = path.join(dir, 'model.onnx_data');
    writeFileSync(model, 'graph');
    writeFileSync(weights, 'weights');
    const { w, next, reports } = watch([model, weights]);
    writeFileSync(path.join(dir, 'notes.txt'), 'unrelated');
    // The unrelated write settles silently; the weight rewrite that follows is the only report.
    writeFileSync(weights, 'new weights!');
    assert.deepEqual(await next(), ['model.onnx_data']);
    assert.equal(reports.length, 0);
    w.dispose();
  });

  test('a symlinked model (a Hugging Face cache snapshot) is reported when its link moves to a new blob', async () => {
    const dir = tempDir('changes');
    const blobs = path.join(dir, 'blobs'), snap = path.join(dir, 'snapshots', 'abc');
    mkdirSync(blobs, { recursive: true });
    mkdirSync(snap, { recursive: true });
    writeFileSync(path.join(blobs, 'old'), 'old blob');
    writeFileSync(path.join(blobs, 'new'), 'new blob, other size');
    const link = path.join(snap, 'model.onnx');
    symlinkSync(path.join(blobs, 'old'), link);
    const { w, next } = watch([link]);
    unlinkSync(link);
    symlinkSync(path.join(blobs, 'new'), link);
    assert.deepEqual(await next(), ['model.onnx']);
    w.dispose();
  });

  test('after accept(), the files as they are now are the new baseline', async () => {
    const dir = tempDir('changes');
    const model = path.join(dir, 'model.onnx');
    writeFileSync(model, 'a');
    const { w, next } = watch([model]);
    writeFileSync(model, 'bb');
    assert.deepEqual(await next(), ['model.onnx']);
    w.accept();
    writeFileSync(model, 'ccc');
    assert.deepEqual(await next(), ['model.onnx']);
    w.dispose();
  });
});
