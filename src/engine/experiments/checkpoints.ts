import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

/** A folder of checkpoints (files or subfolders, sorted naturally) or a list file, as model paths. */
export function checkpointPaths(p: string): string[] | undefined {
  if (!existsSync(p) || !statSync(p).isDirectory()) return undefined;
  const entries = readdirSync(p).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const models = entries.flatMap((n) => {
    const f = path.join(p, n);
    if (n.endsWith('.onnx') && statSync(f).isFile()) return [f];
    if (statSync(f).isDirectory() && existsSync(path.join(f, 'model.onnx'))) return [path.join(f, 'model.onnx')];
    return [];
  });
  return models.length >= 2 ? models : undefined;
}
