import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { scanModel } from '../../src/engine/run/scan';
import { embeddingSession, embedTokens } from '../../src/engine/run/input';
import { resolveTarget } from '../../src/engine/model/folder';
import { isEngineError, userMessage } from '../../src/engine/base/errors';
import { cliWording } from '../../src/shared/cliWording';
import { buildEmbedPair, buildSeq2Seq, buildWhisper, type FolderModel } from '../models/build';
import { forwardSeq2Seq } from '../models/seq2seq';
import { forwardText } from '../models/reference';
import type { Spec } from '../models/spec';
import type { ScanResult } from '../../src/engine/model/results';
import { CLI, fingerprint, tempDir } from '../fixtures';
import { assertMatchesReference } from './matchReference';

/**
 * Issue 10: exports split over several files. A folder (or any file in it) runs its files in
 * order: embed_tokens → a decoder taking inputs_embeds; encoder_model → decoder_model, scanned as
 * two stacks with the decoder's cross-attention measured on the encoder's massive tokens.
 */
const root = tempDir('folders');
const IDS = [1, 10, 11, 12, 3, 13, 11, 14, 3];
let s2s: FolderModel & { encoder: Spec; decoder: Spec };
let pair: FolderModel & { spec: Spec };

before(() => {
  s2s = buildSeq2Seq(root);
  pair = buildEmbedPair(root);
});

const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
const stackAsScan = (r: ScanResult, k: number): ScanResult => ({ ...r, ...r.stacks![k] });

describe('an Optimum seq2seq pair (encoder_model.onnx + decoder_model.onnx)', () => {
  test('the folder scans as two stacks, each matching the reference; the decoder starts from config.json\'s start token', async () => {
    const before = fingerprint(s2s.dir);
    const r = await scanModel(s2s.dir, { ids: IDS });
    assert.deepEqual(r.stacks!.map((st) => [st.name, path.basename(st.file), st.layers.length]), [['encoder', 'encoder_model.onnx', 6], ['decoder', 'decoder_model.onnx', 6]]);
    const ref = forwardSeq2Seq(s2s.encoder, s2s.decoder, IDS, [1]);
    assertMatchesReference(stackAsScan(r, 0), ref.encoder, s2s.encoder.d);
    assertMatchesReference(stackAsScan(r, 1), ref.decoder, s2s.decoder.d);
    assert.deepEqual(r.stacks![0].massiveTokens, [0, 4, 8]);
    assert.deepEqual(r.stacks![1].tokens.map((t) => t.id), [1]);
    assert.deepEqual(r.layers, r.stacks![0].layers, '`layers` is the encoder stack');
    assert.equal(fingerprint(s2s.dir), before);
  });

  test('cross-attention share on the encoder\'s massive tokens matches the reference\'s probabilities', async () => {
    const dec = [1, 10, 11, 12];
    const r = await scanModel(path.join(s2s.dir, 'decoder_model.onnx'), { ids: IDS, decoderIds: dec });
    const ref = forwardSeq2Seq(s2s.encoder, s2s.decoder, IDS, dec);
    const enc = r.stacks![0].massiveTokens;
    const H = s2s.decoder.heads, T = dec.length, S = IDS.length;
    r.stacks![1].attention.forEach((a, l) => {
      const p = ref.decoder.cross[l];
      let share = 0;
      for (let h = 0; h < H; h++) for (let q = 0; q < T; q++) for (const k of enc) share += p[(h * T + q) * S + k];
      share /= H * T;
      assert.equal(a.crossHeads, H);
      assert.ok(Math.abs(a.crossShare! - share) < 1e-3, `block ${l}: ${a.crossShare} vs ${share}`);
    });
    // The planted cross-attention sinks: the middle blocks' queries look at the encoder's massive tokens.
    assert.ok(r.stacks![1].attention[2].crossShare! > 0.6, `${r.stacks![1].attention[2].crossShare}`);
  });

  test('the CLI prints both stacks, and JSON has them under "stacks"', () => {
    const t = cli('scan', s2s.dir, '--ids', IDS.join(','));
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stdout, /^encoder \(encoder_model\.onnx, 9 tokens\)$/m);
    assert.match(t.stdout, /^decoder \(decoder_model\.onnx, 1 tokens\)$/m);
    assert.match(t.stdout, /cross→enc massive/);
    const j = JSON.parse(cli('scan', s2s.dir, '--ids', IDS.join(','), '--json').stdout);
    assert.deepEqual(j.stacks.map((s: { name: string }) => s.name), ['encoder', 'decoder']);
    assert.equal(j.stacks[1].attention[0].crossHeads, 4);
    const i = cli('inspect', path.join(s2s.dir, 'encoder_model.onnx'));
    assert.match(i.stdout, /files {7}seq2seq: encoder encoder_model\.onnx → decoder decoder_model\.onnx/);
  });

  test('the decoder alone, fed the encoder\'s states with --feed (a .npy), matches the reference', () => {
    const ref = forwardSeq2Seq(s2s.encoder, s2s.decoder, IDS, [1, 10, 11]);
    const dir = path.join(root, 'decoder-fed');
    mkdirSync(dir);
    copyFileSync(s2s.files.decoder, path.join(dir, 'model.onnx'));
    copyFileSync(path.join(s2s.dir, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    const npy = path.join(root, 'encoder_states.npy');
    writeFileSync(npy, npyFloat32(Float32Array.from(ref.states), [1, IDS.length, s2s.decoder.d]));
    const mask = path.join(root, 'encoder_mask.json');
    writeFileSync(mask, JSON.stringify([Array(IDS.length).fill(1)]));
    const r = cli('scan', path.join(dir, 'model.onnx'), '--ids', '1,10,11', '--feed', `encoder_hidden_states=${npy}`, '--feed', `encoder_attention_mask=${mask}`, '--json');
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.doesNotMatch(j.input.note ?? '', /encoder_hidden_states = zeros/);
    for (const l of j.layers as { index: number; top: { token: number; channel: number; value: number }[] }[]) {
      for (const a of l.top) {
        const want = ref.decoder.hidden[l.index][a.token * s2s.decoder.d + a.channel];
        assert.ok(Math.abs(a.value - want) <= 1e-3 * Math.abs(want) + 1e-3, `block ${l.index} ${a.token}:${a.channel} ${a.value} vs ${want}`);
      }
    }
    const wrong = cli('scan', path.join(dir, 'model.onnx'), '--ids', '1', '--feed', `encoder_hidden_states=${mask}`);
    assert.match(wrong.stderr, /encoder_mask\.json is 1×9 but the input "encoder_hidden_states" takes rank 3/);
  });

  test('a config.json that disagrees with the graph is said so', async () => {
    const dir = path.join(root, 't5-wrong-config');
    mkdirSync(dir);
    for (const f of ['encoder_model.onnx', 'decoder_model.onnx', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(s2s.dir, f), path.join(dir, f));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ num_layers: 7, d_model: 64, decoder_start_token_id: 1 }));
    const r = await scanModel(dir, { ids: IDS });
    assert.ok(r.warnings.includes('config.json says 7 encoder layers, but 6 blocks were located.'), r.warnings.join(' | '));
  });
});

