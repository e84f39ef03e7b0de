import * as os from 'node:os';
import { EngineError } from './errors';

/**
 * The largest value each count-like option accepts: beyond these a run would take hours, exhaust
 * memory or say nothing more. Documented in the README's option table; the CLI checks its flags
 * against the same numbers, and the engine checks again for every other caller.
 */
export const LIMITS = {
  /** Inputs of one scan-many, set-to-mean or Fix-Reg-Mean run (the paper averages over 10 to 100). */
  count: 10_000,
  /** Tokens per sequence, and the input cap (--max-tokens). */
  tokens: 131_072,
  /** Top activations listed per block. */
  topK: 1_000,
  /** Columns of a feature map. */
  maxColumns: 8_192,
  /** Prompts read from one prompts file. */
  prompts: 10_000,
  /** Entries of one --values intervention. */
  values: 100_000,
} as const;

export type LimitName = keyof typeof LIMITS;

/** Throws when an option is not a whole number in [min, LIMITS[name]]. `label` is how the caller names it. */
export function checkCount(value: number | undefined, name: LimitName, label: string, min = 1): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > LIMITS[name]) {
    throw new EngineError('bad-argument', `${label} must be a whole number from ${min} to ${LIMITS[name].toLocaleString('en-US')}; got ${value}.`);
  }
}

/** Cores ONNX Runtime can use here. More intra-op threads than cores only slows every run down. */
export function cores(): number {
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

/** Threads for a session: 0 means all cores; more than the cores is capped at the cores. */
export function threadsFor(requested: number | undefined): number {
  if (!requested || requested < 0 || !Number.isFinite(requested)) return 0;
  return Math.min(Math.floor(requested), cores());
}
