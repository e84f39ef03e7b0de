import { statSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { scanCsv } from '../experiments/scan/view';
import { EXPERIMENTS } from '../experiments/registry';
import type { ModelInfo } from '../engine/model/inspect';
import type { BlockResult, Progress, ScanResult } from '../engine/model/results';
import type { ExperimentView, FromWebview, ModelSummary, PanelCalls, PanelMethod, PanelState, RunInput, ToWebview } from '../shared/protocol';
import { EngineError, isCancelled, isInputError, userMessage, word } from '../engine/base/errors';
import { printable } from '../engine/base/text';
import { DocumentStore, type ModelDocument, type RunCall } from './document';
import { vscodeWording, wordWarnings } from './wording';
import { modelFiles, writeResult } from '../engine/base/outputs';
import { asSent, Engine, showError, type Ticket } from './engine';
import { runSettings, settings } from './settings';
import type { ActivationTree } from './tree';
import { inspectorHtml } from './webviewHtml';

export interface PanelContext { extensionUri: vscode.Uri; engine: Engine; tree: ActivationTree; log: vscode.LogOutputChannel }

export const PANEL_VIEW_TYPE = 'massiveActivations.panel';

/** One inspector per model file: a view of the model's document, and the requests it makes of the engine. */
export class InspectorPanel implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private ready: Promise<void>;
  private markReady!: () => void;
  private inspected = false;
  /** The scan this panel is running, if any: what its Cancel stops. */
  private scanTicket: Ticket | undefined;
  /** An Explorer click that arrived while the panel was hidden: sent once its webview is rebuilt. */
  private pendingReveal: ToWebview | undefined;
  private readonly disposedEmitter = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.disposedEmitter.event;

  constructor(readonly panel: vscode.WebviewPanel, readonly doc: ModelDocument, private readonly ctx: PanelContext, private state?: PanelState) {
    this.ready = new Promise((r) => (this.markReady = r));
    panel.webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(ctx.extensionUri, 'dist'), vscode.Uri.joinPath(ctx.extensionUri, 'media')] };
    panel.iconPath = vscode.Uri.joinPath(ctx.extensionUri, 'media', 'activity.svg');
    panel.webview.html = inspectorHtml(panel.webview, ctx.extensionUri, panel.title);
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: FromWebview) => this.onMessage(m)),
      panel.onDidDispose(() => this.dispose()),
      doc.onDidChange((what) => { if (what === 'stale') this.post({ kind: 'stale', files: doc.stale?.files ?? null }); }),
    );
  }

  get file(): string { return this.doc.file; }
  get model(): ModelSummary | null { return this.doc.summary; }
  get lastScan(): ScanResult | undefined { return this.doc.scan; }
  get lastExperiment() { return this.doc.lastExperiment; }

  private post(m: ToWebview): void {
    void this.panel.webview.postMessage(m);
  }

  private async onMessage(m: FromWebview): Promise<void> {
    // 'ready' comes on every load of the webview, also when a hidden panel is shown again.
    if (m.kind === 'ready') {
      await this.init();
      this.markReady();
      if (this.pendingReveal) { this.post(this.pendingReveal); this.pendingReveal = undefined; }
      return;
    }
    if (m.kind === 'state') { this.state = m.state; return; }
    try {
      const result = await this.handle(m.method, m.args as never);
      this.post({ kind: 'response', id: m.id, result });
    } catch (e) {
      // The panel's own input refused: shown beside the input box, not stacked up as error notifications.
      if (m.method === 'run' && isInputError(e)) {
        const limit = (e as EngineError).code === 'too-long' ? Number((e as EngineError).facts.limit) : NaN;
        this.post({ kind: 'response', id: m.id, error: printable(userMessage(e, vscodeWording)), inputError: true, ...(limit > 0 ? { truncateTo: limit } : {}) });
      }
      else this.post({ kind: 'response', id: m.id, error: showError(e, this.ctx.log) });
    }
  }

  /** Inspects the model once (or again after it changed), then shows the document as it is. */
  private async init(): Promise<void> {
    const s = settings();
    if (!this.inspected || this.doc.stale) await this.inspect();
    const d = this.doc;
    this.post({
      kind: 'init', model: d.summary, error: d.error, defaultPrompt: s.defaultPrompt, state: this.state, live: this.liveScan(),
      restore: {
        input: d.input, scan: d.scan && wordWarnings(d.scan),
        experiments: [...d.experiments].reverse().map((e) => ({ title: e.title, experiment: worded(e.view) })),
        stale: d.stale?.files,
      },
    });
  }

  private async inspect(): Promise<void> {
    try {
      const info = await this.ctx.engine.run(`Opening ${path.basename(this.file)}`, 'inspect', { file: this.file }, { quiet: true });
      this.doc.setSummary(summary(info));
    } catch (e) {
      this.doc.setSummary(null, showError(e, this.ctx.log));
    }
    this.inspected = true;
  }

  /** Whether the panel re-scans as the prompt is edited: small models only (massiveActivations.liveScan). */
  private liveScan(): boolean {
    const limit = settings().liveScanMaxMB;
    const bytes = this.doc.summary?.bytes ?? Infinity;
    return limit > 0 && bytes <= limit * 1024 * 1024;
  }

  /** Resolves once the webview has loaded and the model is inspected. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  private handle<M extends PanelMethod>(method: M, args: PanelCalls[M]['args']): Promise<PanelCalls[M]['result']> {
    const handlers: { [K in PanelMethod]: (a: PanelCalls[K]['args']) => Promise<PanelCalls[K]['result']> } = {
      run: async ({ live, ...input }) => {
        try {
          return await this.scan(input, { quiet: live });
        } catch (e) {
          // A live re-scan is cancelled by the next keystroke's run: superseded, not an error to show.
          if (live && isCancelled(e)) return null;
          throw e;
        }
      },
      rerun: () => this.rerun(),
      layer: (a) => this.layer(a.layer),
      pickImage: async () => (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Images: ['png', 'jpg', 'jpeg'] }, title: 'Image for the vision model' }))?.[0]?.fsPath ?? null,
      export: (a) => this.export(a),
      // The panel's Cancel (and a live re-scan superseding the last) stops this panel's scan only.
      cancel: async () => (this.scanTicket ? this.ctx.engine.cancelTicket(this.scanTicket) : false),
      compare: async () => { await vscode.commands.executeCommand('massiveActivations.compareWith', { file: this.file }); return true; },
      experiment: async ({ command, layer }) => { await vscode.commands.executeCommand(`massiveActivations.${command}`, { file: this.file, layer }); return true; },
    };
    return (handlers[method] as (a: PanelCalls[M]['args']) => Promise<PanelCalls[M]['result']>)(args);
  }

  /** Runs a scan (from the panel or a command) and shows it in the panel and the tree. */
  async scan(input: RunInput, opts: { quiet?: boolean; onProgress?: (p: Progress) => void; external?: boolean } = {}): Promise<ScanResult> {
    const s = settings();
    this.doc.recordRun('scan', input);
    const ticket: Ticket = {};
    this.scanTicket = ticket;
    const measured = new MeasuredSoFar();
    let result: ScanResult;
    const call = asSent({ file: this.file, options: { ...input, topK: s.topK, ...runSettings(s) } });
    try {
      result = await this.ctx.engine.run(`Scanning ${path.basename(this.file)}`, 'scan', call, { quiet: opts.quiet, statusBar: true, ticket, onProgress: (p) => {
        measured.add(p);
        this.post({ kind: 'progress', message: p.message, layer: p.layer, total: p.total });
        opts.onProgress?.(p);
      } });
    } catch (e) {
      // Stopped by the user: the blocks measured so far stay, explorable, as a result of their own.
      // (A live re-scan superseded by the next edit is not a stop: it says nothing.)
      const partial = !opts.quiet && isCancelled(e) ? measured.result() : undefined;
      if (!partial) throw e;
      result = partial;
    } finally {
      if (this.scanTicket === ticket) this.scanTicket = undefined;
    }
    // Kept as the engine said it (a report words it for the command line); shown in VS Code's words.
    this.doc.setScan(input, result, call);
    const shown = wordWarnings(result);
    this.ctx.tree.update(this.file, shown);
    this.post({ kind: 'scan', result: shown, input, ...(opts.external ? { external: true } : {}) });
    return shown;
  }

  /** The model changed on disk: inspect it again and run the last scan's input on the new files. */
  private async rerun(): Promise<ScanResult | null> {
    await this.inspect();
    if (!this.doc.summary) { this.post({ kind: 'init', model: null, error: this.doc.error, defaultPrompt: settings().defaultPrompt }); return null; }
    this.post({ kind: 'stale', files: null });
    return this.doc.input ? this.scan(this.doc.input) : null;
  }

  private async layer(layer: number) {
    const s = settings();
    const last = this.doc.scan;
    // A block's detail is computed on exactly what was scanned (the prompt box may have changed since,
    // and an image scan must not fall back to the synthetic input).
    const input = this.doc.replayInput(s.defaultPrompt);
    this.doc.recordRun(`block ${layer}`, input);
    const base = { ...input, ...runSettings(s) };
    const call = asSent({ file: this.file, options: { ...base, layer, maxColumns: 192 } });
    const featureMap = await this.ctx.engine.run('Block detail', 'featureMap', call, { quiet: true });
    this.doc.addBlockView(layer, featureMap, call);
    // Blocks 0…layer only, with the massive tokens the scan found over the whole model.
    const massiveTokens = last && !last.stacks ? last.massiveTokens : undefined;
    const attention = await this.ctx.engine.run('Attention', 'attention', { file: this.file, options: { ...base, layer, matrixTokens: 128, perHead: true, prefix: true, massiveTokens } }, { quiet: true });
    return { layer, featureMap, attention };
  }

  private async export(a: PanelCalls['export']['args']): Promise<string | null> {
    if (a.what === 'png') {
      const uri = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(path.join(path.dirname(this.file), `${a.name}.png`)), filters: { PNG: ['png'] } });
      if (!uri) return null;
      writeResult(uri.fsPath, Buffer.from(a.dataUrl.replace(/^data:image\/png;base64,/, ''), 'base64'), this.protectedFiles(), 'PNG file');
      return uri.fsPath;
    }
    const content = this.exportContent(a.what, a.format);
    if (!content) throw new EngineError('not-ready', 'Nothing to export yet: run a scan or an experiment first.');
    const uri = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(path.join(path.dirname(this.file), `massive-activations-${a.what}.${a.format}`)), filters: a.format === 'csv' ? { CSV: ['csv'] } : { JSON: ['json'] } });
    if (!uri) return null;
    writeResult(uri.fsPath, content, this.protectedFiles(), `${a.format.toUpperCase()} file`);
    return uri.fsPath;
  }

  /** What a save must never replace: the model, its weights (as inspect listed them), sidecars, and every file its runs read. */
  protectedFiles() {
    return [...modelFiles(this.file, this.model?.externalData.map((f) => f.file) ?? []), ...this.ctx.engine.inputsOf(this.file)];
  }

  exportContent(what: 'scan' | 'experiment', format: 'json' | 'csv'): string | undefined {
    if (what === 'scan') {
      if (!this.lastScan) return undefined;
      return format === 'json' ? JSON.stringify(wordWarnings(this.lastScan), null, 2) : scanCsv(this.lastScan);
    }
    const e = this.lastExperiment && worded(this.lastExperiment.view);
    if (!e) return undefined;
    if (format === 'json') return JSON.stringify(e.result, null, 2);
    return (EXPERIMENTS[e.type].csv as (r: ExperimentView['result']) => string)(e.result);
  }

  /** Shows an experiment's result; `call` is the engine call it came from, as sent (see asSent), for the report. */
  showExperiment(title: string, view: ExperimentView, call?: RunCall): void {
    this.doc.addExperiment(title, view, call);
    this.panel.reveal(undefined, true);
    this.post({ kind: 'experiment', title, experiment: worded(view) });
  }

  reveal(layer: number, token: number, channel: number): void {
    const m: ToWebview = { kind: 'reveal', layer, token, channel };
    if (this.panel.visible) {
      this.panel.reveal();
      this.post(m);
      return;
    }
    // A panel in a background tab has no webview: it is rebuilt as it shows, and the reveal waits for that.
    this.pendingReveal = m;
    this.panel.reveal();
  }

  dispose(): void {
    this.disposedEmitter.fire();
    this.disposedEmitter.dispose();
    for (const d of this.disposables) d.dispose();
    this.disposables.length = 0;
  }
}

