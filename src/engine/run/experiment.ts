import * as path from 'node:path';
import { EngineError } from '../base/errors';
import { openModel, type OpenModel, type SessionSettings } from './session';
import { canonicalProbes, probeKey, type ProbeRequest } from './probes';
import type { Progress } from '../model/results';
import { PAPER_THRESHOLDS, type Thresholds } from '../measure/stats';

/** What every experiment accepts besides its own parameters. */
export interface ExperimentBase {
  thresholds?: Thresholds;
  maxTokens?: number;
  threads?: number;
  /**
   * Run the model as one graph instead of segments of blocks: about plain ONNX Runtime's speed at
   * long inputs, but no results before the pass ends, Cancel only by restarting the engine, and the
   * memory of every block's temporaries held at once (see segments/ and the README's figures).
   */
  wholeGraph?: boolean;
  /** Refuse runs estimated to need more memory than this (the CLI's --memory-limit-mb). */
  memoryLimitBytes?: number;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** Supplies (possibly cached) sessions; by default each experiment opens its own. */
  open?: (file: string, probes: ProbeRequest, settings: SessionSettings) => Promise<OpenModel>;
}

export function thresholdsOf(o: ExperimentBase): Thresholds {
  return o.thresholds ?? PAPER_THRESHOLDS;
}

/** Opens (once per request for the experiment's duration) the sessions an experiment needs. */
export function sessions(file: string, o: ExperimentBase) {
  const opened = new Map<string, Promise<OpenModel>>();
  return (probes: ProbeRequest): Promise<OpenModel> => {
    const key = probeKey(probes);
    let p = opened.get(key);
    if (!p) {
      p = (o.open ?? openModel)(file, canonicalProbes(probes), sessionSettings(o));
      opened.set(key, p);
    }
    return p;
  };
}

/** The session settings an experiment's options ask for. */
export function sessionSettings(o: ExperimentBase): SessionSettings {
  return { threads: o.threads, memoryLimitBytes: o.memoryLimitBytes, ...(o.wholeGraph ? { blocksPerSegment: Infinity } : {}) };
}

export function checkBlock(layer: number, blocks: number, file: string): void {
  if (!Number.isInteger(layer) || layer < 0 || layer >= blocks) {
    throw new EngineError('bad-argument', `Block ${layer} does not exist: ${path.basename(file)} has blocks 0–${blocks - 1}.`);
  }
}
