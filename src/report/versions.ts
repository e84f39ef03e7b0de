import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

/**
 * This tool's version and the ONNX Runtime it runs, read from their package.json files (found from
 * the running bundle: the CLI's and the extension's alike), and Node's.
 */
export function versions(): { tool: string; onnxruntime: string; node: string } {
  const req = createRequire(__filename);
  let tool = '?';
  for (let d = __dirname; d !== path.dirname(d); d = path.dirname(d)) {
    const f = path.join(d, 'package.json');
    if (existsSync(f)) { const p = JSON.parse(readFileSync(f, 'utf8')) as { name?: string; version?: string }; if (p.name === 'massive-activations') { tool = p.version ?? '?'; break; } }
  }
  let onnxruntime = '?';
  // Read, not required: the extension host must not hold ONNX Runtime's modules, not even its package.json.
  try { onnxruntime = (JSON.parse(readFileSync(req.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version; } catch { /* not resolvable from here */ }
  return { tool, onnxruntime, node: process.versions.node };
}