/** An experiment's result with its warnings in VS Code's words. */
function worded(view: ExperimentView): ExperimentView {
  return { ...view, result: wordWarnings(view.result as { warnings?: string[] }) } as ExperimentView;
}

function fileBytes(f: string): number {
  try { return statSync(f).size; } catch { return 0; }
}

/** What the host and the panel need of a model's inspection. */
export function summary(i: ModelInfo): ModelSummary {
  return {
    file: i.path, name: path.basename(i.path), family: i.family, blocks: i.blocks, hiddenSize: i.hiddenSize, heads: i.heads, dtype: i.dtype,
    matcher: i.matcher, externalData: i.externalData.map((f) => ({ file: f.file, present: f.present })),
    warnings: i.warnings.map((w) => word(w, vscodeWording)),
    // A decoder fed by its folder's embed_tokens.onnx takes text as a single model does.
    takesText: i.inputs.some((x) => x.role === 'ids') || !!i.pipeline?.files.some((f) => f.role === 'embed'),
    takesImage: i.inputs.some((x) => x.role === 'pixels'),
    hasTokenizer: i.hasTokenizer, vocabSize: i.vocabSize, ...(i.sample ? { sample: i.sample } : {}), layers: i.layers,
    bytes: fileBytes(i.path) + i.externalData.reduce((a, f) => a + f.bytes, 0),
  };
}

