/// <reference lib="dom" />
// The functions passed to evaluate() run in the webview: DOM types for them only.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { featureMap, type FeatureMapResult } from '../../src/experiments/featureMap/run';
import { analyseAttention } from '../../src/experiments/attention/run';
import { fmt } from '../../webview/dom';
import { WIDE_CHANNELS } from '../models/build';
import { writeModel } from '../models/graphBuilder';
import { gpt2Model } from '../models/layouts/gpt2';
import { plantedSpec } from '../models/planted';
import { tokenizerConfig, tokenizerJson, vocabulary } from '../models/tokenizer';
import type { HubServer } from '../models/hubServer';
import { REPO } from '../fixtures';

/**
 * What a user does in the inspector, clicked in Chromium on the installed extension. Every wait
 * observes something on screen (a row, a status text, a canvas); none waits for a clock.
 */
const shots = path.join(REPO, 'test-results');
const LONG_REPEATS = 125;

/** The Hub the workbench's hubEndpoint setting names, and the stalled weight file's sha256 (see hubFlow). */
export interface FlowHub { server: HubServer; stallSha: string }

export async function userFlows(page: Page, ws: string, theme: string, hub?: FlowHub): Promise<void> {
  const explorer = page.locator('.explorer-folders-view');
  await explorer.waitFor({ timeout: 60_000 });
  const view = await inspect(page, explorer, 'gpt2-planted');
  await paperFlow(page, view, theme, ws);
  await keyboardFlow(view, path.join(ws, 'gpt2-planted', 'model.onnx'));
  await liveFlow(view);
  await longFlow(page, view, theme);
  await paletteExperiment(page, view, theme);
  await scanManyFlow(page, view, ws, theme);
  // Marks this webview's page: a page rebuilt from the host's document will not have the mark.
  await view.locator('body').evaluate(() => { (window as unknown as { marked: boolean }).marked = true; });
  await wideFlow(page, explorer, theme);
  await longContextFlow(page, explorer, ws, theme);
  await imageFlow(page, explorer, ws);
  await restoredFlow(page);
  // Before the theme change: its screenshot is of this run's theme.
  await idsFlow(page, explorer, theme);
  await explorerClickFlow(page);
  if (theme === 'dark-modern') await themeChangeFlow(page);
  if (theme === 'dark-modern' || theme === 'light-modern') await compareFlow(page, explorer, theme.split('-')[0]);
  if (hub && (theme === 'dark-modern' || theme === 'light-modern')) await hubFlow(page, hub, theme.split('-')[0]);
  await keyboardJourney(page, ws);
}

/**
 * From a file to a massive value with the keyboard alone: Go to File (F1, the ">" deleted, the
 * path typed, Enter), then F1 → Inspect Model on the file open; Tab to Run, Enter; Tab to the block
 * buttons, arrows to the first block with massive activations, Enter; Tab to its map: the readout
 * says the engine's value, and N the next one.
 */
async function keyboardJourney(page: Page, ws: string): Promise<void> {
  const model = path.join(ws, 'llama-variants', 'model.onnx');
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').waitFor();
  await page.keyboard.press('Backspace');
  await page.keyboard.type('llama-variants/model.onnx');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'llama-variants' }).filter({ hasText: /^model\.onnx/ }).first();
  await row.waitFor();
  await arrowTo(page, row);
  await page.keyboard.press('Enter');
  // The file shown (a binary file: VS Code says so) and focused: only then the palette, which a
  // focus moving into the editor as it loads would close.
  await page.locator('.tab.active', { hasText: 'model.onnx' }).waitFor();
  await page.getByText('The file is not displayed in the text editor').waitFor();
  await page.getByRole('button', { name: 'Open Anyway' }).waitFor();
  await paletteByKeys(page, 'Massive Activations: Inspect Model');
  const view = page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
  await view.locator('h1', { hasText: 'model.onnx' }).waitFor({ timeout: 60_000 });
  await view.locator('.facts').waitFor();
  assert.match(await view.locator('.facts').innerText(), /decoder · 6 blocks/);
  await tabTo(page, view, 'vscode-button#run');
  await page.keyboard.press('Enter');
  await view.locator('#status', { hasText: 'massive activations on' }).waitFor({ timeout: 60_000 });
  await tabTo(page, view, '#blocks button');
  // Along the block buttons to the first one marked massive.
  const focused = () => view.locator('body').evaluate(() => ({ text: document.activeElement?.textContent ?? '', massive: !!document.activeElement?.classList.contains('massive') }));
  const blocks = await view.locator('#blocks button').count();
  for (let i = 0; i < blocks && !(await focused()).massive; i++) await page.keyboard.press('ArrowRight');
  const chosen = await focused();
  assert.ok(chosen.massive, 'a block with massive activations reached by the arrows');
  const layer = Number(/^Block (\d+)$/.exec(chosen.text)![1]);
  await page.keyboard.press('Enter');
  await view.locator('#layer h2', { hasText: new RegExp(`^Block ${layer}$`) }).waitFor();
  await view.locator('canvas#feature-map').waitFor({ timeout: 60_000 });
  await tabTo(page, view, 'canvas#feature-map');
  const fm = await featureMap(model, { layer, prompt: 'Summer is warm. Winter is cold.', maxColumns: 192 });
  const order = [...fm.massive].sort((a, b) => a.token - b.token || a.channel - b.channel);
  const out = view.locator('#feature-map-readout');
  await out.filter({ hasText: new RegExp(`^Block ${layer} · token ${order[0].token} `) }).waitFor();
  assert.match(await out.innerText(), massiveSaid(fm, layer, order[0].token, order[0].channel));
  await page.keyboard.press('n');
  assert.match(await out.innerText(), massiveSaid(fm, layer, order[1].token, order[1].channel));
}

/** Arrows down the open quick pick until `row` is its focused row. */
async function arrowTo(page: Page, row: Locator): Promise<void> {
  const rows = await page.locator('.quick-input-list .monaco-list-row').count();
  for (let i = 0; i < rows && !(await row.evaluate((el) => el.classList.contains('focused'))); i++) await page.keyboard.press('ArrowDown');
  assert.ok(await row.evaluate((el) => el.classList.contains('focused')), 'the row is reached by the arrows');
}

/** F1, the command's title typed, arrows down to its row (the first row is not always it), Enter. */
async function paletteByKeys(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').waitFor();
  await page.keyboard.type(title);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor();
  await arrowTo(page, row);
  await page.keyboard.press('Enter');
}

/** Tab (at most 60 times) until the webview's element matching `selector` has the focus: it is reachable by keyboard. */
async function tabTo(page: Page, view: FrameLocator, selector: string): Promise<void> {
  const has = () => view.locator('body').evaluate((_, sel) => {
    const a = document.activeElement;
    return !!a && (a.matches(sel) || !!a.closest(sel));
  }, selector);
  for (let i = 0; i < 60; i++) {
    if (await has()) return;
    await page.keyboard.press('Tab');
  }
  assert.fail(`${selector} is not reached by Tab`);
}

