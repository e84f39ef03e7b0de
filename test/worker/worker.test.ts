import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { EngineClient } from '../../src/worker/client';
import { SessionCache } from '../../src/worker/sessionCache';
import { isEngineError } from '../../src/engine/errors';
import type { Progress } from '../../src/engine/types';
import { buildGpt2, type BuiltModel } from '../models/build';
import { PAPER_PROMPT, tempDir, WORKER } from '../fixtures';

const root = tempDir('worker');
let m: BuiltModel;
before(() => {
  assert.ok(existsSync(WORKER), `${WORKER} is missing: run "npm run build" first (npm test does)`);
  m = buildGpt2(root);
});

describe('engine worker', () => {
  test('scans off the calling thread, with typed progress', async () => {
    const client = new EngineClient(WORKER);
    const progress: Progress[] = [];
    const r = await client.call('scan', { file: m.file, options: { prompt: PAPER_PROMPT } }, (p) => progress.push(p)).result;
    assert.deepEqual(r.massiveTokens, [0, 4, 8]);
    assert.deepEqual([...new Set(progress.map((p) => p.stage))], ['load', 'run', 'stats']);
    assert.deepEqual(progress.filter((p) => p.stage === 'stats').map((p) => p.done), [1, 2, 3, 4, 5, 6]);
    const info = await client.call('inspect', { file: m.file }).result;
    assert.equal(info.blocks, 6);
    await client.dispose();
  });

  test('errors come back typed, and the worker keeps serving', async () => {
    const client = new EngineClient(WORKER);
    await assert.rejects(client.call('scan', { file: m.file, options: { prompt: '' } }).result, (e: unknown) => isEngineError(e) && e.code === 'bad-prompt');
    const r = await client.call('scan', { file: m.file, options: { ids: [1, 10, 3] } }).result;
    assert.equal(r.tokens.length, 3);
    await client.dispose();
  });

  test('cancelling rejects the call at once and leaves the engine usable', async () => {
    const client = new EngineClient(WORKER);
    const call = client.call('scan', { file: m.file, options: { prompt: PAPER_PROMPT } });
    const rejected = assert.rejects(call.result, (e: unknown) => isEngineError(e) && e.code === 'cancelled');
    await client.cancel(call.id);
    await rejected;
    assert.equal(client.running, true, 'the worker (and its sessions) stay up');
    const r = await client.call('scan', { file: m.file, options: { prompt: PAPER_PROMPT } }).result;
    assert.deepEqual(r.massiveChannels, [7, 42]);
    await client.dispose();
  });

  test('an experiment cancelled mid-run (after its first inputs) stops, and the next call works', async () => {
    const client = new EngineClient(WORKER);
    let cancelled: Promise<void> | undefined;
    const call = client.call('scanMany', { file: m.file, options: { text: 'Summer is warm. Winter is cold. '.repeat(200), seqLen: 8, count: 200 } }, (p) => {
      if (p.stage === 'run' && (p.done ?? 0) >= 2 && !cancelled) cancelled = client.cancel(call.id);
    });
    await assert.rejects(call.result, (e: unknown) => isEngineError(e) && e.code === 'cancelled');
    await cancelled;
    const r = await client.call('intervene', { file: m.file, options: { layer: 1, mode: 'zero', prompt: PAPER_PROMPT, evalText: null } }).result;
    assert.equal(r.changed.length, 6);
    await client.dispose();
  });

  test('a crashed worker fails its calls with a clear message; the next call gets a new worker', async () => {
    const crashing = path.join(root, 'crashing-worker.js');
    writeFileSync(crashing, "require('node:worker_threads').parentPort.on('message', () => process.exit(7));");
    const bad = new EngineClient(crashing);
    await assert.rejects(bad.call('inspect', { file: m.file }).result, (e: unknown) => isEngineError(e) && e.code === 'worker-crashed' && /exit code 7/.test(e.message));
    assert.equal(bad.running, false);
    const throwing = path.join(root, 'throwing-worker.js');
    writeFileSync(throwing, "require('node:worker_threads').parentPort.on('message', () => { throw new Error('boom'); });");
    const bad2 = new EngineClient(throwing);
    await assert.rejects(bad2.call('inspect', { file: m.file }).result, (e: unknown) => isEngineError(e) && e.code === 'worker-crashed' && /boom/.test(e.message));
  });
});

describe('session cache', () => {
  test('one session per (path, size, mtime, variant); a re-saved file gets a new one', async () => {
    const cache = new SessionCache(2);
    const a = cache.get(m.file, { attention: true }, {});
    assert.equal(cache.get(m.file, { attention: true }, {}), a);
    const other = cache.get(m.file, { attention: false }, {});
    assert.notEqual(other, a);
    const t = new Date(Date.now() + 5000);
    utimesSync(m.file, t, t);
    const b = cache.get(m.file, { attention: true }, {});
    assert.notEqual(b, a);
    assert.equal(cache.size, 2, 'bounded: the oldest session was released');
    await Promise.all([a, b, other]);
  });
});
