import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { runTests } from '@vscode/test-electron';
import { REPO } from '../fixtures';

/**
 * The extension tests' entry point: @vscode/test-electron's runTests(). Here its VS Code is
 * code-server driven by Chromium (code-server-as-vscode); with MA_VSCODE=desktop, runTests()
 * downloads and starts desktop VS Code instead (a machine with internet), same suite, same checks.
 */
export async function runExtensionTests(workspace: string, runDir: string): Promise<{ code: number; output: string }> {
  // Inside the repository so the extension host resolves mocha from its node_modules.
  const suite = path.join(REPO, '.test-work', 'suite');
  await esbuild.build({
    entryPoints: { index: 'test/vscode/suite/index.ts', 'extension.test': 'test/vscode/suite/extension.test.ts', 'palette.test': 'test/vscode/suite/palette.test.ts', 'hub.test': 'test/vscode/suite/hub.test.ts' },
    bundle: true, platform: 'node', format: 'cjs', target: 'node20', outdir: suite, external: ['vscode', 'mocha'], nodePaths: [path.join(REPO, 'node_modules')], logLevel: 'warning',
  });
  // What the tests print comes back through this file (code-server-as-vscode writes the extension
  // host's console to it; the suite adds its count), so it stays out of this test's own output.
  const outFile = path.join(runDir, 'extension-output.log');
  rmSync(outFile, { force: true });
  const output = () => (existsSync(outFile) ? readFileSync(outFile, 'utf8') : '');
  const desktop = process.env.MA_VSCODE === 'desktop';
  try {
    const code = await runTests({
      ...(desktop ? { version: 'stable' } : { vscodeExecutablePath: path.join(__dirname, 'code-server-as-vscode') }),
      extensionDevelopmentPath: REPO,
      extensionTestsPath: path.join(suite, 'index'),
      launchArgs: [workspace, `--user-data-dir=${path.join(runDir, 'user-data')}`, `--extensions-dir=${path.join(runDir, 'extensions')}`, ...(desktop ? ['--disable-extensions'] : [])],
      // The Hub suite's cache is its own; no token or endpoint of the machine's leaks in.
      extensionTestsEnv: { MA_TEST_WORKSPACE: workspace, MA_EXTENSION_OUTPUT: outFile, HF_HUB_CACHE: path.join(runDir, 'hf-cache'), HF_TOKEN: '', HF_ENDPOINT: '', HF_HUB_OFFLINE: '', ...(process.env.MA_SUITE_GREP ? { MA_SUITE_GREP: process.env.MA_SUITE_GREP } : {}) },
    });
    if (process.env.MA_EXTENSION_LOG) writeFileSync(process.env.MA_EXTENSION_LOG, output());
    return { code, output: output() };
  } catch (e) {
    // runTests rejects when the tests fail: the output says why.
    if (process.env.MA_EXTENSION_LOG) writeFileSync(process.env.MA_EXTENSION_LOG, output());
    const code = Number(/(-?\d+)/.exec(String((e as Error)?.message ?? e))?.[1] ?? 1);
    return { code: code || 1, output: `${output()}\n${(e as Error)?.message ?? e}` };
  }
}
