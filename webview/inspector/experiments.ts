import type { ExperimentView, PanelExperiment } from '../../src/shared/protocol';
import type { CardMethod, ResultOf } from '../../src/experiments/registry';
import { fmt, h, pct } from '../dom';
import { sinkHeadsText } from '../../src/shared/reasons';
import { call } from '../vscode';
import { axes, chart, dataTable, destroyCharts, shareByBlockChart, table } from './charts';
import { st } from './state';
import { withAlpha } from './theme';

/** Results of palette experiments, newest first: each a card with its chart and the table beside it. */
export function renderExperiments(): void {
  const box = document.getElementById('experiments');
  if (!box || !st.model) return;
  destroyCharts('exp-');
  const n = st.experiments.length;
  box.replaceChildren(
    h('div', { class: 'section-head' }, h('h2', {}, 'Experiments'),
      n ? h('vscode-button', { appearance: 'secondary', onclick: () => void call('export', { what: 'experiment', format: 'json' }) }, 'Export JSON') : null,
      n ? h('vscode-button', { appearance: 'secondary', onclick: () => void call('export', { what: 'experiment', format: 'csv' }) }, 'Export CSV') : null),
    toolbar(),
    // Ids count from the oldest card, so a card keeps its ids when newer ones arrive.
    ...st.experiments.map((e, i) => h('article', { class: 'experiment', 'data-type': e.experiment.type, 'aria-label': e.title }, h('h3', {}, e.title), card(e.experiment, `exp-${n - 1 - i}`))));
}

/** The paper's experiments on this model, from the panel (the palette has the same commands). */
function toolbar(): HTMLElement {
  const m = st.model!;
  const layer = st.layer;
  const items: [PanelExperiment, string, string][] = [
    ['scanMany', 'Layer-wise scan over many inputs…', m.takesImage ? 'images or a folder of images' : 'a text file or the document beside the panel'],
    ...(m.takesText ? [['intervene', `Intervention at ${layer === undefined ? 'a block' : `block ${layer}`}…`, 'set massive activations to zero, their mean or given values'] as [PanelExperiment, string, string]] : []),
    ['attention', `Attention analysis${layer === undefined ? '' : ` of block ${layer}`}`, 'sink heads and the share on massive tokens per block'],
    ...(m.takesText ? [['implicitBias', `Implicit attention bias${layer === undefined ? '' : ` of block ${layer}`}`, 'what the massive tokens add to the attention output'] as [PanelExperiment, string, string]] : []),
    ...(m.takesImage ? [['fixRegMean', 'Fix-Reg-Mean…', 'registers set to their mean at every block'] as [PanelExperiment, string, string]] : []),
  ];
  return h('div', { class: 'row', role: 'toolbar', 'aria-label': 'Experiments', id: 'experiment-toolbar' },
    ...items.map(([command, label, title]) => h('vscode-button', { appearance: 'secondary', 'data-experiment': command, title, onclick: () => void call('experiment', { command, layer }) }, label)));
}

/**
 * One card per experiment the registry marks as a card (src/experiments/registry.ts); the compiler
 * checks that every such experiment has one here.
 */
