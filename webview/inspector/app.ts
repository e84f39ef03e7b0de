import { provideVSCodeDesignSystem, vsCodeButton, vsCodeCheckbox, vsCodeDivider, vsCodeDropdown, vsCodeOption, vsCodeRadio, vsCodeRadioGroup, vsCodeTextArea, vsCodeTextField } from '@vscode/webview-ui-toolkit';
import type { ScanResult } from '../../src/engine/model/results';
import type { ModelSummary, Restore } from '../../src/shared/protocol';
import { h } from '../dom';
import { call, onHostMessage, ready, savedState } from '../vscode';
import { renderBlock } from './block';
import { renderExperiments } from './experiments';
import { controls, liveStatus, renderControls, renderStatus, run, scanStatus } from './input';
import { renderBlockButtons, renderOverview } from './overview';
import { actions, hybrid, mixerText, persist, st } from './state';
import { onThemeChange } from './theme';
import { renderTokens } from './tokens';

provideVSCodeDesignSystem().register(
  vsCodeButton(), vsCodeCheckbox(), vsCodeDropdown(), vsCodeOption(), vsCodeTextArea(), vsCodeTextField(), vsCodeRadioGroup(), vsCodeRadio(),
  vsCodeDivider(),
);

const app = document.getElementById('app')!;

onHostMessage((m) => {
  switch (m.kind) {
    case 'init': {
      st.model = m.model;
      st.error = m.error;
      const saved = m.state ?? savedState();
      st.prompt = saved?.prompt ?? m.defaultPrompt;
      st.head = saved?.head ?? 'mean';
      st.attentionMode = saved?.attentionMode ?? 'probabilities';
      st.mapView = saved?.mapView ?? '2d';
      st.layer = saved?.layer;
      st.live = !!m.live;
      restore(m.restore);
      break;
    }
    case 'scan':
      st.input = m.input;
      // A scan run from the palette: the panel shows the input that produced it, and what it found.
      if (m.external) {
        if (m.input?.prompt !== undefined) st.prompt = m.input.prompt;
        if (m.input?.image) st.image = m.input.image;
        st.status = scanStatus(m.result);
        persist();
      }
      showScan(m.result, !!m.external);
      break;
    case 'stale':
      st.stale = m.files ?? undefined;
      renderStale();
      break;
    case 'progress':
      st.status = m.layer ? liveStatus(m.layer, m.total) : m.message ?? '';
      renderStatus();
      break;
    case 'experiment':
      st.experiments.unshift({ title: m.title, experiment: m.experiment });
      renderExperiments();
      document.getElementById('experiments')?.scrollIntoView({ behavior: 'smooth' });
      break;
    case 'reveal':
      st.highlight = m.token >= 0 ? { token: m.token, channel: m.channel } : undefined;
      void selectBlock(m.layer, true);
      break;
  }
});

/** A (re)loaded webview shows what the host's document holds: the last scan, its input, the experiments. */
function restore(r: Restore | undefined): void {
  st.experiments = r?.experiments.slice().reverse() ?? [];
  st.stale = r?.stale;
  st.input = r?.input;
  if (r?.input?.image) st.image = r.input.image;
  if (r?.scan) { showScan(r.scan); return; }
  st.scan = undefined;
  render();
}

function showScan(r: ScanResult, newInput = false): void {
  st.full = r.stacks ? r : undefined;
  st.stack = 0;
  st.scan = r;
  st.layerView = undefined;
  const firstMassive = r.layers.findIndex((l) => l.massive.length);
  // The block after the first with massive activations shows them settled; the saved block wins.
  const layer = st.layer !== undefined && st.layer < r.layers.length ? st.layer : firstMassive < 0 ? 0 : Math.min(firstMassive + 1, r.layers.length - 1);
  // The input section stays as it is (a live re-scan lands while the user is typing in it), unless
  // the input came from elsewhere.
  if (document.getElementById('input') && !newInput) renderResults(); else render();
  void selectBlock(layer);
}

