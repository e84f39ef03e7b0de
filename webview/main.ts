import { CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, Tooltip } from 'chart.js';
import { provideVSCodeDesignSystem, vsCodeButton, vsCodeDivider, vsCodeDropdown, vsCodeOption, vsCodeRadio, vsCodeRadioGroup, vsCodeTextArea, vsCodeTextField } from '@vscode/webview-ui-toolkit';
import type { ExperimentView, LayerView, ModelSummary, PanelState } from '../src/shared/protocol';
import type { LayerResult, ScanResult } from '../src/engine/types';
import { css, fmt, h, pct } from './dom';
import { drawHeatmap } from './heatmap';
import { call, onHostMessage, ready, saveState, savedState } from './vscode';

provideVSCodeDesignSystem().register(vsCodeButton(), vsCodeDropdown(), vsCodeOption(), vsCodeTextArea(), vsCodeTextField(), vsCodeRadioGroup(), vsCodeRadio(), vsCodeDivider());
Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, CategoryScale, Tooltip, Legend);

/** The paper's prompts, as presets. */
const PRESETS = [
  'Summer is warm. Winter is cold.',
  'The following are multiple choice questions (with answers) about machine learning.\n\n',
  'Once upon a time there lived a king who had three daughters.',
  'Massive activations act as fixed but important biases in large language models.',
];

interface AppState {
  model: ModelSummary | null;
  error?: string;
  /** The stack shown: the whole scan, or one stack of an encoder-decoder (see showStack). */
  scan?: ScanResult;
  /** An encoder-decoder's full scan and the stack shown (0: encoder, 1: decoder). */
  full?: ScanResult;
  stack: number;
  layer?: number;
  layerView?: LayerView;
  head: number | 'mean';
  attentionMode: 'probabilities' | 'logits';
  prompt: string;
  image?: string;
  busy: boolean;
  status: string;
  sort: { key: 'rank' | 'token' | 'channel' | 'value' | 'times'; desc: boolean };
  highlight?: { token: number; channel: number };
  experiments: { title: string; experiment: ExperimentView }[];
}

const app = document.getElementById('app')!;
const st: AppState = { model: null, stack: 0, head: 'mean', attentionMode: 'probabilities', prompt: PRESETS[0], busy: false, status: '', sort: { key: 'rank', desc: false }, experiments: [] };
let overview: Chart | undefined;

function persist(): void {
  if (!st.model) return;
  const s: PanelState = { file: st.model.file, prompt: st.prompt, layer: st.layer, head: st.head, attentionMode: st.attentionMode };
  saveState(s);
}

onHostMessage((m) => {
  switch (m.kind) {
    case 'init': {
      st.model = m.model;
      st.error = m.error;
      const saved = m.state ?? savedState();
      st.prompt = saved?.prompt ?? m.defaultPrompt;
      st.head = saved?.head ?? 'mean';
      st.attentionMode = saved?.attentionMode ?? 'probabilities';
      st.layer = saved?.layer;
      render();
      break;
    }
    case 'scan':
      showScan(m.result);
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
      void selectLayer(m.layer, true);
      break;
  }
});

function showScan(r: ScanResult): void {
  st.full = r.stacks ? r : undefined;
  st.stack = 0;
  st.scan = r;
  const layer = st.layer !== undefined && st.layer < r.layers.length ? st.layer : r.layers.findIndex((l) => l.massive.length) >= 0 ? r.layers.findIndex((l) => l.massive.length) + 1 < r.layers.length ? r.layers.findIndex((l) => l.massive.length) + 1 : r.layers.findIndex((l) => l.massive.length) : 0;
  render();
  void selectLayer(layer);
}

