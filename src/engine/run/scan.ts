import { resolveTarget } from '../model/folder';
import type { ScanResult } from '../model/results';
import { scanFile, type ScanOptions } from './scanFile';
import { scanSeq2Seq } from './seq2seq';

/**
 * Runs the model once and measures every block's residual stream (and attention). `file` may be a
 * model folder or any file of a multi-file export (see model/folder.ts): an embedding part runs first;
 * an encoder-decoder pair is scanned as two stacks.
 */
export async function scanModel(file: string, opts: ScanOptions = {}): Promise<ScanResult> {
  const target = opts.target ?? resolveTarget(file, opts.variant);
  if (target.layout === 'seq2seq') return scanSeq2Seq(target, opts);
  const r = await scanFile(target.main, { ...opts, target });
  delete r.output;
  return r;
}

