import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { tinyLlamaRepo } from '../models/hubRepos';
import { HubServer } from '../models/hubServer';
import { CLI, tempDir } from '../fixtures';
import { createServer, type AddressInfo } from 'node:net';

/**
 * hf://OWNER/NAME models against a Hub on 127.0.0.1 (real sockets): the same result as the local
 * files, the standard cache layout, only the chosen variant's files, a cut connection resumed,
 * offline from the cache, gated repositories with and without a token, and each refusal in a sentence.
 */
const root = tempDir('hub');
const IDS = '1,10,11,12,3,13,11,14,3';
const COMMIT = 'a'.repeat(8) + 'b'.repeat(32);
const hub = new HubServer();
let local: string;
let files: Map<string, Buffer>;

/** The CLI as a child process (asynchronously: the Hub runs in this process). */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, HF_ENDPOINT: hub.endpoint, ...env } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => resolve({ code, out, err }));
  });
}
const freshCache = () => mkdtempSync(path.join(root, 'cache-'));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

before(async () => {
  ({ files, local } = tinyLlamaRepo(root));
  await hub.start();
  hub.repos.set('onnx-community/tiny-llama', { commit: COMMIT, files });
  hub.repos.set('acme/gated-llama', { commit: COMMIT, files, token: 'hf_secret' });
  hub.repos.set('acme/no-onnx', { commit: COMMIT, files: new Map([['model.safetensors', Buffer.alloc(64)], ['config.json', Buffer.from('{}')]]) });
});
after(() => hub.stop());

