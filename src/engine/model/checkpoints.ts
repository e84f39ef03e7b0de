import { existsSync, lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { brokenLink } from '../base/files';
import { printable } from '../base/text';

export interface CheckpointSeries {
  /** The checkpoints' model files, sorted naturally. */
  files: string[];
  /** Entries that were not run, each as `name (why)`: links that lead nowhere, links to a checkpoint already listed. */
  skipped: string[];
}

/**
 * A folder of checkpoints (`.onnx` files, or subfolders holding model.onnx), sorted naturally;
 * undefined when `p` is not a folder. A training run's folder outlives some of its files: a link
 * whose target was deleted or that loops is skipped and named, never a reason to stop the series,
 * and a link to a checkpoint already there (`latest` → `step-6000`) is run once, under its own name.
 */
export function checkpointSeries(p: string): CheckpointSeries | undefined {
  let names: string[];
  try {
    if (!statSync(p).isDirectory()) return undefined;
    names = readdirSync(p);
  } catch {
    // Not a folder this process can list: compare then reads it as a model and says why it cannot.
    return undefined;
  }
  const skipped: string[] = [];
  const found: { name: string; file: string; link: boolean; real: string }[] = [];
  for (const n of names.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))) {
    const f = path.join(p, n);
    const broken = brokenLink(f);
    if (broken) { skipped.push(`${printable(n)} (${broken})`); continue; }
    let file: string | undefined;
    try {
      const st = statSync(f);
      if (n.endsWith('.onnx') && st.isFile()) file = f;
      else if (st.isDirectory() && existsSync(path.join(f, 'model.onnx'))) file = path.join(f, 'model.onnx');
      if (file) found.push({ name: n, file, link: lstatSync(f).isSymbolicLink(), real: realpathSync.native(file) });
    } catch (e) {
      const sys = (e as NodeJS.ErrnoException)?.code;
      skipped.push(`${printable(n)} (${sys === 'EACCES' || sys === 'EPERM' ? 'permission denied' : 'it could not be read'})`);
    }
  }
  // The entry itself wins over a link to it, wherever the link sorts.
  const kept = found.filter((x) => !x.link || !found.some((y) => y !== x && y.real === x.real && (!y.link || found.indexOf(y) < found.indexOf(x))));
  for (const x of found) {
    if (kept.includes(x)) continue;
    const same = kept.find((y) => y.real === x.real)!;
    skipped.push(`${printable(x.name)} (the same checkpoint as ${printable(same.name)})`);
  }
  return { files: kept.map((x) => x.file), skipped };
}

/** A folder of at least two checkpoints, as model paths. */
export function checkpointPaths(p: string): string[] | undefined {
  const s = checkpointSeries(p);
  return s && s.files.length >= 2 ? s.files : undefined;
}
