import * as path from 'node:path';
import { printable } from '../engine/base/text';
import * as vscode from 'vscode';
import type { ScanResult } from '../engine/model/results';
import type { CompareResult } from '../experiments/compare/run';
import { cachedModels, type CachedModel } from '../hub/cache';
import { hubEnv } from '../hub/ref';

export type TreeNode =
  | { type: 'comparison'; id: number }
  | { type: 'difference'; id: number; index: number }
  | { type: 'model'; file: string }
  | { type: 'block'; file: string; layer: number }
  | { type: 'activation'; file: string; layer: number; token: number; channel: number; value: number; times: number; text: string }
  /** The Hugging Face cache's ONNX models (ours and the Python tools'), and one of them. */
  | { type: 'hubCache' }
  | { type: 'hubModel'; model: CachedModel };

/** The Activation Explorer: model → blocks → massive activations, updated as scans finish. */
export class ActivationTree implements vscode.TreeDataProvider<TreeNode> {
  private readonly scans = new Map<string, ScanResult>();
  private readonly comparisons: { title: string; result: CompareResult }[] = [];
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  update(file: string, scan: ScanResult): void {
    this.scans.set(file, scan);
    void vscode.commands.executeCommand('setContext', 'massiveActivations.hasResults', true);
    this.changed.fire(undefined);
  }

  scan(file: string): ScanResult | undefined {
    return this.scans.get(file);
  }

  /** A comparison becomes a root node whose children are its differences. */
  addComparison(title: string, result: CompareResult): TreeNode {
    this.comparisons.push({ title, result });
    this.changed.fire(undefined);
    return { type: 'comparison', id: this.comparisons.length - 1 };
  }

  /** The Hub's cache changed (a download finished): its node is read again. */
  refreshHub(): void {
    this.changed.fire(undefined);
  }

  getChildren(node?: TreeNode): TreeNode[] {
    if (!node) {
      const hub: TreeNode[] = cachedModels(hubEnv()).length ? [{ type: 'hubCache' }] : [];
      return [...[...this.scans.keys()].map((file): TreeNode => ({ type: 'model', file })), ...this.comparisons.map((_, id): TreeNode => ({ type: 'comparison', id })), ...hub];
    }
    if (node.type === 'hubCache') return cachedModels(hubEnv()).map((model) => ({ type: 'hubModel', model }));
    if (node.type === 'hubModel') return [];
    if (node.type === 'comparison') return differencesOf(this.comparisons[node.id].result).map((_, index) => ({ type: 'difference', id: node.id, index }));
    if (node.type === 'difference') return [];
    const scan = this.scans.get(node.file);
    if (!scan) return [];
    if (node.type === 'model') return scan.layers.map((l) => ({ type: 'block', file: node.file, layer: l.index }));
    if (node.type === 'block') {
      const l = scan.layers[node.layer];
      return l.massive.map((a) => ({ type: 'activation', file: node.file, layer: node.layer, token: a.token, channel: a.channel, value: a.value, times: Math.abs(a.value) / l.median, text: scan.tokens[a.token]?.text ?? `#${a.token}` }));
    }
    return [];
  }

