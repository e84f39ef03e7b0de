import * as path from 'node:path';
import * as vscode from 'vscode';
import { EngineError, isCancelled } from '../engine/base/errors';
import type { InterventionMode } from '../experiments/intervene/run';
import { asSent, showError, type Engine } from './engine';
import { ComparePanel } from './comparePanel';
import { summary, type InspectorPanel, type PanelManager } from './panel';
import type { ExperimentView, RunInput } from '../shared/protocol';
import type { CardMethod, OptionsOf, ResultOf } from '../experiments/registry';
import type { Wire } from '../experiments/experiment';
import { askIds, askValues, chooseVariant, pickBlock, pickIdSequences, pickImages, pickMode, pickModelFile, pickSecondModel, pickText, STEP } from './asks';
import { runSettings, settings } from './settings';
import type { ActivationTree, TreeNode } from './tree';
import type { Questions } from './questions';
import { registerHubCommands } from './hub';
import { exportReport } from './report';

/** Compare Two Prompts' second box starts with another of the paper's prompts: the constancy question needs two. */
const SECOND_PROMPT = 'Once upon a time there lived a king who had three daughters.';

interface Deps { engine: Engine; panels: PanelManager; tree: ActivationTree; log: vscode.LogOutputChannel; questions: Questions; extensionUri: vscode.Uri }

