import type { BlockResult, ScanResult } from '../../src/engine/model/results';
import { h } from '../dom';
import { call } from '../vscode';
import { LIVE_PAUSE_MS } from '../../src/shared/live';
import { idsProblem, parseIds } from '../../src/shared/ids';
import { persist, PRESETS, st } from './state';

let liveTimer: ReturnType<typeof setTimeout> | undefined;

/** The input box (prompt, ids or image), Run / Cancel / Compare, the live switch and the status line. */
export function controls(): HTMLElement {
  const m = st.model!;
  const box = h('section', { id: 'input', 'aria-label': 'Input' });
  if (m.takesText && m.hasTokenizer) {
    const presets = h('vscode-dropdown', { id: 'presets', 'aria-label': 'Prompt presets' }, ...PRESETS.map((p) => h('vscode-option', { value: p }, p.replace(/\n/g, '⏎').slice(0, 70))));
    // The dropdown announces its first option on connect; only a user's pick should replace the prompt.
    let presetsTouched = false;
    presets.addEventListener('click', () => { presetsTouched = true; });
    presets.addEventListener('keydown', () => { presetsTouched = true; });
    presets.addEventListener('change', () => {
      const val = (presets as unknown as { value: string }).value;
      if (!val || val === st.prompt || !presetsTouched) return;
      st.prompt = val;
      (document.getElementById('prompt') as unknown as { value: string }).value = st.prompt;
      persist();
      promptEdited();
    });
    const area = h('vscode-text-area', { id: 'prompt', rows: 3, resize: 'vertical', 'aria-label': 'Prompt' }, 'Prompt');
    (area as unknown as { value: string }).value = st.prompt;
    area.addEventListener('input', () => { st.prompt = (area as unknown as { value: string }).value; persist(); promptEdited(); });
    area.addEventListener('keydown', (e) => { if ((e as KeyboardEvent).key === 'Enter' && ((e as KeyboardEvent).ctrlKey || (e as KeyboardEvent).metaKey)) void run(); });
    const live = h('vscode-checkbox', { id: 'live', checked: st.live, title: 'Re-scan after a short pause in typing (small models; massiveActivations.liveScanMaxMB)' }, 'Live re-scan');
    live.addEventListener('change', () => { st.live = (live as unknown as { checked: boolean }).checked; });
    box.append(h('div', { class: 'row' }, h('label', { for: 'presets' }, 'Paper prompts'), presets, live), area);
  } else if (m.takesText) {
    // Most graph-first downloads have no tokenizer: the box starts with ids this model accepts, said to be samples.
    const last = st.input?.ids;
    const note = last ? 'No tokenizer.json beside this model: token ids of the last run.'
      : m.sample ? `No tokenizer.json beside this model. Sample ids: ${m.sample.source}; replace them with your input's ids.`
        : 'No tokenizer.json beside this model: enter token ids.';
    const field = h('vscode-text-field', { id: 'ids', placeholder: '1, 2, 3', 'aria-label': 'Token ids', 'aria-describedby': 'ids-note input-problem' }, 'Token ids');
    (field as unknown as { value: string }).value = (last ?? m.sample?.ids ?? []).join(', ');
    field.addEventListener('input', () => showProblem(undefined));
    field.addEventListener('keydown', (e) => { if ((e as KeyboardEvent).key === 'Enter') void run(); });
    box.append(h('p', { id: 'ids-note', class: 'muted' }, note), field);
  } else if (m.takesImage) {
    box.append(h('div', { class: 'row' },
      h('vscode-button', { id: 'pick-image', appearance: 'secondary', onclick: async () => { const f = await call('pickImage', {}); if (f) { st.image = f; renderControls(); } } }, 'Choose image…'),
      h('span', { id: 'image-name', class: 'muted' }, st.image ? st.image.split(/[\\/]/).pop()! : 'no image: a synthetic test input is used')));
  }
  box.append(h('div', { class: 'row' },
    h('vscode-button', { id: 'run', onclick: () => void run() }, 'Run'),
    h('vscode-button', { id: 'cancel', appearance: 'secondary', disabled: !st.busy, onclick: () => void call('cancel', {}) }, 'Cancel'),
    h('vscode-button', { id: 'compare', appearance: 'secondary', onclick: () => void call('compare', {}) }, 'Compare with…'),
    h('span', { id: 'status', class: 'status', role: 'status' }, st.status)),
  // A mistake in the input is shown here, beside it, not as a notification.
  h('p', { id: 'input-problem', class: 'problem', role: 'alert', hidden: true }));
  return box;
}