/** All open inspectors, by model file; the most recently active one is the target of palette commands. */
export class PanelManager implements vscode.Disposable {
  private readonly panels = new Map<string, InspectorPanel>();
  private lastActive: string | undefined;

  constructor(private readonly ctx: PanelContext, readonly documents: DocumentStore) {}

  open(file: string, column = vscode.ViewColumn.Active): InspectorPanel {
    const existing = this.panels.get(file);
    // Opened by the user just now: the palette's target at once, before VS Code reports the focus change.
    if (existing) { existing.panel.reveal(); this.lastActive = file; return existing; }
    // No retainContextWhenHidden: a hidden panel's webview is discarded and rebuilt from the document.
    const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, `Massive Activations · ${path.basename(path.dirname(file))}/${path.basename(file)}`, column, { enableFindWidget: true });
    return this.attach(panel, file);
  }

  attach(panel: vscode.WebviewPanel, file: string, state?: PanelState): InspectorPanel {
    const p = new InspectorPanel(panel, this.documents.get(file), this.ctx, state ?? { file });
    this.panels.set(file, p);
    this.lastActive = file;
    void vscode.commands.executeCommand('setContext', 'massiveActivations.hasModel', true);
    panel.onDidChangeViewState(() => { if (panel.active) this.lastActive = file; });
    p.onDidDispose(() => {
      if (this.panels.get(file) === p) this.panels.delete(file);
      if (this.lastActive === file) this.lastActive = [...this.panels.keys()].pop();
      void vscode.commands.executeCommand('setContext', 'massiveActivations.hasModel', this.panels.size > 0);
    });
    return p;
  }

  get(file: string): InspectorPanel | undefined {
    return this.panels.get(file);
  }

  active(): InspectorPanel | undefined {
    return this.lastActive ? this.panels.get(this.lastActive) : undefined;
  }

  all(): InspectorPanel[] {
    return [...this.panels.values()];
  }

  dispose(): void {
    for (const p of this.panels.values()) p.panel.dispose();
  }
}