/**
 * Open Model from Hugging Face… as a user does it: the model's page pasted into the quick pick, a
 * variant chosen by its size, the download's notification (bytes, rate) and its Cancel button on a
 * stalled link; then the repository again from the recent ones, the download resumed, the inspector.
 */
async function hubFlow(page: Page, hub: FlowHub, name: string): Promise<void> {
  const title = page.locator('.quick-input-widget .quick-input-title');
  const rows = page.locator('.quick-input-list .monaco-list-row');
  // The last flow: the earlier panels would only crowd its screenshots.
  await runCommand(page, 'View: Close All Editors');
  await page.locator('.editor-group-container .tab').first().waitFor({ state: 'detached' });
  await runCommand(page, 'Massive Activations: Open Model from Hugging Face…');
  await title.filter({ hasText: 'Open a model from Hugging Face' }).waitFor();
  const input = page.locator('.quick-input-widget input');
  await input.pressSequentially('not a repo');
  await rows.filter({ hasText: 'Not a repository id: write OWNER/NAME' }).waitFor();
  await input.fill('https://huggingface.co/onnx-community/tiny-llama/tree/main/onnx');
  await rows.filter({ hasText: 'onnx-community/tiny-llama' }).filter({ hasText: 'from the Hub' }).waitFor();
  await page.keyboard.press('Enter');
  await title.filter({ hasText: /^onnx-community\/tiny-llama \(\w{7}\): which variant\?$/ }).waitFor({ timeout: 30_000 });
  // Label, size and files, as the rows read (spacing aside).
  const offered = (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, ''));
  assert.deepEqual(offered, ['plain2.7MBtodownloadonnx/model.onnx', 'fp161.4MBtodownloadonnx/model_fp16.onnx']);
  await shoot(page, `hub-variants-${name}`);
  hub.server.stallOnce.add(hub.stallSha);
  await pick(page, 'fp16');
  // The link stalls half-way through the weights: the notification says where, and Cancel stops it.
  const toast = page.locator('.notification-toast', { hasText: 'Downloading onnx-community/tiny-llama (fp16)' });
  await toast.filter({ hasText: /model_fp16\.onnx_data · [\d.]+ of [\d.]+ MB/ }).waitFor({ timeout: 30_000 });
  await shoot(page, `hub-download-${name}`);
  await toast.getByRole('button', { name: 'Cancel' }).click();
  await page.locator('.notification-toast', { hasText: 'Massive Activations: cancelled.' }).waitFor();
  await runCommand(page, 'Massive Activations: Open Model from Hugging Face…');
  await title.filter({ hasText: 'Open a model from Hugging Face' }).waitFor();
  await rows.filter({ hasText: 'recent' }).first().waitFor();
  await pick(page, 'onnx-community/tiny-llama');
  await title.filter({ hasText: 'which variant?' }).waitFor({ timeout: 30_000 });
  await pick(page, 'fp16');
  const view = page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
  await view.locator('h1', { hasText: 'model_fp16.onnx' }).waitFor({ timeout: 60_000 });
  assert.ok(hub.server.served.some((s) => s.range && /^bytes=\d+-$/.test(s.range)), 'the second download resumed the first');
}

/**
 * The Activation Explorer opens what is clicked: a block of a model whose inspector is in a
 * background tab brings that tab forward and selects the block (it used to switch tabs only).
 */
async function explorerClickFlow(page: Page): Promise<void> {
  await page.locator('.activitybar .action-item a[aria-label^="Massive Activations"]').click();
  const rows = page.locator('.sidebar .monaco-list-row');
  const model = rows.filter({ hasText: 'gpt2-planted/model.onnx' }).first();
  await model.waitFor();
  if (await model.getAttribute('aria-expanded') === 'false') await model.click();
  // gpt2-planted is the first model of the Explorer: the first "Block 1" row is its.
  await rows.filter({ has: page.locator('.label-name', { hasText: /^Block 1$/ }) }).first().click();
  await page.locator('.tabs-container .tab.active', { hasText: 'gpt2-planted/model.onnx' }).waitFor();
  const view = page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
  await view.locator('#layer h2', { hasText: /^Block 1$/ }).waitFor({ timeout: 60_000 });
  await page.locator('.activitybar .action-item a[aria-label^="Explorer"]').click();
}

/**
 * A model without a tokenizer (as most graph-first downloads are): the Token ids box starts with
 * sample ids valid for the model, said to be samples; a mistake in the ids, or an input the engine
 * refuses, is shown beside the box, not as a notification, and goes away as the user types.
 */
