import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Api } from '../../../src/extension';
import type { Progress } from '../../../src/engine/model/results';
import type { TreeNode } from '../../../src/host/tree';
import { HubServer } from '../../models/hubServer';
import { tinyLlamaRepo } from '../../models/hubRepos';
import { answer, type Answer } from './answering';

/**
 * Open Model from Hugging Face… against a Hub on 127.0.0.1 (real sockets; the endpoint is the
 * user's setting, the cache is HF_HUB_CACHE as the runner set it): the variant picked from its
 * size, the download's progress, Cancel and resume, a gated repository before and after Sign in,
 * and the cached models in the Activation Explorer.
 */
const COMMIT = 'c'.repeat(8) + 'd'.repeat(32);
const cache = process.env.HF_HUB_CACHE!;
const snapshot = path.join(cache, 'models--onnx-community--tiny-llama', 'snapshots', COMMIT);
const hub = new HubServer();
let api: Api;
let files: Map<string, Buffer>;
let blocks: number;

const exec = <T>(id: string, ...args: unknown[]) => vscode.commands.executeCommand<T>(id, ...args);
const answering = <T>(answers: Answer[], id: string, ...args: unknown[]) => answer<T>(api, answers, id, ...args);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
/** What a variant downloads, summed here from the repository's own files: its graph, its weight file, the three sidecars. */
const sizeOf = (graph: string) => [graph, `${graph}_data`, 'config.json', 'tokenizer.json', 'tokenizer_config.json'].reduce((n, p) => n + files.get(p)!.length, 0);
const resolved = () => hub.served.filter((s) => s.url.includes('/resolve/')).map((s) => s.url.replace(/^.*\/resolve\/[^/]+\//, '')).sort();

type Opened = { file?: string; folder: string; variant: string; files: string[]; error?: string; cancelled?: boolean };

describe('Models from the Hugging Face Hub', () => {
  before(async () => {
    api = await vscode.extensions.getExtension<Api>('massive-activations.massive-activations')!.activate();
    ({ files, blocks } = tinyLlamaRepo(mkdtempSync(path.join(os.tmpdir(), 'ma-hub-repo-'))));
    await hub.start();
    hub.repos.set('onnx-community/tiny-llama', { commit: COMMIT, files });
    hub.repos.set('acme/gated-llama', { commit: COMMIT, files, token: 'hf_granted' });
    hub.users.set('hf_granted', 'ada');
    await vscode.workspace.getConfiguration('massiveActivations').update('hubEndpoint', hub.endpoint, vscode.ConfigurationTarget.Global);
    assert.ok(cache && !existsSync(path.join(cache, 'models--onnx-community--tiny-llama')), `an empty cache for this suite (HF_HUB_CACHE=${cache})`);
  });

  after(async () => {
    await vscode.workspace.getConfiguration('massiveActivations').update('hubEndpoint', undefined, vscode.ConfigurationTarget.Global);
    await hub.stop();
  });

  it('Open Model from Hugging Face…: each variant offered with its download size; the one picked downloads with progress, alone, and opens', async () => {
    const progress: Progress[] = [];
    const sub = api.engine.onProgress((p) => { if (p.progress.stage === 'download') progress.push(p.progress); });
    hub.served.length = 0;
    try {
      const { result, asked } = await answering<Opened>([{ title: /^onnx-community\/tiny-llama \(ccccccc\): which variant\?$/, pick: 'fp16' }],
        'massiveActivations.openFromHub', { repo: 'https://huggingface.co/onnx-community/tiny-llama' });
      assert.equal(result.error, undefined);
      assert.deepEqual(asked[0].items, [`plain (${mb(sizeOf('onnx/model.onnx'))} to download)`, `fp16 (${mb(sizeOf('onnx/model_fp16.onnx'))} to download)`]);
      assert.equal(result.file, path.join(snapshot, 'onnx', 'model_fp16.onnx'));
      assert.equal(api.panels.get(result.file!)?.model?.blocks, blocks, 'the inspector shows the downloaded model');
      assert.deepEqual(resolved(), ['config.json', 'onnx/model_fp16.onnx', 'onnx/model_fp16.onnx_data', 'tokenizer.json', 'tokenizer_config.json']);
      assert.ok(lstatSync(path.join(snapshot, 'onnx', 'model_fp16.onnx_data')).isSymbolicLink(), 'the standard cache layout: snapshots link to blobs');
      // The notification's messages: the weight file's bytes, and the whole download's for the bar.
      const data = progress.filter((p) => /^model_fp16\.onnx_data · /.test(p.message));
      assert.ok(data.length, `download progress seen: ${progress.map((p) => p.message).join(' | ')}`);
      assert.match(data.at(-1)!.message, new RegExp(`^model_fp16\\.onnx_data · ${mb(files.get('onnx/model_fp16.onnx_data')!.length).replace(' MB', '')} of ${mb(files.get('onnx/model_fp16.onnx_data')!.length)}`));
      const last = progress.at(-1)!;
      assert.equal(last.total, sizeOf('onnx/model_fp16.onnx'));
      assert.equal(last.done, last.total);
    } finally {
      sub.dispose();
    }
  });

  it('the second time: the repository is offered among the recent ones, its variant marked cached, nothing downloaded again', async () => {
    hub.served.length = 0;
    const { result, asked } = await answering<Opened>([
      { title: /^Open a model from Hugging Face$/, pick: 'onnx-community/tiny-llama' },
      { title: /which variant\?$/, pick: 'fp16' },
    ], 'massiveActivations.openFromHub');
    assert.equal(result.error, undefined);
    assert.deepEqual(asked[0].items, ['onnx-community/tiny-llama (cached)']);
    // The plain variant shares the sidecars already here: only its graph and weights are left.
    const plainLeft = files.get('onnx/model.onnx')!.length + files.get('onnx/model.onnx_data')!.length;
    const total = sizeOf('onnx/model.onnx');
    const left = mb(plainLeft) === mb(total) ? `${mb(total)} to download` : `${mb(plainLeft)} of ${mb(total)} to download`;
    assert.deepEqual(asked[1].items, [`plain (${left})`, `fp16 (${mb(sizeOf('onnx/model_fp16.onnx'))}, cached)`]);
    assert.deepEqual(resolved(), []);
    assert.equal(result.file, path.join(snapshot, 'onnx', 'model_fp16.onnx'));
  });

  it('the Activation Explorer lists the cached model; its entry opens the inspector', async () => {
    const root = api.tree.getChildren().find((n) => n.type === 'hubCache');
    assert.ok(root, 'a Hugging Face cache node');
    const models = api.tree.getChildren(root) as Extract<TreeNode, { type: 'hubModel' }>[];
    assert.deepEqual(models.map((m) => [m.model.repo, m.model.revision, m.model.graphs]), [['onnx-community/tiny-llama', 'main', ['model_fp16.onnx']]]);
    const item = api.tree.getTreeItem(models[0]);
    assert.equal(item.label, 'onnx-community/tiny-llama');
    const r = await exec<{ file: string }>(item.command!.command, ...item.command!.arguments!);
    assert.equal(r.file, path.join(snapshot, 'onnx', 'model_fp16.onnx'));
  });

  it('Cancel during a download stops it and keeps what arrived; the next download resumes from there', async () => {
    const weights = files.get('onnx/model.onnx_data')!;
    hub.stallOnce.add(sha(weights));
    const arrived = new Promise<void>((ok) => {
      const sub = api.engine.onProgress((p) => {
        if (/^model\.onnx_data · /.test(p.progress.message)) { sub.dispose(); ok(); }
      });
    });
    const run = exec<Opened>('massiveActivations.openFromHub', { repo: 'onnx-community/tiny-llama', variant: '' });
    await arrived;
    assert.equal(await exec('massiveActivations.cancel'), true);
    const r = await run;
    assert.equal(r.cancelled, true);
    const blobs = path.join(cache, 'models--onnx-community--tiny-llama', 'blobs');
    const part = readdirSync(blobs).find((f) => f === `${sha(weights)}.incomplete`);
    assert.ok(part, 'the partial weight file is kept');
    assert.equal(statSync(path.join(blobs, part)).size, weights.length >> 1);
    assert.ok(!existsSync(path.join(snapshot, 'onnx', 'model.onnx')), 'no graph in the snapshot without its weights: the cache does not offer a model that cannot open');
    hub.served.length = 0;
    const again = await exec<Opened>('massiveActivations.openFromHub', { repo: 'onnx-community/tiny-llama', variant: '' });
    assert.equal(again.error, undefined);
    assert.equal(again.file, path.join(snapshot, 'onnx', 'model.onnx'));
    assert.ok(hub.served.some((s) => s.range === `bytes=${weights.length >> 1}-`), 'resumed with a Range request from the bytes kept');
    assert.equal(api.panels.get(again.file!)?.model?.blocks, blocks);
  });

  it('a gated repository: refused naming Sign in to Hugging Face; a wrong token is refused; after Sign in it opens; Sign out forgets the token', async () => {
    const refused = await exec<Opened>('massiveActivations.openFromHub', { repo: 'acme/gated-llama', variant: '' });
    assert.match(refused.error ?? '', /^acme\/gated-llama is a gated repository: accept its conditions on the Hub, then run "Massive Activations: Sign in to Hugging Face" with an access token/);
    const wrong = await exec<{ error?: string }>('massiveActivations.hubSignIn', { token: 'hf_wrong' });
    assert.match(wrong.error ?? '', /^127\.0\.0\.1:\d+ does not accept this token: copy an access token from https:\/\/huggingface\.co\/settings\/tokens\.$/);
    assert.deepEqual(await exec('massiveActivations.hubSignIn', { token: 'hf_granted' }), { user: 'ada' });
    const opened = await exec<Opened>('massiveActivations.openFromHub', { repo: 'acme/gated-llama', variant: '' });
    assert.equal(opened.error, undefined);
    assert.equal(api.panels.get(opened.file!)?.model?.blocks, blocks);
    assert.deepEqual(await exec('massiveActivations.hubSignOut'), { signedOut: true });
    const again = await exec<Opened>('massiveActivations.openFromHub', { repo: 'acme/gated-llama', variant: '' });
    assert.match(again.error ?? '', /gated repository/);
  });

  it('a repository that does not exist, and a name that is not one, each in a sentence', async () => {
    const missing = await exec<Opened>('massiveActivations.openFromHub', { repo: 'acme/nothing-here' });
    assert.match(missing.error ?? '', /^acme\/nothing-here is not a model repository on 127\.0\.0\.1:\d+, or it is private \(then run "Massive Activations: Sign in to Hugging Face"/);
    const bad = await exec<Opened>('massiveActivations.openFromHub', { repo: 'not a repo' });
    assert.match(bad.error ?? '', /^"not a repo" names no model on the Hub: write OWNER\/NAME/);
  });
});
