import * as assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Api } from '../../../src/extension';
import type { TreeNode } from '../../../src/host/tree';

/** Runs inside the real extension host of code-server, against the models the runner wrote. */
const ws = process.env.MA_TEST_WORKSPACE!;
const gpt2 = path.join(ws, 'gpt2-planted', 'model.onnx');
const vit = path.join(ws, 'vit-registers-planted', 'model.onnx');
const corrupt = path.join(ws, 'broken', 'corrupt.onnx');
const bare = path.join(ws, 'without-tokenizer', 'model.onnx');
const PROMPT = 'Summer is warm. Winter is cold.';
let api: Api;

const exec = <T>(id: string, ...args: unknown[]) => vscode.commands.executeCommand<T>(id, ...args);

describe('Massive Activations in the extension host', () => {
  before(async () => {
    const ext = vscode.extensions.getExtension<Api>('massive-activations.massive-activations');
    assert.ok(ext, 'the extension is installed');
    api = await ext.activate();
    assert.ok(existsSync(gpt2), `test model at ${gpt2}`);
  });

  it('activates and registers every contributed command', async () => {
    const contributed = (vscode.extensions.getExtension('massive-activations.massive-activations')!.packageJSON.contributes.commands as { command: string }[]).map((c) => c.command);
    const registered = new Set(await vscode.commands.getCommands(true));
    for (const c of contributed) assert.ok(registered.has(c), `${c} registered`);
    assert.equal(contributed.length, 18);
  });

  it('the context-menu command opens an inspector for the model file', async () => {
    const r = await exec<{ file: string; model: { blocks: number; family: string } }>('massiveActivations.inspectModel', vscode.Uri.file(gpt2));
    assert.equal(r.file, gpt2);
    assert.deepEqual([r.model.blocks, r.model.family], [6, 'decoder']);
    const panel = api.panels.get(gpt2);
    assert.ok(panel?.panel.visible, 'the panel is showing');
  });

  it('a scan fills the Activation Explorer with the planted massive activations', async () => {
    const r = await exec<{ massiveChannels: number[]; massiveTokens: number[] }>('massiveActivations.runScan', { file: gpt2, prompt: PROMPT });
    assert.deepEqual(r.massiveChannels, [7, 42]);
    assert.deepEqual(r.massiveTokens, [0, 4, 8]);
    const [model] = api.tree.getChildren();
    assert.equal(model.type, 'model');
    const blocks = api.tree.getChildren(model);
    assert.equal(blocks.length, 6);
    const massiveBlocks = blocks.filter((b) => api.tree.getChildren(b).length);
    assert.deepEqual(massiveBlocks.map((b) => (b as { layer: number }).layer), [1, 2, 3, 4]);
    const entries = api.tree.getChildren(blocks[2]) as Extract<TreeNode, { type: 'activation' }>[];
    assert.deepEqual(entries.map((e) => `${e.token}:${e.channel}`).sort(), ['0:42', '0:7', '4:42', '4:7', '8:42', '8:7']);
    const label = String(api.tree.getTreeItem(entries.find((e) => e.token === 0 && e.channel === 7)!).label);
    assert.match(label, /^ch 7 · tok 0 "<s>" · 2,000 \(×[\d,]+\)$/);
    assert.equal(api.tree.getTreeItem(blocks[2]).iconPath instanceof vscode.ThemeIcon && (api.tree.getTreeItem(blocks[2]).iconPath as vscode.ThemeIcon).id, 'flame');
  });

  it('tree actions: copy value, reveal, intervene on one channel', async () => {
    const block = api.tree.getChildren(api.tree.getChildren()[0])[2];
    const entry = (api.tree.getChildren(block) as Extract<TreeNode, { type: 'activation' }>[]).find((e) => e.channel === 42)!;
    assert.equal(await exec('massiveActivations.copyValue', entry), entry.value);
    assert.equal(await vscode.env.clipboard.readText(), String(entry.value));
    assert.equal(await exec('massiveActivations.revealEntry', entry), true);
    const r = await exec<{ changed: { channel: number; to: number }[] }>('massiveActivations.interveneOnChannel', entry);
    assert.ok(r.changed.length === 3 && r.changed.every((c) => c.channel === 42 && c.to === 0));
  });

  it('every experiment command runs and lands in the panel', async () => {
    const many = await exec<{ inputs: number }>('massiveActivations.scanMany', { file: gpt2, text: `${PROMPT} The river ran past the old house. `.repeat(4), seqLen: 12, count: 2 });
    assert.equal(many.inputs, 2);
    const iv = await exec<{ changed: unknown[]; klMean: number }>('massiveActivations.intervene', { file: gpt2, layer: 1, mode: 'zero', prompt: PROMPT });
    assert.equal(iv.changed.length, 6);
    const att = await exec<{ massiveTokenShare: number }>('massiveActivations.attention', { file: gpt2, layer: 3, prompt: PROMPT });
    assert.ok(att.massiveTokenShare > 0.7);
    const ib = await exec<{ sinkPartCosine: number }>('massiveActivations.implicitBias', { file: gpt2, layer: 3, prompt: PROMPT });
    assert.ok(ib.sinkPartCosine > 0.95);
    const fr = await exec<{ registers: number; fixRegMean: { relativeL2: number } }>('massiveActivations.fixRegMean', { file: vit, count: 3 });
    assert.equal(fr.registers, 4);
    assert.equal(api.panels.get(gpt2)?.lastExperiment?.view.type, 'implicitBias');
    assert.equal(await exec('massiveActivations.showLog'), true);
    assert.equal(await exec('massiveActivations.cancel'), false, 'nothing to cancel when idle');
  });

  it('Export Report holds every run the panel showed, each regenerated by the command line it cites, and opens in the Markdown preview', async () => {
    const folder = path.join(mkdtempSync(path.join(os.tmpdir(), 'ma-export-')), 'report');
    const r = await exec<{ folder: string; files: string[] }>('massiveActivations.exportReport', { file: gpt2, folder });
    assert.equal(r.folder, folder);
    const doc = api.panels.get(gpt2)!.doc;
    const md = readFileSync(path.join(folder, 'report.md'), 'utf8');
    // Every run, in the order it ran: the scan, the blocks viewed, each experiment.
    const shown = [{ title: 'Scan', at: doc.scanAt }, ...[...doc.blockViews.values()], ...doc.experiments].sort((a, b) => a.at - b.at).map((x) => x.title);
    assert.ok(shown.length >= 6, `runs: ${shown.join('; ')}`);
    const sections = md.split('\n## ').slice(1).filter((s) => !/^(Input and settings|Findings)\n/.test(s));
    assert.deepEqual(sections.map((s) => s.split('\n')[0]), shown);
    assert.match(md, new RegExp(`^> ${PROMPT.replace(/\./g, '\\.')}$`, 'm'), 'the input');
    assert.match(md, /Massive: \|a\| > 100 and ≥ 1000× the block's median \|a\|/, 'the criterion');
    assert.match(md, /Massive Activations \d+\.\d+\.\d+ · ONNX Runtime \(onnxruntime-node\) \d+\.\d+\.\d+ · Node\.js /, 'the versions');
    // Each section's command line, run from the report's folder by the CLI, prints the JSON beside it.
    const cli = path.join(vscode.extensions.getExtension('massive-activations.massive-activations')!.extensionPath, 'dist', 'cli.js');
    const untimed = (json: string) => JSON.stringify(JSON.parse(json), (k, v) => (k === 'timing' ? undefined : v));
    for (const s of sections) {
      const line = /```bash\nmassive-activations (.+)\n```/.exec(s)?.[1];
      const data = /Data: \[(results\/[^\]]+)\]/.exec(s)?.[1];
      assert.ok(line && data, `a command line and its data in: ${s.slice(0, 200)}`);
      const again = spawnSync('sh', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(cli)} ${line}`], { cwd: folder, encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
      assert.equal(again.status, 0, `${line}: ${again.stderr}`);
      assert.equal(untimed(again.stdout), untimed(readFileSync(path.join(folder, data), 'utf8')), line);
    }
    // The figures the paper draws: the scan's per-block magnitudes and each block viewed.
    assert.ok(r.files.some((f) => f.endsWith(path.join('figures', 'overview.svg'))));
    for (const v of doc.blockViews.values()) assert.ok(r.files.some((f) => f.endsWith(`feature-map-block-${v.view.layer}.svg`)), `block ${v.view.layer}'s map`);
    // The preview opens as its own tab once the Markdown extension has rendered it.
    const previewOpen = () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).some((t) => t.input instanceof vscode.TabInputWebview && /report\.md/.test(t.label));
    if (!previewOpen()) {
      await new Promise<void>((resolve) => {
        const d = vscode.window.tabGroups.onDidChangeTabs(() => { if (previewOpen()) { d.dispose(); resolve(); } });
      });
    }
    assert.ok(previewOpen(), 'the report is open in the Markdown preview');
  });

  it('an experiment can be cancelled, and the next one runs', async () => {
    const running = exec<{ cancelled?: boolean }>('massiveActivations.scanMany', { file: gpt2, text: `${PROMPT} `.repeat(2000), seqLen: 8, count: 400 });
    for (let i = 0; i < 200 && !api.engine.busy; i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(api.engine.busy, 'the scan started');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await exec('massiveActivations.cancel'), true);
    const r = await running;
    assert.equal(r.cancelled, true);
    assert.equal(api.engine.busy, false);
    const again = await exec<{ massiveChannels: number[] }>('massiveActivations.runScan', { file: gpt2, prompt: PROMPT });
    assert.deepEqual(again.massiveChannels, [7, 42]);
  });

  it('a corrupt model shows an error and leaves the extension working', async () => {
    const r = await exec<{ model: unknown }>('massiveActivations.inspectModel', vscode.Uri.file(corrupt));
    assert.equal(r.model, null);
    const scan = await exec<{ error?: string }>('massiveActivations.runScan', { file: corrupt, prompt: PROMPT });
    assert.match(scan.error ?? '', /not a readable ONNX model|truncated or corrupt|does not contain an ONNX graph/);
    const ok = await exec<{ massiveTokens: number[] }>('massiveActivations.runScan', { file: gpt2, prompt: PROMPT });
    assert.deepEqual(ok.massiveTokens, [0, 4, 8]);
  });

  it('a model folder opens as its whole export: a seq2seq pair scans as two stacks, a variant is chosen', async () => {
    const folder = path.join(ws, 't5-planted');
    const r = await exec<{ file: string; model: { blocks: number; family: string } }>('massiveActivations.inspectModel', vscode.Uri.file(folder));
    assert.equal(path.basename(r.file), 'encoder_model.onnx');
    const scan = await exec<{ stacks: { name: string; blocks: number; massiveTokens: number[] }[] }>('massiveActivations.runScan', { file: r.file, ids: [1, 10, 11, 12, 3, 13, 11, 14, 3] });
    assert.deepEqual(scan.stacks.map((s) => [s.name, s.blocks]), [['encoder', 6], ['decoder', 6]]);
    assert.deepEqual(scan.stacks[0].massiveTokens, [0, 4, 8]);
    const fp16 = await exec<{ file: string; model: { dtype: string } }>('massiveActivations.inspectModel', vscode.Uri.file(path.join(ws, 'vlm-planted')), { variant: 'fp16' });
    assert.equal(path.basename(fp16.file), 'decoder_model_merged_fp16.onnx');
    assert.equal(fp16.model.dtype, 'float16');
    const embedded = await exec<{ massiveTokens: number[] }>('massiveActivations.runScan', { file: fp16.file, ids: [1, 10, 11, 12, 3] });
    assert.deepEqual(embedded.massiveTokens, [0, 4]);
  });

  it('compares a model with its fp16 export: one panel, a comparison in the Activation Explorer', async () => {
    const dir = path.join(ws, 'llama-variants');
    const r = await exec<{ models: string[]; layers: number; differences: number; shared: number[]; variants: { model: number; kl: number; top1Agreement: number }[] }>('massiveActivations.compareWith', { files: [path.join(dir, 'model.onnx'), path.join(dir, 'model_fp16.onnx')], ids: [1, 10, 11, 12, 3] });
    assert.equal(r.layers, 6);
    assert.equal(r.differences, 0);
    assert.deepEqual(r.shared, [0, 4, 4, 4, 4, 0]);
    assert.ok(r.variants[0].kl < 0.01, `KL ${r.variants[0].kl}`);
    const node = api.tree.getChildren().find((n) => n.type === 'comparison')!;
    assert.match(String(api.tree.getTreeItem(node).label), /^Compare: llama-variants vs model_fp16\.onnx$/);
    assert.equal(api.tree.getTreeItem(node).description, 'the same massive activations');
    // Two prompts on one model: the second has no second ".", so that difference is listed.
    const p = await exec<{ differences: number }>('massiveActivations.comparePrompts', { file: path.join(dir, 'model.onnx'), prompts: [PROMPT, 'The river ran past the old house.'] });
    assert.ok(p.differences > 0);
    const last = api.tree.getChildren().filter((n) => n.type === 'comparison').pop()!;
    const diffs = api.tree.getChildren(last).map((n) => String(api.tree.getTreeItem(n).label));
    assert.ok(diffs.includes('delimiter · ch 7 · only in A'), diffs.join(' | '));
  });

  it('a prompt over 128 tokens: the block view still loads (the attention matrix is binned, not the input refused)', async () => {
    const long = 'Summer is warm. '.repeat(60);
    const r = await exec<{ massiveTokens: number[] }>('massiveActivations.runScan', { file: gpt2, prompt: long });
    assert.equal(r.massiveTokens.length, 61);
    const panel = api.panels.get(gpt2)! as unknown as {
      handle(method: string, args: unknown): Promise<{
        attention: { tokens: unknown[]; probabilities: unknown[][]; bins: { from: number; to: number; kept: boolean }[] };
        featureMap: { tokens: unknown[] };
      }>;
    };
    const view = await panel.handle('layer', { layer: 2 });
    assert.equal(view.featureMap.tokens.length, 241);
    assert.equal(view.attention.tokens.length, 241);
    assert.equal(view.attention.probabilities.length, view.attention.bins.length);
    assert.ok(view.attention.bins.length < 241, `${view.attention.bins.length} bins`);
    for (const t of r.massiveTokens) assert.ok(view.attention.bins.some((b) => b.from === t && b.to === t && b.kept), `token ${t} keeps its own row and column`);
  });

  it('the document keeps the exact input of every run: a block click after an image scan runs on that image; a changed model marks results stale until re-run', async () => {
    // A copy the test may change: the user's files are never touched by the extension, but here the user changes them.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ma-doc-'));
    for (const f of readdirSync(path.dirname(vit))) copyFileSync(path.join(path.dirname(vit), f), path.join(dir, f));
    const model = path.join(dir, 'model.onnx');
    const image = path.join(dir, 'gradient.png');
    const png = new PNG({ width: 32, height: 32 });
    for (let i = 0; i < 32 * 32; i++) png.data.set([(i % 32) * 8, 255 - (i >> 5) * 8, 90, 255], i * 4);
    writeFileSync(image, PNG.sync.write(png));
    type Panel = {
      doc: {
        input?: { image?: string }; runs: { what: string; input: { image?: string } }[]; stale?: { files: string[] };
        onDidChange(cb: (what: string) => void): vscode.Disposable;
      };
      handle(method: string, args: unknown): Promise<{ featureMap: { patchMap: { values: number[][] } } } & { layers?: unknown[] }>;
    };
    await exec('massiveActivations.runScan', { file: model });
    const synthetic = await (api.panels.get(model) as unknown as Panel).handle('layer', { layer: 1 });
    await exec('massiveActivations.runScan', { file: model, image });
    const panel = api.panels.get(model) as unknown as Panel;
    assert.equal(panel.doc.input?.image, image);
    const onImage = await panel.handle('layer', { layer: 1 });
    // The block view asked for after the image scan ran on the image. (The panel's own request for
    // the synthetic scan's block may land later and rightly runs on that scan's input.)
    assert.deepEqual(panel.doc.runs.filter((r) => r.what === 'block 1').at(-1)?.input, { image });
    assert.notDeepEqual(onImage.featureMap.patchMap.values, synthetic.featureMap.patchMap.values, 'the block view is computed on the image');
    // The model is re-exported over the file (renamed into place): the results are marked stale.
    const stale = new Promise<void>((resolve) => { const d = panel.doc.onDidChange((what) => { if (what === 'stale') { d.dispose(); resolve(); } }); });
    writeFileSync(`${model}.new`, readFileSync(model));
    renameSync(`${model}.new`, model);
    await stale;
    assert.deepEqual(panel.doc.stale?.files, ['model.onnx']);
    const again = await panel.handle('rerun', {});
    assert.ok(again?.layers?.length, 'Re-run scans the same image again');
    assert.equal(panel.doc.stale, undefined);
    assert.equal(panel.doc.runs.at(-1)?.input.image, image);
  });

  it("a panel's Cancel (what a live re-scan's next edit sends) stops that panel's scan, even queued, and no other call", async () => {
    await exec('massiveActivations.inspectModel', vscode.Uri.file(gpt2));
    const panel = api.panels.get(gpt2)! as unknown as { handle(method: string, args: unknown): Promise<unknown>; scan(input: object): Promise<unknown> };
    // Another call first (a block view, an experiment), then the panel's scan queued behind it.
    const other = api.engine.run('Block detail', 'featureMap', { file: gpt2, options: { prompt: PROMPT, layer: 2 } }, { quiet: true });
    const scan = panel.scan({ prompt: `${PROMPT} Spring is mild.` });
    await panel.handle('cancel', {});
    const [o, sc] = await Promise.allSettled([other, scan]);
    assert.equal(o.status, 'fulfilled', 'the other call ran to the end');
    assert.equal(sc.status, 'rejected');
    assert.equal((sc as PromiseRejectedResult).reason?.code, 'cancelled');
    // And the engine serves the next scan.
    assert.ok(await panel.scan({ prompt: PROMPT }));
  });

  it('a report never lands on a file a run read: Export Report into the folder of the images an experiment used is refused', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'ma-images-'));
    const image = (name: string, fill: number) => {
      const png = new PNG({ width: 32, height: 32 });
      png.data.fill(fill);
      const file = path.join(folder, name);
      writeFileSync(file, PNG.sync.write(png));
      return file;
    };
    const images = [image('a.png', 90), image('report.md', 200)];
    const before = images.map((f) => readFileSync(f).toString('base64'));
    const fr = await exec<{ images: number }>('massiveActivations.fixRegMean', { file: vit, images });
    assert.equal(fr.images, 2);
    const r = await exec<{ error?: string }>('massiveActivations.exportReport', { file: vit, folder });
    assert.match(r.error ?? '', /is a folder that is not empty: give a new or empty folder for the report \(it never replaces a file\)/);
    assert.deepEqual(readdirSync(folder).sort(), ['a.png', 'report.md'], 'nothing of the report was written');
    assert.deepEqual(images.map((f) => readFileSync(f).toString('base64')), before, 'the images are unchanged');
  });

  it('a command run before it can be says what to do, as a user message (it read "Unexpected error: …" before)', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'ma-report-'));
    const r = await exec<{ error?: string }>('massiveActivations.exportReport', { file: path.join(ws, 'not-open', 'model.onnx'), folder });
    assert.equal(r.error, 'Open a model in the inspector and run a scan first.');
    assert.deepEqual(readdirSync(folder), []);
  });

  it('Escape on any step of any picker ends its command: nothing runs (Fix-Reg-Mean ran on synthetic images before)', async () => {
    // Opened first: opening a model inspects it, which is not what this test watches for.
    await exec('massiveActivations.inspectModel', vscode.Uri.file(bare));
    const started: string[] = [];
    const listening = api.engine.onBusy((title) => { if (title) started.push(title); });
    // Every quick input the command opens is dismissed, as Escape does, until the command has ended.
    const dismissing = async (id: string, args: object) => {
      let done = false;
      const result = Promise.resolve(exec<unknown>(id, args)).finally(() => { done = true; });
      while (!done) {
        await exec('workbench.action.closeQuickOpen');
        await new Promise((r) => setImmediate(r));
      }
      return result;
    };
    const steps: [string, object][] = [
      ['massiveActivations.runScan', { file: gpt2 }],
      ['massiveActivations.scanMany', { file: gpt2 }],
      ['massiveActivations.scanMany', { file: vit }],
      ['massiveActivations.intervene', { file: gpt2 }],
      ['massiveActivations.intervene', { file: gpt2, layer: 2 }],
      ['massiveActivations.intervene', { file: gpt2, layer: 2, mode: 'values' }],
      ['massiveActivations.attention', { file: gpt2 }],
      ['massiveActivations.implicitBias', { file: gpt2 }],
      ['massiveActivations.fixRegMean', { file: vit }],
      ['massiveActivations.compareWith', { file: gpt2 }],
      ['massiveActivations.comparePrompts', { file: gpt2 }],
      // A model without a tokenizer asks for ids instead of a prompt: Escape there ends the command too.
      ['massiveActivations.runScan', { file: bare }],
      ['massiveActivations.scanMany', { file: bare }],
      ['massiveActivations.compareWith', { file: bare }],
      ['massiveActivations.comparePrompts', { file: bare }],
    ];
    try {
      for (const [id, args] of steps) {
        const before = started.length;
        assert.equal(await dismissing(id, args), undefined, `${id} ${JSON.stringify(args)} ended without a result`);
        assert.deepEqual(started.slice(before), [], `${id} ${JSON.stringify(args)} ran nothing`);
      }
    } finally {
      listening.dispose();
    }
  });

  it('Cancel during a scan keeps the blocks measured so far: "Cancelled after N of M blocks", each one explorable', async () => {
    const panel = api.panels.get(gpt2)! as unknown as {
      scan(
        input: object, opts: { onProgress(p: { layer?: { index: number } }): void },
      ): Promise<{ cancelled?: { measured: number; total: number }; layers: { index: number }[]; massiveTokens: number[] }>;
      handle(method: string, args: unknown): Promise<{ layer: number; featureMap: { layer: number } }>;
      doc: { scan?: { cancelled?: object } };
    };
    // Cancel as the first block's statistics arrive: the engine is stopped with five blocks to go.
    const r = await panel.scan({ prompt: PROMPT }, { onProgress: (p) => { if (p.layer?.index === 0) void panel.handle('cancel', {}); } });
    assert.deepEqual(r.cancelled, { measured: 1, total: 6 });
    assert.deepEqual(r.layers.map((l) => l.index), [0]);
    assert.ok(panel.doc.scan?.cancelled, 'the document holds the partial scan');
    const [model] = api.tree.getChildren();
    assert.ok(model);
    // The kept block opens: its view runs block 0 again on the same input.
    const view = await panel.handle('layer', { layer: 0 });
    assert.equal(view.featureMap.layer, 0);
    // And a new run replaces the partial scan with a whole one.
    const whole = await panel.scan({ prompt: PROMPT }, { onProgress: () => undefined });
    assert.equal(whole.cancelled, undefined);
    assert.equal(whole.layers.length, 6);
  });

  it('after all of the above, the extension host has not loaded ONNX Runtime (the engine runs in its own process)', () => {
    const loaded = Object.keys(require.cache).filter((k) => k.includes('onnxruntime'));
    assert.deepEqual(loaded, []);
    // The check can see modules: the host did load this test's own bundle.
    assert.ok(Object.keys(require.cache).some((k) => k.endsWith('extension.test.js')));
  });
});