async function idsFlow(page: Page, explorer: Locator, theme: string): Promise<void> {
  // Earlier flows leave folders open: their model.onnx rows would come first.
  await runCommand(page, 'Collapse Folders in Explorer');
  await explorer.getByRole('treeitem', { name: 'model.onnx', exact: true }).first().waitFor({ state: 'detached' });
  const view = await inspect(page, explorer, 'without-tokenizer');
  const ids = view.locator('#ids input');
  const problem = view.locator('#input-problem');
  const sample = await ids.inputValue();
  assert.match(sample, /^1(, \d+){5,}$/, 'the BOS id from config.json, then ids spread over the vocabulary');
  assert.match(await view.locator('#ids-note').innerText(), /Sample ids: the BOS id 1 from the model's config, then \d+ ids spread over the [\d,]+-token vocabulary/);
  await view.locator('vscode-button#run').click();
  await view.locator('#status', { hasText: 'massive activations on' }).waitFor({ timeout: 60_000 });
  assert.equal(await view.locator('.chip').count(), sample.split(',').length);
  // Typed mistakes: said at once, beside the box; nothing runs.
  await ids.fill('1, 2, x7');
  await view.locator('vscode-button#run').click();
  await problem.filter({ hasText: '"x7" is not a token id: use whole numbers separated by commas.' }).waitFor();
  await ids.fill('1, 99999999');
  await view.locator('vscode-button#run').click();
  await problem.filter({ hasText: /^Token id 99999999 is outside the model's vocabulary \(0–\d+\)\.$/ }).waitFor();
  // An input the engine refuses (longer than maxTokens): beside the box too, the status says it did not run.
  await ids.fill(Array.from({ length: 2100 }, () => '5').join(', '));
  await view.locator('vscode-button#run').click();
  await problem.filter({ hasText: /^The input is 2,100 tokens; the limit is [\d,]+ tokens/ }).waitFor({ timeout: 60_000 });
  assert.equal(await view.locator('#status').innerText(), 'Not run: see the input.');
  assert.equal(await page.locator('.notification-toast', { hasText: 'The input is 2,100 tokens' }).count(), 0, 'no notification for an input mistake');
  await view.locator('#input').scrollIntoViewIfNeeded();
  await shoot(page, `no-tokenizer-${themeName(theme)}`);
  // …and offers to run the input's first tokens (as many as the limit: the model's 512 positions), which then says what it kept.
  const limit = /the limit is ([\d,]+) tokens/.exec(await problem.innerText())![1];
  await view.locator('vscode-button#run-truncated', { hasText: `Run the first ${limit} tokens` }).click();
  await view.locator('#status', { hasText: new RegExp(`^${limit} tokens · `) }).waitFor({ timeout: 120_000 });
  await view.locator('p.warning', { hasText: `Only the first ${limit} of the input's 2,100 tokens were run` }).waitFor();
  // Typing clears it; the sample runs again.
  await ids.fill(sample);
  await problem.waitFor({ state: 'hidden' });
  await view.locator('vscode-button#run').click();
  await view.locator('#status', { hasText: 'massive activations on' }).waitFor({ timeout: 60_000 });
}

/**
 * Values read off the maps, by pointer and by keyboard, are the engine's: block 3 of the demo model
 * on the default prompt, computed here by the engine itself (featureMap, attention) for comparison.
 */
async function readouts(view: FrameLocator, model: string): Promise<void> {
  const input = { prompt: 'Summer is warm. Winter is cold.' };
  const fm = await featureMap(model, { layer: 3, ...input, maxColumns: 192 });
  const map = view.locator('canvas#feature-map');
  const out = view.locator('#feature-map-readout');
  const { g, k } = await placed(map);
  const cols = await map.evaluate((c: HTMLCanvasElement) => JSON.parse(c.dataset.columns!) as [number, number][]);
  const colOf = (ch: number) => cols.findIndex(([from, to]) => from <= ch && ch <= to);
  const massive = (token: number, channel: number) => fm.massive.find((a) => a.token === token && a.channel === channel)!.value;
  const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // The value is the engine's; how many times the median it is, a number.
  const said = (token: number, channel: number) => new RegExp(`^${literal(`Block 3 · token ${token} ${JSON.stringify(fm.tokens[token].text)} · channel ${channel} · ${fmt(massive(token, channel))}, massive (`)}[\\d,.]+${literal('× the block\'s median |a|)')}$`);
  // The pointer over token 4 ("."), channel 7.
  await map.hover({ position: { x: (g.colX[colOf(7)] + g.colW[colOf(7)] / 2) * k, y: (g.labelH + 4.5 * g.rowH) * k } });
  await out.filter({ hasText: /^Block 3 · token 4 / }).waitFor();
  assert.match(await out.innerText(), said(4, 7));
  // The keyboard: the cursor stays where the pointer left it; N and Shift+N step through the massive
  // activations (in reading order), the arrows through any cell.
  await map.focus();
  await map.press('n');
  assert.match(await out.innerText(), said(4, 42));
  await map.press('Shift+N');
  assert.match(await out.innerText(), said(4, 7));
  await map.press('ArrowDown');
  assert.equal(await out.innerText(), `Block 3 · token 5 ${JSON.stringify(fm.tokens[5].text)} · channel 7 · |a| ${fmt(fm.values[5][colOf(7)])}`);
  await map.press('n');
  assert.match(await out.innerText(), said(8, 7));
  // The colour scale: from 0 to the map's largest |a|, with the massive colour beside it.
  const ticks = await view.locator('#map-legend .legend-tick').allInnerTexts();
  assert.equal(ticks[0], '0');
  assert.equal(ticks.at(-1), fmt(fm.maxAbs));
  assert.match(await view.locator('#map-legend').innerText(), /\|activation\|[\s\S]*massive: \|a\| > 100 and ≥ 1,000× the block's median[\s\S]*log scale/);
  // The attention map (head 1 is selected): query 4 → key 0, the engine's probability.
  const att = await analyseAttention(model, { layer: 3, ...input, matrixTokens: 128, perHead: true });
  const amap = view.locator('canvas#attention-map');
  const ag = await placed(amap);
  await amap.hover({ position: { x: (ag.g.colX[0] + ag.g.colW[0] / 2) * ag.k, y: (ag.g.labelH + 4.5 * ag.g.rowH) * ag.k } });
  await view.locator('#attention-map-readout', { hasText: 'query 4' }).waitFor();
  assert.equal(await view.locator('#attention-map-readout').innerText(), `Block 3 · query 4 "." → key 0 "<s>" · probability ${fmt(att.perHead![1].probabilities[4][0])} (head 1)`);
  assert.equal((await view.locator('#attention-legend .legend-tick').allInnerTexts())[0], '0');
}

/** The readout of a massive cell: the engine's value, then how many times the median it is (a number). */
function massiveSaid(fm: FeatureMapResult, layer: number, token: number, channel: number): RegExp {
  const value = fm.massive.find((a) => a.token === token && a.channel === channel)!.value;
  return new RegExp(`^${literal(`Block ${layer} · token ${token} ${JSON.stringify(fm.tokens[token].text)} · channel ${channel} · ${fmt(value)}, massive (`)}[\\d,.]+${literal('× the block\'s median |a|)')}$`);
}
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The 3-D view reads out as the 2-D map does: the pointer on a spike (found through the bars'
 * projected places the view records) names its token, channel and the engine's value; the
 * keyboard moves a cursor (N / Shift+N, arrows); Shift+arrows turn the view and the cursor stays
 * on its cell. Block 3 of the demo model, the engine's own numbers for comparison.
 */
async function surfaceReadouts(page: Page, view: FrameLocator, model: string, theme: string): Promise<void> {
  const fm = await featureMap(model, { layer: 3, prompt: 'Summer is warm. Winter is cold.', maxColumns: 192 });
  const surface = view.locator('canvas#surface');
  const out = view.locator('#surface-readout');
  const drawn = () => surface.evaluate((c: HTMLCanvasElement) => ({
    bars: JSON.parse(c.dataset.bars!) as [number, number, number, number][],
    rows: JSON.parse(c.dataset.rows!) as [number, number][],
    cols: JSON.parse(c.dataset.columns!) as [number, number][],
    k: c.getBoundingClientRect().width / c.width,
  }));
  const d = await drawn();
  const colOf = (ch: number) => d.cols.findIndex(([from, to]) => from <= ch && ch <= to);
  const rowOf = (t: number) => d.rows.findIndex(([from, to]) => from <= t && t <= to);
  // A point of the spike of token 4, channel 7 that no other bar covers (bars are strokes from the floor up).
  const spike = d.bars[rowOf(4) * d.cols.length + colOf(7)];
  const covered = (x: number, y: number, skip: number) => d.bars.some((b, i) => i !== skip && Math.abs(x - b[0]) <= b[3] / 2 + 1.5
    && y >= b[2] - 1.5 && y <= b[1] + 1.5);
  const index = rowOf(4) * d.cols.length + colOf(7);
  let y = spike[2] + 2;
  while (y < spike[1] && covered(spike[0], y, index)) y += 1;
  assert.ok(y < spike[1], 'some of the spike is in view');
  await surface.hover({ position: { x: spike[0] * d.k, y: y * d.k } });
  await out.filter({ hasText: /^Block 3 · token 4 / }).waitFor();
  assert.match(await out.innerText(), massiveSaid(fm, 3, 4, 7));
  assert.equal(await out.getAttribute('role'), 'status');
  // The keyboard, from where the pointer left the cursor.
  await surface.focus();
  await surface.press('n');
  assert.match(await out.innerText(), massiveSaid(fm, 3, 4, 42));
  await surface.press('Shift+N');
  assert.match(await out.innerText(), massiveSaid(fm, 3, 4, 7));
  await surface.press('ArrowDown');
  assert.equal(await out.innerText(), `Block 3 · token 5 ${JSON.stringify(fm.tokens[5].text)} · channel 7 · |a| ${fmt(fm.values[5][colOf(7)])}`);
  await surface.press('ArrowUp');
  const cursor = view.locator('#map-box .map-cursor');
  assert.equal(await cursor.isVisible(), true, 'a cursor is drawn over the bar read');
  const before = { image: await surface.evaluate((c: HTMLCanvasElement) => c.toDataURL()), box: await cursor.boundingBox() };
  // Shift+arrows turn the view: drawn again at the new angle, the cursor still on token 4, channel 7 where it now stands.
  await surface.press('Shift+ArrowRight');
  assert.notEqual(await surface.evaluate((c: HTMLCanvasElement) => c.toDataURL()), before.image);
  assert.match(await out.innerText(), massiveSaid(fm, 3, 4, 7));
  const turned = await drawn();
  const bar = turned.bars[index];
  const box = (await cursor.boundingBox())!;
  const frame = (await surface.boundingBox())!;
  assert.notDeepEqual(box, before.box, 'the cursor moved with its bar');
  assert.ok(Math.abs(box.x + box.width / 2 - (frame.x + bar[0] * turned.k)) < 2, 'the cursor is on the bar of its cell');
  // Its colour scale, and the axes named on the canvas (token, channel, |activation|).
  const ticks = await view.locator('#map-legend .legend-tick').allInnerTexts();
  assert.equal(ticks[0], '0');
  assert.equal(ticks.at(-1), fmt(fm.maxAbs));
  assert.match(await view.locator('#map-legend').innerText(), /\|activation\| \(colour\)[\s\S]*massive: \|a\| >[\s\S]*log scale · bar heights linear/);
  await view.locator('#map-box').scrollIntoViewIfNeeded();
  await shoot(page, `surface-readout-${themeName(theme)}`);
}

/**
 * A 2,000-token input on a planted GPT-2 with 2,048 positions (built here; the workspace's models
 * have 512): the feature map keeps each massive token in a labelled row of readable height and
 * labels the massive channels; the overview strip's window, moved by keys and dragged by the
 * pointer, zooms the map to a token range at readable rows, where the readout and N report the
 * input's own token indices and the engine's values.
 */
async function longContextFlow(page: Page, explorer: Locator, ws: string, theme: string): Promise<void> {
  const dir = path.join(ws, 'long-context');
  const model = path.join(dir, 'model.onnx');
  mkdirSync(dir, { recursive: true });
  writeModel(gpt2Model(plantedSpec({ arch: 'gpt2', vocab: vocabulary().length, maxPos: 2048 })), model);
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig()));
  // Four paragraphs, each ending in "." (a massive token), 2,000 tokens with the first.
  const clause = 'the river ran by the old house , and the king sat in the city with his queen , ';
  const prompt = [36, 24, 30, 15].map((n) => `${clause.repeat(n).trim()} .`).join(' ');
  const view = await inspect(page, explorer, 'long-context');
  if (await view.locator('vscode-checkbox#live').getAttribute('aria-checked') === 'true') await view.locator('vscode-checkbox#live').click();
  await view.locator('#prompt textarea').fill(prompt);
  await view.locator('vscode-button#run').click();
  await view.locator('#status', { hasText: /^2,000 tokens · massive activations on/ }).waitFor({ timeout: 180_000 });
  const layer = Number(/^Block (\d+)$/.exec(await view.locator('#layer h2').innerText())![1]);
  const fm = await featureMap(model, { layer, prompt, maxColumns: 192 });
  assert.equal(fm.tokens.length, 2000);
  const massiveTokens = [...new Set(fm.massive.map((a) => a.token))].sort((a, b) => a - b);
  assert.ok(massiveTokens.length >= 3 && fm.massiveChannels.length === 2, 'the first token and the full stops, in channels 7 and 42');
  const map = view.locator('canvas#feature-map');
  await view.locator('#token-overview').waitFor({ timeout: 120_000 });
  await map.waitFor();
  type Drawn = {
    rows: [number, number][]; cols: [number, number][]; rowLabels: [number, string][]; colLabels: [number, string][]; k: number;
    g: { labelH: number; rowH: number; rowY?: number[]; rowHs?: number[]; colX: number[]; colW: number[] };
  };
  const drawn = () => map.evaluate((c: HTMLCanvasElement) => ({
    rows: JSON.parse(c.dataset.rows!), cols: JSON.parse(c.dataset.columns!), rowLabels: JSON.parse(c.dataset.rowLabels!),
    colLabels: JSON.parse(c.dataset.colLabels!), g: JSON.parse(c.dataset.geometry!), k: c.getBoundingClientRect().width / c.width,
  }) as Drawn);
  const rowTop = (d: Drawn, r: number) => d.g.rowY?.[r] ?? d.g.labelH + r * d.g.rowH;
  const rowHeight = (d: Drawn, r: number) => d.g.rowHs?.[r] ?? d.g.rowH;
  const label = (t: number) => `${t} ${fm.tokens[t].text}`.slice(0, 11);
  // The whole input: binned rows, each massive token in a row of its own, labelled and readable; the massive channels labelled.
  const whole = await drawn();
  assert.ok(whole.rows.length < 2000, 'rows are binned');
  for (const t of massiveTokens) {
    const r = whole.rows.findIndex(([from, to]) => from === t && to === t);
    assert.ok(r >= 0, `token ${t} has a row of its own`);
    assert.deepEqual(whole.rowLabels.find(([row]) => row === r), [r, label(t)], `token ${t}'s row is labelled`);
    assert.ok(rowHeight(whole, r) >= 10, `token ${t}'s row is ${rowHeight(whole, r)} px high`);
  }
  const colOf = (d: Drawn, ch: number) => d.cols.findIndex(([from, to]) => from <= ch && ch <= to);
  for (const ch of fm.massiveChannels) assert.ok(whole.colLabels.some(([c, l]) => c === colOf(whole, ch) && l === `ch${ch}`), `channel ${ch} is labelled`);
  await view.locator('#map-description', { hasText: '2000 tokens in' }).waitFor();
  await view.locator('#map-box').scrollIntoViewIfNeeded();
  await shoot(page, `long-context-${themeName(theme)}`);

  // The keyboard: + zooms to a window, N takes it to the next massive token after its middle.
  const brush = view.locator('#token-brush');
  assert.equal(await brush.getAttribute('role'), 'slider');
  assert.equal(await brush.getAttribute('aria-label'), 'Tokens shown in the map');
  const windowOf = async () => (await brush.getAttribute('data-window'))!.split(',').map(Number);
  assert.deepEqual(await windowOf(), [0, 1999]);
  await brush.focus();
  await brush.press('+');
  await view.locator('#token-brush:not([data-window="0,1999"])').waitFor();
  let [from, to] = await windowOf();
  assert.ok(to - from + 1 < 100, `zoomed to ${from}–${to}`);
  const target = massiveTokens.find((t) => t > (from + to) / 2 + 0.5)!;
  await brush.press('n');
  [from, to] = await windowOf();
  assert.ok(from <= target && target <= to, `the window ${from}–${to} holds massive token ${target}`);
  assert.equal(await brush.getAttribute('aria-valuetext'), `tokens ${from.toLocaleString('en-US')}–${to.toLocaleString('en-US')} of 2,000`);
  assert.equal(await view.locator('body').evaluate(() => document.activeElement?.id), 'token-brush', 'the focus stays on the window');
  await view.locator('#map-description', { hasText: `showing tokens ${from.toLocaleString('en-US')}–${to.toLocaleString('en-US')} of 2,000` }).waitFor();
  const zoomed = await drawn();
  assert.deepEqual(zoomed.rows, Array.from({ length: to - from + 1 }, (_, i) => [from + i, from + i]), 'one row per token of the window');
  assert.ok(zoomed.g.rowH >= 10, `rows ${zoomed.g.rowH} px high`);
  assert.ok(zoomed.rowLabels.some(([r, l]) => zoomed.rows[r][0] === target && l === label(target)));
  // The readout in the zoomed map: N reads the window's first massive activation, the arrows a neighbour, all with the input's token indices.
  const out = view.locator('#feature-map-readout');
  await map.focus();
  const first = fm.massive.filter((a) => a.token === target).sort((a, b) => a.channel - b.channel)[0];
  await out.filter({ hasText: `token ${target} ` }).waitFor();
  assert.match(await out.innerText(), massiveSaid(fm, layer, target, first.channel));
  await map.press('ArrowDown');
  assert.equal(await out.innerText(), `Block ${layer} · token ${target + 1} ${JSON.stringify(fm.tokens[target + 1].text)} · channel ${first.channel} · |a| ${fmt(fm.values[target + 1][colOf(zoomed, first.channel)])}`);
  // …and the pointer: token target−2, on its largest ordinary value (found in the engine's map).
  const t2 = target - 2;
  const c = fm.values[t2].reduce((best, v, k) => (!fm.columns[k].massive && v > fm.values[t2][best] ? k : best), fm.columns.findIndex((col) => !col.massive));
  const r = t2 - from;
  assert.deepEqual(zoomed.cols[c], [fm.columns[c].from, fm.columns[c].to]);
  await map.hover({ position: { x: (zoomed.g.colX[c] + zoomed.g.colW[c] / 2) * zoomed.k, y: (rowTop(zoomed, r) + rowHeight(zoomed, r) / 2) * zoomed.k } });
  await out.filter({ hasText: `token ${t2} ` }).waitFor();
  assert.equal(await out.innerText(), `Block ${layer} · token ${t2} ${JSON.stringify(fm.tokens[t2].text)} · channel ${fm.columns[c].from} · |a| ${fmt(fm.values[t2][c])}`);
  await view.locator('#map-box').scrollIntoViewIfNeeded();
  await shoot(page, `long-zoom-${themeName(theme)}`);

  // The pointer on the overview: drag out tokens around another massive token; the map shows them.
  const other = massiveTokens.find((t) => t > 100 && t < 1900 && t !== target)!;
  const strip = (await view.locator('#token-overview').boundingBox())!;
  const xOf = (t: number) => strip.x + ((t + 0.5) / 2000) * strip.width;
  await page.mouse.move(xOf(other - 20), strip.y + strip.height / 2);
  await page.mouse.down();
  await page.mouse.move(xOf(other + 20), strip.y + strip.height / 2, { steps: 4 });
  await page.mouse.up();
  // The window is the tokens under the drag, to a pixel (a pixel is about two tokens here).
  const [a, b] = await windowOf();
  assert.ok(Math.abs(a - (other - 20)) <= 3 && Math.abs(b - (other + 20)) <= 3, `dragged out ${a}–${b}`);
  await view.locator('#map-description', { hasText: `showing tokens ${a.toLocaleString('en-US')}–${b.toLocaleString('en-US')} of 2,000` }).waitFor();
  const dragged = await drawn();
  assert.ok(dragged.rowLabels.some(([row, l]) => dragged.rows[row][0] === other && l === label(other)), `massive token ${other} labelled in the dragged window`);
  assert.ok(dragged.g.rowH >= 10);
  await view.locator('vscode-button#token-window-whole').click();
  await view.locator('#token-brush[data-window="0,1999"]').waitFor();
}

/**
 * The keyboard alone: arrows along the block buttons, Enter selects (the focus stays on the block),
 * the map takes the focus and N reads its first massive activation (the engine's value), arrows go
 * from token chip to token chip.
 */
async function keyboardFlow(view: FrameLocator, model: string): Promise<void> {
  const focusedText = () => view.locator('body').evaluate(() => (document.activeElement as HTMLElement | null)?.textContent ?? '');
  await view.locator('#blocks button.selected').focus();
  await view.locator('#blocks button.selected').press('ArrowLeft');
  assert.equal(await focusedText(), 'Block 2');
  await view.locator('#blocks').press('Enter');
  await view.locator('#layer h2', { hasText: /^Block 2$/ }).waitFor();
  assert.equal(await focusedText(), 'Block 2', 'the focus stays on the block chosen');
  const map = view.locator('canvas#feature-map');
  await map.waitFor({ timeout: 60_000 });
  await map.focus();
  const fm = await featureMap(model, { layer: 2, prompt: 'Summer is warm. Winter is cold.', maxColumns: 192 });
  const first = fm.massive.filter((a) => a.token === 0).sort((a, b) => a.channel - b.channel)[0];
  await view.locator('#feature-map-readout', { hasText: /^Block 2 · token 0 / }).waitFor();
  assert.match(await view.locator('#feature-map-readout').innerText(), new RegExp(`^Block 2 · token 0 "<s>" · channel ${first.channel} · ${fmt(first.value).replace('.', '\\.')}, massive`));
  await view.locator('.chip[data-token="0"]').focus();
  for (let k = 0; k < 4; k++) await view.locator('.tokens').press('ArrowRight');
  assert.equal(await view.locator('body').evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.token), '4');
  // Back to block 3, where the next flows expect to be.
  await view.locator('#blocks button.selected').focus();
  await view.locator('#blocks').press('ArrowRight');
  await view.locator('#blocks').press('Enter');
  await view.locator('#layer h2', { hasText: /^Block 3$/ }).waitFor();
}

/** A map's cells as drawn (heatmap.ts records them) and the scale CSS shows the canvas at. */
async function placed(canvas: Locator): Promise<{ g: { colX: number[]; colW: number[]; labelH: number; rowH: number }; k: number }> {
  return canvas.evaluate((c: HTMLCanvasElement) => ({ g: JSON.parse(c.dataset.geometry!), k: c.getBoundingClientRect().width / c.width }));
}

/** Right-click a model in the Explorer → Massive Activations: Inspect Model; the newest webview. */
async function inspect(page: Page, explorer: Locator, folder: string): Promise<FrameLocator> {
  await explorer.getByRole('treeitem', { name: folder }).click();
  const model = explorer.getByRole('treeitem', { name: 'model.onnx' }).first();
  await model.click({ button: 'right' });
  await clickMenuItem(page, 'Inspect Model');
  const view = page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
  await view.locator('h1', { hasText: 'model.onnx' }).waitFor({ timeout: 60_000 });
  // Collapse the folder again so the next model's row is where a user sees it.
  await explorer.getByRole('treeitem', { name: folder }).click();
  return view;
}

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(shots, `${name}.png`) });
  // The README shows the light and dark themes; the high-contrast ones stay in test-results/.
  if (process.env.UPDATE_SCREENSHOTS && /-(light|dark)$/.test(name) && !name.includes('high-contrast')) copyFileSync(path.join(shots, `${name}.png`), path.join(REPO, 'media', `${name}.png`));
}

