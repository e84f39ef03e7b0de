import type { BlockView } from '../../src/shared/protocol';
import { fmt, h, pct } from '../dom';
import { drawHeatmap } from '../heatmap';
import { legend, readout } from '../readout';
import { sinkHeadsText } from '../../src/shared/reasons';
import { dataTable } from './charts';
import { savePng } from './save';
import { actions, persist, st } from './state';

/** The selected block's attention (the paper's exp4): per head or averaged, probabilities or logits. */
export function attentionPanel(v?: BlockView): HTMLElement {
  const box = h('div', { id: 'attention' }, h('div', { class: 'section-head' }, h('h3', {}, 'Attention'),
    h('vscode-button', { appearance: 'icon', title: 'Save as PNG', 'aria-label': 'Save attention map as PNG', onclick: () => savePng(`block-${st.layer}-attention`, 'attention-map') }, '⤓')));
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
    actions.renderBlock();
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
    actions.renderBlock();
  });
  const head = st.head === 'mean' ? undefined : a.heads[st.head];
  const binned = a.bins.length < a.tokens.length;
  box.append(h('div', { class: 'row' }, heads, mode),
    h('p', { id: 'attention-share' }, a.massiveTokens.length
      ? `${head ? `Head ${head.head}` : 'All heads'}: ${pct(head ? head.massiveShare : a.massiveTokenShare)} of attention lands on the massive-activation tokens ${a.massiveTokens.slice(0, 12).join(', ')}${a.massiveTokens.length > 12 ? '…' : ''}${head ? ` · sink score ${head.sinkScore.toFixed(2)}` : ''}`
      : 'No massive-activation tokens on this input.'),
    h('div', { class: 'canvas-wrap' }, h('canvas', { id: 'attention-map', role: 'img', 'aria-label': `Attention ${st.attentionMode} of block ${a.layer}${head ? `, head ${head.head}` : ', averaged over heads'}${binned ? `, ${a.tokens.length} tokens in ${a.bins.length} bins` : ''}` })),
    h('p', { class: 'muted', id: 'attention-bins' }, binned
      ? `${a.tokens.length} tokens in ${a.bins.length} rows and columns: a column is the attention its keys get together, a row the mean of its queries; the massive tokens keep their own (ticked).`
      : `query × key, ${a.tokens.length} tokens; massive tokens ticked above their columns.`),
    h('p', { class: 'muted', id: 'sink-heads' }, `sink heads (≥ 0.3 of attention on the first token): ${sinkHeadsText(a)}`),
    dataTable('Heads', ['head', 'sink score', 'sink head', 'share on massive tokens'], a.heads.map((x) => [x.head, x.sinkScore.toFixed(3), x.isSink ? 'yes' : 'no', pct(x.massiveShare)]), 'heads-table'));
  return box;
}

export function drawAttention(v: BlockView): void {
  const canvas = document.getElementById('attention-map') as HTMLCanvasElement | null;
  const a = v.attention;
  if (!canvas || !a.heads.length) return;
  const perHead = st.head !== 'mean' ? a.perHead?.[st.head] : undefined;
  const logits = st.attentionMode === 'logits';
  const m = logits ? (perHead ? perHead.logits : a.logits) : perHead ? perHead.probabilities : a.probabilities;
  if (!m) return;
  let min = Infinity, max = -Infinity;
  for (const row of m) for (const x of row) if (x !== null) { min = Math.min(min, x); max = Math.max(max, x); }
  const kept = a.bins.map((b, i) => (b.kept ? i : -1)).filter((i) => i >= 0);
  const lo = logits ? min : 0;
  const hi = logits ? max : Math.max(1e-6, max);
  const g = drawHeatmap(canvas, {
    rows: m.length, cols: m[0]?.length ?? 0, value: (r, c) => m[r][c], scale: 'linear', min: lo, max: hi,
    rowLabels: m.length <= 48 ? a.bins.slice(0, m.length).map((b) => (b.from === b.to ? `${b.from} ${a.tokens[b.from]?.text ?? ''}` : `${b.from}–${b.to}`)) : undefined,
    markedCols: kept, markedRows: kept, maxWidth: 520,
  });
  const wrap = canvas.parentElement!;
  wrap.parentElement?.querySelectorAll('#attention-map-readout, #attention-legend').forEach((e) => e.remove());
  const tokens = (i: number) => {
    const b = a.bins[i];
    return b.from === b.to ? `${b.from} ${JSON.stringify(a.tokens[b.from]?.text ?? '')}` : `${b.from}–${b.to}`;
  };
  const who = st.head === 'mean' ? 'mean of the heads' : `head ${st.head}`;
  wrap.insertAdjacentElement('afterend', readout(canvas, g, {
    rows: m.length, cols: m[0]?.length ?? 0,
    hint: 'Hover the map, or focus it and use the arrow keys, to read a query\'s attention to a key.',
    describe: (r, c) => {
      const v = m[r][c];
      return `Block ${a.layer} · query ${tokens(r)} → key ${tokens(c)} · ${v === null ? 'masked (a later key)' : `${logits ? 'logit' : 'probability'} ${fmt(v)}`} (${who})`;
    },
  }));
  wrap.nextElementSibling!.insertAdjacentElement('afterend', legend({ id: 'attention-legend', title: logits ? 'attention logit' : 'attention probability', scale: 'linear', min: lo, max: hi }));
}