async function run(): Promise<void> {
  if (!st.model || st.busy) return;
  st.busy = true;
  st.status = 'Running…';
  renderControls();
  try {
    const idsText = (document.getElementById('ids') as HTMLInputElement | null)?.value?.trim();
    const args = st.model.takesText
      ? (st.model.hasTokenizer && !idsText ? { prompt: st.prompt } : { ids: (idsText ?? '').split(/[\s,]+/).filter(Boolean).map(Number) })
      : { image: st.image };
    const r = await call('run', args);
    st.status = `${r.nonFinite ? `NOT VALID: NaN/Inf from block ${r.nonFinite.firstLayer} · ` : ''}${r.tokens.length} tokens · ${r.massiveTokens.length ? `massive activations on ${r.massiveTokens.length} tokens in channels ${r.massiveChannels.join(', ')}` : 'no massive activations'} · ${Math.round(r.timing.runMs)} ms`;
    persist();
  } catch (e) {
    st.status = (e as Error).message;
  } finally {
    st.busy = false;
    renderControls();
  }
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
  render();
  void selectLayer(st.layer);
}

async function selectLayer(layer: number, scroll = false): Promise<void> {
  if (!st.scan) return;
  st.layer = layer;
  persist();
  renderBlockButtons();
  renderLayer();
  if (scroll) document.getElementById('layer')?.scrollIntoView({ behavior: 'smooth' });
  // The block detail (map, attention) is computed on the encoder; the decoder's blocks show their statistics.
  if (st.stack > 0) return;
  try {
    const view = await call('layer', { layer });
    if (st.layer !== layer) return;
    st.layerView = view;
    renderLayer();
  } catch (e) {
    st.status = (e as Error).message;
    renderStatus();
  }
}

// ── rendering ────────────────────────────────────────────────────────────────────────────────

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
    controls(),
    h('div', { id: 'tokens', class: 'tokens', 'aria-label': 'Tokens' }),
    h('section', { id: 'overview', 'aria-label': 'Layer-wise overview' }),
    h('section', { id: 'layer', 'aria-label': 'Selected block' }),
    h('section', { id: 'experiments', 'aria-label': 'Experiment results' }),
  );
  renderTokens();
  renderOverview();
  renderLayer();
  renderExperiments();
}

function controls(): HTMLElement {
  const m = st.model!;
  const box = h('section', { id: 'input', 'aria-label': 'Input' });
  if (m.takesText && m.hasTokenizer) {
    const presets = h('vscode-dropdown', { id: 'presets', 'aria-label': 'Prompt presets' }, ...PRESETS.map((p) => h('vscode-option', { value: p }, p.replace(/\n/g, '⏎').slice(0, 70))));
    presets.addEventListener('change', () => {
      const val = (presets as unknown as { value: string }).value;
      if (!val || val === st.prompt || !presetsTouched) return;
      st.prompt = val;
      (document.getElementById('prompt') as unknown as { value: string }).value = st.prompt;
      persist();
    });
    // The dropdown announces its first option on connect; only a user's pick should replace the prompt.
    let presetsTouched = false;
    presets.addEventListener('click', () => { presetsTouched = true; });
    presets.addEventListener('keydown', () => { presetsTouched = true; });
    const area = h('vscode-text-area', { id: 'prompt', rows: 3, resize: 'vertical', 'aria-label': 'Prompt' }, 'Prompt');
    (area as unknown as { value: string }).value = st.prompt;
    area.addEventListener('input', () => { st.prompt = (area as unknown as { value: string }).value; persist(); });
    area.addEventListener('keydown', (e) => { if ((e as KeyboardEvent).key === 'Enter' && ((e as KeyboardEvent).ctrlKey || (e as KeyboardEvent).metaKey)) void run(); });
    box.append(h('div', { class: 'row' }, h('label', { for: 'presets' }, 'Paper prompts'), presets), area);
  } else if (m.takesText) {
    box.append(h('p', { class: 'muted' }, 'No tokenizer.json beside this model: enter token ids.'), h('vscode-text-field', { id: 'ids', placeholder: '1, 2, 3', 'aria-label': 'Token ids' }, 'Token ids'));
  } else if (m.takesImage) {
    box.append(h('div', { class: 'row' },
      h('vscode-button', { id: 'pick-image', appearance: 'secondary', onclick: async () => { const f = await call('pickImage', {}); if (f) { st.image = f; renderControls(); } } }, 'Choose image…'),
      h('span', { id: 'image-name', class: 'muted' }, st.image ? st.image.split(/[\\/]/).pop()! : 'no image: a synthetic test input is used')));
  }
  box.append(h('div', { class: 'row' },
    h('vscode-button', { id: 'run', onclick: () => void run() }, 'Run'),
    h('vscode-button', { id: 'cancel', appearance: 'secondary', disabled: !st.busy, onclick: () => void call('cancel', {}) }, 'Cancel'),
    h('vscode-button', { id: 'compare', appearance: 'secondary', onclick: () => void call('compare', {}) }, 'Compare with…'),
    h('span', { id: 'status', class: 'status', role: 'status' }, st.status)));
  return box;
}

