import * as path from 'node:path';
import * as vscode from 'vscode';
import * as csv from '../engine/export';
import type { ModelInfo } from '../engine/inspect';
import type { ScanResult } from '../engine/types';
import type { ExperimentView, FromWebview, ModelSummary, PanelCalls, PanelMethod, PanelState, ToWebview } from '../shared/protocol';
import { modelFiles, writeResult } from '../engine/outputs';
import { Engine, showError } from './engine';
import { settings } from './settings';
import type { ActivationTree } from './tree';
import { inspectorHtml } from './webviewHtml';

export interface PanelContext { extensionUri: vscode.Uri; engine: Engine; tree: ActivationTree; log: vscode.LogOutputChannel }

export const PANEL_VIEW_TYPE = 'massiveActivations.panel';

/** One inspector per model file: the webview, and the requests it makes of the engine. */
export class InspectorPanel implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  model: ModelSummary | null = null;
  lastScan: ScanResult | undefined;
  /** The exact input of the last scan: what a block click runs on. */
  private lastInput: { prompt?: string; ids?: number[]; image?: string } | undefined;
  lastExperiment: { title: string; view: ExperimentView } | undefined;
  private ready: Promise<void>;
  private markReady!: () => void;
  private readonly disposedEmitter = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.disposedEmitter.event;

  constructor(readonly panel: vscode.WebviewPanel, readonly file: string, private readonly ctx: PanelContext, private state?: PanelState) {
    this.ready = new Promise((r) => (this.markReady = r));
    panel.webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(ctx.extensionUri, 'dist'), vscode.Uri.joinPath(ctx.extensionUri, 'media')] };
    panel.iconPath = vscode.Uri.joinPath(ctx.extensionUri, 'media', 'activity.svg');
    panel.webview.html = inspectorHtml(panel.webview, ctx.extensionUri, panel.title);
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: FromWebview) => this.onMessage(m)),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  private post(m: ToWebview): void {
    void this.panel.webview.postMessage(m);
  }

  private async onMessage(m: FromWebview): Promise<void> {
    if (m.kind === 'ready') { await this.init(); this.markReady(); return; }
    if (m.kind === 'state') { this.state = m.state; return; }
    try {
      const result = await this.handle(m.method, m.args as never);
      this.post({ kind: 'response', id: m.id, result });
    } catch (e) {
      this.post({ kind: 'response', id: m.id, error: showError(e, this.ctx.log) });
    }
  }

  private async init(): Promise<void> {
    const s = settings();
    try {
      const info = await this.ctx.engine.run(`Opening ${path.basename(this.file)}`, 'inspect', { file: this.file }, { quiet: true });
      this.model = summary(info);
      this.post({ kind: 'init', model: this.model, defaultPrompt: s.defaultPrompt, state: this.state });
      if (this.lastScan) this.post({ kind: 'scan', result: this.lastScan });
    } catch (e) {
      this.post({ kind: 'init', model: null, error: showError(e, this.ctx.log), defaultPrompt: s.defaultPrompt });
    }
  }

  /** Resolves once the webview has loaded and the model is inspected. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  private handle<M extends PanelMethod>(method: M, args: PanelCalls[M]['args']): Promise<PanelCalls[M]['result']> {
    const handlers: { [K in PanelMethod]: (a: PanelCalls[K]['args']) => Promise<PanelCalls[K]['result']> } = {
      run: (a) => this.scan(a),
      layer: (a) => this.layer(a.layer),
      pickImage: async () => (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Images: ['png', 'jpg', 'jpeg'] }, title: 'Image for the vision model' }))?.[0]?.fsPath ?? null,
      export: (a) => this.export(a),
      cancel: () => this.ctx.engine.cancel(),
      compare: async () => { await vscode.commands.executeCommand('massiveActivations.compareWith', { file: this.file }); return true; },
    };
    return (handlers[method] as (a: PanelCalls[M]['args']) => Promise<PanelCalls[M]['result']>)(args);
  }

  /** Runs a scan (from the panel or a command) and shows it in the panel and the tree. */
  async scan(input: { prompt?: string; ids?: number[]; image?: string }): Promise<ScanResult> {
    const s = settings();
    const result = await this.ctx.engine.run(`Scanning ${path.basename(this.file)}`, 'scan', {
      file: this.file,
      options: { ...input, topK: s.topK, thresholds: s.thresholds, maxTokens: s.maxTokens, threads: s.threads },
    }, { onProgress: (p) => this.post({ kind: 'progress', message: p.message, layer: p.layer, total: p.total }) });
    this.lastScan = result;
    this.lastInput = input;
    this.ctx.tree.update(this.file, result);
    this.post({ kind: 'scan', result });
    return result;
  }

  private async layer(layer: number) {
    const s = settings();
    const last = this.lastScan;
    // A block's detail is computed on exactly what was scanned (the prompt box may have changed since,
    // and an image scan must not fall back to the synthetic input).
    const input = this.lastInput ?? (last?.input.kind === 'ids' ? { ids: last.tokens.map((t) => t.id!) } : last?.input.kind === 'text' ? { prompt: this.state?.prompt ?? s.defaultPrompt } : {});
    const base = { ...input, thresholds: s.thresholds, maxTokens: s.maxTokens, threads: s.threads };
    const featureMap = await this.ctx.engine.run('Block detail', 'featureMap', { file: this.file, options: { ...base, layer, maxColumns: 192 } }, { quiet: true });
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
    if (!content) throw new Error('Nothing to export yet: run a scan or an experiment first.');
    const uri = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(path.join(path.dirname(this.file), `massive-activations-${a.what}.${a.format}`)), filters: a.format === 'csv' ? { CSV: ['csv'] } : { JSON: ['json'] } });
    if (!uri) return null;
    writeResult(uri.fsPath, content, this.protectedFiles(), `${a.format.toUpperCase()} file`);
    return uri.fsPath;
  }

  /** What a save must never replace: the model, its weights (as inspect listed them) and sidecars. */
  protectedFiles() {
    return modelFiles(this.file, this.model?.externalData.map((f) => f.file) ?? []);
  }

  exportContent(what: 'scan' | 'experiment', format: 'json' | 'csv'): string | undefined {
    if (what === 'scan') {
      if (!this.lastScan) return undefined;
      return format === 'json' ? JSON.stringify(this.lastScan, null, 2) : csv.scanCsv(this.lastScan);
    }
    const e = this.lastExperiment?.view;
    if (!e) return undefined;
    if (format === 'json') return JSON.stringify(e.result, null, 2);
    switch (e.type) {
      case 'scanMany': return csv.scanManyCsv(e.result) + '\n' + csv.constancyCsv(e.result);
      case 'intervene': return csv.interveneCsv(e.result);
      case 'attention': return csv.attentionCsv(e.result);
      case 'implicitBias': return csv.implicitBiasCsv(e.result);
      case 'fixRegMean': return csv.fixRegMeanCsv(e.result);
    }
  }

  showExperiment(title: string, view: ExperimentView): void {
    this.lastExperiment = { title, view };
    this.panel.reveal(undefined, true);
    this.post({ kind: 'experiment', title, experiment: view });
  }

  reveal(layer: number, token: number, channel: number): void {
    this.panel.reveal();
    this.post({ kind: 'reveal', layer, token, channel });
  }

  dispose(): void {
    this.disposedEmitter.fire();
    this.disposedEmitter.dispose();
    for (const d of this.disposables) d.dispose();
    this.disposables.length = 0;
  }
}