/** Palette commands and tree actions. Each accepts its inputs as an argument (tests, other extensions) or asks for them. */
export function registerCommands(context: vscode.ExtensionContext, d: Deps): void {
  const register = (id: string, fn: (...args: never[]) => Promise<unknown> | unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (e) {
        // Errors surface as one message; the command resolves so callers (menus, tests) carry on.
        return { error: showError(e, d.log), cancelled: isCancelled(e) };
      }
    }));

  register('massiveActivations.inspectModel', async (uri?: vscode.Uri, opts?: { variant?: string }) => {
    const picked = uri?.fsPath ?? activeOnnx() ?? (await pickModelFile());
    if (!picked) return undefined;
    // A model folder (or a file of a multi-file export) opens as the whole export, in one variant.
    const file = await chooseVariant(d.questions, picked, opts?.variant);
    if (!file) return undefined;
    const panel = d.panels.open(file);
    await panel.whenReady();
    return { file, model: panel.model };
  });

  register('massiveActivations.runScan', async (args?: { file?: string; prompt?: string; ids?: number[]; image?: string }) => {
    const panel = await target(d, args?.file);
    if (!panel) return undefined;
    const m = panel.model;
    const given = args?.prompt !== undefined || args?.ids || args?.image;
    // A model without a tokenizer is asked for ids (prefilled with its last ids or its sample ids), never a prompt it cannot read.
    const ids = args?.ids ?? (given || !m?.takesText || m.hasTokenizer ? undefined : await askIds(d.questions, m, 'Token ids to scan', panel.doc.input?.ids));
    const prompt = args?.prompt ?? (given || !m?.takesText || !m.hasTokenizer ? undefined : await d.questions.input({ title: 'Prompt', value: settings().defaultPrompt }));
    if (m?.takesText && prompt === undefined && !ids && !args?.image) return undefined;
    const r = await panel.scan({ prompt, ids, image: args?.image }, { external: true });
    return {
      blocks: r.layers.length, massiveTokens: r.massiveTokens, massiveChannels: r.massiveChannels,
      stacks: r.stacks?.map((s) => ({ name: s.name, blocks: s.layers.length, massiveTokens: s.massiveTokens })),
    };
  });

  register('massiveActivations.scanMany', async (args?: { file?: string; text?: string; seqLen?: number; count?: number }) => {
    const panel = await target(d, args?.file);
    if (!panel) return undefined;
    const s = settings();
    let text = args?.text;
    let images: string[] | undefined;
    let ids: { idsList?: number[][]; firstId?: number } | undefined;
    const m = panel.model;
    if (text === undefined && m?.takesImage) images = await pickImages(d.questions);
    else if (text === undefined && m?.takesText && !m.hasTokenizer) ids = await pickIdSequences(d.questions, m);
    else if (text === undefined) text = await pickText(d.questions);
    if (text === undefined && !images && !ids) return undefined;
    const options = { text, images, ...ids, seqLen: args?.seqLen, count: args?.count, ...runSettings(s) };
    return shown(d, panel, `Layer-wise scan of ${path.basename(panel.file)}`, 'scanMany', options, (r) => `Layer-wise scan over ${r.inputs} inputs`);
  });

  register('massiveActivations.intervene', async (args?: { file?: string; layer?: number; mode?: InterventionMode; channels?: number[]; values?: { token: number; channel: number; value: number }[]; prompt?: string }) => {
    const picked = await targetBlock(d, args, 'Intervene after which block?');
    if (!picked) return undefined;
    const { panel, layer } = picked;
    const mode = args?.mode ?? (await pickMode(d.questions));
    if (!mode) return undefined;
    const values = mode === 'values' ? args?.values ?? (await askValues(d.questions)) : undefined;
    if (mode === 'values' && !values) return undefined;
    const options = { ...input(panel, args?.prompt, `intervention at block ${layer}`), layer, mode, values, channels: args?.channels, ...runSettings() };
    return shown(d, panel, `Intervention at block ${layer}`, 'intervene', options, () => `Intervention at block ${layer}: set ${mode === 'values' ? 'to given values' : `to ${mode}`}`);
  });

  register('massiveActivations.attention', async (args?: { file?: string; layer?: number; prompt?: string }) => {
    const picked = await targetBlock(d, args, 'Analyse the attention of which block?');
    if (!picked) return undefined;
    const { panel, layer } = picked;
    const options = { ...input(panel, args?.prompt, `attention at block ${layer}`), layer, matrixTokens: 128, ...runSettings() };
    return shown(d, panel, `Attention at block ${layer}`, 'attention', options, () => `Attention sinks at block ${layer}`);
  });

  register('massiveActivations.implicitBias', async (args?: { file?: string; layer?: number; prompt?: string }) => {
    const picked = await targetBlock(d, args, 'Measure the implicit bias of which block?');
    if (!picked) return undefined;
    const { panel, layer } = picked;
    const options = { ...input(panel, args?.prompt, `implicit bias at block ${layer}`), layer, ...runSettings() };
    return shown(d, panel, `Implicit bias at block ${layer}`, 'implicitBias', options, () => `Implicit attention bias at block ${layer}`);
  });

  register('massiveActivations.fixRegMean', async (args?: { file?: string; images?: string[]; count?: number }) => {
    const panel = await target(d, args?.file);
    if (!panel) return undefined;
    // Said before any question: images would be asked for in vain.
    if (panel.model && !panel.model.takesImage) {
      throw new EngineError('bad-argument', `Fix-Reg-Mean is for vision transformers with registers; ${panel.model.name} is a ${panel.model.takesText ? 'text' : panel.model.family} model.`);
    }
    // Escape on the picker ends the command; synthetic inputs are a choice of their own, never its default.
    const picked = args?.images ?? (args?.count ? 'synthetic' : await pickImages(d.questions, { synthetic: true }));
    if (!picked) return undefined;
    const images = picked === 'synthetic' ? undefined : picked;
    return shown(d, panel, 'Fix-Reg-Mean', 'fixRegMean', { images, count: args?.count, ...runSettings() }, (r) => `Fix-Reg-Mean over ${r.images} ${r.inputKind}`);
  });

  register('massiveActivations.exportReport', async (args?: { file?: string; folder?: string }) => {
    const panel = args?.file ? d.panels.get(args.file) : d.panels.active();
    if (!panel) throw new EngineError('not-ready', 'Open a model in the inspector and run a scan first.');
    return exportReport(panel, args?.folder);
  });

  /**
   * Compare With…: two files selected in the Explorer, or one and a second picked (its folder's
   * variants first, then the workspace's other models); from the palette, the active inspector's
   * model. `args.files` (tests, other extensions) skips the pickers.
   */
  register('massiveActivations.compareWith', async (target?: vscode.Uri | CompareArgs, selected?: vscode.Uri[]) => {
    // From the Explorer: (clicked file, all selected files); from code: one CompareArgs object.
    const uri = target instanceof vscode.Uri ? target : undefined;
    const opts = target instanceof vscode.Uri ? undefined : target;
    let files = opts?.files ?? (selected && selected.length > 1 ? selected.map((u) => u.fsPath) : undefined);
    if (!files) {
      const first = uri?.fsPath ?? opts?.file ?? d.panels.active()?.file ?? activeOnnx() ?? (await pickModelFile());
      if (!first) return undefined;
      const second = await pickSecondModel(d.questions, first);
      if (!second) return undefined;
      files = [first, second];
    }
    const s = settings();
    const given = opts?.ids ? { ids: opts.ids } : opts?.prompts ? { prompts: opts.prompts } : opts?.idSets ? { idSets: opts.idSets }
      : opts?.prompt !== undefined ? { prompt: opts.prompt } : undefined;
    const input = given ?? (await compareInput(d, files[0], s.defaultPrompt));
    if (!input) return undefined;
    const result = await d.engine.run(`Comparing ${files.length} models`, 'compare', { file: files[0], options: { ...input, files, ...runSettings(s) } });
    const title = `Compare: ${result.models.map((m) => m.name).join(' vs ')}`;
    new ComparePanel(d.extensionUri, title, result, d.log);
    d.tree.addComparison(title, result);
    return {
      models: result.models.map((m) => m.path), layers: result.layers.length,
      differences: result.layers.reduce((a, l) => a + l.differences.length, 0), shared: result.layers.map((l) => l.shared.length),
      variants: result.variants,
    };
  });

  // The constancy question, visually: two prompts through one model, in the compare view.
  register('massiveActivations.comparePrompts', async (args?: { file?: string; prompts?: string[]; idSets?: number[][] }) => {
    const panel = await target(d, args?.file);
    if (!panel) return undefined;
    const m = panel.model;
    if (args?.idSets || (m?.takesText && !m.hasTokenizer && !args?.prompts)) {
      // Without a tokenizer the two inputs are two id sequences: the first prefilled as the panel's, the second as the sample.
      const idSets = args?.idSets ?? [];
      for (let k = idSets.length; k < 2; k++) {
        const ids = await askIds(d.questions, m!, `Token ids ${k + 1} of 2`, k === 0 ? panel.doc.input?.ids : undefined, k === 1);
        if (!ids) return undefined;
        idSets.push(ids);
      }
      return vscode.commands.executeCommand('massiveActivations.compareWith', { files: [panel.file], idSets });
    }
    const prompts = args?.prompts ?? [];
    for (let k = prompts.length; k < 2; k++) {
      const p = await d.questions.input({ title: `Prompt ${k + 1} of 2`, value: k === 0 ? settings().defaultPrompt : SECOND_PROMPT, ignoreFocusOut: STEP });
      if (p === undefined) return undefined;
      prompts.push(p);
    }
    return vscode.commands.executeCommand('massiveActivations.compareWith', { files: [panel.file], prompts });
  });

  register('massiveActivations.cancel', () => d.engine.cancel());
  register('massiveActivations.showLog', () => { d.log.show(); return true; });

  register('massiveActivations.copyValue', async (node?: TreeNode) => {
    if (node?.type !== 'activation') return undefined;
    await vscode.env.clipboard.writeText(String(node.value));
    return node.value;
  });

  register('massiveActivations.interveneOnChannel', async (node?: TreeNode) => {
    if (node?.type !== 'activation') return undefined;
    return vscode.commands.executeCommand('massiveActivations.intervene', { file: node.file, layer: node.layer, channels: [node.channel], mode: 'zero' });
  });

  registerHubCommands(register, context, d);

  register('massiveActivations.revealEntry', async (node?: TreeNode) => {
    if (!node || !('file' in node)) return undefined;
    const panel = d.panels.get(node.file) ?? d.panels.open(node.file);
    await panel.whenReady();
    if (node.type === 'activation') panel.reveal(node.layer, node.token, node.channel);
    else if (node.type === 'block') panel.reveal(node.layer, -1, -1);
    return true;
  });
}

