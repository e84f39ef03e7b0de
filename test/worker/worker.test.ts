import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { EngineClient } from '../../src/worker/client';
import { SessionCache, weightBytes } from '../../src/worker/sessionCache';
import { run } from '../../src/engine/run/session';
import { SCAN_PROBES } from '../../src/engine/run/probes';
import { classifyInputs, textFeeds } from '../../src/engine/model/feeds';
import { isEngineError, userMessage } from '../../src/engine/base/errors';
import { cliWording } from '../../src/shared/cliWording';
import { vscodeWording } from '../../src/host/wording';
import type { Progress } from '../../src/engine/model/results';
import { buildGpt2, buildLlama, buildScaleLlama, scaleSpec, type BuiltModel } from '../models/build';
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

  test('an error crosses the worker with its code and facts, and each front end words its options', async () => {
    const client = new EngineClient(WORKER);
    const tooLong = await client.call('scan', { file: m.file, options: { ids: Array.from({ length: 40 }, (_, i) => i + 1), maxTokens: 16 } }).result.then(() => undefined, (e: unknown) => e);
    assert.ok(isEngineError(tooLong) && tooLong.code === 'too-long');
    assert.deepEqual({ tokens: tooLong.facts.tokens, limit: tooLong.facts.limit }, { tokens: 40, limit: 16 });
    const inCode = userMessage(tooLong, vscodeWording);
    assert.match(inCode, /the limit is 16 tokens \(the smaller of the massiveActivations\.maxTokens setting and the model's position table\)/);
    assert.doesNotMatch(inCode, /--|\u27e6/);
    assert.match(userMessage(tooLong, cliWording), /the smaller of --max-tokens and/);
    // A text model asked to run an image: the CLI names its flag, VS Code its control.
    const image = await client.call('scan', { file: m.file, options: { image: 'x.png' } }).result.then(() => undefined, (e: unknown) => e);
    assert.match(userMessage(image, cliWording), /is a text model; --image is for vision models/);
    assert.match(userMessage(image, vscodeWording), /is a text model; an image \(Choose image…\) is for vision models/);
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
    // Cancelled as soon as sent: the engine may still be starting or parsing the model (no answer
    // within the grace, so it is restarted) or already running; either way the next call works.
    const client = new EngineClient(WORKER);
    const call = client.call('scan', { file: m.file, options: { prompt: PAPER_PROMPT } });
    const rejected = assert.rejects(call.result, (e: unknown) => isEngineError(e) && e.code === 'cancelled');
    const cancelling = client.cancel(call.id);
    await rejected;
    assert.match(await cancelling, /^(stopped|restarted)$/);
    const r = await client.call('scan', { file: m.file, options: { prompt: PAPER_PROMPT } }).result;
    assert.deepEqual(r.massiveChannels, [7, 42]);
    await client.dispose();
  });

  test('cancelling a call once the model runs stops it without restarting the engine', async () => {
    const client = new EngineClient(WORKER);
    await client.call('inspect', { file: m.file }).result;
    const pid = client.pid;
    let cancelling: Promise<string> | undefined;
    const call = client.call('scan', { file: m.file, options: { prompt: PAPER_PROMPT } }, (p) => {
      if (p.stage === 'run' && !cancelling) cancelling = client.cancel(call.id);
    });
    await assert.rejects(call.result, (e: unknown) => isEngineError(e) && e.code === 'cancelled');
    // The run is inside ONNX Runtime's asynchronous run, so the engine answers the cancel at once.
    assert.equal(await cancelling, 'stopped');
    assert.equal(client.running, true, 'the worker (and its sessions) stay up');
    assert.equal(client.pid, pid);
    const r = await client.call('scan', { file: m.file, options: { prompt: PAPER_PROMPT } }).result;
    assert.deepEqual(r.massiveChannels, [7, 42]);
    await client.dispose();
  });

  test('an experiment cancelled mid-run (after its first inputs) stops, and the next call works', async () => {
    const client = new EngineClient(WORKER);
    let cancelled: Promise<string> | undefined;
    const call = client.call('scanMany', { file: m.file, options: { text: 'Summer is warm. Winter is cold. '.repeat(200), seqLen: 8, count: 200 } }, (p) => {
      if (p.stage === 'run' && (p.done ?? 0) >= 2 && !cancelled) cancelled = client.cancel(call.id);
    });
    await assert.rejects(call.result, (e: unknown) => isEngineError(e) && e.code === 'cancelled');
    assert.equal(await cancelled, 'stopped', 'stopped between runs, no restart needed');
    const r = await client.call('intervene', { file: m.file, options: { layer: 1, mode: 'zero', prompt: PAPER_PROMPT, evalText: null } }).result;
    assert.equal(r.changed.length, 6);
    await client.dispose();
  });

  test('cancelling a long scan between two blocks stops it there: the engine is not restarted and serves the next call', async () => {
    // Blocks of a fraction of a second each: 2000 tokens through a width-256 model, 12 blocks.
    const long = buildScaleLlama(root, 'llama-12', scaleSpec({ layers: 12, d: 256, ffn: 704, heads: 4, kvHeads: 2, vocab: 512, maxPos: 2048 }), 'fp32');
    const client = new EngineClient(WORKER);
    await client.call('inspect', { file: long.file }).result;
    const pid = client.pid!;
    const ids = Array.from({ length: 2000 }, (_, i) => (i % 16 ? 10 + (i % 100) : 3));
    let cancelled: Promise<string> | undefined;
    let t0 = 0;
    const blocks: number[] = [];
    const call = client.call('scan', { file: long.file, options: { ids, maxTokens: 2000 } }, (p) => {
      if (p.layer) blocks.push(p.layer.index);
      // After block 1: the engine knows how long a block takes, and ten blocks are still to run.
      if (p.layer?.index === 1 && !cancelled) { t0 = performance.now(); cancelled = client.cancel(call.id); }
    });
    await assert.rejects(call.result, (e: unknown) => isEngineError(e) && e.code === 'cancelled');
    assert.equal(await cancelled, 'stopped', 'stopped at a border between blocks, no restart');
    process.stderr.write(`cancel returned ${(performance.now() - t0).toFixed(0)} ms after it was asked (blocks seen: ${blocks.join(',')})\n`);
    assert.ok(blocks.length < 12, 'the pass did not run to its end');
    assert.equal(client.pid, pid);
    const r = await client.call('scan', { file: m.file, options: { prompt: PAPER_PROMPT } }).result;
    assert.deepEqual(r.massiveTokens, [0, 4, 8], 'the same engine process serves the next call');
    assert.equal(client.pid, pid);
    await client.dispose();
  });

  test('cancelling inside one ONNX Runtime run longer than the client waits kills the engine process; waiting calls run on a fresh one', async () => {
    // One block of a few seconds (4000 tokens through a width-512 model); this client waits for no
    // block (segmentWaitMs 0), as it would not for one longer than CANCEL_SEGMENT_WAIT_MS.
    const big = buildScaleLlama(root, 'llama-long', scaleSpec({ layers: 4, d: 512, ffn: 1408, heads: 8, kvHeads: 2, vocab: 512, maxPos: 4096 }), 'fp32');
    const client = new EngineClient(WORKER, 0);
    await client.call('inspect', { file: big.file }).result;
    const first = client.pid!;
    let cancelled: Promise<string> | undefined;
    const ids = Array.from({ length: 4000 }, (_, i) => (i % 16 ? 10 + (i % 100) : 3));
    const call = client.call('scan', { file: big.file, options: { ids, maxTokens: 4000 } }, (p) => {
      if (p.stage === 'run' && !cancelled) cancelled = client.cancel(call.id);
    });
    const waiting = client.call('scan', { file: m.file, options: { prompt: PAPER_PROMPT } });
    await assert.rejects(call.result, (e: unknown) => isEngineError(e) && e.code === 'cancelled');
    assert.equal(await cancelled, 'restarted');
    assert.throws(() => process.kill(first, 0), /ESRCH/, 'the busy engine process is gone');
    assert.deepEqual((await waiting.result).massiveTokens, [0, 4, 8], 'the call queued behind it ran on a fresh engine');
    assert.notEqual(client.pid, first);
    await client.dispose();
  });

  test('a crashed worker fails its calls with a clear message; the next call gets a new worker', async () => {
    const crashing = path.join(root, 'crashing-worker.js');
    writeFileSync(crashing, "process.on('message', () => process.exit(7));");
    const bad = new EngineClient(crashing);
    await assert.rejects(bad.call('inspect', { file: m.file }).result, (e: unknown) => isEngineError(e) && e.code === 'worker-crashed' && /exit code 7/.test(e.message));
    assert.equal(bad.running, false);
    const throwing = path.join(root, 'throwing-worker.js');
    writeFileSync(throwing, "process.on('message', () => { throw new Error('boom'); });");
    const bad2 = new EngineClient(throwing);
    await assert.rejects(bad2.call('inspect', { file: m.file }).result, (e: unknown) => isEngineError(e) && e.code === 'worker-crashed' && /boom/.test(e.message));
  });
});

