import * as path from 'node:path';
import * as vscode from 'vscode';
import type { InterventionMode } from '../experiments/intervene/run';
import { folderVariants, resolveTarget } from '../engine/model/folder';
import { statSync } from 'node:fs';
import { imagesInFolder } from '../engine/base/files';
import type { ModelSummary } from '../shared/protocol';
import { idsProblem, parseIds } from '../shared/ids';
import type { InspectorPanel } from './panel';
import type { Questions } from './questions';

/* What the commands ask the user (a model, a block, a mode, ids, a text, images), each through Questions. */

/**
 * The steps of a multi-step command (block, then mode, then values) stay open when the focus
 * moves: one step closing hands the focus back to the inspector's webview, which would otherwise
 * close the next step as it opens.
 */
export const STEP = true;

/**
 * The file to open for a path: a folder's main model; where the folder holds several variants
 * (model.onnx, model_fp16.onnx, …) the one the user picks from a quick pick.
 */
export async function chooseVariant(q: Questions, p: string, variant?: string): Promise<string | undefined> {
  const variants = statSync(p).isDirectory() && variant === undefined ? folderVariants(p) : [];
  if (variants.length < 2) return resolveTarget(p, variant).main;
  const pick = await q.pick(variants.map((v) => ({ label: v || 'plain', description: v ? `files ending _${v}.onnx` : 'files without a suffix', v })), { title: `${path.basename(p)} holds ${variants.length} variants of the model: which one?` });
  return pick ? resolveTarget(p, pick.v).main : undefined;
}

/** Token ids from an input box: prefilled (the last ids, else the model's sample ids), checked as typed. */
export async function askIds(q: Questions, m: ModelSummary, title: string, last?: number[], another = false): Promise<number[] | undefined> {
  const sample = m.sample && another ? otherSample(m.sample.ids) : m.sample?.ids;
  const value = (last ?? sample ?? []).join(', ');
  const prompt = last ? 'The ids of the last run.' : m.sample ? `Sample ids: ${m.sample.source}. Replace them with your input's ids.` : 'Comma-separated token ids.';
  const text = await q.input({ title, value, prompt, ignoreFocusOut: STEP, validateInput: (v) => idsProblem(v, m.vocabSize) });
  return text === undefined ? undefined : parseIds(text);
}

/** The second model: the first one's siblings (variants, checkpoints) first, then the workspace's other .onnx files. */
export async function pickSecondModel(q: Questions, first: string): Promise<string | undefined> {
  const found = (await vscode.workspace.findFiles('**/*.onnx', '**/node_modules/**', 500)).map((u) => u.fsPath).filter((f) => f !== first);
  const near = (f: string) => path.dirname(f) === path.dirname(first) ? 0 : path.dirname(path.dirname(f)) === path.dirname(path.dirname(first)) ? 1 : 2;
  const items = found.sort((a, b) => near(a) - near(b) || a.localeCompare(b, 'en', { numeric: true }))
    .map((f) => ({ label: path.basename(f), description: vscode.workspace.asRelativePath(path.dirname(f)), f }));
  const browse = { label: 'Browse…', description: 'another .onnx file', f: '' };
  const pick = await q.pick([...items, browse], { title: `Compare ${path.basename(first)} with…`, matchOnDescription: true });
  if (!pick) return undefined;
  return pick.f || (await pickModelFile());
}

export async function pickModelFile(): Promise<string | undefined> {
  return (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'ONNX models': ['onnx'] }, title: 'Inspect an ONNX transformer' }))?.[0]?.fsPath;
}

export async function pickBlock(q: Questions, panel: InspectorPanel, title: string): Promise<number | undefined> {
  const scan = panel.lastScan;
  const n = panel.model?.blocks ?? scan?.layers.length ?? 0;
  const items = Array.from({ length: n }, (_, i) => {
    const l = scan?.layers[i];
    return { label: `Block ${i}`, description: l ? `${l.massive.length ? `${l.massive.length} massive · ` : ''}top ${Math.round(Math.abs(l.top[0]?.value ?? 0))}` : '', layer: i };
  });
  // Blocks with massive activations first: they are what users intervene on.
  items.sort((a, b) => (scan ? (scan.layers[b.layer].massive.length ? 1 : 0) - (scan.layers[a.layer].massive.length ? 1 : 0) : 0) || a.layer - b.layer);
  return (await q.pick(items, { title, ignoreFocusOut: STEP }))?.layer;
}

export async function pickMode(q: Questions): Promise<InterventionMode | undefined> {
  const pick = await q.pick([
    { label: 'Set to zero', mode: 'zero' as const, detail: 'The paper: perplexity explodes (LLaMA2-7B 5.47 → ∞).' },
    { label: 'Set to their mean', mode: 'mean' as const, detail: 'Averaged over the built-in sample text: the paper sees no change (5.47 → 5.47).' },
    { label: 'Set to custom values…', mode: 'values' as const, detail: 'token:channel=value, …' },
  ], { title: 'Intervention', ignoreFocusOut: STEP });
  return pick?.mode;
}