/** An encoder-decoder shows one stack at a time: the overview, tokens and blocks of that stack. */
function showStack(k: number): void {
  const full = st.full;
  if (!full?.stacks?.[k]) return;
  const s = full.stacks[k];
  st.stack = k;
  st.scan = k === 0 ? full : { ...full, tokens: s.tokens, layers: s.layers, attention: s.attention, massiveTokens: s.massiveTokens, massiveChannels: s.massiveChannels, tokenKinds: s.tokens.map(() => 'other') };
  st.layer = Math.min(st.layer ?? 0, s.layers.length - 1);
  st.layerView = undefined;
  renderResults();
  void selectBlock(st.layer);
}

async function selectBlock(layer: number, scroll = false): Promise<void> {
  if (!st.scan) return;
  st.layer = layer;
  persist();
  renderBlockButtons();
  renderBlock();
  renderExperiments();
  if (scroll) document.getElementById('layer')?.scrollIntoView({ behavior: 'smooth' });
  // The block detail (map, attention) is computed on the encoder; the decoder's blocks show their statistics.
  if (st.stack > 0) return;
  const scan = st.scan;
  try {
    const view = await call('layer', { layer });
    if (st.layer !== layer || st.scan !== scan) return;
    st.layerView = view;
    renderBlock();
  } catch (e) {
    st.status = (e as Error).message;
    renderStatus();
  }
}

Object.assign(actions, { selectBlock, renderBlock, run, showStack });

function render(): void {
  app.replaceChildren();
  if (!st.model) {
    app.append(h('section', { class: 'error', role: 'alert' }, h('h2', {}, 'This model cannot be inspected'), h('p', {}, st.error ?? 'Loading…')));
    return;
  }
  const m = st.model;
  app.append(
    h('header', { id: 'model' },
      h('h1', {}, m.name),
      h('p', { class: 'facts' }, `${m.family} · ${m.blocks} blocks · width ${m.hiddenSize ?? '?'}${m.heads ? ` · ${m.heads} heads` : ''} · ${m.dtype} · located by ${m.matcher}`),
      hybrid(m) ? h('p', { class: 'facts', id: 'mixers' }, `token mixers: ${mixerSummary(m)}`) : null,
      m.externalData.length ? h('p', { class: 'muted' }, `weights: ${m.externalData.map((f) => `${f.file}${f.present ? '' : ' (missing)'}`).join(', ')}`) : null,
      ...m.warnings.map((w) => h('p', { class: 'warning' }, `⚠ ${w}`))),
    h('div', { id: 'stale' }),
    controls(),
    h('section', { id: 'tokens', 'aria-label': 'Tokens' }),
    h('section', { id: 'overview', 'aria-label': 'Layer-wise overview' }),
    h('section', { id: 'layer', 'aria-label': 'Selected block' }),
    h('section', { id: 'experiments', 'aria-label': 'Experiment results' }),
  );
  renderStale();
  renderResults();
  renderControls();
}

/** Everything below the input: tokens, overview, the selected block, experiments. */
function renderResults(): void {
  renderTokens();
  renderOverview();
  renderBlock();
  renderExperiments();
}

/** The model changed on disk after these results: say so, and offer to run the same input again. */
function renderStale(): void {
  const box = document.getElementById('stale');
  if (!box) return;
  if (!st.stale) { box.replaceChildren(); return; }
  box.replaceChildren(h('div', { class: 'stale', role: 'alert' },
    h('span', {}, `⚠ ${st.stale.join(', ')} changed on disk: the results below are from the files as they were.`),
    h('vscode-button', { id: 'rerun', onclick: async () => {
      st.status = 'Re-running on the changed files…';
      renderStatus();
      try { await call('rerun', {}); } catch (e) { st.status = (e as Error).message; renderStatus(); }
    } }, 'Re-run')));
}

function mixerSummary(m: ModelSummary): string {
  const counts = new Map<string, number>();
  for (const l of m.layers) counts.set(mixerText(l), (counts.get(mixerText(l)) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k} ×${n}`).join(', ');
}

// Canvases and charts keep the colours they were drawn with: draw everything again in the new theme.
onThemeChange(() => { if (st.model) renderResults(); });

ready();