describe('session cache', () => {
  test('one session per (path, size, mtime, probe request); a re-saved file gets a new one', async () => {
    const cache = new SessionCache(2);
    const a = cache.get(m.file, { read: ['blocks.*.attn.pattern'] }, {});
    assert.equal(cache.get(m.file, { read: ['blocks.2.attn.pattern', 'blocks.*.attn.pattern', 'blocks.0.resid_post'] }, {}), a, 'the same request spelt another way');
    const other = cache.get(m.file, { read: [] }, {});
    assert.notEqual(other, a);
    const t = new Date(Date.now() + 5000);
    utimesSync(m.file, t, t);
    const b = cache.get(m.file, { read: ['blocks.*.attn.pattern'] }, {});
    assert.notEqual(b, a);
    assert.equal(cache.size, 2, 'bounded: the oldest session was released');
    await Promise.all([a, b, other]);
  });

  test('models over the byte budget keep one session, and the old one is released before the next opens', async () => {
    const ext = buildLlama(root, 'llama-ext', { externalData: 'model.onnx_data' });
    const dir = path.dirname(ext.file);
    assert.equal(weightBytes(ext.file), statSync(ext.file).size + statSync(path.join(dir, 'model.onnx_data')).size);
    const cache = new SessionCache(4, weightBytes(ext.file) * 1.5);
    const first = await cache.get(ext.file, { read: [] }, {});
    const feeds = textFeeds(classifyInputs(first.prepared.index), [1, 10, 3]);
    await run(first, feeds);
    const second = cache.get(ext.file, SCAN_PROBES, {});
    assert.equal(cache.size, 1);
    await second;
    await assert.rejects(run(first, feeds), 'the first session was released');
    await run(await second, feeds);
  });
});
