import * as path from 'node:path';
import * as vscode from 'vscode';
import { EngineError } from '../engine/base/errors';
import { composeReport, type ReportRun } from '../report/report';
import { versions } from '../report/versions';
import { writeReport } from '../report/write';
import type { ModelDocument } from './document';
import type { InspectorPanel } from './panel';
import { settings } from './settings';

/**
 * Everything the panel ran, in the order it ran: the scan, each block viewed (its feature map) and
 * each experiment, every one with the command line that reproduces it.
 */
export function panelRuns(doc: ModelDocument): ReportRun[] {
  const runs: (ReportRun & { at: number })[] = [];
  if (doc.scan) runs.push({ method: 'scan', title: 'Scan', result: doc.scan, call: doc.scanCall, at: doc.scanAt });
  for (const v of doc.blockViews.values()) runs.push({ method: 'featureMap', title: v.title, result: v.view, call: v.call, at: v.at });
  for (const e of doc.experiments) runs.push({ method: e.view.type, title: e.title, result: e.view.result, call: e.call, at: e.at });
  return runs.sort((a, b) => a.at - b.at).map(({ at: _, ...r }) => r);
}

/**
 * Export Report: report.md with its figures (SVG), each run's JSON as its command line prints it,
 * and the inputs those lines name, into a new (or empty) folder; then the Markdown preview.
 */
export async function exportReport(panel: InspectorPanel, folder?: string): Promise<{ folder: string; files: string[] } | undefined> {
  const doc = panel.doc;
  const runs = panelRuns(doc);
  if (!runs.length) throw new EngineError('not-ready', 'Nothing to report yet: run a scan or an experiment first.');
  const model = doc.scan?.model ?? (doc.summary && { path: doc.summary.file, ...doc.summary });
  if (!model) throw new EngineError('not-ready', 'The model could not be read, so there is nothing to report.');
  const dir = folder ?? (await vscode.window.showSaveDialog({
    title: 'Export the report into a new folder',
    saveLabel: 'Export Report',
    defaultUri: vscode.Uri.file(path.join(path.dirname(panel.file), `${path.basename(path.dirname(panel.file))}-report`)),
  }))?.fsPath;
  if (!dir) return undefined;
  const files = composeReport({
    model: { ...model, heads: model.heads ?? null, hiddenSize: model.hiddenSize ?? null },
    input: doc.input ?? {},
    thresholds: doc.scan?.settings.thresholds ?? settings().thresholds,
    runs,
    versions: versions(),
  });
  const targets = writeReport(dir, files, panel.protectedFiles());
  await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(targets[0]));
  return { folder: dir, files: targets };
}
