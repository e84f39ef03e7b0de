/**
 * Every message between the extension host / CLI, the engine worker and (later) the webview.
 * Requests carry ids; each gets progress messages and exactly one result or error.
 */
import type { ModelInfo } from '../engine/inspect';
import type { ScanOptions } from '../engine/scan';
import type { ScanManyOptions, ScanManyResult } from '../engine/experiments/scanMany';
import type { FeatureMapOptions, FeatureMapResult } from '../engine/experiments/featureMap';
import type { InterveneOptions, InterveneResult } from '../engine/experiments/intervene';
import type { AttentionAnalysis, AttentionOptions } from '../engine/experiments/attention';
import type { ImplicitBiasOptions, ImplicitBiasResult } from '../engine/experiments/implicitBias';
import type { SuperWeightsResult } from '../engine/experiments/superWeights';
import type { FixRegMeanOptions, FixRegMeanResult } from '../engine/experiments/fixRegMean';
import type { ExperimentBase } from '../engine/experiments/common';
import type { InputOptions } from '../engine/input';
import type { Progress, ScanResult } from '../engine/types';
import type { ErrorCode } from '../engine/errors';

/** Options cross the thread boundary without their callbacks (progress, cancellation, sessions). */
type Wire<T> = Omit<T, 'onProgress' | 'signal' | 'open'>;
export type ScanRequestOptions = Wire<ScanOptions>;

/** Method name → argument and result types. */
export interface EngineCalls {
  inspect: { args: { file: string }; result: ModelInfo };
  scan: { args: { file: string; options: ScanRequestOptions }; result: ScanResult };
  scanMany: { args: { file: string; options: Wire<ScanManyOptions> }; result: ScanManyResult };
  featureMap: { args: { file: string; options: Wire<FeatureMapOptions> }; result: FeatureMapResult };
  intervene: { args: { file: string; options: Wire<InterveneOptions> }; result: InterveneResult };
  attention: { args: { file: string; options: Wire<AttentionOptions> }; result: AttentionAnalysis };
  implicitBias: { args: { file: string; options: Wire<ImplicitBiasOptions> }; result: ImplicitBiasResult };
  superWeights: { args: { file: string; options: Wire<ExperimentBase & InputOptions> }; result: SuperWeightsResult };
  fixRegMean: { args: { file: string; options: Wire<FixRegMeanOptions> }; result: FixRegMeanResult };
}

export type EngineMethod = keyof EngineCalls;

export type WorkerRequest = { [M in EngineMethod]: { kind: 'request'; id: number; method: M; args: EngineCalls[M]['args'] } }[EngineMethod];

export type WorkerMessage =
  | { kind: 'progress'; id: number; progress: Progress }
  | { kind: 'result'; id: number; result: unknown }
  | { kind: 'error'; id: number; error: { code: ErrorCode; message: string } }
  | { kind: 'ready' };