/** An input mistake (typed ids, a prompt the engine refused) under the input; undefined clears it. */
/** A mistake in the input, beside it; an input over the limit also offers to run its first `truncateTo` tokens. */
export function showProblem(message: string | undefined, truncateTo?: number): void {
  const p = document.getElementById('input-problem');
  if (!p) return;
  const label = truncateTo === 1 ? 'Run the first token' : `Run the first ${truncateTo?.toLocaleString('en-US')} tokens`;
  p.replaceChildren(message ?? '', truncateTo ? h('vscode-button', { id: 'run-truncated', appearance: 'secondary', onclick: () => void run({ truncate: true }) }, label) : '');
  p.hidden = !message;
}

/** Live re-scan: after a pause in typing, run again, superseding a run still going. */
function promptEdited(): void {
  if (!st.live) return;
  clearTimeout(liveTimer);
  liveTimer = setTimeout(() => void run({ live: true }), LIVE_PAUSE_MS);
}

let again: { live: boolean } | undefined;

/** The status line for a scan: what it found, or how far a cancelled one got. */
export function scanStatus(r: ScanResult): string {
  const found = (so: string) => (r.massiveTokens.length ? `massive activations${so} on ${r.massiveTokens.length} tokens in channels ${r.massiveChannels.join(', ')}` : `no massive activations${so}`);
  if (r.cancelled) return `Cancelled after ${r.cancelled.measured} of ${r.cancelled.total} blocks · ${found(' so far')}`;
  return `${r.nonFinite ? `NOT VALID: NaN/Inf from block ${r.nonFinite.firstLayer} · ` : ''}${r.tokens.length.toLocaleString('en-US')} tokens · ${found('')} · ${Math.round(r.timing.runMs)} ms`;
}

export async function run(opts: { live?: boolean; truncate?: boolean } = {}): Promise<void> {
  if (!st.model) return;
  // A run while one is going: cancel it and run once it has stopped (the newest input wins).
  if (st.busy) { again = { live: !!opts.live }; void call('cancel', {}); return; }
  const idsText = (document.getElementById('ids') as HTMLInputElement | null)?.value?.trim();
  const usesIds = st.model.takesText && (!st.model.hasTokenizer || !!idsText);
  const problem = usesIds ? idsProblem(idsText ?? '', st.model.vocabSize) : undefined;
  showProblem(problem);
  if (problem) return;
  st.busy = true;
  st.status = opts.live ? 'Re-scanning…' : 'Running…';
  renderControls();
  try {
    const args = st.model.takesText
      ? (usesIds ? { ids: parseIds(idsText ?? '') } : { prompt: st.prompt })
      : { image: st.image };
    const r = await call('run', { ...args, live: opts.live, ...(opts.truncate ? { truncate: true } : {}) });
    if (r) st.status = scanStatus(r);
    persist();
  } catch (e) {
    // The engine refused the input itself (too long, no tokens): said beside the input; the status says it did not run.
    const refused = e as Error & { inputError?: boolean; truncateTo?: number };
    if (refused.inputError) { showProblem(refused.message, refused.truncateTo); st.status = 'Not run: see the input.'; } else st.status = refused.message;
  } finally {
    st.busy = false;
    renderControls();
    const next = again;
    again = undefined;
    if (next) void run(next);
  }
}

export function renderControls(): void {
  document.getElementById('run')?.toggleAttribute('disabled', st.busy);
  document.getElementById('cancel')?.toggleAttribute('disabled', !st.busy);
  const img = document.getElementById('image-name');
  if (img && st.image) img.textContent = st.image.split(/[\\/]/).pop()!;
  renderStatus();
}

export function renderStatus(): void {
  const s = document.getElementById('status');
  if (s) s.textContent = st.status;
}

/** A scan's blocks as they arrive: where it is, and the massive activations found so far. */
const live = { first: null as number | null, tokens: new Set<number>(), channels: new Set<number>(), top: 0 };
export function liveStatus(l: BlockResult, total?: number): string {
  if (l.index === 0) { live.first = null; live.tokens.clear(); live.channels.clear(); live.top = 0; }
  for (const a of l.massive) { live.tokens.add(a.token); live.channels.add(a.channel); }
  if (l.massive.length && live.first === null) live.first = l.index;
  live.top = Math.max(live.top, Math.abs(l.top[0]?.value ?? 0));
  const found = live.first === null ? 'no massive activations yet'
    : `massive activations from block ${live.first} on ${live.tokens.size} token${live.tokens.size === 1 ? '' : 's'}, channels ${[...live.channels].sort((a, b) => a - b).slice(0, 6).join(', ')}${live.channels.size > 6 ? '…' : ''}`;
  return `Block ${l.index + 1}${total ? ` of ${total}` : ''} measured · ${found} · top |a| ${live.top.toLocaleString('en-US', { maximumFractionDigits: 1 })}`;
}

