/**
 * Every message between the extension host / CLI, the engine worker and (later) the webview.
 * Requests carry ids; each gets progress messages and exactly one result or error.
 */
import type { ModelInfo } from '../engine/model/inspect';
import type { ScanOptions } from '../engine/run/scanFile';
import type { FeatureMapResult } from '../experiments/featureMap/run';
import type { AttentionAnalysis } from '../experiments/attention/run';
import type { CompareResult } from '../experiments/compare/run';
import type { BlockResult, Progress, ScanResult } from '../engine/model/results';
import type { ErrorCode } from '../engine/base/errors';
import type { Wire } from '../experiments/experiment';
import type { CardMethod, ExperimentMethod, OptionsOf, ResultOf } from '../experiments/registry';
import type { Fetched, HubListing } from '../hub/fetch';

export type ScanRequestOptions = Wire<ScanOptions>;

/**
 * Where the Hub is and who asks (from VS Code's setting and secret storage); unset, the engine
 * process's HF_ENDPOINT and HF_TOKEN, as huggingface_hub reads them.
 */
export interface HubAccess { endpoint?: string; token?: string }

/** Method name → argument and result types: inspect and scan, the Hub's models, and every experiment of the registry. */
export type EngineCalls = {
  inspect: { args: { file: string; variant?: string }; result: ModelInfo };
  scan: { args: { file: string; options: ScanRequestOptions }; result: ScanResult };
  /** hf://OWNER/NAME[@REVISION]'s variants, each with its download size and what is cached. */
  hubVariants: { args: { repo: string; hub: HubAccess }; result: HubListing };
  /** One variant into the Hugging Face cache (progress: stage 'download', bytes in done/total); its folder there. */
  hubFetch: { args: { repo: string; variant?: string; hub: HubAccess }; result: Fetched };
} & { [K in ExperimentMethod]: { args: { file: string; options: Wire<OptionsOf<K>> }; result: ResultOf<K> } };

export type EngineMethod = keyof EngineCalls;

export type WorkerRequest = { [M in EngineMethod]: { kind: 'request'; id: number; method: M; args: EngineCalls[M]['args'] } }[EngineMethod];

/** Host → worker: a request, or the cancellation of one (honoured between model runs). */
export type ToWorker = WorkerRequest | { kind: 'cancel'; id: number };

export type WorkerMessage =
  | { kind: 'progress'; id: number; progress: Progress }
  /** A cancelled call stops when the model run in progress returns: about `withinMs` from now (null: unknown). */
  | { kind: 'stopping'; id: number; withinMs: number | null }
  | { kind: 'result'; id: number; result: unknown }
  /** `message` is the engine's template: its user options are worded by the front end (see errors.ts). */
  | { kind: 'error'; id: number; error: { code: ErrorCode; message: string; facts?: Record<string, string | number> } }
  | { kind: 'ready' };

// ── Extension host ↔ inspector webview ─────────────────────────────────────────────────────────

/** What the webview shows about the model (from inspect). */
export interface ModelSummary {
  file: string;
  name: string;
  family: string;
  blocks: number;
  hiddenSize: number | null;
  heads: number | null;
  dtype: string;
  matcher: string;
  externalData: { file: string; present: boolean }[];
  warnings: string[];
  takesText: boolean;
  takesImage: boolean;
  hasTokenizer: boolean;
  /** Its vocabulary (from the embedding), where the graph says. */
  vocabSize: number | null;
  /** Ids valid for the model, offered where it has no tokenizer, and where they come from. */
  sample?: { ids: number[]; bos?: number; source: string };
  /** Each block's token mixer and MLP kind (hybrid models mix attention with other mixers). */
  layers: { index: number; mixer: string; mlp: string }[];
  /** The model file and its weight files, in bytes (what decides live re-scan). */
  bytes: number;
}

/** The exact input of a run: a prompt, token ids, or an image file (none: the engine's test input). */
export interface RunInput {
  prompt?: string; ids?: number[]; image?: string;
  /** Over the token limit, its first tokens ran (the panel's "Run the first N tokens"): every replay of it does the same. */
  truncate?: boolean;
}