/** The paper's prompt: run, pick a block, pick a head; then the 3-D view of the same block. */
async function paperFlow(page: Page, view: FrameLocator, theme: string, ws: string): Promise<void> {
  assert.match(await view.locator('.facts').innerText(), /decoder · 6 blocks · width 64 · 4 heads/);
  await view.locator('vscode-button#run').click();
  await view.locator('#status', { hasText: 'massive activations on' }).waitFor({ timeout: 60_000 });
  assert.match(await view.locator('#status').innerText(), /massive activations on 3 tokens in channels 7, 42/);
  assert.equal(await view.locator('.chip.massive').count(), 3);
  await view.locator('#blocks button', { hasText: 'Block 3' }).click();
  await view.locator('#top-table tbody tr').first().waitFor();
  assert.match(await view.locator('#top-table tbody tr').first().innerText(), /1\s+"\."\s+4\s+7\s+2,00\d/);
  await view.locator('#feature-map').waitFor({ timeout: 60_000 });
  await view.locator('vscode-dropdown#head').click();
  await view.locator('vscode-option', { hasText: 'Head 1' }).click();
  await view.locator('#attention-share', { hasText: 'Head 1:' }).waitFor();
  assert.match(await view.locator('#attention-share').innerText(), /Head 1: \d+\.\d% of attention lands on the massive-activation tokens 0, 4, 8 · sink score 0\.\d\d/);
  // The share per block, as a chart with its table.
  await view.locator('#share-chart').waitFor();
  const mapColumns = await massiveColumns(view, '#feature-map');
  assert.deepEqual(mapColumns, [7, 42], 'the massive cells are drawn in the massive colour');
  await readouts(view, path.join(ws, 'gpt2-planted', 'model.onnx'));
  await view.locator('#map-legend').scrollIntoViewIfNeeded();
  await shoot(page, `readout-${themeName(theme)}`);
  await view.locator('#model').scrollIntoViewIfNeeded();
  await shoot(page, `inspector-${themeName(theme)}`);
  await view.locator('vscode-radio', { hasText: '3-D view' }).click();
  await view.locator('canvas#surface').waitFor();
  assert.ok(await countColour(view, '#surface') > 50, 'the 3-D view draws the massive spikes in the massive colour');
  await surfaceReadouts(page, view, path.join(ws, 'gpt2-planted', 'model.onnx'), theme);
  await shoot(page, `surface-${themeName(theme)}`);
  await view.locator('vscode-radio', { hasText: '2-D map' }).click();
  await view.locator('canvas#feature-map').waitFor();
}

