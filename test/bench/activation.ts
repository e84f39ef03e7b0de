/**
 * Activation time of the extension in the real VS Code extension host (the one the extension
 * tests use: code-server, see test/vscode/), from its main module starting to load to activate()
 * having returned. Each run is a fresh extension host (a new code-server and workbench), so every
 * run loads the module cold in its host; the suite inside it (activationSuite.ts) checks the
 * extension is not active yet, times vscode.extensions.getExtension(id).activate() and, within it,
 * the loading of the main module. Also records the main module's size.
 *
 * Any extension folder can be measured (a checkout of an older commit, built with npm run build),
 * for a before/after comparison: BENCH_ACTIVATION_EXTENSION=/path/to/folder (default: this
 * repository), BENCH_ACTIVATION_RUNS (default 5). Writes bench-results/activation.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { runTests } from '@vscode/test-electron';
import { REPO, tempDir } from '../fixtures';
import { hostInstalled } from '../vscode/codeServer';

export interface ActivationRun { activationMs: number; loadMs: number | null }
export interface Stats { min: number; median: number; max: number }
export interface ActivationResult {
  extension: string; commit: string | null; id: string; main: string; mainBytes: number;
  host: string; vscode: string; runs: ActivationRun[]; activationMs: Stats; loadMs: Stats | null;
}

export const ACTIVATION_RUNS = Number(process.env.BENCH_ACTIVATION_RUNS ?? 5);

/** True where the bench can run: code-server and Chromium installed, or desktop VS Code asked for. */
export function activationBenchAvailable(): boolean {
  return process.env.MA_VSCODE === 'desktop' || hostInstalled();
}

export async function activationBench(folder = process.env.BENCH_ACTIVATION_EXTENSION || REPO, runs = ACTIVATION_RUNS): Promise<ActivationResult> {
  folder = path.resolve(folder);
  const pkgFile = path.join(folder, 'package.json');
  if (!existsSync(pkgFile)) throw new Error(`${folder} is not an extension folder (no package.json)`);
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { publisher: string; name: string; main?: string };
  const id = `${pkg.publisher}.${pkg.name}`;
  if (!pkg.main) throw new Error(`${pkgFile} names no main module`);
  let main = path.resolve(folder, pkg.main);
  if (!existsSync(main) && existsSync(`${main}.js`)) main = `${main}.js`;
  if (!existsSync(main)) throw new Error(`${main} does not exist: build that folder first (npm run build)`);
  const mainBytes = statSync(main).size;
  const git = spawnSync('git', ['-C', folder, 'describe', '--always', '--dirty'], { encoding: 'utf8' });
  const commit = git.status === 0 ? git.stdout.trim() : null;

  const work = tempDir('bench-activation');
  await esbuild.build({
    entryPoints: { suite: path.join(__dirname, 'activationSuite.ts') },
    bundle: true, platform: 'node', format: 'cjs', target: 'node20', outdir: work, external: ['vscode'], logLevel: 'warning',
  });
  const workspace = path.join(work, 'workspace');
  mkdirSync(workspace, { recursive: true });
  const desktop = process.env.MA_VSCODE === 'desktop';
  const measured: ActivationRun[] = [];
  let vscodeVersion = '';
  for (let i = 0; i < runs; i++) {
    const runDir = path.join(work, `run-${i}`);
    const out = path.join(runDir, 'result.json');
    mkdirSync(runDir, { recursive: true });
    // The extension host's console comes back through this file (see code-server-as-vscode).
    const log = path.join(runDir, 'output.log');
    let output = '';
    let code: number;
    try {
      code = await runTests({
        ...(desktop ? { version: 'stable' } : { vscodeExecutablePath: path.join(REPO, 'test', 'vscode', 'code-server-as-vscode') }),
        extensionDevelopmentPath: folder,
        extensionTestsPath: path.join(work, 'suite'),
        launchArgs: [workspace, `--user-data-dir=${path.join(runDir, 'user-data')}`, `--extensions-dir=${path.join(runDir, 'extensions')}`, ...(desktop ? ['--disable-extensions'] : [])],
        extensionTestsEnv: { MA_BENCH_OUT: out, MA_BENCH_EXTENSION_ID: id, MA_EXTENSION_OUTPUT: log },
      });
    } catch (e) {
      code = 1;
      output = `\n${(e as Error)?.message ?? e}`;
    }
    if (existsSync(log)) output = readFileSync(log, 'utf8') + output;
    const r = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) as Partial<ActivationRun> & { error?: string; vscode?: string } : undefined;
    if (code !== 0 || !r || r.error || typeof r.activationMs !== 'number') {
      throw new Error(`activation run ${i + 1} failed (exit ${code}): ${r?.error ?? 'no result written'}\n${output.slice(-3000)}`);
    }
    vscodeVersion = r.vscode ?? '';
    measured.push({ activationMs: r.activationMs, loadMs: r.loadMs ?? null });
    process.stderr.write(`activation run ${i + 1}/${runs}: ${r.activationMs.toFixed(1)} ms\n`);
  }
  const loads = measured.map((m) => m.loadMs);
  const host = desktop ? 'desktop VS Code' : `code-server ${readVersion(path.join(REPO, 'test', 'vscode', 'host', 'node_modules', 'code-server', 'package.json'))}`;
  return {
    extension: folder, commit, id, main: path.relative(folder, main), mainBytes, host, vscode: vscodeVersion, runs: measured,
    activationMs: stats(measured.map((m) => m.activationMs)),
    loadMs: loads.every((l): l is number => typeof l === 'number') ? stats(loads) : null,
  };
}

export function printActivation(r: ActivationResult): void {
  const f = (x: number) => x.toFixed(1);
  process.stdout.write(`\nActivation in the real extension host (${r.host}, VS Code ${r.vscode}): ${r.runs.length} runs, a fresh extension host each\n`);
  process.stdout.write(`extension ${r.id} at ${r.extension}${r.commit ? ` (${r.commit})` : ''}; ${r.main}: ${r.mainBytes.toLocaleString('en-US')} bytes (${(r.mainBytes / 1024).toFixed(0)} KiB)\n\n`);
  process.stdout.write('| from the main module starting to load to | min (ms) | median (ms) | max (ms) |\n|---|---:|---:|---:|\n');
  process.stdout.write(`| activate() returned (ready) | ${f(r.activationMs.min)} | ${f(r.activationMs.median)} | ${f(r.activationMs.max)} |\n`);
  if (r.loadMs) process.stdout.write(`| the module loaded (before activate() is called) | ${f(r.loadMs.min)} | ${f(r.loadMs.median)} | ${f(r.loadMs.max)} |\n`);
}

export function writeActivation(r: ActivationResult): string {
  const dir = path.join(REPO, 'bench-results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'activation.json');
  writeFileSync(file, JSON.stringify(r, null, 2));
  return file;
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  const round = (x: number) => +x.toFixed(2);
  return { min: round(s[0]), median: round(median), max: round(s[s.length - 1]) };
}

function readVersion(file: string): string {
  try { return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version; } catch { return '?'; }
}

/** Standalone: node --import tsx test/bench/activation.ts [extension folder] */
if (require.main === module) {
  activationBench(process.argv[2] || undefined).then((r) => { printActivation(r); writeActivation(r); }, (e) => { process.stderr.write(`activation bench failed: ${(e as Error).message}\n`); process.exitCode = 1; });
}
