import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { EngineError, option } from '../base/errors';
import type { PreparedModel } from './inspect';

/** Memory the OS can give us now (MemAvailable counts reclaimable cache, unlike os.freemem). */
export function availableMemory(): number {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  return os.freemem();
}

/**
 * Rough peak of a scan: weights as ONNX Runtime holds them plus activations we read back.
 * ONNX Runtime on CPU runs fp16 graphs through fp32 casts, so their weights count twice (measured
 * on a 1.1B model: a 2.2 GB fp16 file, 4.4 GB resident).
 */
export function estimateScanBytes(p: PreparedModel, tokens: number, o: { segmented?: boolean } = {}): number {
  const weights = (p.loaded.size + p.loaded.externalFiles.reduce((a, f) => a + f.bytesNeeded, 0)) * (p.info.dtype === 'float16' ? 2 : 1);
  const d = p.info.hiddenSize ?? 1024;
  const heads = p.info.heads ?? 16;
  const blocks = p.info.blocks;
  // One graph holds every block's output until the pass ends; segments hand one stream on, drop it
  // once measured, and keep a few states for the next request (bounded by their own budget).
  const stream = o.segmented ? tokens * d * 4 * 6 + Math.min(2 ** 30, tokens * d * 4 * 2 * blocks) : tokens * d * 4 * blocks * 3;
  // Scans read attention as per-key sums (reduced in the graph), so only the block ONNX Runtime is
  // computing holds heads × tokens² scores: its logits, probabilities and one temporary.
  const attention = heads * tokens * tokens * 4 * 3;
  const ffn = tokens * d * 4 * 8;
  return weights * 1.3 + stream + attention + ffn + 64 * 2 ** 20;
}

/**
 * Refuses a run estimated not to fit. Without `tokens` (before loading, when the prompt is not
 * tokenized yet) only the weights count: a model that cannot load is refused before it tries.
 */
export function checkMemory(p: PreparedModel, tokens: number | undefined, setLimit?: number, o: { segmented?: boolean } = {}): void {
  const need = estimateScanBytes(p, tokens ?? 1, o);
  const limit = setLimit ?? availableMemory();
  if (need > limit) {
    const gb = (x: number) => (x / 2 ** 30).toLocaleString('en-US', { maximumFractionDigits: 1 });
    // Small amounts in MB: "0 GB" reads as nothing at all.
    const size = (x: number) => (x >= 2 ** 30 ? `${gb(x)} GB` : `${Math.max(1, Math.round(x / 2 ** 20)).toLocaleString('en-US')} MB`);
    // No real model needs a petabyte: such an estimate comes from corrupt or absurd declared sizes.
    if (!Number.isFinite(need) || need > 2 ** 50) {
      throw new EngineError('invalid-model', `The model declares sizes no machine can hold (width ${p.info.hiddenSize ?? '?'}, ${p.info.heads ?? '?'} heads, ${p.info.blocks} blocks${tokens ? `, ${tokens} tokens` : ''}); the file is corrupt or its shapes are wrong. Re-export the model.`);
    }
    const what = tokens === undefined ? 'Loading this model' : `Scanning this model on ${tokens} tokens`;
    if (setLimit !== undefined) {
      throw new EngineError('out-of-memory', `${what} needs about ${size(need)} of memory, over the limit of ${size(limit)} set with ${option('memoryLimit')}. Raise the limit${tokens === undefined ? '' : ', use a shorter prompt'} or open a smaller export of the model.`);
    }
    throw new EngineError('out-of-memory', `${what} needs about ${size(need)} of memory but only ${size(limit)} is available. Close other programs, ${tokens === undefined ? '' : 'use a shorter prompt, '}or open a smaller or quantized export of the model.`);
  }
}
