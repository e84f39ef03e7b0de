import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { buildEmbedPair, buildGpt2, buildSeq2Seq, buildVariantFolder, buildVit } from '../models/build';
import { REPO, tempDir } from '../fixtures';
import { browser, hostInstalled, startCodeServer, workbenchUrl, type Page, type Server } from './codeServer';

/**
 * The extension in a real VS Code: extension tests inside code-server's extension host, then the
 * user's flow clicked through in Chromium, with screenshots in both themes.
 */
const SKIP = hostInstalled() ? false : 'code-server or Chromium missing: run test/vscode/install-host.sh (npm test does)';
const run = tempDir('vscode');
const ws = path.join(run, 'workspace');
const shots = path.join(REPO, 'test-results');

before(() => {
  if (SKIP) return;
  mkdirSync(ws, { recursive: true });
  buildGpt2(ws);
  buildVit(ws);
  buildSeq2Seq(ws);
  buildEmbedPair(ws);
  buildVariantFolder(ws, 'llama-variants');
  mkdirSync(path.join(ws, 'broken'), { recursive: true });
  writeFileSync(path.join(ws, 'broken', 'corrupt.onnx'), Buffer.from([0x08, 0x07, 0x12, 0x03, 0x66, 0x6f, 0x6f, 0x3a, 0xff, 0xff, 0x01]));
  mkdirSync(shots, { recursive: true });
});

