// Bundles the CLI, the engine worker, the extension and its webview with esbuild.
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
  esbuild.build({ ...common, entryPoints: { extension: 'src/extension.ts' }, outdir: 'dist' }),
  // The webview is its own browser bundle; its CSS is copied alongside.
  esbuild.build({ entryPoints: { webview: 'webview/main.ts', compare: 'webview/compare.ts' }, bundle: true, platform: 'browser', format: 'iife', target: 'es2022', sourcemap: true, outdir: 'dist', logLevel: 'warning' }),
  esbuild.build({ entryPoints: { webview: 'webview/style.css' }, bundle: true, outdir: 'dist', logLevel: 'warning' }),
  esbuild.build({ ...common, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } }),
  esbuild.build({ ...common, entryPoints: { worker: 'src/worker/worker.ts' }, outdir: 'dist' }),
]);
chmodSync('dist/cli.js', 0o755);
