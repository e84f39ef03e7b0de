import { binAxis, binIndex } from '../engine/measure/bins';
import type { ScanResult } from '../engine/model/results';
import type { AttentionAnalysis } from '../experiments/attention/run';
import type { FeatureMapResult } from '../experiments/featureMap/run';
import { sinkHeadsText } from '../shared/reasons';
import { heatmap, lineChart, type Series } from './svg';

/** What a report is made of: the runs, the exact command line of each, and the versions that ran them. */
export interface ReportParts {
  model: string;
  input: { prompt?: string; ids?: number[]; image?: string };
  scan: ScanResult;
  /** The feature map of the first block with massive activations, and the attention of the strongest sink block, or why not. */
  featureMap?: FeatureMapResult;
  attention?: AttentionAnalysis;
  why: { featureMap?: string; attention?: string };
  /** Each run's command line, and its JSON exactly as that command prints it. */
  commands: { scan: string; featureMap?: string; attention?: string };
  json: { scan: string; featureMap?: string; attention?: string };
  versions: { tool: string; onnxruntime: string; node: string };
}

/** The report's files, by path inside its folder: report.md, figures/*.svg, results/*.json. */
export function composeReport(p: ReportParts): { path: string; content: string }[] {
  const s = p.scan;
  const files: { path: string; content: string }[] = [];
  const th = s.settings.thresholds;
  const md: string[] = [];
  const code = (cmd: string) => ['```bash', cmd, '```'];
  md.push(`# Massive activations of ${s.model.path.split(/[\\/]/).slice(-2).join('/')}`, '');
  md.push(`${s.model.family} · ${s.model.blocks} blocks · width ${s.model.hiddenSize ?? '?'}${s.model.heads ? ` · ${s.model.heads} heads` : ''} · ${s.model.dtype} · blocks located by ${s.model.matcher}`, '');
  md.push('## Input and settings', '');
  if (p.input.prompt !== undefined) md.push('Prompt:', '', ...p.input.prompt.split('\n').map((l) => `> ${l}`), '');
  if (p.input.ids) md.push(`Token ids: \`${p.input.ids.join(',')}\``, '');
  if (p.input.image) md.push(`Image: \`${p.input.image}\``, '');
  md.push(`${s.tokens.length} tokens: ${s.tokens.slice(0, 40).map((t) => `\`${JSON.stringify(t.text)}\``).join(' ')}${s.tokens.length > 40 ? ' …' : ''}`, '');
  md.push(`Massive: |a| > ${th.absolute} and ≥ ${th.ratio}× the block's median |a| (Sun et al., 2024). Top ${s.settings.topK} per block.`, '');
  md.push(`Massive Activations ${p.versions.tool} · ONNX Runtime (onnxruntime-node) ${p.versions.onnxruntime} · Node.js ${p.versions.node}`, '');
  for (const w of s.warnings) md.push(`> ⚠ ${w}`, '');
  md.push('## Findings', '');
  md.push(s.massiveTokens.length
    ? `Massive activations on tokens ${s.massiveTokens.map((t) => `${t} (${JSON.stringify(s.tokens[t]?.text ?? '')})`).join(', ')} in channels ${s.massiveChannels.join(', ')}.`
    : 'No block has massive activations on this input.', '');
  // Figure 1: the paper's layer-wise form.
  files.push({ path: 'figures/overview.svg', content: lineChart({
    title: 'Top activation magnitudes per block', xLabel: 'block', yLabel: '|activation| (log scale)', labels: s.layers.map((l) => String(l.index)),
    series: [
      ...[0, 1, 2].map((k): Series => ({ label: `top-${k + 1}`, values: s.layers.map((l) => Math.abs(l.top[k]?.value ?? 0)) })),
      { label: 'median', values: s.layers.map((l) => l.median), dashed: true },
    ],
    marked: s.layers.map((l) => l.massive.length > 0),
  }) });
  md.push('### Figure 1: the top-1, top-2, top-3 and median |activation| of each block', '', '![Top activation magnitudes per block](figures/overview.svg)', '');
  md.push('| block | top-1 | token | channel | median | top-1 ÷ median | massive |', '|---:|---:|---|---:|---:|---:|---:|');
  for (const l of s.layers) {
    const a = l.top[0];
    md.push(`| ${l.index} | ${a ? a.value.toFixed(2) : '—'} | ${a ? `${a.token} ${JSON.stringify(s.tokens[a.token]?.text ?? '')}` : '—'} | ${a?.channel ?? '—'} | ${l.median.toPrecision(4)} | ${l.ratio === null ? '—' : Math.round(l.ratio).toLocaleString('en-US')} | ${l.massive.length} |`);
  }
  md.push('', 'Reproduce:', '', ...code(p.commands.scan), '', 'Data: [results/scan.json](results/scan.json)', '');
  files.push({ path: 'results/scan.json', content: p.json.scan });
  // Figure 2: the token × channel map of the first massive block.
  md.push('### Figure 2: the token × channel map of the first block with massive activations', '');
  const fm = p.featureMap;
  if (fm && p.commands.featureMap && p.json.featureMap) {
    const name = `feature-map-block-${fm.layer}`;
    const massiveTokens = [...new Set(fm.massive.map((a) => a.token))];
    const rows = binAxis(fm.values.length, 160, massiveTokens);
    const rowOf = binIndex(rows, fm.values.length);
    const colOf = new Map<number, number>();
    fm.columns.forEach((c, i) => { for (let ch = c.from; ch <= c.to; ch++) colOf.set(ch, i); });
    const cells = new Set(fm.massive.map((a) => `${rowOf[a.token]}:${colOf.get(a.channel)}`));
    files.push({ path: `figures/${name}.svg`, content: heatmap({
      title: `Block ${fm.layer}: |activation| over tokens and channels`, xLabel: `channel (${fm.columns.length} columns${fm.columns.length < (s.model.hiddenSize ?? 0) ? ', others max-pooled' : ''})`, yLabel: 'token',
      rowLabels: rows.map((b) => (b.from === b.to ? `${b.from} ${fm.tokens[b.from]?.text ?? ''}` : `${b.from}–${b.to}`)),
      colLabels: fm.columns.map((c) => (c.massive ? `${c.from}` : null)),
      values: rows.map((b) => fm.columns.map((_, c) => { let m = 0; for (let t = b.from; t <= b.to; t++) m = Math.max(m, fm.values[t][c]); return m; })),
      max: fm.maxAbs, scale: 'log', unit: '|activation|', massive: (r, c) => cells.has(`${r}:${c}`),
    }) });
    files.push({ path: `results/${name}.json`, content: p.json.featureMap });
    md.push(`![Block ${fm.layer}: |activation| over tokens and channels](figures/${name}.svg)`, '');
    md.push(`Massive channels ${fm.massiveChannels.join(', ')}; ${fm.massive.length} massive activations (red), the largest |a| ${fm.maxAbs.toFixed(1)}, the median |a| ${fm.median.toPrecision(4)}.`, '');
    md.push('Reproduce:', '', ...code(p.commands.featureMap), '', `Data: [results/${name}.json](results/${name}.json)`, '');
  } else md.push(`Not drawn: ${p.why.featureMap ?? 'no block has massive activations on this input'}.`, '');
  // Figure 3: attention where the sinks are strongest.
  md.push('### Figure 3: the attention of the block with the strongest sink heads', '');
  const at = p.attention;
  if (at && at.heads.length && p.commands.attention && p.json.attention) {
    const name = `attention-block-${at.layer}`;
    const label = (i: number) => { const b = at.bins[i]; return b.from === b.to ? `${b.from} ${at.tokens[b.from]?.text ?? ''}` : `${b.from}–${b.to}`; };
    files.push({ path: `figures/${name}.svg`, content: heatmap({
      title: `Block ${at.layer}: attention probabilities, the mean of ${at.heads.length} heads`, xLabel: 'key', yLabel: 'query',
      rowLabels: at.probabilities.map((_, i) => label(i)), colLabels: at.bins.map((b) => (b.kept ? `${b.from}` : null)),
      values: at.probabilities, max: Math.max(1e-6, ...at.probabilities.flat().filter((v): v is number => v !== null)), scale: 'linear', unit: 'probability',
    }) });
    files.push({ path: `results/${name}.json`, content: p.json.attention });
    md.push(`![Block ${at.layer}: attention probabilities](figures/${name}.svg)`, '');
    md.push(`Sink heads (≥ 0.3 of their attention on the first token): ${sinkHeadsText(at)}. Share of attention on the massive-activation tokens: ${at.massiveTokenShare === null ? '—' : `${(at.massiveTokenShare * 100).toFixed(1)}%`}.`, '');
    md.push('Reproduce:', '', ...code(p.commands.attention), '', `Data: [results/${name}.json](results/${name}.json)`, '');
  } else md.push(`Not drawn: ${p.why.attention ?? (at ? `sink heads: ${sinkHeadsText(at)}` : 'no block exposes attention probabilities')}.`, '');
  files.unshift({ path: 'report.md', content: `${md.join('\n')}\n` });
  return files;
}