/** Runs an experiment on the panel's model and shows it there, keeping the call as sent for Export Report. */
async function shown<K extends CardMethod>(
  d: Deps, panel: InspectorPanel, progress: string, method: K, options: Wire<OptionsOf<K>>, title: (r: ResultOf<K>) => string,
): Promise<ResultOf<K>> {
  const call = asSent({ file: panel.file, options });
  const result = await d.engine.run(progress, method, call as never) as ResultOf<K>;
  panel.showExperiment(title(result), { type: method, result } as ExperimentView, call);
  return result;
}

/** The exact input the panel last scanned (prompt, ids or image), for experiments started from the palette. */
function input(panel: InspectorPanel, prompt: string | undefined, what: string) {
  const i = prompt !== undefined ? { prompt } : panel.doc.replayInput(settings().defaultPrompt);
  panel.doc.recordRun(what, i);
  return i;
}

function activeOnnx(): string | undefined {
  const tab = vscode.window.tabGroups.activeTabGroup.activeTab?.input as { uri?: vscode.Uri } | undefined;
  return tab?.uri?.fsPath.endsWith('.onnx') ? tab.uri.fsPath : undefined;
}

interface CompareArgs { file?: string; files?: string[]; prompt?: string; ids?: number[]; prompts?: string[]; idSets?: number[][] }

/**
 * Compare's input when none is given: the first model's last input in its panel; else the default
 * prompt, or for a model without a tokenizer, ids asked for (its sample ids prefilled).
 */
async function compareInput(d: Deps, file: string, defaultPrompt: string): Promise<RunInput | undefined> {
  const doc = d.panels.documents.find(file);
  if (doc?.input && Object.keys(doc.input).length) return { ...doc.input };
  const m = doc?.summary ?? summary(await d.engine.run(`Opening ${path.basename(file)}`, 'inspect', { file }, { quiet: true }));
  // A model without token inputs (a ViT) runs the engine's test input, as its panel does without an image.
  if (!m.takesText) return {};
  if (m.hasTokenizer) return { prompt: defaultPrompt };
  const ids = await askIds(d.questions, m, `Token ids to run through both models (${path.basename(file)} has no tokenizer.json)`);
  return ids ? { ids } : undefined;
}

async function target(d: Deps, file?: string): Promise<InspectorPanel | undefined> {
  if (file) {
    const p = d.panels.get(file) ?? d.panels.open(file);
    await p.whenReady();
    return p;
  }
  const active = d.panels.active();
  if (active) return active;
  const picked = await pickModelFile();
  if (!picked) return undefined;
  const p = d.panels.open(picked);
  await p.whenReady();
  return p;
}

/** The model (from the argument, the active panel or a file dialog) and the block to work on. */
async function targetBlock(
  d: Deps, args: { file?: string; layer?: number } | undefined, title: string,
): Promise<{ panel: InspectorPanel; layer: number } | undefined> {
  const panel = await target(d, args?.file);
  if (!panel) return undefined;
  const layer = args?.layer ?? (await pickBlock(d.questions, panel, title));
  return layer === undefined ? undefined : { panel, layer };
}