  getParent(node: TreeNode): TreeNode | undefined {
    if (node.type === 'comparison' || node.type === 'hubCache') return undefined;
    if (node.type === 'hubModel') return { type: 'hubCache' };
    if (node.type === 'difference') return { type: 'comparison', id: node.id };
    if (node.type === 'model') return undefined;
    if (node.type === 'block') return { type: 'model', file: node.file };
    return { type: 'block', file: node.file, layer: node.layer };
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    if (node.type === 'hubCache') {
      const item = new vscode.TreeItem('Hugging Face cache', vscode.TreeItemCollapsibleState.Collapsed);
      item.description = `${cachedModels(hubEnv()).length} ONNX models`;
      item.tooltip = hubEnv().cache;
      item.iconPath = new vscode.ThemeIcon('cloud-download');
      item.id = 'hubCache';
      return item;
    }
    if (node.type === 'hubModel') {
      const m = node.model;
      const item = new vscode.TreeItem(m.repo, vscode.TreeItemCollapsibleState.None);
      item.description = `${m.revision} · ${m.graphs.length === 1 ? m.graphs[0] : `${m.graphs.length} graphs`}`;
      item.tooltip = `${m.repo} at ${m.commit}\n${m.folder}\n${m.graphs.join(', ')}`;
      item.iconPath = new vscode.ThemeIcon('package');
      item.contextValue = 'hubModel';
      item.id = `hub:${m.folder}`;
      item.command = { command: 'massiveActivations.inspectModel', title: 'Inspect Model', arguments: [vscode.Uri.file(m.folder)] };
      return item;
    }
    if (node.type === 'comparison') {
      const c = this.comparisons[node.id];
      const diffs = differencesOf(c.result);
      const item = new vscode.TreeItem(c.title, diffs.length ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
      item.description = diffs.length ? `${diffs.length} difference${diffs.length === 1 ? '' : 's'}` : 'the same massive activations';
      item.iconPath = new vscode.ThemeIcon('diff');
      item.id = `comparison:${node.id}`;
      return item;
    }
    if (node.type === 'difference') {
      const d = differencesOf(this.comparisons[node.id].result)[node.index];
      const item = new vscode.TreeItem(d.label, vscode.TreeItemCollapsibleState.None);
      item.description = d.description;
      item.iconPath = new vscode.ThemeIcon('circle-filled', new vscode.ThemeColor('charts.red'));
      item.id = `difference:${node.id}:${node.index}`;
      return item;
    }
    const scan = this.scans.get(node.file);
    if (node.type === 'model') {
      const item = new vscode.TreeItem(path.basename(path.dirname(node.file)) + path.sep + path.basename(node.file), vscode.TreeItemCollapsibleState.Expanded);
      item.description = scan ? `${scan.model.blocks} blocks · ${scan.nonFinite ? `NOT VALID: NaN/Inf from block ${scan.nonFinite.firstLayer} · ` : ''}${scan.massiveTokens.length ? `${scan.massiveChannels.length} massive channels` : 'no massive activations'}` : '';
      item.tooltip = node.file;
      item.iconPath = new vscode.ThemeIcon('circuit-board');
      item.id = `model:${node.file}`;
      return item;
    }
    if (node.type === 'block') {
      const l = scan!.layers[node.layer];
      const n = l.massive.length;
      const item = new vscode.TreeItem(`Block ${node.layer}`, n ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
      const ratio = l.ratio === null ? 'n/a' : `×${fmtInt(l.ratio)}`;
      const bad = l.nonFinite.count;
      const kind = l.mixer !== 'attention' || l.mlp === 'moe' ? `${l.mixer}${l.mlp === 'moe' ? ' + moe' : ''} · ` : '';
      item.description = `${kind}${bad ? `${bad.toLocaleString('en-US')} NaN/Inf · ` : ''}${n ? `${n} massive · ` : ''}top ${fmtValue(l.top[0]?.value ?? 0)} (${ratio})`;
      item.iconPath = bad ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'))
        : new vscode.ThemeIcon(n ? 'flame' : 'circle-small', n ? new vscode.ThemeColor('charts.red') : undefined);
      if (bad) item.tooltip = `Block ${node.layer} holds ${bad} non-finite values (NaN / ±Inf): this scan is not valid.`;
      item.id = `block:${node.file}:${node.layer}`;
      item.command = { command: 'massiveActivations.revealEntry', title: 'Reveal in Inspector', arguments: [node] };
      return item;
    }
    const item = new vscode.TreeItem(`ch ${node.channel} · tok ${node.token} "${printable(node.text)}" · ${fmtValue(node.value)} (×${fmtInt(node.times)})`, vscode.TreeItemCollapsibleState.None);
    item.contextValue = 'activation';
    item.iconPath = new vscode.ThemeIcon('pulse');
    item.id = `act:${node.file}:${node.layer}:${node.token}:${node.channel}`;
    item.tooltip = `Block ${node.layer}, token ${node.token} "${printable(node.text)}", channel ${node.channel}: ${node.value} (${fmtInt(node.times)}× the block's median magnitude)`;
    item.command = { command: 'massiveActivations.revealEntry', title: 'Reveal in Inspector', arguments: [node] };
    return item;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

const letter = (k: number) => String.fromCharCode(65 + (k % 26));

/** A comparison's differences by token kind and channel, each with the blocks where it holds. */
function differencesOf(r: CompareResult): { label: string; description: string }[] {
  const byKey = new Map<string, number[]>();
  for (const l of r.layers) for (const d of l.differences) {
    const k = `${d.kind} · ch ${d.channel} · only in ${d.models.map(letter).join('+')}`;
    byKey.set(k, [...(byKey.get(k) ?? []), l.index]);
  }
  return [...byKey].map(([label, blocks]) => ({ label, description: `block${blocks.length === 1 ? '' : 's'} ${blocks.join(', ')}` }));
}

export const fmtValue = (v: number) => (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(3));
export const fmtInt = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '∞');