/** Live re-scan: edit the prompt and the overview follows, without pressing Run. */
async function liveFlow(view: FrameLocator): Promise<void> {
  assert.equal(await view.locator('vscode-checkbox#live').getAttribute('aria-checked'), 'true', 'live re-scan is on for a small model');
  // Typed as a user types, at the end of the prompt.
  const area = view.locator('#prompt textarea');
  await area.click();
  await area.press('End');
  await area.pressSequentially(' Spring is mild.');
  await view.locator('#status', { hasText: 'massive activations on 4 tokens' }).waitFor({ timeout: 60_000 });
  assert.equal(await view.locator('.chip.massive').count(), 4);
  // The results were redrawn under the prompt, not the prompt itself: the user can go on typing.
  assert.equal(await area.evaluate((el) => el.matches(':focus')), true, 'the prompt keeps the focus');
  assert.equal(await area.inputValue(), 'Summer is warm. Winter is cold. Spring is mild.');
}

/** A 501-token prompt: compact tokens with search, then a block whose map and attention are binned. */
async function longFlow(page: Page, view: FrameLocator, theme: string): Promise<void> {
  await view.locator('vscode-checkbox#live').click();
  await view.locator('#prompt textarea').fill('Summer is warm. '.repeat(LONG_REPEATS).trim());
  await view.locator('vscode-button#run').click();
  await view.locator('#status', { hasText: `${LONG_REPEATS * 4 + 1} tokens` }).waitFor({ timeout: 60_000 });
  const massive = Number(/massive activations on (\d+) tokens/.exec(await view.locator('#status').innerText())![1]);
  assert.equal(massive, LONG_REPEATS + 1, 'the first token and every "."');
  assert.equal(await view.locator('.chip').count(), massive, 'a long input shows its massive tokens, not a wall of chips');
  // Typed key by key: the box keeps its caret while the matches below it change.
  await view.locator('#token-search').pressSequentially('#250');
  await view.locator('.chip[data-token="250"]').waitFor();
  assert.equal(await view.locator('#token-search').inputValue(), '#250');
  await view.locator('#blocks button', { hasText: 'Block 2' }).click();
  await view.locator('#map-description', { hasText: `${LONG_REPEATS * 4 + 1} tokens in` }).waitFor({ timeout: 60_000 });
  await view.locator('#attention-bins', { hasText: `${LONG_REPEATS * 4 + 1} tokens in` }).waitFor({ timeout: 60_000 });
  assert.ok(await countColour(view, '#feature-map') > 0);
  await view.locator('#layer').scrollIntoViewIfNeeded();
  await shoot(page, `long-${themeName(theme)}`);
  await view.locator('vscode-checkbox#live').click();
}

