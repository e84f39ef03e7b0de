import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Api } from '../../../src/extension';
import type { TreeNode } from '../../../src/host/tree';
import { answer, type Answer } from './answering';

/**
 * Every palette command and menu item, as a user runs them: from the Explorer's context menu or the
 * palette (no arguments: the active inspector's model), each question answered through VS Code's
 * own quick-input commands, on a model with a tokenizer and on one without. Each ends in a result
 * or a clear, correctly worded message.
 */
const ws = process.env.MA_TEST_WORKSPACE!;
const gpt2 = path.join(ws, 'gpt2-planted', 'model.onnx');
const bare = path.join(ws, 'without-tokenizer', 'model.onnx');
const bareFp16 = path.join(ws, 'without-tokenizer', 'model_fp16.onnx');
const vit = path.join(ws, 'vit-registers-planted', 'model.onnx');
let api: Api;

const exec = <T>(id: string, ...args: unknown[]) => vscode.commands.executeCommand<T>(id, ...args);
const answering = <T>(answers: Answer[], id: string, ...args: unknown[]) => answer<T>(api, answers, id, ...args);


describe('Every palette command and menu item, with and without a tokenizer', () => {
  let sample: number[];

  before(async () => {
    api = await vscode.extensions.getExtension<Api>('massive-activations.massive-activations')!.activate();
  });

  it('Explorer → Compare With… on a model without a tokenizer: pick the second model, accept the offered ids (it failed before)', async () => {
    const { result, asked } = await answering<{ models: string[]; layers: number; error?: string }>(
      [{ title: /^Compare model_fp16\.onnx with…$/, pick: 'model.onnx (without-tokenizer)' }, { title: /^Token ids to run through both models \(model_fp16\.onnx has no tokenizer\.json\)$/ }],
      'massiveActivations.compareWith', vscode.Uri.file(bareFp16),
    );
    assert.equal(result.error, undefined);
    assert.deepEqual(result.models, [bareFp16, bare]);
    assert.equal(result.layers, 6);
    // The offered ids: the config's BOS id first, all inside the vocabulary.
    sample = asked[1].value!.split(/[\s,]+/).map(Number);
    assert.ok(sample.length >= 2 && sample.every(Number.isInteger), asked[1].value);
  });

  // ── per model (these run once per model: the outer test counts them twice) ──
  for (const [name, file, takes] of [['with a tokenizer', gpt2, 'prompt'], ['without a tokenizer', bare, 'ids']] as const) {
    describe(`a model ${name}`, () => {
      it('Explorer → Inspect Model opens its inspector; it is the palette commands\' target', async () => {
        const r = await exec<{ file: string; model: { hasTokenizer: boolean; sample?: { ids: number[] } } }>('massiveActivations.inspectModel', vscode.Uri.file(file));
        assert.equal(r.file, file);
        assert.equal(r.model.hasTokenizer, takes === 'prompt');
        if (takes === 'ids') assert.deepEqual(r.model.sample?.ids, sample, 'the panel offers the ids Compare With… offered');
        assert.equal(api.panels.active()?.file, file);
      });

      it('Run Scan on Prompt asks for the input (a prompt, or ids prefilled with valid samples) and scans it', async () => {
        const title = takes === 'prompt' ? /^Prompt$/ : /^Token ids to scan$/;
        const { result, asked } = await answering<{ blocks: number; massiveTokens: number[]; error?: string }>([{ title }], 'massiveActivations.runScan');
        assert.equal(result.error, undefined);
        assert.equal(result.blocks, 6);
        assert.ok(result.massiveTokens.includes(0), 'the first token carries massive activations');
        if (takes === 'ids') {
          assert.equal(asked[0].value, sample.join(', '));
          assert.deepEqual(api.panels.active()!.doc.input, { ids: sample });
        }
      });

      it('Layer-wise Scan: a text for a model with a tokenizer, random id sequences for one without', async () => {
        const answers = takes === 'prompt'
          ? [{ title: /^Text to split into sequences$/, pick: 'Active document: notes.txt' }]
          : [{ title: /^model\.onnx has no tokenizer\.json: which inputs\?$/, pick: 'Random token sequences' }];
        if (takes === 'prompt') {
          const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(`untitled:${path.join(os.tmpdir(), 'notes.txt')}`));
          const editor = await vscode.window.showTextDocument(doc, vscode.ViewColumn.Beside, true);
          await editor.edit((e) => e.insert(new vscode.Position(0, 0), 'Summer is warm. Winter is cold. The river ran past the old house. '.repeat(40)));
          await exec('massiveActivations.inspectModel', vscode.Uri.file(file));
        }
        const { result } = await answering<{ inputs: number; inputKind: string; error?: string }>(answers, 'massiveActivations.scanMany');
        assert.equal(result.error, undefined);
        assert.equal(result.inputKind, takes === 'prompt' ? 'text' : 'random-ids');
        assert.ok(result.inputs >= 2);
      });

      it('Intervention at a Block: pick the block, then "Set to zero"', async () => {
        const { result } = await answering<{ layer: number; changed: unknown[]; error?: string }>(
          [{ title: /^Intervene after which block\?$/, pick: 'Block 2' }, { title: /^Intervention$/, pick: 'Set to zero' }], 'massiveActivations.intervene',
        );
        assert.equal(result.error, undefined);
        assert.equal(result.layer, 2);
        assert.ok(result.changed.length > 0);
      });

      it('Attention Analysis and Implicit Bias at a block, on the scanned input', async () => {
        const att = await answering<{ layer: number; massiveTokenShare: number; error?: string }>([{ title: /^Analyse the attention of which block\?$/, pick: 'Block 3' }], 'massiveActivations.attention');
        assert.equal(att.result.error, undefined);
        assert.equal(att.result.layer, 3);
        const ib = await answering<{ layer: number; error?: string }>([{ title: /^Measure the implicit bias of which block\?$/, pick: 'Block 3' }], 'massiveActivations.implicitBias');
        assert.equal(ib.result.error, undefined);
        assert.equal(ib.result.layer, 3);
      });

      it('ViT Registers: Fix-Reg-Mean on a text model says it is for vision models, before asking anything', async () => {
        const { result } = await answering<{ error?: string }>([], 'massiveActivations.fixRegMean');
        assert.match(result.error ?? '', /^Fix-Reg-Mean is for vision transformers with registers; model\.onnx is a text model\.$/);
      });

      it('Compare With… from the palette: the folder\'s variant first, on the panel\'s input', async () => {
        const second = takes === 'prompt' ? 'model.onnx (llama-variants)' : 'model_fp16.onnx (without-tokenizer)';
        const answers = [{ title: /^Compare model\.onnx with…$/, pick: second }];
        const { result, asked } = await answering<{ models: string[]; error?: string }>(answers, 'massiveActivations.compareWith');
        assert.equal(result.error, undefined);
        assert.equal(result.models[0], file);
        assert.equal(result.models[1], path.join(ws, second.replace(/^(\S+) \((.+)\)$/, '$2/$1')));
        if (takes === 'ids') assert.equal(asked[0].items![0], second, 'the same folder\'s variant is offered first');
      });

      it('Compare Two Prompts on This Model: two inputs, each prefilled', async () => {
        const title = takes === 'prompt' ? /^Prompt [12] of 2$/ : /^Token ids [12] of 2$/;
        const { result, asked } = await answering<{ models: string[]; layers: number; error?: string }>([{ title }, { title }], 'massiveActivations.comparePrompts');
        assert.equal(result.error, undefined);
        assert.equal(result.models.length, 2);
        assert.ok(asked.every((q) => q.value), 'both boxes start with an input');
        assert.notEqual(asked[0].value, asked[1].value, 'two different inputs, as the question needs');
      });

      it('Export Report writes the report of the panel\'s runs', async () => {
        const folder = mkdtempSync(path.join(os.tmpdir(), 'ma-palette-report-'));
        const { files } = await exec<{ files: string[] }>('massiveActivations.exportReport', { folder });
        const scan = JSON.parse(readFileSync(files.find((f) => f.endsWith('scan.json'))!, 'utf8'));
        assert.equal(scan.layers.length, 6);
        assert.ok(files.some((f) => f.endsWith('report.md')));
      });

      it('the Activation Explorer\'s actions on an entry of this model: copy, reveal, intervene on its channel', async () => {
        const model = api.tree.getChildren().find((n) => n.type === 'model' && n.file === file)!;
        assert.ok(model, 'the model is in the Activation Explorer');
        const entry = api.tree.getChildren(model).flatMap((b) => api.tree.getChildren(b)).find((n) => n.type === 'activation') as Extract<TreeNode, { type: 'activation' }>;
        assert.ok(entry, 'an entry to act on');
        assert.equal(await exec('massiveActivations.copyValue', entry), entry.value);
        assert.equal(await exec('massiveActivations.revealEntry', entry), true);
        const r = await exec<{ changed: { channel: number; to: number }[] }>('massiveActivations.interveneOnChannel', entry);
        assert.ok(r.changed.length > 0 && r.changed.every((c) => c.channel === entry.channel && c.to === 0));
      });
    });
  }
  // ── end per model ──

  it('Cancel with nothing running, and Show Diagnostics Log', async () => {
    assert.equal(await exec('massiveActivations.cancel'), false);
    assert.equal(await exec('massiveActivations.showLog'), true);
  });

  it('Explorer → Compare With… on two selected files asks for no model, only the ids a model without a tokenizer needs', async () => {
    const { result } = await answering<{ models: string[]; error?: string }>(
      [{ title: /^Token ids to run through both models \(model\.onnx has no tokenizer\.json\)$/ }],
      'massiveActivations.compareWith', vscode.Uri.file(bare), [vscode.Uri.file(bare), vscode.Uri.file(bareFp16)],
    );
    assert.equal(result.error, undefined);
    assert.deepEqual(result.models, [bare, bareFp16]);
  });

  it('Fix-Reg-Mean from the palette on a ViT: "Use synthetic images"', async () => {
    await exec('massiveActivations.inspectModel', vscode.Uri.file(vit));
    const { result } = await answering<{ registers: number; error?: string }>([{ title: /^Images \(two or more\)$/, pick: 'Use synthetic images' }], 'massiveActivations.fixRegMean');
    assert.equal(result.error, undefined);
    assert.equal(result.registers, 4);
  });
});