describe('a Whisper-style pair (mel features into a Conv1d stem)', () => {
  test('audio features in: an audio family, two stacks, massive activations on the marked frames, all matching the reference', async () => {
    const w = buildWhisper(root);
    const bins = 8, frames = 12;
    const features = new Float64Array(bins * frames);
    for (let b = 1; b < bins; b++) for (let t = 0; t < frames; t++) features[b * frames + t] = 0.5 * Math.sin(0.7 * b + 1.3 * t);
    for (const t of [0, 5]) features[0 * frames + t] = 1;
    const file = path.join(root, 'mel.json');
    writeFileSync(file, JSON.stringify({ dims: [1, bins, frames], data: Array.from(features) }));
    const r = await scanModel(w.dir, { feeds: { input_features: file } });
    assert.equal(r.model.family, 'audio');
    assert.match(r.model.familyEvidence[0], /audio features input "input_features"/);
    const ref = forwardSeq2Seq(w.encoder, w.decoder, { features, frames }, [1]);
    assertMatchesReference(stackAsScan(r, 0), ref.encoder, w.encoder.d);
    assertMatchesReference(stackAsScan(r, 1), ref.decoder, w.decoder.d);
    assert.deepEqual(r.stacks![0].massiveTokens, [0, 5]);
    assert.deepEqual(r.stacks![1].massiveTokens, [0]);
  });
});

describe('an embed_tokens.onnx + decoder (inputs_embeds) export, with variants in onnx/', () => {
  test('the folder runs the embedding first and scans the decoder against the reference', async () => {
    const r = await scanModel(pair.dir, { ids: IDS });
    assert.equal(path.basename(r.model.path), 'decoder_model_merged.onnx');
    assertMatchesReference(r, forwardText(pair.spec, IDS), pair.spec.d);
    assert.match(r.warnings.join(' '), /Using the plain variant; this folder also has fp16/);
  });

  test('--variant picks the fp16 files; any file of the export names it too', async () => {
    const r = await scanModel(pair.dir, { ids: IDS, variant: 'fp16' });
    assert.equal(r.model.dtype, 'float16');
    assertMatchesReference(r, forwardText(pair.spec, IDS), pair.spec.d);
    assert.equal(resolveTarget(pair.files.embed_fp16).main, pair.files.decoder_fp16);
    await assert.rejects(scanModel(pair.dir, { ids: IDS, variant: 'q4' }), (e: unknown) => isEngineError(e) && /There is no "q4" variant .* it has plain, fp16/.test(e.message));
  });

  test("another export's embedding part releases the first's session (it lingered, still open, before)", async () => {
    const first = await embeddingSession.get(pair.files.embed);
    const ids = new ort.Tensor('int64', BigInt64Array.from(IDS.map(BigInt)), [1, IDS.length]);
    await first.run({ [first.inputNames[0]]: ids });
    await embedTokens(pair.files.embed_fp16, IDS);
    await assert.rejects(first.run({ [first.inputNames[0]]: ids }), 'the replaced session was released');
    const again = await embeddingSession.get(pair.files.embed_fp16);
    assert.equal((await again.run({ [again.inputNames[0]]: ids }))[again.outputNames[0]].dims.length, 3, 'the current one still runs');
  });

  test('the decoder alone says where its embeddings come from', async () => {
    const dir = path.join(root, 'decoder-alone');
    mkdirSync(dir);
    copyFileSync(pair.files.decoder, path.join(dir, 'decoder_model_merged.onnx'));
    writeFileSync(path.join(dir, 'tokenizer.json'), readFileSync(path.join(pair.dir, 'tokenizer.json')));
    await assert.rejects(scanModel(path.join(dir, 'decoder_model_merged.onnx'), { ids: IDS }), (e: unknown) => isEngineError(e) && /takes "inputs_embeds" .* Open the folder holding its embed_tokens\.onnx, or feed the embeddings with --feed inputs_embeds=FILE\.npy/.test(userMessage(e, cliWording)));
  });
});

/** A NumPy .npy (version 1.0) file, written by hand from the format's definition. */
function npyFloat32(data: Float32Array, shape: number[]): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}