/** An experiment from the palette: its card appears in the panel with its charts and tables. */
async function paletteExperiment(page: Page, view: FrameLocator, theme: string): Promise<void> {
  // Run Scan on Prompt from the palette: the panel then shows that prompt and what it found, not the old ones.
  await runCommand(page, 'Massive Activations: Run Scan on Prompt');
  await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Prompt' }).waitFor();
  await page.locator('.quick-input-widget input').fill('Winter is cold.');
  await page.keyboard.press('Enter');
  await view.locator('#status', { hasText: /^5 tokens · massive activations on 2 tokens in channels 7, 42 · \d+ ms$/ }).waitFor({ timeout: 60_000 });
  assert.equal(await view.locator('#prompt').evaluate((a) => (a as unknown as { value: string }).value), 'Winter is cold.');
  assert.equal(await view.locator('.chip').count(), 5, 'the tokens of the palette\'s prompt (and the BOS token)');
  await view.locator('#prompt textarea').fill('Summer is warm. Winter is cold.');
  await view.locator('vscode-button#run').click();
  await view.locator('#status', { hasText: 'massive activations on 3 tokens' }).waitFor({ timeout: 60_000 });
  await runCommand(page, 'Massive Activations: Intervention at a Block');
  await pick(page, 'Block 2');
  await pick(page, 'Set to zero');
  const card = view.locator('article.experiment[data-type="intervene"]').first();
  await card.locator('canvas[id$="-ppl"]').waitFor({ timeout: 60_000 });
  await card.locator('canvas[id$="-kl"]').waitFor();
  assert.equal(await card.locator('table.perplexity tbody tr').count(), 2, 'original and set to zero');
  await card.scrollIntoViewIfNeeded();
  await shoot(page, `intervention-${themeName(theme)}`);
}

