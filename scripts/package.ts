/**
 * Platform packages. `npm run package` writes massive-activations.vsix for this machine's platform
 * (what `npm start` installs); `npm run package:all` writes vsix/massive-activations-<target>.vsix for
 * every platform onnxruntime-node ships native files for. Each package carries its own platform's
 * ONNX Runtime only: the binding and the libraries it loads, each once (the npm package holds the
 * macOS library under two names, and DirectML for an execution provider we do not use).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadedLibraries } from './nativeDeps';

const REPO = path.resolve(__dirname, '..');
const BIN = 'node_modules/onnxruntime-node/bin/napi-v6';

/** VS Code's target names and onnxruntime-node's folders (it ships no Intel-Mac binaries since 1.24). */
export const TARGETS = {
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
  'darwin-arm64': 'darwin/arm64',
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
} as const;
export type Target = keyof typeof TARGETS;

/** The native files a target's package ships, relative to the repository: the binding, then what it loads. */
export function nativeFiles(target: Target): string[] {
  const dir = path.join(REPO, BIN, TARGETS[target]);
  const present = new Set(readdirSync(dir));
  const shipped = ['onnxruntime_binding.node'];
  for (let i = 0; i < shipped.length; i++) {
    for (const lib of loadedLibraries(path.join(dir, shipped[i]))) {
      // System libraries are not in the folder; a library the folder holds is shipped once, by the name that is loaded.
      if (present.has(lib) && !shipped.includes(lib)) shipped.push(lib);
    }
  }
  return shipped.map((f) => `${BIN}/${TARGETS[target]}/${f}`);
}

/** Writes one target's package to `out`; returns its size in bytes. */
export function packageFor(target: Target, out: string): number {
  // .vscodeignore lists what every package holds; the target's native files are added to a copy of it.
  const ignore = path.join(mkdtempSync(path.join(os.tmpdir(), 'ma-package-')), '.vscodeignore');
  const base = readFileSync(path.join(REPO, '.vscodeignore'), 'utf8');
  writeFileSync(ignore, `${base.trimEnd()}\n${nativeFiles(target).map((f) => `!${f}`).join('\n')}\n`);
  mkdirSync(path.dirname(out), { recursive: true });
  const vsce = path.join(REPO, 'node_modules', '.bin', process.platform === 'win32' ? 'vsce.cmd' : 'vsce');
  const r = spawnSync(vsce, ['package', '--target', target, '--ignoreFile', ignore, '--allow-missing-repository', '--no-rewrite-relative-links', '--out', out], {
    cwd: REPO, encoding: 'utf8', shell: process.platform === 'win32',
  });
  rmSync(path.dirname(ignore), { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`vsce package --target ${target} failed:\n${r.stderr}${r.stdout}`);
  return statSync(out).size;
}

/** This machine's target, if onnxruntime-node ships one for it. */
export function localTarget(): Target {
  const t = `${process.platform}-${process.arch}`;
  if (!(t in TARGETS)) throw new Error(`onnxruntime-node ships no native files for ${t}; packages can be built for ${Object.keys(TARGETS).join(', ')} (npm run package:all).`);
  return t as Target;
}

if (require.main === module) {
  const all = process.argv.includes('--all');
  if (!existsSync(path.join(REPO, 'dist', 'extension.js'))) throw new Error('dist/ is missing: run npm run build first.');
  const jobs: [Target, string][] = all
    ? (Object.keys(TARGETS) as Target[]).map((t) => [t, path.join(REPO, 'vsix', `massive-activations-${t}.vsix`)])
    : [[localTarget(), path.join(REPO, 'massive-activations.vsix')]];
  for (const [target, out] of jobs) {
    const bytes = packageFor(target, out);
    console.log(`${path.relative(REPO, out)}  ${target}  ${(bytes / 2 ** 20).toFixed(1)} MB  (${nativeFiles(target).map((f) => path.basename(f)).join(', ')})`);
  }
}