describe('VS Code extension', { skip: SKIP }, () => {
  let server: Server | undefined;
  after(async () => { await server?.stop(); });

  test('extension tests pass inside the real extension host', async () => {
    // Inside the repository so the extension host resolves mocha from its node_modules.
    const suite = path.join(REPO, '.test-work', 'suite');
    await esbuild.build({
      entryPoints: { index: 'test/vscode/suite/index.ts', 'extension.test': 'test/vscode/suite/extension.test.ts' },
      bundle: true, platform: 'node', format: 'cjs', target: 'node20', outdir: suite, external: ['vscode', 'mocha'], nodePaths: [path.join(REPO, 'node_modules')], logLevel: 'warning',
    });
    server = await startCodeServer(path.join(run, 'cs-tests'), { env: { MA_TEST_WORKSPACE: ws } });
    const ctx = await browser(path.join(run, 'profile-tests'));
    const page = await ctx.newPage();
    const logs: string[] = [];
    const exit = new Promise<number>((resolve) => {
      void page.exposeFunction('codeAutomationExit', (code: number) => resolve(code));
      void page.exposeFunction('codeAutomationLog', (_type: string, args: unknown[]) => logs.push(printf(args)));
    });
    await page.goto(workbenchUrl(server, ws, [['extensionDevelopmentPath', REPO], ['extensionTestsPath', path.join(suite, 'index')], ['skipWelcome', 'true']]));
    // Unref'd: a pending 4-minute timer would otherwise hold the test process open after the suite ends.
    const code = await Promise.race([exit, new Promise<number>((r) => setTimeout(() => r(-1), 240_000).unref())]);
    await page.screenshot({ path: path.join(shots, 'extension-tests.png') });
    await ctx.close();
    await server.stop();
    server = undefined;
    const report = logs.join('\n');
    process.stdout.write(`${report.split('\n').filter((l) => /passing|failing|✔|\d\) |Error|assert/i.test(l)).map((l) => `# ${l.trim()}`).join('\n')}\n`);
    assert.equal(code, 0, `extension tests failed (exit ${code}):\n${report.slice(-4000)}`);
    assert.match(report, /10 passing/);
  });

  for (const theme of ['Default Dark Modern', 'Default Light Modern']) {
    test(`a user's flow, clicked in Chromium (${theme})`, async () => {
      server = await startCodeServer(path.join(run, `cs-ui-${theme.split(' ')[1].toLowerCase()}`), { theme });
      const ctx = await browser(path.join(run, `profile-ui-${theme.split(' ')[1].toLowerCase()}`));
      const page = await ctx.newPage();
      try {
        await page.goto(workbenchUrl(server, ws, [['extensionDevelopmentPath', REPO], ['skipWelcome', 'true']]));
        await userFlow(page, theme);
      } catch (e) {
        await page.screenshot({ path: path.join(shots, `ui-failure-${theme.split(' ')[1]}.png`) });
        throw e;
      } finally {
        await ctx.close();
        await server.stop();
        server = undefined;
      }
    });
  }
});

/** Picks a colour theme the way a user does: F1 → Preferences: Color Theme → its name. */
async function setColorTheme(page: Page, label: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.fill('>Preferences: Color Theme');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Preferences: Color Theme' }).first().click();
  await input.fill(label);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first().waitFor();
  await page.keyboard.press('Enter');
  const dark = label.includes('Dark');
  await page.waitForFunction(`document.querySelector('.monaco-workbench')?.classList.contains('${dark ? 'vs-dark' : 'vs'}') ?? false`);
}

/** The extension host forwards console calls as (format, ...args): apply the format. */
function printf(args: unknown[]): string {
  const [first, ...rest] = args;
  if (typeof first !== 'string') return args.map(String).join(' ');
  let i = 0;
  const text = first.replace(/%[sdifoOj]/g, () => (i < rest.length ? String(rest[i++]) : ''));
  return [text, ...rest.slice(i).map(String)].join(' ');
}

async function userFlow(page: Page, theme: string): Promise<void> {
  const explorer = page.locator('.explorer-folders-view');
  await explorer.waitFor({ timeout: 60_000 });
  await setColorTheme(page, theme.replace('Default ', ''));
  // Right-click the model in the Explorer → Massive Activations: Inspect Model.
  await explorer.getByRole('treeitem', { name: 'gpt2-planted' }).click();
  const model = explorer.getByRole('treeitem', { name: 'model.onnx' }).first();
  await model.click({ button: 'right' });
  await clickMenuItem(page, 'Inspect Model');
  const view = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  await view.locator('h1', { hasText: 'model.onnx' }).waitFor({ timeout: 60_000 });
  assert.match(await view.locator('.facts').innerText(), /decoder · 6 blocks · width 64 · 4 heads/);
  // Run the default prompt (the paper's).
  await view.locator('vscode-button#run').click();
  await view.locator('#blocks button').nth(5).waitFor({ timeout: 60_000 });
  assert.match(await view.locator('#status').innerText(), /massive activations on 3 tokens in channels 7, 42/);
  assert.equal(await view.locator('.chip.massive').count(), 3);
  // Pick a block in the overview.
  await view.locator('#blocks button', { hasText: 'Block 3' }).click();
  await view.locator('#top-table tbody tr').first().waitFor();
  const first = await view.locator('#top-table tbody tr').first().innerText();
  assert.match(first, /1\s+"\."\s+4\s+7\s+2,00\d/);
  await view.locator('#feature-map').waitFor({ timeout: 60_000 });
  // Switch the attention view to one head.
  await view.locator('vscode-dropdown#head').click();
  await view.locator('vscode-option', { hasText: 'Head 1' }).click();
  await view.locator('#attention-share', { hasText: 'Head 1:' }).waitFor();
  assert.match(await view.locator('#attention-share').innerText(), /Head 1: \d+\.\d% of attention lands on the massive-activation tokens 0, 4, 8 · sink score 0\.\d\d/);
  await page.waitForTimeout(500);
  const name = theme.includes('Light') ? 'light' : 'dark';
  await page.screenshot({ path: path.join(shots, `inspector-${name}.png`) });
  if (process.env.UPDATE_SCREENSHOTS) copyFileSync(path.join(shots, `inspector-${name}.png`), path.join(REPO, 'media', `inspector-${name}.png`));
  await compareFlow(page, explorer, name);
}

/** Right-click a model's fp16 export → Compare With… → its fp32 sibling; read a row of the diff table. */
async function compareFlow(page: Page, explorer: import('playwright-core').Locator, name: string): Promise<void> {
  await explorer.getByRole('treeitem', { name: 'llama-variants' }).click();
  await explorer.getByRole('treeitem', { name: 'model_fp16.onnx' }).click({ button: 'right' });
  await clickMenuItem(page, 'Compare With…');
  // The quick pick lists the file's siblings first.
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'model.onnx' }).first();
  await row.waitFor();
  await row.click();
  const view = page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
  await view.locator('#diff-table tbody tr').first().waitFor({ timeout: 60_000 });
  assert.match(await view.locator('h1').innerText(), /^Compare: model_fp16\.onnx vs llama-variants$/);
  // A is the fp16 export, B the fp32 model: the first token's channel 7 is massive in both, about 2,000.
  assert.match(await view.locator('#diff-table tbody tr').first().innerText(), /^1\s+shared\s+first\s+0\s+7\s+2,0\d\d\s+2,0\d\d$/);
  await view.locator('#error-table tbody tr').first().waitFor();
  await page.screenshot({ path: path.join(shots, `compare-${name}.png`) });
  if (process.env.UPDATE_SCREENSHOTS) copyFileSync(path.join(shots, `compare-${name}.png`), path.join(REPO, 'media', `compare-${name}.png`));
}

/** VS Code's menus ignore a mouse-up that comes too soon after they open: hover, wait, then click. */
async function clickMenuItem(page: import('playwright-core').Page, name: string): Promise<void> {
  const item = page.getByRole('menuitem', { name });
  await item.hover();
  await page.waitForTimeout(400);
  await item.click();
  await item.waitFor({ state: 'detached', timeout: 10_000 });
}