/** exp2 from the panel's toolbar over a text file: the band chart and the constancy table appear. */
async function scanManyFlow(page: Page, view: FrameLocator, ws: string, theme: string): Promise<void> {
  const corpus = path.join(ws, 'gpt2-planted', 'corpus.txt');
  writeFileSync(corpus, 'Summer is warm. Winter is cold. The river ran past the old house. Once upon a time there lived a king. '.repeat(12));
  await view.locator('vscode-button[data-experiment="scanMany"]').click();
  await chooseFile(page, corpus);
  const card = view.locator('article.experiment[data-type="scanMany"]').first();
  await card.locator('canvas[id$="-band"]').waitFor({ timeout: 60_000 });
  assert.ok(await card.locator('table.constancy tbody tr').count() > 0, 'each massive activation across the inputs');
  assert.match(await card.locator('table.constancy tbody tr').first().innerText(), /^(7|42)\s/);
  await card.scrollIntoViewIfNeeded();
  await shoot(page, `scan-many-${themeName(theme)}`);
}

/** A 768-wide model, massive in channels 377 and 761: both columns found on the canvas by colour. */
async function wideFlow(page: Page, explorer: Locator, theme: string): Promise<void> {
  const view = await inspect(page, explorer, 'gpt2-wide');
  assert.match(await view.locator('.facts').innerText(), /width 768/);
  await view.locator('vscode-button#run').click();
  await view.locator('#status', { hasText: 'massive activations on' }).waitFor({ timeout: 60_000 });
  await view.locator('canvas#feature-map').waitFor({ timeout: 60_000 });
  assert.deepEqual(await massiveColumns(view, '#feature-map'), [...WIDE_CHANNELS]);
  // All of the map is on screen: nothing hidden behind a horizontal scroll.
  const { scroll, client } = await view.locator('#map-box .canvas-wrap').evaluate((w) => ({ scroll: w.scrollWidth, client: w.clientWidth }));
  assert.ok(scroll <= client + 1, `map ${scroll}px in a ${client}px box`);
  await view.locator('#map-box').scrollIntoViewIfNeeded();
  await shoot(page, `wide-${themeName(theme)}`);
}

/** An image scan, then a block click: the block's detail is computed on that image, not a test input. */
async function imageFlow(page: Page, explorer: Locator, ws: string): Promise<void> {
  const image = path.join(ws, 'vit-registers-planted', 'stripes.png');
  const png = new PNG({ width: 32, height: 32 });
  for (let i = 0; i < 32 * 32; i++) png.data.set([(i % 32) * 8, (i >> 5) * 8, (i % 7) * 36, 255], i * 4);
  writeFileSync(image, PNG.sync.write(png));
  const view = await inspect(page, explorer, 'vit-registers-planted');
  await view.locator('vscode-button#pick-image').click();
  await chooseFile(page, image);
  await view.locator('#image-name', { hasText: 'stripes.png' }).waitFor();
  await view.locator('vscode-button#run').click();
  await view.locator('#status', { hasText: 'tokens' }).waitFor({ timeout: 60_000 });
  await view.locator('#blocks button', { hasText: 'Block 1' }).click();
  await view.locator('#patch-table td').first().waitFor({ state: 'attached', timeout: 60_000 });
  const shown = (await view.locator('#patch-table tbody tr').first().locator('td').nth(1).textContent())?.trim();
  // Golden values from the engine on the image and on the synthetic input, in this process.
  const onImage = await featureMap(path.join(ws, 'vit-registers-planted', 'model.onnx'), { layer: 1, image });
  const synthetic = await featureMap(path.join(ws, 'vit-registers-planted', 'model.onnx'), { layer: 1 });
  const fmt3 = (v: number) => v.toFixed(3);
  assert.equal(shown, fmt3(onImage.patchMap!.values[0][0]));
  assert.notEqual(shown, fmt3(synthetic.patchMap!.values[0][0]), 'a value only the image produces');
}

/**
 * Back to the first model's tab: its hidden webview was discarded (no retainContextWhenHidden),
 * and the new one shows the document's last scan and experiments.
 */
async function restoredFlow(page: Page): Promise<void> {
  await page.locator('.tabs-container .tab', { hasText: 'gpt2-planted/model.onnx' }).click();
  const view = page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
  await view.locator('.facts', { hasText: 'width 64' }).waitFor({ timeout: 60_000 });
  await view.locator('article.experiment[data-type="intervene"]').waitFor();
  assert.equal(await view.locator('.chip.massive').count(), 3, 'the last scan, restored');
  assert.equal(await view.locator('body').evaluate(() => (window as unknown as { marked?: boolean }).marked ?? false), false, 'a new page, not a kept one');
}

/**
 * The theme changes while the inspector is open: its canvases are drawn again in the new colours
 * (a canvas keeps what it was drawn with, so without the redraw the map would stay dark).
 */