function renderControls(): void {
  const runB = document.getElementById('run');
  const cancelB = document.getElementById('cancel');
  if (runB) runB.toggleAttribute('disabled', st.busy);
  if (cancelB) cancelB.toggleAttribute('disabled', !st.busy);
  const img = document.getElementById('image-name');
  if (img && st.image) img.textContent = st.image.split(/[\\/]/).pop()!;
  renderStatus();
}

/** A scan's blocks as they arrive: where it is, and the massive activations found so far. */
const live = { first: null as number | null, tokens: new Set<number>(), channels: new Set<number>(), top: 0 };
function liveStatus(l: LayerResult, total?: number): string {
  if (l.index === 0) { live.first = null; live.tokens.clear(); live.channels.clear(); live.top = 0; }
  for (const a of l.massive) { live.tokens.add(a.token); live.channels.add(a.channel); }
  if (l.massive.length && live.first === null) live.first = l.index;
  live.top = Math.max(live.top, Math.abs(l.top[0]?.value ?? 0));
  const found = live.first === null ? 'no massive activations yet'
    : `massive activations from block ${live.first} on ${live.tokens.size} token${live.tokens.size === 1 ? '' : 's'}, channels ${[...live.channels].sort((a, b) => a - b).slice(0, 6).join(', ')}${live.channels.size > 6 ? '…' : ''}`;
  return `Block ${l.index + 1}${total ? ` of ${total}` : ''} measured · ${found} · top |a| ${live.top.toLocaleString('en-US', { maximumFractionDigits: 1 })}`;
}

function renderStatus(): void {
  const s = document.getElementById('status');
  if (s) s.textContent = st.status;
}

function renderTokens(): void {
  const box = document.getElementById('tokens');
  if (!box || !st.scan) return;
  const r = st.scan;
  const shown = r.tokens.slice(0, 400);
  box.replaceChildren(...shown.map((t): Node => h('span', {
    class: `chip${r.massiveTokens.includes(t.index) ? ' massive' : ''}`,
    title: `token ${t.index}${t.id !== null ? ` · id ${t.id}` : ''} · ${r.tokenKinds[t.index]}`,
  }, h('small', {}, String(t.index)), ' ', t.text.replace(/\n/g, '⏎') || '␣')), ...(r.tokens.length > shown.length ? [h('span', { class: 'muted' }, `… ${r.tokens.length - shown.length} more`)] : []));
}