/** The selected block's detail: its magnitude map and attention. */
export interface BlockView {
  layer: number;
  featureMap: FeatureMapResult;
  attention: AttentionAnalysis;
}

/** Requests the webview makes; each gets one typed reply. */
export interface PanelCalls {
  /** A scan; `live` (re-scan while typing) runs quietly, and a newer run supersedes it (null). */
  run: { args: RunInput & { live?: boolean }; result: ScanResult | null };
  /** Runs the last scan's exact input again (after the model changed on disk). */
  rerun: { args: Record<string, never>; result: ScanResult | null };
  layer: { args: { layer: number }; result: BlockView };
  pickImage: { args: Record<string, never>; result: string | null };
  export: { args: { what: 'scan' | 'experiment'; format: 'json' | 'csv' } | { what: 'png'; name: string; dataUrl: string }; result: string | null };
  cancel: { args: Record<string, never>; result: boolean };
  /** Runs an experiment's palette command on this model (and the selected block); the host asks for the rest. */
  experiment: { args: { command: PanelExperiment; layer?: number }; result: boolean };
  /** Compare this model with another (the host asks which). */
  compare: { args: Record<string, never>; result: boolean };
}

export type PanelMethod = keyof PanelCalls;

export type FromWebview =
  | { kind: 'ready' }
  | { kind: 'state'; state: PanelState }
  | { [M in PanelMethod]: { kind: 'request'; id: number; method: M; args: PanelCalls[M]['args'] } }[PanelMethod];

/** Pushed by the host: replies, progress, results of palette experiments, reveal requests. */
export type ToWebview =
  /** Sent on every (re)load of the webview: it shows exactly what the host's document holds. */
  | { kind: 'init'; model: ModelSummary | null; error?: string; defaultPrompt: string; state?: PanelState; restore?: Restore; live?: boolean }
  /** The model or a file beside it changed on disk after the results shown were computed (null: fresh again). */
  | { kind: 'stale'; files: string[] | null }
  /**
   * `inputError`: the engine refused the input itself (ids, prompt, length): the panel shows it beside the
   * input, not as a notification; `truncateTo`: too long, it can run its first so many tokens.
   */
  | { kind: 'response'; id: number; result?: unknown; error?: string; inputError?: boolean; truncateTo?: number }
  /** A running call's progress; a scan's blocks come with their statistics as each segment finishes. */
  | { kind: 'progress'; message: string | null; layer?: BlockResult; total?: number }
  /** `external`: run from outside the panel (the palette): the panel's input box shows this input. */
  | { kind: 'scan'; result: ScanResult; input?: RunInput; external?: boolean }
  | { kind: 'experiment'; title: string; experiment: ExperimentView }
  | { kind: 'reveal'; layer: number; token: number; channel: number };

/** An experiment's result as the inspector shows it: one card per experiment the registry marks as one. */
export type ExperimentView = { [K in CardMethod]: { type: K; result: ResultOf<K> } }[CardMethod];

/** The experiments the panel's toolbar starts. */
export type PanelExperiment = 'scanMany' | 'intervene' | 'attention' | 'implicitBias' | 'fixRegMean';

/** What a rebuilt webview gets back from the host's document. */
export interface Restore { input?: RunInput; scan?: ScanResult; experiments: { title: string; experiment: ExperimentView }[]; stale?: string[] }

/** What the panel remembers across reloads (webview state). */
export interface PanelState { file: string; prompt?: string; layer?: number; head?: number | 'mean'; attentionMode?: 'probabilities' | 'logits'; mapView?: '2d' | '3d' }

// ── Extension host ↔ compare webview ──────────────────────────────────────────────────────────

/** The compare panel shows one comparison; it can save its charts and tables. */
export type ToCompareWebview = { kind: 'init'; title: string; result: CompareResult };
export type FromCompareWebview =
  | { kind: 'ready' }
  | { kind: 'export'; what: 'json' | 'csv' }
  | { kind: 'png'; name: string; dataUrl: string };
