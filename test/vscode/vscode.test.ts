import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildEmbedPair, buildGpt2, buildSeq2Seq, buildVariantFolder, buildVit, buildWide } from '../models/build';
import { REPO, tempDir } from '../fixtures';
import { browser, hostInstalled, installVsix, startCodeServer, workbenchUrl, type Page, type Server } from './codeServer';
import { userFlows, type FlowHub } from './flows';
import { HubServer } from '../models/hubServer';
import { tinyLlamaRepo } from '../models/hubRepos';
import { createHash } from 'node:crypto';
import { runExtensionTests } from './runExtensionTests';
import { localTarget, packageFor } from '../../scripts/package';

/**
 * The extension in a real VS Code: extension tests inside code-server's extension host, then the
 * user's flow clicked through in Chromium, with screenshots in both themes.
 */
const THEMES = ['Default Dark Modern', 'Default Light Modern', 'Default High Contrast', 'Default High Contrast Light'];
const SKIP = hostInstalled() ? false : 'code-server or Chromium missing: run test/vscode/install-host.sh (npm test does)';
const run = tempDir('vscode');
const ws = path.join(run, 'workspace');
const shots = path.join(REPO, 'test-results');

before(() => {
  if (SKIP) return;
  mkdirSync(ws, { recursive: true });
  buildGpt2(ws);
  buildVit(ws);
  buildWide(ws);
  buildSeq2Seq(ws);
  buildEmbedPair(ws);
  buildVariantFolder(ws, 'llama-variants');
  // A graph-first download: model and fp16 export, config.json, no tokenizer (the BOS id is a token the planted model marks).
  const bare = buildVariantFolder(ws, 'without-tokenizer');
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) rmSync(path.join(bare.dir, f), { force: true });
  writeFileSync(path.join(bare.dir, 'config.json'), JSON.stringify({ bos_token_id: bare.spec.planted.markerIds[0], vocab_size: bare.spec.vocab }));
  mkdirSync(path.join(ws, 'broken'), { recursive: true });
  writeFileSync(path.join(ws, 'broken', 'corrupt.onnx'), Buffer.from([0x08, 0x07, 0x12, 0x03, 0x66, 0x6f, 0x6f, 0x3a, 0xff, 0xff, 0x01]));
  mkdirSync(shots, { recursive: true });
});

describe('VS Code extension', { skip: SKIP }, () => {
  let server: Server | undefined;
  // The Hub the UI flows open a model from (the workbench's hubEndpoint setting names it).
  const hub = new HubServer();
  let stallSha = '';
  before(async () => {
    if (SKIP) return;
    const { files } = tinyLlamaRepo(path.join(run, 'hub-repo'));
    stallSha = createHash('sha256').update(files.get('onnx/model_fp16.onnx_data')!).digest('hex');
    await hub.start();
    hub.repos.set('onnx-community/tiny-llama', { commit: 'e'.repeat(40), files });
  });
  after(async () => { await server?.stop(); await hub.stop(); });

  test('extension tests pass inside the real extension host (entry point: @vscode/test-electron runTests)', async () => {
    const { code, output } = await runExtensionTests(ws, path.join(run, 'extension-tests'));
    process.stdout.write(`${output.split('\n').filter((l) => /passing|failing|✔|\d\) |Error|assert/i.test(l)).map((l) => `# ${l.trim()}`).join('\n')}\n`);
    assert.equal(code, 0, `extension tests failed (exit ${code}):\n${output.slice(-4000)}`);
    // Every test of the suite ran (none skipped or lost): as many as the suite's files define.
    const suite = path.join(__dirname, 'suite');
    const count = (f: string) => readFileSync(path.join(suite, f), 'utf8').match(/^\s*it\(/gm)?.length ?? 0;
    // palette.test.ts defines its per-model tests once (between its two markers) and runs them for two models.
    const palette = readFileSync(path.join(suite, 'palette.test.ts'), 'utf8');
    const perModel = palette.slice(palette.indexOf('// ── per model'), palette.indexOf('// ── end per model')).match(/^\s*it\(/gm)?.length ?? 0;
    const defined = count('extension.test.ts') + count('palette.test.ts') + count('hub.test.ts') + perModel;
    assert.match(output, new RegExp(`\\b${defined} passing`));
  });

  // The packaged extension (this platform's package), installed as a user installs it, in
  // every theme kind; the theme is in the settings before the workbench loads.
  for (const theme of THEMES) {
    test(`a user's flow in the packaged extension, clicked in Chromium (${theme})`, async () => {
      const slug = theme.toLowerCase().replace(/^default /, '').replace(/ /g, '-');
      // Each theme's run starts from an empty Hugging Face cache of its own.
      server = await startCodeServer(path.join(run, `cs-ui-${slug}`), {
        theme, extensionsDir: installed(), settings: { 'massiveActivations.hubEndpoint': hub.endpoint },
        env: { HF_HUB_CACHE: path.join(run, `hf-cache-${slug}`), HF_TOKEN: '', HF_ENDPOINT: '', HF_HUB_OFFLINE: '' },
      });
      const ctx = await browser(path.join(run, `profile-ui-${slug}`), { width: 1600, height: 1300 });
      const page = await ctx.newPage();
      try {
        await page.goto(workbenchUrl(server, ws, []));
        await themeApplied(page, theme);
        await userFlows(page, ws, slug, { server: hub, stallSha } satisfies FlowHub);
      } catch (e) {
        await page.screenshot({ path: path.join(shots, `ui-failure-${slug}.png`) });
        throw e;
      } finally {
        await ctx.close();
        await server.stop();
        server = undefined;
      }
    });
  }
});

/** The .vsix, packaged for this platform as npm run package does, and installed once into an extensions folder the UI runs share. */
let extensionsDir: string | undefined;
function installed(): string {
  if (extensionsDir) return extensionsDir;
  const vsix = path.join(run, 'massive-activations.vsix');
  packageFor(localTarget(), vsix);
  extensionsDir = path.join(run, 'exts');
  installVsix(vsix, extensionsDir, path.join(run, 'cs-install'));
  return extensionsDir;
}

/** The workbench's class for each theme kind: what the test waits on (a state, not a clock). */
const THEME_CLASS: Record<string, string> = { 'Default Dark Modern': 'vs-dark', 'Default Light Modern': 'vs', 'Default High Contrast': 'hc-black', 'Default High Contrast Light': 'hc-light' };

/**
 * The theme is in the user's settings before the workbench loads (startCodeServer writes it);
 * the flow starts once the workbench shows it. No picker to type into, nothing to time out on.
 */
async function themeApplied(page: Page, theme: string): Promise<void> {
  await page.waitForFunction((cls) => document.querySelector('.monaco-workbench')?.classList.contains(cls) && /vscode-theme-/.test(document.querySelector('.monaco-workbench')!.className), THEME_CLASS[theme], { timeout: 60_000 });
}

