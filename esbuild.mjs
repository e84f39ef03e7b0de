// Bundles the CLI and the engine worker (and later the extension and webview) with esbuild.
import * as esbuild from 'esbuild';
import { chmodSync } from 'node:fs';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external: ['onnxruntime-node', 'vscode'],
  logLevel: 'warning',
};

await Promise.all([
  esbuild.build({ ...common, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } }),
  esbuild.build({ ...common, entryPoints: { worker: 'src/worker/worker.ts' }, outdir: 'dist' }),
]);
chmodSync('dist/cli.js', 0o755);
