import * as path from 'node:path';
import * as vscode from 'vscode';
import { modelFiles } from '../engine/base/outputs';
import type { ScanResult } from '../engine/model/results';
import type { FeatureMapResult } from '../experiments/featureMap/run';
import type { ExperimentView, ModelSummary, RunInput } from '../shared/protocol';
import { FileChanges } from './fileChanges';

/** One run the document remembers: what was run, on exactly which input. */
export interface RunRecord { what: string; input: RunInput; at: number }

/** The engine call a result came from, as sent (the user's settings included): what Export Report cites as a command line. */
export interface RunCall { file: string; options: object }

/** A result the panel showed, as the engine returned it (warnings unworded), with its call; `at`: the order it ran in. */
export interface Shown<V> { title: string; view: V; call?: RunCall; at: number }

/** The order runs happened in: a counter, as two runs can share a millisecond. */
let ran = 0;

const HISTORY = 50;
const EXPERIMENTS_KEPT = 20;

/** The input as given, without the keys a caller left undefined. */
const exact = (i: RunInput): RunInput => Object.fromEntries(Object.entries(i).filter(([, v]) => v !== undefined));

/**
 * Everything the extension knows about one model, shared by its inspector (panel or custom editor),
 * the Activation Explorer and palette commands: the summary, the exact input of every run, the last
 * results, and whether the files on disk still are what produced them. The webview is only a view
 * of it: a hidden panel is discarded and rebuilt from here.
 */
export class ModelDocument implements vscode.Disposable {
  summary: ModelSummary | null = null;
  error: string | undefined;
  /** The exact input of the last scan: what every follow-up request (block click, experiments) replays. */
  input: RunInput | undefined;
  scan: ScanResult | undefined;
  scanCall: RunCall | undefined;
  scanAt = 0;
  experiments: Shown<ExperimentView>[] = [];
  /** The feature map of each block viewed (the latest per block), for the report. */
  readonly blockViews = new Map<number, Shown<FeatureMapResult>>();
  readonly runs: RunRecord[] = [];
  /** Set when the model or a file beside it changed on disk after the results were computed. */
  stale: { files: string[] } | undefined;
  private changes: FileChanges | undefined;
  private readonly changed = new vscode.EventEmitter<'stale' | 'results'>();
  readonly onDidChange = this.changed.event;

  constructor(readonly file: string) {}

  /** The model was (re)inspected: watch it, its weights and its sidecars from now on. */
  setSummary(summary: ModelSummary | null, error?: string): void {
    this.summary = summary;
    this.error = error;
    this.changes?.dispose();
    const files = modelFiles(this.file, summary?.externalData.map((f) => f.file) ?? []).map((p) => p.file);
    this.changes = new FileChanges(files, (changed) => {
      if (!this.scan && !this.experiments.length) return;
      this.stale = { files: changed.map((f) => path.basename(f)) };
      this.changed.fire('stale');
    });
  }

  /** Records a run's input (before it runs, so a failed run is in the history too). */
  recordRun(what: string, input: RunInput): void {
    this.runs.push({ what, input: exact(input), at: Date.now() });
    if (this.runs.length > HISTORY) this.runs.splice(0, this.runs.length - HISTORY);
  }

  setScan(input: RunInput, scan: ScanResult, call?: RunCall): void {
    this.input = exact(input);
    this.scan = scan;
    this.scanCall = call;
    this.scanAt = ++ran;
    // Block views were of the last scan's input.
    this.blockViews.clear();
    this.stale = undefined;
    this.changes?.accept();
    this.changed.fire('results');
  }

  addExperiment(title: string, view: ExperimentView, call?: RunCall): void {
    this.experiments.unshift({ title, view, call, at: ++ran });
    this.experiments.length = Math.min(this.experiments.length, EXPERIMENTS_KEPT);
    this.changed.fire('results');
  }

  addBlockView(layer: number, featureMap: FeatureMapResult, call: RunCall): void {
    this.blockViews.delete(layer);
    this.blockViews.set(layer, { title: `Block ${layer}, as viewed`, view: featureMap, call, at: ++ran });
  }

  get lastExperiment(): Shown<ExperimentView> | undefined {
    return this.experiments[0];
  }

  /**
   * The input a follow-up request runs on: the last scan's exact input; before any scan, the
   * default prompt for a text model with a tokenizer, its sample ids for one without, else
   * nothing (the engine's test input).
   */
  replayInput(defaultPrompt: string): RunInput {
    if (this.input) return { ...this.input };
    if (this.summary?.takesText && this.summary.hasTokenizer) return { prompt: defaultPrompt };
    if (this.summary?.takesText && this.summary.sample) return { ids: [...this.summary.sample.ids] };
    return {};
  }

  dispose(): void {
    this.changes?.dispose();
    this.changed.dispose();
  }
}

/** The documents of all models opened in this window, by file. */
export class DocumentStore implements vscode.Disposable {
  private readonly docs = new Map<string, ModelDocument>();

  get(file: string): ModelDocument {
    let d = this.docs.get(file);
    if (!d) { d = new ModelDocument(file); this.docs.set(file, d); }
    return d;
  }

  find(file: string): ModelDocument | undefined {
    return this.docs.get(file);
  }

  dispose(): void {
    for (const d of this.docs.values()) d.dispose();
    this.docs.clear();
  }
}