const CARDS: { [K in CardMethod]: (r: ResultOf<K>, id: string) => HTMLElement } = {
  scanMany: (r, id) => scanManyCard(r, id),
  intervene: (r, id) => interveneCard(r, id),
  attention: (r, id) => h('div', {}, h('p', {}, `share on massive-activation tokens: ${r.heads.length ? pct(r.massiveTokenShare) : '—'} · sink heads: ${sinkHeadsText(r)}`),
    shareByBlockChart(`${id}-share`, r.shareByLayer),
    dataTable('Share per block', ['block', 'share on massive tokens'], r.shareByLayer.map((s) => [s.layer, pct(s.share)])),
    table(['head', 'sink score', 'sink head', 'share on massive tokens'], r.heads.map((x) => [x.head, x.sinkScore.toFixed(3), x.isSink ? 'yes' : 'no', pct(x.massiveShare)]))),
  implicitBias: (r) => h('p', {}, `Part of the attention output from tokens ${r.massiveTokens.join(', ')}: cosine similarity across ${r.queries} queries ${r.sinkPartCosine.toFixed(4)} (rest ${r.restPartCosine.toFixed(4)}), ${pct(r.sinkNormShare)} of the output norm${r.afterOutputProjection ? ', after the output projection' : ''}.`),
  fixRegMean: (r) => h('div', {}, h('p', {}, `${r.registers} registers, ${r.images} ${r.inputKind}`),
    table(['registers at every block', 'output change (rel. L2)', 'cosine', 'top-1 agreement'], ([['set to their mean (Fix-Reg-Mean)', r.fixRegMean], ['set to zero', r.zeroRegisters]] as const)
      .map(([name, c]) => (c ? [name, c.relativeL2.toExponential(2), c.cosine.toFixed(5), pct(c.top1Agreement)] : [name, 'NaN/Inf', '—', '—']))),
    ...(r.notes ?? []).map((n) => h('p', { class: 'warning' }, `⚠ ${n}`))),
};

function card(e: ExperimentView, id: string): HTMLElement {
  return (CARDS[e.type] as (r: ExperimentView['result'], id: string) => HTMLElement)(e.result, id);
}

/** exp2 over many inputs: each top-k's mean with a ±1 std band, the median, and the constancy table. */
function scanManyCard(r: ResultOf<'scanMany'>, id: string): HTMLElement {
  const { p, axis, legend } = axes();
  const labels = r.layers.map((l) => String(l.index));
  const pos = (x: number) => Math.max(1e-6, x);
  const band = (k: number) => [
    { label: `top-${k + 1} − std`, data: r.layers.map((l) => pos(Math.abs(l.top[k].mean) - l.top[k].std)), borderColor: 'transparent', backgroundColor: 'transparent', pointRadius: 0, fill: false },
    { label: `top-${k + 1} ± std`, data: r.layers.map((l) => pos(Math.abs(l.top[k].mean) + l.top[k].std)), borderColor: 'transparent', backgroundColor: withAlpha(p.series[k], 0.25), pointRadius: 0, fill: '-1' },
    { label: `top-${k + 1} (mean)`, data: r.layers.map((l) => pos(Math.abs(l.top[k].mean))), borderColor: p.series[k], backgroundColor: p.series[k], pointRadius: 2, fill: false },
  ];
  return h('div', {},
    ...(r.warnings ?? []).map((w) => h('p', { class: 'warning' }, `⚠ ${w}`)),
    h('p', {}, `${r.inputs} inputs (${r.inputKind}); tokens carrying massive activations: ${r.locations.map((l) => `${l.kind} ${pct(l.share)}`).join(', ') || `none in any of the ${r.inputs} inputs`}`),
    chart(`${id}-band`, `Top-1, top-2, top-3 and median |activation| per block over ${r.inputs} inputs, mean with ±1 standard deviation bands, log scale`, {
      type: 'line',
      data: { labels, datasets: [...[0, 1, 2].flatMap(band), { label: 'median (mean)', data: r.layers.map((l) => pos(l.median.mean)), borderColor: p.series[3], backgroundColor: p.series[3], borderDash: [4, 3], pointRadius: 2, fill: false }] },
      options: { scales: { x: axis('block'), y: axis('|activation|', { type: 'logarithmic' }) }, plugins: { legend: { ...legend, labels: { ...legend.labels, filter: (item) => !item.text.endsWith('− std') } } } },
    }),
    dataTable('Layer-wise statistics', ['block', 'top-1', 'top-2', 'top-3', 'median', 'inputs with massive'], r.layers.map((l) => [l.index, `${fmt(l.top[0].mean)} ± ${fmt(l.top[0].std)}`, `${fmt(l.top[1].mean)} ± ${fmt(l.top[1].std)}`, `${fmt(l.top[2].mean)} ± ${fmt(l.top[2].std)}`, `${fmt(l.median.mean)} ± ${fmt(l.median.std)}`, `${l.massiveInputs}/${r.inputs}`])),
    h('h4', {}, 'Constancy: each massive activation across inputs'),
    r.constancy.length
      ? table(['channel', 'token kind', 'block', 'value (mean ± std)', 'seen in'], r.constancy.map((c) => [c.channel, c.kind, c.layer, `${fmt(c.mean)} ± ${fmt(c.std)}`, `${c.count}/${c.inputs}`]), { class: 'data constancy' })
      : h('p', { class: 'muted' }, 'No massive activations in any input.'));
}