async function themeChangeFlow(page: Page): Promise<void> {
  const view = page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
  const map = view.locator('canvas#feature-map');
  await map.waitFor({ timeout: 60_000 });
  const corner = async () => ({
    px: await map.evaluate((c: HTMLCanvasElement) => [...c.getContext('2d')!.getImageData(1, 1, 1, 1).data.slice(0, 3)]),
    background: await cssRgb(view, '--vscode-editor-background'),
    light: await view.locator('body').evaluate((b) => b.classList.contains('vscode-light')),
  });
  const dark = await corner();
  assert.deepEqual(dark.px, dark.background);
  await runCommand(page, 'Preferences: Color Theme');
  // The theme list is long and virtualised: filter it to the one theme, then choose it.
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Dark Modern' }).first().waitFor();
  await page.locator('.quick-input-widget input').fill('Light Modern');
  await pick(page, 'Light Modern');
  await page.waitForFunction(() => document.querySelector('.monaco-workbench')?.classList.contains('vs') ?? false);
  await view.locator('body.vscode-light').waitFor({ state: 'attached' });
  // The redraw follows the class change: look once per animation frame until the map's corner has
  // the new background (a state; a few frames at most).
  let light = await corner();
  for (let frame = 0; frame < 600 && !(light.light && light.px.join() === light.background.join()); frame++) {
    await view.locator('body').evaluate(() => new Promise((resolve) => requestAnimationFrame(resolve)));
    light = await corner();
  }
  assert.ok(light.light);
  assert.deepEqual(light.px, light.background);
  assert.notDeepEqual(light.px, dark.px, 'the map was drawn again in the light theme');
  // Back to this run's theme: the flows after this one take its screenshots (compare-dark.png was light).
  await runCommand(page, 'Preferences: Color Theme');
  await page.locator('.quick-input-widget input').fill('Dark Modern');
  await pick(page, 'Dark Modern');
  await page.waitForFunction(() => document.querySelector('.monaco-workbench')?.classList.contains('vs-dark') ?? false);
}

/** Right-click a model's fp16 export → Compare With… → its fp32 sibling; read a row of the diff table. */
async function compareFlow(page: Page, explorer: Locator, name: string): Promise<void> {
  await explorer.getByRole('treeitem', { name: 'llama-variants' }).click();
  await explorer.getByRole('treeitem', { name: 'model_fp16.onnx' }).click({ button: 'right' });
  await clickMenuItem(page, 'Compare With…');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'model.onnx' }).first();
  await row.waitFor();
  await row.click();
  const view = page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
  await view.locator('#diff-table tbody tr').first().waitFor({ timeout: 60_000 });
  assert.match(await view.locator('h1').innerText(), /^Compare: model_fp16\.onnx vs llama-variants$/);
  assert.match(await view.locator('#diff-table tbody tr').first().innerText(), /^1\s+shared\s+first\s+0\s+7\s+2,0\d\d\s+2,0\d\d$/);
  await view.locator('#error-table tbody tr').first().waitFor();
  await shoot(page, `compare-${name}`);
}

const themeName = (theme: string) => (theme === 'dark-modern' ? 'dark' : theme === 'light-modern' ? 'light' : theme);

/**
 * The channels whose map columns hold pixels of the theme's massive colour (--vscode-charts-red in
 * the webview), read from the canvas and mapped back through the map's recorded geometry.
 */
async function massiveColumns(view: FrameLocator, selector: string): Promise<number[]> {
  const want = await cssRgb(view, '--vscode-charts-red');
  return view.locator(selector).evaluate((c: HTMLCanvasElement, rgb) => {
    const g = JSON.parse(c.dataset.geometry!) as { colX: number[]; colW: number[] };
    const cols = JSON.parse(c.dataset.columns!) as [number, number][];
    const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    const hit = new Set<number>();
    for (let y = 0; y < c.height; y++) for (let x = 0; x < c.width; x++) {
      const i = (y * c.width + x) * 4;
      if (Math.abs(data[i] - rgb[0]) + Math.abs(data[i + 1] - rgb[1]) + Math.abs(data[i + 2] - rgb[2]) > 6) continue;
      const col = g.colX.findIndex((x0, k) => x >= x0 && x < x0 + g.colW[k]);
      if (col >= 0) hit.add(cols[col][0]);
    }
    return [...hit].sort((a, b) => a - b);
  }, want);
}

/** Pixels of the massive colour on a canvas. */
async function countColour(view: FrameLocator, selector: string): Promise<number> {
  const want = await cssRgb(view, '--vscode-charts-red');
  return view.locator(selector).evaluate((c: HTMLCanvasElement, rgb) => {
    const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < data.length; i += 4) if (Math.abs(data[i] - rgb[0]) + Math.abs(data[i + 1] - rgb[1]) + Math.abs(data[i + 2] - rgb[2]) <= 6) n++;
    return n;
  }, want);
}

/** A theme colour of the webview (a CSS variable), as the RGB a canvas draws it with. */
async function cssRgb(view: FrameLocator, name: string): Promise<number[]> {
  return view.locator('body').evaluate((body, variable) => {
    const probe = document.createElement('canvas').getContext('2d')!;
    probe.fillStyle = getComputedStyle(body).getPropertyValue(variable).trim();
    probe.fillRect(0, 0, 1, 1);
    return [...probe.getImageData(0, 0, 1, 1).data.slice(0, 3)];
  }, name);
}

/** code-server's open dialog is a quick input that takes a path: type the file's, once it is ready. */
async function chooseFile(page: Page, file: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  // It fills in the workspace folder and lists it first; typing before that would be overwritten.
  await page.waitForFunction(() => {
    const el = document.querySelector<HTMLInputElement>('.quick-input-widget input');
    return !!el?.value.endsWith('/') && document.querySelectorAll('.quick-input-list .monaco-list-row').length > 0;
  });
  await input.fill(file);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: path.basename(file) }).first().waitFor();
  assert.equal(await input.inputValue(), file);
  await page.keyboard.press('Enter');
}

/** F1, the command's title, then its row: once the palette shows the command. */
async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(`>${title}`);
  // Click the command's own row: the first row is not always it ("Browse Color Themes in
  // Marketplace" sorts above "Color Theme").
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor();
  await row.click();
}

/** Picks an item of the open quick pick by its label. */
async function pick(page: Page, label: string): Promise<void> {
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first();
  await row.waitFor();
  await row.click();
}

/**
 * Chooses a context-menu item with the keyboard, as a keyboard user does: arrow down until the
 * item has the focus, then Enter. (A mouse click right after the menu opens is ignored by VS Code
 * on a timer; the keyboard path has no timer to race.)
 */
async function clickMenuItem(page: Page, name: string): Promise<void> {
  const item = page.getByRole('menuitem', { name });
  await item.waitFor();
  const count = await page.getByRole('menuitem').count();
  for (let i = 0; i <= count; i++) {
    if (await item.evaluate((el) => el === document.activeElement || el.contains(document.activeElement) || !!el.closest('.focused'))) break;
    await page.keyboard.press('ArrowDown');
  }
  await page.keyboard.press('Enter');
  await item.waitFor({ state: 'detached', timeout: 10_000 });
}