/**
 * A scan's blocks as they arrive (the engine's progress), kept so that a stopped scan still shows
 * them: "Cancelled after N of M blocks", each of them clickable (a block view runs blocks 0…L on the
 * same input). An encoder-decoder's two stacks are not kept this way: their blocks are not one list.
 */
class MeasuredSoFar {
  private start: Progress['start'];
  private stacks = 0;
  private total = 0;
  private readonly layers: BlockResult[] = [];

  add(p: Progress): void {
    if (p.start) { this.start = p.start; this.stacks++; this.layers.length = 0; }
    if (p.layer && this.start) { this.layers.push(p.layer); this.total = p.total ?? this.total; }
  }

  result(): ScanResult | undefined {
    const s = this.start;
    if (!s || this.stacks !== 1 || !this.layers.length) return undefined;
    const layers = [...this.layers];
    const massiveTokens = [...new Set(layers.flatMap((l) => l.massive.map((a) => a.token)))].sort((a, b) => a - b);
    const massiveChannels = [...new Set(layers.flatMap((l) => l.massive.map((a) => a.channel)))].sort((a, b) => a - b);
    const firstBad = layers.find((l) => l.nonFinite.count > 0);
    return {
      ...s, layers, attention: [], massiveTokens, massiveChannels, outlierFeatures: [],
      timing: { loadMs: 0, runMs: 0, statsMs: 0 },
      nonFinite: firstBad ? {
        firstLayer: firstBad.index, tensor: firstBad.tensor,
        count: layers.reduce((a, l) => a + l.nonFinite.count, 0), layers: layers.filter((l) => l.nonFinite.count).length,
      } : null,
      warnings: [`Cancelled after ${layers.length} of ${this.total} blocks: the blocks after them were not measured, and attention shares are not shown.`],
      cancelled: { measured: layers.length, total: this.total },
    };
  }
}