function renderOverview(): void {
  const box = document.getElementById('overview');
  if (!box) return;
  overview?.destroy();
  overview = undefined;
  if (!st.scan) { box.replaceChildren(h('p', { class: 'muted' }, 'Run the model to see the layer-wise overview.')); return; }
  const r = st.scan;
  const canvas = h('canvas', { id: 'overview-chart', role: 'img', 'aria-label': 'Top-1, top-2, top-3 and median magnitude per block, log scale' });
  box.replaceChildren(
    h('div', { class: 'section-head' }, h('h2', {}, 'Layer-wise overview'),
      st.full ? h('div', { class: 'row', role: 'group', 'aria-label': 'Stack' }, ...st.full.stacks!.map((s, k) => h('vscode-button', { id: `stack-${s.name}`, appearance: k === st.stack ? 'primary' : 'secondary', 'aria-pressed': k === st.stack ? 'true' : 'false', onclick: () => showStack(k) }, `${s.name} (${s.layers.length} blocks)`))) : null,
      h('vscode-button', { appearance: 'icon', title: 'Save as PNG', 'aria-label': 'Save overview as PNG', onclick: () => void savePng('overview', canvas) }, '⤓')),
    ...(r.warnings ?? []).map((w) => h('p', { class: 'warning', role: 'alert' }, `⚠ ${w}`)),
    h('div', { class: 'chart' }, canvas),
    h('div', { id: 'blocks', class: 'blocks', role: 'toolbar', 'aria-label': 'Blocks' }));
  const fg = css('--vscode-editor-foreground', '#ccc');
  const grid = css('--vscode-editorWidget-border', '#444');
  const colors = [css('--vscode-charts-red', '#f14c4c'), css('--vscode-charts-orange', '#d18616'), css('--vscode-charts-yellow', '#cca700'), css('--vscode-charts-blue', '#3794ff')];
  const series = [0, 1, 2].map((k) => r.layers.map((l) => Math.max(1e-6, Math.abs(l.top[k]?.value ?? 0))));
  overview = new Chart(canvas, {
    type: 'line',
    data: {
      labels: r.layers.map((l) => String(l.index)),
      datasets: [
        ...series.map((data, k) => ({ label: `top-${k + 1}`, data, borderColor: colors[k], backgroundColor: colors[k], pointRadius: r.layers.map((l) => (l.massive.length ? 6 : 3)), pointStyle: r.layers.map((l) => (l.massive.length ? 'triangle' : 'circle')) })),
        { label: 'median', data: r.layers.map((l) => Math.max(1e-6, l.median)), borderColor: colors[3], backgroundColor: colors[3], borderDash: [4, 3], pointRadius: 2 },
      ],
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      onClick: (_e, _els, chart) => {
        const x = (_e.x ?? 0);
        const scale = chart.scales.x;
        const idx = Math.round(scale.getValueForPixel(x) ?? 0);
        if (idx >= 0 && idx < r.layers.length) void selectLayer(idx);
      },
      scales: {
        x: { title: { display: true, text: 'block', color: fg }, ticks: { color: fg }, grid: { color: grid } },
        y: { type: 'logarithmic', title: { display: true, text: '|activation|', color: fg }, ticks: { color: fg }, grid: { color: grid } },
      },
      plugins: { legend: { labels: { color: fg } }, tooltip: { callbacks: { afterBody: (items) => { const l = r.layers[items[0].dataIndex]; return l.massive.length ? `${l.massive.length} massive (×${fmt(l.ratio)} the median)` : ''; } } } },
    },
  });
  renderBlockButtons();
}

function renderBlockButtons(): void {
  const box = document.getElementById('blocks');
  if (!box || !st.scan) return;
  box.replaceChildren(...st.scan.layers.map((l) => h('button', {
    class: `block${l.massive.length ? ' massive' : ''}${st.layer === l.index ? ' selected' : ''}`,
    'aria-pressed': st.layer === l.index ? 'true' : 'false',
    title: `Block ${l.index} (${mixerText(l)}): top ${fmt(l.top[0]?.value)} · median ${fmt(l.median)}${l.massive.length ? ` · ${l.massive.length} massive` : ''}`,
    onclick: () => void selectLayer(l.index),
  }, `Block ${l.index}`, hybrid(st.model) ? h('span', { class: 'mixer' }, ` · ${MIXER_SHORT[l.mixer] ?? l.mixer}${l.mlp === 'moe' ? '+moe' : ''}`) : null)));
}

