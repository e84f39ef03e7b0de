import * as vscode from 'vscode';
import { Questions } from './host/questions';
import { registerCommands } from './host/commands';
import { Engine } from './host/engine';
import { PANEL_VIEW_TYPE, PanelManager } from './host/panel';
import { ActivationTree } from './host/tree';
import { DocumentStore } from './host/document';
import type { PanelState } from './shared/protocol';

/** What activate() returns: the live objects, for tests and other extensions. */
export interface Api { panels: PanelManager; tree: ActivationTree; engine: Engine; questions: Questions }

export function activate(context: vscode.ExtensionContext): Api {
  const log = vscode.window.createOutputChannel('Massive Activations', { log: true });
  const engine = new Engine(vscode.Uri.joinPath(context.extensionUri, 'dist', 'worker.js').fsPath, log);
  const tree = new ActivationTree();
  const documents = new DocumentStore();
  const panels = new PanelManager({ extensionUri: context.extensionUri, engine, tree, log }, documents);
  const view = vscode.window.createTreeView('massiveActivations.explorer', { treeDataProvider: tree, showCollapseAll: true });
  context.subscriptions.push(log, engine, tree, panels, documents, view);

  // Opening an .onnx with "Open With… → Massive Activations Inspector" shows the inspector, not bytes.
  context.subscriptions.push(vscode.window.registerCustomEditorProvider('massiveActivations.inspector', {
    openCustomDocument: (uri) => ({ uri, dispose: () => {} }),
    resolveCustomEditor: async (doc, webviewPanel) => { panels.attach(webviewPanel, doc.uri.fsPath); },
  }, { supportsMultipleEditorsPerDocument: false }));

  context.subscriptions.push(vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
    deserializeWebviewPanel: async (panel, state?: PanelState) => {
      if (state?.file) panels.attach(panel, state.file, state);
      else panel.dispose();
    },
  }));

  const questions = new Questions();
  context.subscriptions.push(questions);
  registerCommands(context, { engine, panels, tree, log, questions, extensionUri: context.extensionUri });
  log.info(`Massive Activations ${context.extension.packageJSON.version} activated (${vscode.env.uiKind === vscode.UIKind.Web ? 'web UI' : 'desktop'}${vscode.env.remoteName ? `, remote ${vscode.env.remoteName}` : ''})`);
  return { panels, tree, engine, questions };
}

export function deactivate(): void {}
