import { loadModel } from '../engine/model/onnx/load';
import { filesNamedBy, modelFiles, type Protected } from '../engine/base/outputs';
import { resolveTarget } from '../engine/model/folder';
import type { Flags } from '../experiments/flags';
import { inputFiles } from '../experiments/options';

/**
 * Every file a command's run reads, so that --out and --csv never land on one. Read from the
 * engine call itself, not from the flags that named it: compare's second and later models, a
 * checkpoint folder's members, the entries of --list and every image of --image-dir are only
 * known once the call is built, and they are exactly what the engine opens.
 */
export function filesRead(call: { file: string; variant?: string; options?: object }, flags: Flags): Protected[] {
  const variant = call.variant ?? (call.options as { variant?: string } | undefined)?.variant;
  const { models, inputs } = filesNamedBy(call);
  const read = models.flatMap((m) => partsOf(m, variant)).flatMap((f) => modelFiles(f, weightFilesOf(f)));
  return [...read, ...inputs, ...inputFiles(flags)];
}

/** Every file a run on this path reads as a model: one file, or each part of a folder export. */
function partsOf(model: string, variant?: string): string[] {
  try {
    const t = resolveTarget(model, variant);
    return [t.main, t.embed, t.vision, t.audio, t.decoder].filter((f): f is string => !!f);
  } catch {
    return [model];
  }
}

/** The model's external weight files; none when it cannot be read (the run then fails with its own message). */
function weightFilesOf(model: string): string[] {
  try {
    return loadModel(model).externalFiles.map((f) => f.file);
  } catch {
    return [];
  }
}