function summary(i: ModelInfo): ModelSummary {
  return {
    file: i.path, name: path.basename(i.path), family: i.family, blocks: i.blocks, hiddenSize: i.hiddenSize, heads: i.heads, dtype: i.dtype,
    matcher: i.matcher, externalData: i.externalData.map((f) => ({ file: f.file, present: f.present })), warnings: i.warnings,
    takesText: i.inputs.some((x) => x.role === 'ids'), takesImage: i.inputs.some((x) => x.role === 'pixels'),
    hasTokenizer: i.hasTokenizer, layers: i.layers,
  };
}

/** All open inspectors, by model file; the most recently active one is the target of palette commands. */
export class PanelManager implements vscode.Disposable {
  private readonly panels = new Map<string, InspectorPanel>();
  private lastActive: string | undefined;

  constructor(private readonly ctx: PanelContext) {}

  open(file: string, column = vscode.ViewColumn.Active): InspectorPanel {
    const existing = this.panels.get(file);
    if (existing) { existing.panel.reveal(); return existing; }
    const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, `Massive Activations · ${path.basename(path.dirname(file))}/${path.basename(file)}`, column, { retainContextWhenHidden: true, enableFindWidget: true });
    return this.attach(panel, file);
  }

  attach(panel: vscode.WebviewPanel, file: string, state?: PanelState): InspectorPanel {
    const p = new InspectorPanel(panel, file, this.ctx, state ?? { file });
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
