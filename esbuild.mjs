// Bundles the CLI, the engine worker, the extension and its webview with esbuild.
import * as esbuild from 'esbuild';
import { chmodSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external: ['onnxruntime-node', 'vscode'],
  logLevel: 'warning',
};

/** The extension host's bundle: the host and the experiments' front halves, never the engine (test/unit/architecture.test.ts). */
export const extensionBundle = { ...node, entryPoints: { extension: 'src/extension.ts' }, outdir: 'dist' };

export const bundles = [
  extensionBundle,
  // The webview is its own browser bundle; its CSS is copied alongside.
  { entryPoints: { webview: 'webview/main.ts', compare: 'webview/compare.ts' }, bundle: true, platform: 'browser', format: 'iife', target: 'es2022', sourcemap: true, outdir: 'dist', logLevel: 'warning' },
  { entryPoints: { webview: 'webview/style.css' }, bundle: true, outdir: 'dist', logLevel: 'warning' },
  { ...node, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } },
  { ...node, entryPoints: { worker: 'src/worker/worker.ts' }, outdir: 'dist' },
];

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  await Promise.all(bundles.map((b) => esbuild.build(b)));
  chmodSync('dist/cli.js', 0o755);
}