const MIXER_SHORT: Record<string, string> = { attention: 'attn', 'linear-attention': 'linear', 'state-space': 'ssm', recurrent: 'rnn', convolution: 'conv' };
const mixerText = (l: { mixer: string; mlp: string }) => `${l.mixer}${l.mlp === 'moe' ? ', mixture of experts' : ''}`;
/** Hybrid models (and MoE) show each block's kind; plain transformers do not need the noise. */
const hybrid = (m: ModelSummary | null) => !!m?.layers?.some((l) => l.mixer !== 'attention' || l.mlp === 'moe');

function mixerSummary(m: ModelSummary): string {
  const counts = new Map<string, number>();
  for (const l of m.layers) counts.set(mixerText(l), (counts.get(mixerText(l)) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k} ×${n}`).join(', ');
}

function renderLayer(): void {
  const box = document.getElementById('layer');
  if (!box) return;
  if (!st.scan || st.layer === undefined) { box.replaceChildren(); return; }
  const r = st.scan;
  const l = r.layers[st.layer];
  const v = st.layerView?.layer === st.layer ? st.layerView : undefined;
  const mapCanvas = h('canvas', { id: 'feature-map', role: 'img', 'aria-label': `Token by channel magnitude map of block ${l.index}` });
  const attCanvas = h('canvas', { id: 'attention-map', role: 'img', 'aria-label': `Attention of block ${l.index}` });
  box.replaceChildren(
    h('div', { class: 'section-head' }, h('h2', {}, `Block ${l.index}`), h('span', { class: 'muted' }, `${hybrid(st.model) ? `${mixerText(l)} · ` : ''}median |a| ${fmt(l.median)} · top-1 ×${fmt(l.ratio)} · ${l.massive.length ? `${l.massive.length} massive activations` : 'no massive activations'}`)),
    h('div', { class: 'columns' },
      h('div', { class: 'column' },
        h('div', { class: 'section-head' }, h('h3', {}, 'Token × channel |activation|'), h('vscode-button', { appearance: 'icon', title: 'Save as PNG', 'aria-label': 'Save magnitude map as PNG', onclick: () => void savePng(`block-${l.index}-map`, mapCanvas) }, '⤓')),
        v ? h('div', { class: 'canvas-wrap' }, mapCanvas) : h('p', { class: 'muted', id: 'map-note' }, st.stack > 0 ? 'The magnitude map and attention view are computed for the encoder stack; the decoder blocks show their statistics here.' : 'Loading the map…'),
        v ? h('p', { class: 'muted' }, `massive channels: ${v.featureMap.massiveChannels.join(', ') || 'none'} · ${v.featureMap.columns.length} columns${v.featureMap.columns.length < (st.model?.hiddenSize ?? 0) ? ' (others max-pooled)' : ''}`) : null,
        v?.featureMap.patchMap ? h('div', {}, h('h3', {}, 'Patch grid (max |activation| per patch)'), h('div', { class: 'canvas-wrap' }, h('canvas', { id: 'patch-map', role: 'img', 'aria-label': 'Maximum magnitude per image patch' }))) : null,
        topTable()),
      h('div', { class: 'column' }, attentionPanel(attCanvas, v))),
  );
  if (v) {
    const fm = v.featureMap;
    const hl = st.highlight && fm.columns.findIndex((c) => c.from <= st.highlight!.channel && st.highlight!.channel <= c.to);
    drawHeatmap(mapCanvas, {
      rows: fm.values.length, cols: fm.columns.length, value: (row, c) => fm.values[row][c], scale: 'log', max: fm.maxAbs,
      rowLabels: fm.tokens.map((t) => `${t.index} ${t.text}`), colLabels: fm.columns.map((c) => (c.massive ? `ch${c.from}` : null)),
      markedCols: fm.columns.map((c, i) => (c.massive ? i : -1)).filter((i) => i >= 0),
      highlight: st.highlight && hl !== undefined && hl >= 0 ? { row: st.highlight.token, col: hl } : undefined,
    });
    drawAttention(attCanvas, v);
    const pm = fm.patchMap;
    const pc = document.getElementById('patch-map') as HTMLCanvasElement | null;
    if (pm && pc) drawHeatmap(pc, { rows: pm.rows, cols: pm.cols, value: (r, c) => pm.values[r][c], scale: 'log', max: Math.max(...pm.values.flat()) });
  }
}

function topTable(): HTMLElement {
  const r = st.scan!;
  const l = r.layers[st.layer!];
  const rows = l.top.map((a, i) => ({ rank: i + 1, token: a.token, text: r.tokens[a.token]?.text ?? '', channel: a.channel, value: a.value, times: Math.abs(a.value) / l.median, massive: l.massive.some((m) => m.token === a.token && m.channel === a.channel) }));
  const k = st.sort.key;
  rows.sort((p, q) => {
    const x = k === 'value' ? Math.abs(p.value) - Math.abs(q.value) : (p[k] as number) - (q[k] as number);
    return st.sort.desc ? -x : x;
  });
  const head = (key: AppState['sort']['key'], label: string) => h('th', { scope: 'col', 'aria-sort': st.sort.key === key ? (st.sort.desc ? 'descending' : 'ascending') : 'none' },
    h('button', { class: 'sort', onclick: () => { st.sort = { key, desc: st.sort.key === key ? !st.sort.desc : key === 'value' || key === 'times' }; renderLayer(); } }, label, st.sort.key === key ? (st.sort.desc ? ' ▾' : ' ▴') : ''));
  return h('table', { id: 'top-table', class: 'data' },
    h('caption', {}, 'Top activations'),
    h('thead', {}, h('tr', {}, head('rank', '#'), head('token', 'token'), h('th', { scope: 'col' }, 'position'), head('channel', 'channel'), head('value', 'value'), head('times', '× median'))),
    h('tbody', {}, ...rows.map((x) => h('tr', { class: `${x.massive ? 'massive' : ''}${st.highlight && st.highlight.token === x.token && st.highlight.channel === x.channel ? ' highlight' : ''}` },
      h('td', {}, x.rank), h('td', {}, JSON.stringify(x.text)), h('td', {}, x.token), h('td', {}, x.channel), h('td', { class: 'num' }, fmt(x.value)), h('td', { class: 'num' }, fmt(x.times))))));
}

function attentionPanel(canvas: HTMLCanvasElement, v?: LayerView): HTMLElement {
  const box = h('div', { id: 'attention' }, h('div', { class: 'section-head' }, h('h3', {}, 'Attention'),
    h('vscode-button', { appearance: 'icon', title: 'Save as PNG', 'aria-label': 'Save attention map as PNG', onclick: () => void savePng(`block-${st.layer}-attention`, canvas) }, '⤓')));
  if (!v) {
    const a = st.stack > 0 ? st.scan?.attention[st.layer ?? 0] : undefined;
    box.append(h('p', { class: 'muted' }, a ? `share on the decoder's massive tokens ${pct(a.massiveTokenShare)} · cross-attention share on the encoder's massive tokens ${pct(a.crossShare ?? null)}` : 'Loading attention…'));
    return box;
  }
  const a = v.attention;
  if (!a.heads.length) { box.append(h('p', { class: 'muted', id: 'attention-note' }, a.note ? `No attention to show: ${a.note}.` : 'This graph does not expose attention probabilities (fused attention).')); return box; }
  const heads = h('vscode-dropdown', { id: 'head', 'aria-label': 'Head' }, h('vscode-option', { value: 'mean' }, 'Average of heads'), ...a.heads.map((x) => h('vscode-option', { value: String(x.head) }, `Head ${x.head}${x.isSink ? ' (sink)' : ''}`)));
  (heads as unknown as { value: string }).value = String(st.head);
  // Toolkit controls fire 'change' when they connect with a preset value: only react to real changes.
  heads.addEventListener('change', () => {
    const val = (heads as unknown as { value: string }).value;
    if (!val || val === String(st.head)) return;
    st.head = val === 'mean' ? 'mean' : Number(val);
    persist();
    renderLayer();
  });
  const mode = h('vscode-radio-group', { id: 'attention-mode', orientation: 'horizontal' },
    h('label', { slot: 'label' }, 'Show'),
    h('vscode-radio', { value: 'probabilities', checked: st.attentionMode === 'probabilities' }, 'probabilities'),
    h('vscode-radio', { value: 'logits', checked: st.attentionMode === 'logits', disabled: !a.logits }, 'logits'));
  mode.addEventListener('change', () => {
    const val = (mode as unknown as { value: 'probabilities' | 'logits' }).value;
    if (!val || val === st.attentionMode) return;
    st.attentionMode = val;
    persist();
    renderLayer();
  });
  const head = st.head === 'mean' ? undefined : a.heads[st.head];
  box.append(h('div', { class: 'row' }, heads, mode),
    h('p', { id: 'attention-share' }, a.massiveTokens.length
      ? `${head ? `Head ${head.head}` : 'All heads'}: ${pct(head ? head.massiveShare : a.massiveTokenShare)} of attention lands on the massive-activation tokens ${a.massiveTokens.join(', ')}${head ? ` · sink score ${head.sinkScore.toFixed(2)}` : ''}`
      : 'No massive-activation tokens on this input.'),
    h('div', { class: 'canvas-wrap' }, canvas),
    h('p', { class: 'muted' }, `sink heads (≥ 0.3 of attention on the first token): ${a.heads.filter((x) => x.isSink).map((x) => x.head).join(', ') || 'none'}`));
  return box;
}

function drawAttention(canvas: HTMLCanvasElement, v: LayerView): void {
  const a = v.attention;
  if (!a.heads.length) return;
  const perHead = st.head !== 'mean' ? a.perHead?.[st.head] : undefined;
  const logits = st.attentionMode === 'logits';
  const m = logits ? (perHead ? perHead.logits : a.logits) : perHead ? perHead.probabilities : a.probabilities;
  if (!m) return;
  let min = Infinity, max = -Infinity;
  for (const row of m) for (const x of row) if (x !== null) { min = Math.min(min, x); max = Math.max(max, x); }
  const T = m.length;
  drawHeatmap(canvas, {
    rows: T, cols: m[0]?.length ?? 0, value: (r, c) => m[r][c], scale: 'linear', min: logits ? min : 0, max: logits ? max : Math.max(1e-6, max),
    rowLabels: T <= 48 ? a.tokens.slice(0, T).map((t) => `${t.index} ${t.text}`) : undefined,
    markedCols: a.massiveTokens.filter((t) => t < T),
  });
}

function renderExperiments(): void {
  const box = document.getElementById('experiments');
  if (!box) return;
  if (!st.experiments.length) { box.replaceChildren(); return; }
  box.replaceChildren(
    h('div', { class: 'section-head' }, h('h2', {}, 'Experiments'),
      h('vscode-button', { appearance: 'secondary', onclick: () => void call('export', { what: 'experiment', format: 'json' }) }, 'Export JSON'),
      h('vscode-button', { appearance: 'secondary', onclick: () => void call('export', { what: 'experiment', format: 'csv' }) }, 'Export CSV')),
    ...st.experiments.map((e) => h('article', { class: 'experiment' }, h('h3', {}, e.title), experimentBody(e.experiment))));
}

function table(head: string[], rows: (string | number)[][]): HTMLElement {
  return h('table', { class: 'data' }, h('thead', {}, h('tr', {}, ...head.map((x) => h('th', { scope: 'col' }, x)))), h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c))))));
}

function experimentBody(e: ExperimentView): HTMLElement {
  switch (e.type) {
    case 'scanMany': {
      const r = e.result;
      return h('div', {},
        ...(r.warnings ?? []).map((w) => h('p', { class: 'warning' }, `⚠ ${w}`)),
        h('p', {}, `${r.inputs} inputs (${r.inputKind}); tokens carrying massive activations: ${r.locations.map((l) => `${l.kind} ${pct(l.share)}`).join(', ') || 'none'}`),
        table(['block', 'top-1', 'top-2', 'top-3', 'median', 'inputs with massive'], r.layers.map((l) => [l.index, `${fmt(l.top[0].mean)} ± ${fmt(l.top[0].std)}`, `${fmt(l.top[1].mean)} ± ${fmt(l.top[1].std)}`, `${fmt(l.top[2].mean)} ± ${fmt(l.top[2].std)}`, `${fmt(l.median.mean)} ± ${fmt(l.median.std)}`, `${l.massiveInputs}/${r.inputs}`])),
        r.constancy.length ? table(['channel', 'token kind', 'block', 'value (mean ± std)', 'seen in'], r.constancy.map((c) => [c.channel, c.kind, c.layer, `${fmt(c.mean)} ± ${fmt(c.std)}`, `${c.count}/${c.inputs}`])) : h('p', { class: 'muted' }, 'No massive activations in any input.'));
    }
    case 'intervene': {
      const r = e.result;
      return h('div', {},
        r.note ? h('p', { class: r.nonFinite ? 'warning' : 'muted' }, r.note) : null,
        h('p', {}, `KL(original ‖ intervened) mean ${r.klMean === null ? '—' : r.klMean.toExponential(3)} nats · top-1 agreement ${pct(r.top1Agreement)}${r.perplexity ? ` · perplexity ${fmt(r.perplexity.before)} → ${r.perplexity.after === null ? 'undefined (NaN)' : fmt(r.perplexity.after)} (${r.perplexity.tokens} tokens, ${r.perplexity.source})` : ''}`),
        r.changed.length ? table(['token', 'channel', 'from', 'to'], r.changed.map((c) => [c.token, c.channel, fmt(c.from), fmt(c.to)])) : null);
    }
    case 'attention': {
      const r = e.result;
      return h('div', {}, h('p', {}, `share on massive-activation tokens: ${pct(r.massiveTokenShare)} · by block ${r.shareByLayer.map((s) => pct(s.share)).join(' ')}`),
        table(['head', 'sink score', 'sink head', 'share on massive tokens'], r.heads.map((x) => [x.head, x.sinkScore.toFixed(3), x.isSink ? 'yes' : 'no', pct(x.massiveShare)])));
    }
    case 'implicitBias': {
      const r = e.result;
      return h('p', {}, `Part of the attention output from tokens ${r.massiveTokens.join(', ')}: cosine similarity across ${r.queries} queries ${r.sinkPartCosine.toFixed(4)} (rest ${r.restPartCosine.toFixed(4)}), ${pct(r.sinkNormShare)} of the output norm${r.afterOutputProjection ? ', after the output projection' : ''}.`);
    }
    case 'fixRegMean': {
      const r = e.result;
      return h('div', {}, h('p', {}, `${r.registers} registers, ${r.images} ${r.inputKind}`),
        table(['registers at every block', 'output change (rel. L2)', 'cosine', 'top-1 agreement'], ([['set to their mean (Fix-Reg-Mean)', r.fixRegMean], ['set to zero', r.zeroRegisters]] as const)
          .map(([name, c]) => (c ? [name, c.relativeL2.toExponential(2), c.cosine.toFixed(5), pct(c.top1Agreement)] : [name, 'NaN/Inf', '—', '—']))),
        ...(r.notes ?? []).map((n) => h('p', { class: 'warning' }, `⚠ ${n}`)));
    }
  }
}

async function savePng(name: string, canvas: HTMLCanvasElement): Promise<void> {
  await call('export', { what: 'png', name, dataUrl: canvas.toDataURL('image/png') });
}

ready();
