import { fmt, h, pct } from '../dom';
import { axes, chart, dataTable, shareByBlockChart } from './charts';
import { actions, hybrid, MIXER_SHORT, mixerText, st } from './state';
import { savePng } from './save';
import { roving } from '../keys';

/** The paper's layer-wise view: top-1/2/3 and median |activation| per block, and each block's button. */
export function renderOverview(): void {
  const box = document.getElementById('overview');
  if (!box) return;
  if (!st.scan) { box.replaceChildren(h('p', { class: 'muted' }, 'Run the model to see the layer-wise overview.')); return; }
  const r = st.scan;
  const { p, axis, legend } = axes();
  const series = [0, 1, 2].map((k) => r.layers.map((l) => Math.max(1e-6, Math.abs(l.top[k]?.value ?? 0))));
  const main = chart('overview-chart', 'Top-1, top-2, top-3 and median magnitude per block, log scale', {
    type: 'line',
    data: {
      labels: r.layers.map((l) => String(l.index)),
      datasets: [
        ...series.map((data, k) => ({ label: `top-${k + 1}`, data, borderColor: p.series[k], backgroundColor: p.series[k], pointRadius: r.layers.map((l) => (l.massive.length ? 6 : 3)), pointStyle: r.layers.map((l) => (l.massive.length ? 'triangle' : 'circle')) })),
        { label: 'median', data: r.layers.map((l) => Math.max(1e-6, l.median)), borderColor: p.series[3], backgroundColor: p.series[3], borderDash: [4, 3], pointRadius: 2 },
      ],
    },
    options: {
      interaction: { mode: 'index', intersect: false },
      onClick: (e, _els, c) => {
        const idx = Math.round(c.scales.x.getValueForPixel(e.x ?? 0) ?? 0);
        if (idx >= 0 && idx < r.layers.length) void actions.selectBlock(idx);
      },
      scales: { x: axis('block'), y: axis('|activation|', { type: 'logarithmic' }) },
      plugins: { legend, tooltip: { callbacks: { afterBody: (items) => { const l = r.layers[items[0].dataIndex]; return l.massive.length ? `${l.massive.length} massive (×${fmt(l.ratio)} the median)` : ''; } } } },
    },
  });
  const shares = r.attention.map((a, i) => ({ layer: i, share: a.massiveTokenShare }));
  const withShare = shares.some((s) => s.share !== null) && r.massiveTokens.length > 0;
  box.replaceChildren(...[
    h('div', { class: 'section-head' }, h('h2', {}, 'Layer-wise overview'),
      st.full ? h('div', { class: 'row', role: 'group', 'aria-label': 'Stack' }, ...st.full.stacks!.map((s, k) => h('vscode-button', { id: `stack-${s.name}`, appearance: k === st.stack ? 'primary' : 'secondary', 'aria-pressed': k === st.stack ? 'true' : 'false', onclick: () => actions.showStack(k) }, `${s.name} (${s.layers.length} blocks)`))) : null,
      h('vscode-button', { appearance: 'icon', title: 'Save as PNG', 'aria-label': 'Save overview as PNG', onclick: () => savePng('overview', 'overview-chart') }, '⤓')),
    ...(r.warnings ?? []).map((w) => h('p', { class: 'warning', role: 'alert' }, `⚠ ${w}`)),
    main,
    dataTable('The overview', ['block', 'top-1', 'top-2', 'top-3', 'median', 'massive'], r.layers.map((l) => [l.index, fmt(l.top[0]?.value), fmt(l.top[1]?.value), fmt(l.top[2]?.value), fmt(l.median), l.massive.length]), 'overview-table'),
    h('div', { id: 'blocks', class: 'blocks', role: 'toolbar', 'aria-label': 'Blocks' }),
    withShare ? h('div', { id: 'share-by-block' }, h('h3', {}, 'Attention on the massive-activation tokens, per block'),
      shareByBlockChart('share-chart', shares, (l) => r.layers[l].massive.length > 0),
      dataTable('Attention share per block', ['block', 'share on massive tokens'], shares.map((s) => [s.layer, pct(s.share)]))) : null,
  ].filter((x): x is HTMLElement => !!x));
  renderBlockButtons();
}

/** The block buttons' arrow keys, set up once per toolbar element (it outlives its buttons). */
const blockGroups = new WeakMap<HTMLElement, (current?: number) => void>();
function blockKeys(box: HTMLElement): (current?: number) => void {
  let refresh = blockGroups.get(box);
  if (!refresh) blockGroups.set(box, (refresh = roving(box, 'button.block')));
  return refresh;
}

/** One button per block: the keyboard way to the blocks (the chart is also clickable). */
export function renderBlockButtons(): void {
  const box = document.getElementById('blocks');
  if (!box || !st.scan) return;
  // The buttons are drawn again on every selection: the focus stays on the block the user chose.
  // Only while the panel has the focus: a redraw (a palette scan's result) must not pull the focus
  // from the workbench, where it would close the quick input the user is typing in.
  const focused = document.hasFocus() && box.contains(document.activeElement);
  box.replaceChildren(...st.scan.layers.map((l) => h('button', {
    class: `block${l.massive.length ? ' massive' : ''}${st.layer === l.index ? ' selected' : ''}`,
    'aria-pressed': st.layer === l.index ? 'true' : 'false',
    title: `Block ${l.index} (${mixerText(l)}): top ${fmt(l.top[0]?.value)} · median ${fmt(l.median)}${l.massive.length ? ` · ${l.massive.length} massive` : ''}`,
    onclick: () => void actions.selectBlock(l.index),
  }, `Block ${l.index}`, hybrid(st.model) ? h('span', { class: 'mixer' }, ` · ${MIXER_SHORT[l.mixer] ?? l.mixer}${l.mlp === 'moe' ? '+moe' : ''}`) : null)));
  const selected = Math.max(0, Math.min(box.children.length - 1, st.layer ?? 0));
  blockKeys(box)(selected);
  if (focused) (box.children[selected] as HTMLElement | undefined)?.focus();
}
