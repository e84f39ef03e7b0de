import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Thresholds } from '../engine/measure/stats';

/** The extension's settings, read fresh each time (they may change while panels are open). */
export interface Settings {
  thresholds: Thresholds; topK: number; maxTokens: number; threads: number; wholeGraph: boolean; defaultPrompt: string; liveScanMaxMB: number;
}

export function settings(): Settings {
  const c = vscode.workspace.getConfiguration('massiveActivations');
  return {
    thresholds: { absolute: c.get('absoluteThreshold', 100), ratio: c.get('ratioThreshold', 1000) },
    topK: c.get('topK', 10),
    maxTokens: c.get('maxTokens', 2048),
    threads: c.get('threads', 0),
    wholeGraph: c.get('wholeGraph', false),
    defaultPrompt: c.get('defaultPrompt', 'Summer is warm. Winter is cold.'),
    liveScanMaxMB: c.get('liveScanMaxMB', 600),
  };
}

/** What every run takes from the settings: the massive criterion, the token limit, the threads. */
export function runSettings(s: Settings = settings()): Pick<Settings, 'thresholds' | 'maxTokens' | 'threads'> {
  return { thresholds: s.thresholds, maxTokens: s.maxTokens, threads: s.threads };
}

/** The user's input tensors for one model (massiveActivations.feeds), matched by path, workspace path or file name. */
export function feedsFor(file: string): Record<string, string> | undefined {
  const all = vscode.workspace.getConfiguration('massiveActivations').get<Record<string, Record<string, string>>>('feeds', {});
  const rel = vscode.workspace.asRelativePath(file, false);
  const hit = all[file] ?? all[rel] ?? all[path.basename(file)];
  if (!hit) return undefined;
  // Relative tensor paths are read from the workspace folder, as users write them in settings.json.
  const root = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file))?.uri.fsPath ?? path.dirname(file);
  return Object.fromEntries(Object.entries(hit).map(([k, v]) => [k, path.isAbsolute(v) ? v : path.join(root, v)]));
}