export async function askValues(q: Questions): Promise<{ token: number; channel: number; value: number }[] | undefined> {
  const text = await q.input({ title: 'Values to write', prompt: 'token:channel=value, separated by commas', placeHolder: '0:1415=0, 4:2533=-100', ignoreFocusOut: STEP, validateInput: (v) => (parseValues(v) ? undefined : 'Use token:channel=value, e.g. 0:7=0') });
  return text === undefined ? undefined : parseValues(text);
}

function parseValues(v: string) {
  const out = [];
  for (const entry of v.split(',').filter((e) => e.trim())) {
    const m = /^\s*(\d+):(\d+)=(-?[\d.eE+-]+)\s*$/.exec(entry);
    if (!m || !Number.isFinite(Number(m[3]))) return undefined;
    out.push({ token: Number(m[1]), channel: Number(m[2]), value: Number(m[3]) });
  }
  return out.length ? out : undefined;
}

export async function pickText(q: Questions): Promise<string | undefined> {
  // With the inspector focused there is no active editor: the document beside it is meant. Output
  // channels (the diagnostics log) show in text editors too, but are not a user's text.
  const text = (e: vscode.TextEditor | undefined) => (e && ['file', 'untitled'].includes(e.document.uri.scheme) ? e : undefined);
  const doc = (text(vscode.window.activeTextEditor) ?? vscode.window.visibleTextEditors.find(text))?.document;
  const items = [
    ...(doc ? [{ label: `Active document: ${path.basename(doc.fileName)}`, source: 'doc' as const }] : []),
    { label: 'Choose a text file…', source: 'file' as const },
  ];
  const pick = items.length === 1 ? items[0] : await q.pick(items, { title: 'Text to split into sequences', ignoreFocusOut: STEP });
  if (!pick) return undefined;
  if (pick.source === 'doc') return doc!.getText();
  const uri = (await vscode.window.showOpenDialog({ canSelectMany: false, title: 'Text file' }))?.[0];
  return uri ? Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8') : undefined;
}

/** A second sample input: the same first id (BOS), the rest in reverse, so two inputs differ where a comparison should look. */
function otherSample(ids: number[]): number[] {
  return [...ids.slice(0, 1), ...ids.slice(1).reverse()];
}

/**
 * A model without a tokenizer cannot split a text: its inputs are random id sequences from its BOS
 * id (the paper's question is whether the same channels light up whatever follows), or typed ones.
 */
export async function pickIdSequences(q: Questions, m: ModelSummary): Promise<{ idsList?: number[][]; firstId?: number } | undefined> {
  const how = await q.pick([
    { label: 'Random token sequences', description: m.sample?.bos !== undefined ? `each starting with the BOS id ${m.sample.bos}` : 'each starting with id 1', random: true },
    { label: 'Token id sequences…', description: 'typed, separated by ";"', random: false },
  ], { title: `${m.name} has no tokenizer.json: which inputs?`, ignoreFocusOut: STEP });
  if (!how) return undefined;
  if (how.random) return { firstId: m.sample?.bos };
  const value = m.sample ? `${m.sample.ids.join(', ')}; ${otherSample(m.sample.ids).join(', ')}` : '';
  const problem = (v: string) => v.split(';').filter((x) => x.trim()).map((x) => idsProblem(x, m.vocabSize)).find(Boolean) ?? (v.trim() ? undefined : 'Give at least one sequence.');
  const text = await q.input({ title: 'Token id sequences', prompt: 'Ids separated by commas, sequences by ";"', value, ignoreFocusOut: STEP, validateInput: problem });
  return text === undefined ? undefined : { idsList: text.split(';').filter((x) => x.trim()).map(parseIds) };
}

/** Images: several files, or every PNG and JPEG of a folder (or, where offered, synthetic inputs). */
export async function pickImages(q: Questions): Promise<string[] | undefined>;
export async function pickImages(q: Questions, opts: { synthetic: true }): Promise<string[] | 'synthetic' | undefined>;
export async function pickImages(q: Questions, opts: { synthetic?: boolean } = {}): Promise<string[] | 'synthetic' | undefined> {
  const how = await q.pick([
    { label: 'Choose images…', folder: false },
    { label: 'Choose a folder of images…', folder: true },
    ...(opts.synthetic ? [{ label: 'Use synthetic images', description: 'deterministic stand-ins: no image of yours', folder: false, synthetic: true }] : []),
  ], { title: 'Images (two or more)', ignoreFocusOut: STEP });
  if (!how) return undefined;
  if ('synthetic' in how) return 'synthetic';
  if (!how.folder) return (await vscode.window.showOpenDialog({ canSelectMany: true, filters: { Images: ['png', 'jpg', 'jpeg'] }, title: 'Images (two or more)' }))?.map((u) => u.fsPath);
  const dir = (await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, title: 'Folder of images' }))?.[0]?.fsPath;
  if (!dir) return undefined;
  return imagesInFolder(dir);
}
