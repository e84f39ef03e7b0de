/**
 * Every message between the extension host / CLI, the engine worker and (later) the webview.
 * Requests carry ids; each gets progress messages and exactly one result or error.
 */
import type { ModelInfo } from '../engine/inspect';
import type { ScanOptions } from '../engine/scan';
import type { Progress, ScanResult } from '../engine/types';
import type { ErrorCode } from '../engine/errors';

/** Scan options that cross a thread boundary (callbacks and signals stay on the worker side). */
export type ScanRequestOptions = Omit<ScanOptions, 'onProgress' | 'signal' | 'open'>;

/** Method name → argument and result types. */
export interface EngineCalls {
  inspect: { args: { file: string }; result: ModelInfo };
  scan: { args: { file: string; options: ScanRequestOptions }; result: ScanResult };
}

export type EngineMethod = keyof EngineCalls;

export type WorkerRequest = { [M in EngineMethod]: { kind: 'request'; id: number; method: M; args: EngineCalls[M]['args'] } }[EngineMethod];

export type WorkerMessage =
  | { kind: 'progress'; id: number; progress: Progress }
  | { kind: 'result'; id: number; result: unknown }
  | { kind: 'error'; id: number; error: { code: ErrorCode; message: string } }
  | { kind: 'ready' };