describe('hf:// models', () => {
  let cache: string;

  test('scan hf://… gives the local files\' result, leaves the standard cache layout, and fetched only the plain variant', async () => {
    cache = freshCache();
    hub.served.length = 0;
    const r = await cli(['scan', 'hf://onnx-community/tiny-llama', '--ids', IDS, '--json'], { HF_HUB_CACHE: cache });
    assert.equal(r.code, 0, r.err);
    const want = await cli(['scan', local, '--ids', IDS, '--json'], {});
    const strip = (j: { layers: unknown[]; model: { blocks: number } }) => JSON.stringify({ layers: j.layers, blocks: j.model.blocks });
    assert.equal(strip(JSON.parse(r.out)), strip(JSON.parse(want.out)));
    const repo = path.join(cache, 'models--onnx-community--tiny-llama');
    assert.equal(readFileSync(path.join(repo, 'refs', 'main'), 'utf8'), COMMIT);
    const snap = path.join(repo, 'snapshots', COMMIT);
    for (const p of ['onnx/model.onnx', 'onnx/model.onnx_data', 'tokenizer.json', 'config.json']) {
      const link = path.join(snap, p);
      assert.ok(lstatSync(link).isSymbolicLink(), `${p} is a link into blobs/`);
      assert.ok(!path.isAbsolute(readlinkSync(link)), `${p} links relatively, as huggingface_hub does`);
      const blob = realpathSync(link);
      assert.equal(path.dirname(blob), realpathSync(path.join(repo, 'blobs')));
      if (p.includes('.onnx')) assert.equal(path.basename(blob), sha(files.get(p)!), `${p}'s blob is named by its sha256`);
    }
    const fetched = hub.served.filter((s) => s.url.includes('/resolve/')).map((s) => s.url.replace(/^.*\/resolve\/[^/]+\//, '')).sort();
    assert.deepEqual(fetched, ['config.json', 'onnx/model.onnx', 'onnx/model.onnx_data', 'tokenizer.json', 'tokenizer_config.json']);
    assert.ok(!existsSync(path.join(snap, 'README.md')), 'nothing the model does not read');
  });

  test('offline (HF_HUB_OFFLINE=1): the cached snapshot, no request; with nothing cached, a sentence', async () => {
    hub.served.length = 0;
    const r = await cli(['scan', 'hf://onnx-community/tiny-llama', '--ids', IDS, '--json'], { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' });
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /note: HF_HUB_OFFLINE is set: using the cached snapshot aaaaaaa of onnx-community\/tiny-llama\./);
    assert.deepEqual(hub.served, []);
    const none = await cli(['scan', 'hf://onnx-community/tiny-llama', '--ids', IDS], { HF_HUB_CACHE: freshCache(), HF_HUB_OFFLINE: '1' });
    assert.notEqual(none.code, 0);
    assert.match(none.err, /^massive-activations: HF_HUB_OFFLINE is set, and nothing of onnx-community\/tiny-llama is in the cache \(.+\)\. Run once with the Hub reachable \(unset HF_HUB_OFFLINE\)\.\n$/);
  });

  test('the Hub out of reach: the cached snapshot, with a note saying so', async () => {
    // A port nothing listens on any more: the connection is refused.
    const port = await new Promise<number>((ok) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => ok(p)); }); });
    const r = await cli(['inspect', 'hf://onnx-community/tiny-llama'], { HF_HUB_CACHE: cache, HF_ENDPOINT: `http://127.0.0.1:${port}` });
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, new RegExp(`note: http://127\\.0\\.0\\.1:${port} cannot be reached \\(ECONNREFUSED\\): using the cached snapshot aaaaaaa`));
    assert.match(r.out, /blocks +6/);
  });

  test('a connection cut half-way through a weight file resumes with a Range request from where it stopped', async () => {
    const data = files.get('onnx/model.onnx_data')!;
    hub.cutOnce.add(sha(data));
    hub.served.length = 0;
    const fresh = freshCache();
    const r = await cli(['download', 'hf://onnx-community/tiny-llama'], { HF_HUB_CACHE: fresh });
    assert.equal(r.code, 0, r.err);
    const cdn = hub.served.filter((s) => s.url === `/cdn/${sha(data)}`);
    assert.equal(cdn.length, 2, 'the cut download and its resumption');
    assert.equal(cdn[0].range, undefined);
    assert.equal(cdn[1].range, `bytes=${data.length >> 1}-`, 'resumed from the bytes that had arrived');
    assert.equal(cdn[0].bytes + cdn[1].bytes, data.length, 'no byte fetched twice');
    assert.equal(r.out.trim(), path.join(fresh, 'models--onnx-community--tiny-llama', 'snapshots', COMMIT, 'onnx'));
    assert.equal(sha(readFileSync(path.join(r.out.trim(), 'model.onnx_data'))), sha(data));
  });

  test('download --variant fp16: that variant\'s graph and weights only; an unknown variant is named with the ones there are', async () => {
    hub.served.length = 0;
    const r = await cli(['download', 'hf://onnx-community/tiny-llama', '--variant', 'fp16', '--json'], { HF_HUB_CACHE: freshCache() });
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.deepEqual([j.variant, j.variants], ['fp16', ['', 'fp16']]);
    assert.deepEqual(j.files.filter((f: string) => f.endsWith('.onnx') || f.endsWith('_data')).sort(), ['onnx/model_fp16.onnx', 'onnx/model_fp16.onnx_data']);
    const bad = await cli(['download', 'hf://onnx-community/tiny-llama', '--variant', 'q4'], { HF_HUB_CACHE: freshCache() });
    assert.match(bad.err, /^massive-activations: onnx-community\/tiny-llama has no variant "q4"; it has plain, fp16\.\n$/);
  });

  test('a gated repository: refused without a token, naming HF_TOKEN; read with one', async () => {
    const no = await cli(['inspect', 'hf://acme/gated-llama'], { HF_HUB_CACHE: freshCache(), HF_TOKEN: '' });
    assert.notEqual(no.code, 0);
    assert.match(no.err, /^massive-activations: acme\/gated-llama is a gated repository: accept its conditions on the Hub, then set HF_TOKEN to an access token/);
    const yes = await cli(['inspect', 'hf://acme/gated-llama'], { HF_HUB_CACHE: freshCache(), HF_TOKEN: 'hf_secret' });
    assert.equal(yes.code, 0, yes.err);
  });

  test('unknown repository, unknown revision, a repository without ONNX files, a name that is not one: a sentence each', async () => {
    const env = { HF_HUB_CACHE: freshCache() };
    const cases: [string, RegExp][] = [
      ['hf://acme/nothing-here', /acme\/nothing-here is not a model repository on 127\.0\.0\.1:\d+, or it is private \(then set HF_TOKEN/],
      ['hf://onnx-community/tiny-llama@v9', /onnx-community\/tiny-llama has no revision "v9" \(a branch, tag or commit\)\./],
      ['hf://acme/no-onnx', /acme\/no-onnx holds no \.onnx file \(it holds model\.safetensors, config\.json\); open an ONNX export of the model\./],
      ['hf://just-a-name', /"hf:\/\/just-a-name" is not a Hub model: write hf:\/\/OWNER\/NAME or hf:\/\/OWNER\/NAME@REVISION\./],
    ];
    for (const [model, message] of cases) {
      const r = await cli(['inspect', model], env);
      assert.notEqual(r.code, 0, model);
      assert.match(r.err, /^massive-activations: [^\n]+\n$/, `${model}: one sentence`);
      assert.match(r.err, message);
    }
  });

  test('a file that arrives different from the sha256 the Hub announces is discarded with a sentence', async () => {
    hub.corrupt.add('onnx/model.onnx_data');
    try {
      const fresh = freshCache();
      const r = await cli(['download', 'hf://onnx-community/tiny-llama'], { HF_HUB_CACHE: fresh });
      assert.notEqual(r.code, 0);
      assert.match(r.err, /onnx\/model\.onnx_data arrived with sha256 [0-9a-f]{64}, not the [0-9a-f]{64} the Hub announces; it was discarded\./);
      const blobs = path.join(fresh, 'models--onnx-community--tiny-llama', 'blobs');
      assert.ok(!existsSync(path.join(blobs, sha(files.get('onnx/model.onnx_data')!))), 'no blob under the announced name');
    } finally {
      hub.corrupt.clear();
    }
  });
});
