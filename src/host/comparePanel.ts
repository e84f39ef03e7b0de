import * as path from 'node:path';
import * as vscode from 'vscode';
import compare from '../experiments/compare/view';
import type { CompareResult } from '../experiments/compare/run';
import { modelFiles, writeResult } from '../engine/base/outputs';
import type { FromCompareWebview, ToCompareWebview } from '../shared/protocol';
import { showError } from './engine';
import { inspectorHtml } from './webviewHtml';

export const COMPARE_VIEW_TYPE = 'massiveActivations.compare';

/** One comparison in its own panel (the webview/compare.ts bundle). */
export class ComparePanel {
  readonly panel: vscode.WebviewPanel;

  constructor(extensionUri: vscode.Uri, readonly title: string, readonly result: CompareResult, private readonly log: vscode.LogOutputChannel) {
    this.panel = vscode.window.createWebviewPanel(COMPARE_VIEW_TYPE, title, vscode.ViewColumn.Active, {
      enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist')],
    });
    this.panel.webview.html = inspectorHtml(this.panel.webview, extensionUri, title, 'compare');
    this.panel.webview.onDidReceiveMessage((m: FromCompareWebview) => void this.onMessage(m));
  }

  private async onMessage(m: FromCompareWebview): Promise<void> {
    if (m.kind === 'ready') { void this.panel.webview.postMessage({ kind: 'init', title: this.title, result: this.result } satisfies ToCompareWebview); return; }
    try {
      const dir = path.dirname(this.result.models[0].path);
      const ext = m.kind === 'png' ? 'png' : m.what;
      const uri = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(path.join(dir, m.kind === 'png' ? `${m.name}.png` : `massive-activations-compare.${ext}`)), filters: { [ext.toUpperCase()]: [ext] } });
      if (!uri) return;
      const content = m.kind === 'png' ? Buffer.from(m.dataUrl.replace(/^data:image\/png;base64,/, ''), 'base64') : m.what === 'csv' ? compare.csv(this.result) : JSON.stringify(this.result, null, 2);
      // Never onto any compared model, its weights or sidecars.
      writeResult(uri.fsPath, content, this.result.models.flatMap((x) => modelFiles(x.path, [])), `${ext.toUpperCase()} file`);
    } catch (e) {
      showError(e, this.log);
    }
  }
}
