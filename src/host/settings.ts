import * as vscode from 'vscode';
import type { Thresholds } from '../engine/stats';

/** The extension's settings, read fresh each time (they may change while panels are open). */
export interface Settings { thresholds: Thresholds; topK: number; maxTokens: number; threads: number; defaultPrompt: string }

export function settings(): Settings {
  const c = vscode.workspace.getConfiguration('massiveActivations');
  return {
    thresholds: { absolute: c.get('absoluteThreshold', 100), ratio: c.get('ratioThreshold', 1000) },
    topK: c.get('topK', 10),
    maxTokens: c.get('maxTokens', 2048),
    threads: c.get('threads', 0),
    defaultPrompt: c.get('defaultPrompt', 'Summer is warm. Winter is cold.'),
  };
}
