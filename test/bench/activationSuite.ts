/**
 * Loaded by a fresh extension host as its extensionTestsPath (see activation.ts): times one
 * activation of the extension under test, from its main module starting to load to activate()
 * having returned, and writes what it measured to MA_BENCH_OUT. No mocha: this is a measurement,
 * not a test; it fails only when it cannot measure honestly (the extension missing or already active).
 */
import { writeFileSync } from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import * as vscode from 'vscode';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function run(): Promise<void> {
  const out = process.env.MA_BENCH_OUT!;
  const id = process.env.MA_BENCH_EXTENSION_ID!;
  const settleMs = Number(process.env.MA_BENCH_SETTLE_MS ?? 3000);
  const result: Record<string, unknown> = { vscode: vscode.version, extensionId: id };
  try {
    const ext = vscode.extensions.getExtension(id);
    if (!ext) throw new Error(`extension ${id} is not in this extension host`);
    // The host's own start-up (built-in extensions activating) is let finish before the clock starts.
    await sleep(settleMs);
    if (ext.isActive) throw new Error(`${id} was already active before the bench activated it: its activation cannot be timed here`);
    const main = stripJs(path.resolve(ext.extensionPath, String(ext.packageJSON.main)));
    // How long of it is loading the main module: the host loads it through Node's Module._load.
    const mod = Module as unknown as { _load(request: string, ...rest: unknown[]): unknown };
    const load = mod._load;
    let loadMs: number | undefined;
    mod._load = function (this: unknown, request: string, ...rest: unknown[]) {
      if (loadMs !== undefined || typeof request !== 'string' || !path.isAbsolute(request) || stripJs(path.resolve(request)) !== main) return load.call(this, request, ...rest);
      const t = performance.now();
      try { return load.call(this, request, ...rest); } finally { loadMs = performance.now() - t; }
    };
    let activationMs: number;
    try {
      const t0 = performance.now();
      await ext.activate();
      activationMs = performance.now() - t0;
    } finally {
      mod._load = load;
    }
    Object.assign(result, { activationMs, loadMs: loadMs ?? null, active: ext.isActive });
  } catch (e) {
    result.error = (e as Error)?.message ?? String(e);
  }
  writeFileSync(out, JSON.stringify(result));
  if (result.error) throw new Error(String(result.error));
}

function stripJs(file: string): string {
  return file.replace(/\.js$/, '');
}