/**
 * exp3: the intervention's effect per position (KL between the original and the edited model's
 * next-token distributions) and perplexity bars: the original, and every intervention of this
 * block run so far (set to zero, set to mean, given values), as the paper's table compares them.
 */
function interveneCard(r: ResultOf<'intervene'>, id: string): HTMLElement {
  const { p, axis } = axes();
  const same = st.experiments.map((e) => e.experiment).filter((e): e is Extract<ExperimentView, { type: 'intervene' }> => e.type === 'intervene' && e.result.layer === r.layer && !!e.result.perplexity);
  const byMode = new Map<string, number | null>();
  for (const e of [...same].reverse()) byMode.set(e.result.mode, e.result.perplexity!.after);
  const bars: [string, number | null][] = r.perplexity ? [['original', r.perplexity.before], ...[...byMode].map(([m, v]): [string, number | null] => [`set to ${m}`, v])] : [];
  return h('div', {},
    r.note ? h('p', { class: r.nonFinite ? 'warning' : 'muted' }, r.note) : null,
    h('p', {}, `KL(original ‖ intervened) mean ${r.klMean === null ? '—' : r.klMean.toExponential(3)} nats · top-1 agreement ${pct(r.top1Agreement)}${r.perplexity ? ` · perplexity ${fmt(r.perplexity.before)} → ${r.perplexity.after === null ? 'undefined (NaN)' : fmt(r.perplexity.after)} (${r.perplexity.tokens} tokens, ${r.perplexity.source})` : ''}`),
    h('div', { class: 'columns' },
      r.klPerToken ? h('div', { class: 'column' }, h('h4', {}, 'KL per position'),
        chart(`${id}-kl`, `KL divergence between the original and the intervened model at each of ${r.klPerToken.length} positions`, {
          type: 'bar',
          data: { labels: r.klPerToken.map((_, i) => String(i)), datasets: [{ label: 'KL (nats)', data: r.klPerToken, backgroundColor: p.bulk }] },
          options: { scales: { x: axis('position'), y: axis('KL (nats)', { min: 0 }) }, plugins: { legend: { display: false } } },
        }),
        dataTable('KL per position', ['position', 'KL (nats)'], r.klPerToken.map((k, i) => [i, k.toExponential(3)]))) : null,
      bars.length ? h('div', { class: 'column' }, h('h4', {}, `Perplexity, block ${r.layer}`),
        chart(`${id}-ppl`, `Perplexity of the original model and after each intervention at block ${r.layer}`, {
          type: 'bar',
          data: { labels: bars.map((b) => b[0]), datasets: [{ label: 'perplexity', data: bars.map((b) => b[1]) as number[], backgroundColor: bars.map((b, i) => (i === 0 ? p.bulk : b[1] === null || b[1] > 2 * bars[0][1]! ? p.massive : p.series[4])) }] },
          options: { scales: { x: axis(''), y: axis('perplexity', { type: 'logarithmic' }) }, plugins: { legend: { display: false } } },
        }),
        table(['model', 'perplexity'], bars.map(([name, v]) => [name, v === null ? 'undefined (NaN)' : fmt(v)]), { class: 'data perplexity' })) : null),
    r.changed.length ? dataTable('Entries changed', ['token', 'channel', 'from', 'to'], r.changed.map((c) => [c.token, c.channel, fmt(c.from), fmt(c.to)])) : null);
}
