import { binAxis, binIndex } from '../engine/measure/bins';
import type { Thresholds } from '../engine/measure/stats';
import type { ScanResult } from '../engine/model/results';
import type { AttentionAnalysis } from '../experiments/attention/run';
import type { FeatureMapResult } from '../experiments/featureMap/run';
import type { KeepInput } from '../experiments/commandLine';
import { commandText } from '../experiments/commandLine';
import { EXPERIMENTS, type ExperimentMethod } from '../experiments/registry';
import { scanFlags, scanJson } from '../experiments/scan/view';
import { cliJson } from '../shared/cliWording';
import { sinkHeadsText } from '../shared/reasons';
import { heatmap, lineChart, type Series } from './svg';

export type ReportMethod = 'scan' | ExperimentMethod;

/**
 * One run a report holds: its result as the engine returned it, and the engine call it came from
 * (the report cites that call as the command line that reproduces it), or why it did not run.
 */
export interface ReportRun {
  method: ReportMethod;
  title: string;
  result?: unknown;
  /** The call as sent: model file and options (the user's settings included). */
  call?: { file: string; options: object };
  /** The command line as the user typed it (the CLI's report): cited as it is. */
  argv?: string[];
  /** Why there is no result, or no figure, to show. */
  why?: string;
}

export interface ReportParts {
  model: { path: string; family: string; blocks: number; hiddenSize: number | null; heads: number | null; dtype: string; matcher: string };
  input: { prompt?: string; ids?: number[]; image?: string };
  thresholds: Thresholds;
  runs: ReportRun[];
  versions: { tool: string; onnxruntime: string; node: string };
}

export interface ReportFile { path: string; content: string }

/**
 * The report's files, by path inside its folder: report.md, figures/*.svg, results/*.json (each
 * exactly as its command line prints it with --json) and inputs/* (what a command line names that
 * was given inline: a long prompt, a document's text).
 */
export function composeReport(p: ReportParts): ReportFile[] {
  const files: ReportFile[] = [];
  const used = new Set<string>();
  const unique = (stem: string, ext: string) => {
    let name = `${stem}.${ext}`;
    for (let k = 2; used.has(name); k++) name = `${stem}-${k}.${ext}`;
    used.add(name);
    return name;
  };
  const kept = new Map<string, string>();
  const keep: KeepInput = (name, content) => {
    const known = kept.get(content);
    if (known) return known;
    const dot = name.lastIndexOf('.');
    const at = unique(`inputs/${name.slice(0, dot)}`, name.slice(dot + 1));
    kept.set(content, at);
    files.push({ path: at, content });
    return at;
  };
  const md: string[] = [];
  const m = p.model;
  md.push(`# Massive activations of ${m.path.split(/[\\/]/).slice(-2).join('/')}`, '');
  md.push(`${m.family} · ${m.blocks} blocks · width ${m.hiddenSize ?? '?'}${m.heads ? ` · ${m.heads} heads` : ''} · ${m.dtype} · blocks located by ${m.matcher}`, '');
  md.push('## Input and settings', '');
  if (p.input.prompt !== undefined) md.push('Prompt:', '', ...p.input.prompt.split('\n').map((l) => `> ${l}`), '');
  if (p.input.ids) md.push(`Token ids: \`${p.input.ids.join(',')}\``, '');
  if (p.input.image) md.push(`Image: \`${p.input.image}\``, '');
  const scan = p.runs.find((r) => r.method === 'scan' && r.result)?.result as ScanResult | undefined;
  if (scan) md.push(`${scan.tokens.length} tokens: ${scan.tokens.slice(0, 40).map((t) => `\`${JSON.stringify(t.text)}\``).join(' ')}${scan.tokens.length > 40 ? ' …' : ''}`, '');
  md.push(`Massive: |a| > ${p.thresholds.absolute} and ≥ ${p.thresholds.ratio}× the block's median |a| (Sun et al., 2024).${scan ? ` Top ${scan.settings.topK} per block.` : ''}`, '');
  md.push(`Massive Activations ${p.versions.tool} · ONNX Runtime (onnxruntime-node) ${p.versions.onnxruntime} · Node.js ${p.versions.node}`, '');
  for (const w of scan?.warnings ?? []) md.push(`> ⚠ ${w}`, '');
  if (scan) {
    md.push('## Findings', '');
    md.push(scan.massiveTokens.length
      ? `Massive activations on tokens ${scan.massiveTokens.map((t) => `${t} (${JSON.stringify(scan.tokens[t]?.text ?? '')})`).join(', ')} in channels ${scan.massiveChannels.join(', ')}.`
      : 'No block has massive activations on this input.', '');
  }
  const body: string[] = [];
  let figure = 0;
  const figureHeading = (what: string) => `### Figure ${++figure}: ${what}`;
  for (const run of p.runs) {
    body.push(`## ${run.title}`, '');
    const stem = slug(run);
    const context = { figureHeading, stem, unique, files, hiddenSize: m.hiddenSize };
    const section = run.result === undefined ? undefined : SECTIONS[run.method]?.(run.result as never, context);
    if (run.result === undefined) {
      // What the CLI's report always draws keeps its figure number, saying why it is not drawn.
      if (run.method in FIGURE_OF) body.push(figureHeading(FIGURE_OF[run.method as keyof typeof FIGURE_OF]), '');
      body.push(`Not drawn: ${run.why ?? 'not run'}.`, '');
    } else if (section) body.push(...section, '');
    else body.push('```text', EXPERIMENTS[run.method as ExperimentMethod].text(run.result as never), '```', '');
    if (run.result === undefined) continue;
    const line = citation(run, keep);
    body.push(...(line.argv ? ['Reproduce:', '', '```bash', commandText(line.argv), '```', ''] : [`No command line reproduces this run: ${line.why}`, '']));
    const data = unique(`results/${stem}`, 'json');
    files.push({ path: data, content: `${cliJson(resultDocument(run.method, run.result))}\n` });
    body.push(`Data: [${data}](${data})`, '');
  }
  if (kept.size) md.push(`Run each command line from this report's folder: the inputs given inline (${[...kept.values()].map((f) => `[${f}](${f})`).join(', ')}) are named relative to it.`, '');
  files.unshift({ path: 'report.md', content: `${[...md, ...body].join('\n').replace(/\n+$/, '')}\n` });
  return files;
}

/** The document `--json` prints for a result. */
function resultDocument(method: ReportMethod, result: unknown): unknown {
  if (method === 'scan') return scanJson(result as ScanResult);
  const e = EXPERIMENTS[method] as { json?: (r: unknown) => unknown };
  return e.json ? e.json(result) : result;
}

/** The command line a run is cited by: as typed, or made from its call; or why none reproduces it. */
function citation(run: ReportRun, keep: KeepInput): { argv?: string[]; why?: string } {
  if (run.argv) return { argv: run.argv };
  if (!run.call) return { why: 'its options were not kept.' };
  if ((run.result as ScanResult).cancelled) return { why: 'it was cancelled before its last block; the scan\'s command line runs every block.' };
  try {
    const { file, options } = run.call;
    if (run.method === 'scan') return { argv: ['scan', file, ...scanFlags(options, keep), '--json'] };
    const cli = EXPERIMENTS[run.method].cli as { name: string; flags(o: object, k: KeepInput): string[] };
    return { argv: [cli.name, file, ...cli.flags(options, keep), '--json'] };
  } catch (e) {
    return { why: (e as Error).message };
  }
}

const FIGURE_OF = {
  scan: 'the top-1, top-2, top-3 and median |activation| of each block',
  featureMap: 'the token × channel map of the first block with massive activations',
  attention: 'the attention of the block with the strongest sink heads',
};

/** A run's files are named by what it is: scan, feature-map-block-3, intervene-block-2, … */
function slug(run: ReportRun): string {
  const name = run.method === 'scan' ? 'scan' : EXPERIMENTS[run.method].cli.name;
  const layer = (run.call?.options as { layer?: number } | undefined)?.layer ?? (run.result as { layer?: number } | undefined)?.layer;
  return typeof layer === 'number' ? `${name}-block-${layer}` : name;
}

interface SectionContext {
  figureHeading(what: string): string;
  stem: string;
  unique(stem: string, ext: string): string;
  files: ReportFile[];
  hiddenSize: number | null;
}

/** The runs drawn as the paper draws them; the others are shown as their text view. */
const SECTIONS: Partial<{ [K in ReportMethod]: (r: never, c: SectionContext) => string[] }> = {
  scan: (s: ScanResult, c) => {
    const out: string[] = [];
    const fig = c.unique('figures/overview', 'svg');
    c.files.push({ path: fig, content: lineChart({
      title: 'Top activation magnitudes per block', xLabel: 'block', yLabel: '|activation| (log scale)', labels: s.layers.map((l) => String(l.index)),
      series: [
        ...[0, 1, 2].map((k): Series => ({ label: `top-${k + 1}`, values: s.layers.map((l) => Math.abs(l.top[k]?.value ?? 0)) })),
        { label: 'median', values: s.layers.map((l) => l.median), dashed: true },
      ],
      marked: s.layers.map((l) => l.massive.length > 0),
    }) });
    out.push(c.figureHeading(FIGURE_OF.scan), '', `![Top activation magnitudes per block](${fig})`, '');
    if (s.cancelled) out.push(`Cancelled after ${s.cancelled.measured} of ${s.cancelled.total} blocks: the blocks after them were not measured.`, '');
    out.push('| block | top-1 | token | channel | median | top-1 ÷ median | massive |', '|---:|---:|---|---:|---:|---:|---:|');
    for (const l of s.layers) {
      const a = l.top[0];
      out.push(`| ${l.index} | ${a ? a.value.toFixed(2) : '—'} | ${a ? `${a.token} ${JSON.stringify(s.tokens[a.token]?.text ?? '')}` : '—'} | ${a?.channel ?? '—'} | ${l.median.toPrecision(4)} | ${l.ratio === null ? '—' : Math.round(l.ratio).toLocaleString('en-US')} | ${l.massive.length} |`);
    }
    return out;
  },
  featureMap: (fm: FeatureMapResult, c) => {
    const massiveTokens = [...new Set(fm.massive.map((a) => a.token))];
    const rows = binAxis(fm.values.length, 160, massiveTokens);
    const rowOf = binIndex(rows, fm.values.length);
    const colOf = new Map<number, number>();
    fm.columns.forEach((col, i) => { for (let ch = col.from; ch <= col.to; ch++) colOf.set(ch, i); });
    const cells = new Set(fm.massive.map((a) => `${rowOf[a.token]}:${colOf.get(a.channel)}`));
    const fig = c.unique(`figures/${c.stem}`, 'svg');
    c.files.push({ path: fig, content: heatmap({
      title: `Block ${fm.layer}: |activation| over tokens and channels`, xLabel: `channel (${fm.columns.length} columns${fm.columns.length < (c.hiddenSize ?? 0) ? ', others max-pooled' : ''})`, yLabel: 'token',
      rowLabels: rows.map((b) => (b.from === b.to ? `${b.from} ${fm.tokens[b.from]?.text ?? ''}` : `${b.from}–${b.to}`)), tall: rows.map((b) => b.kept),
      colLabels: fm.columns.map((col) => (col.massive ? `${col.from}` : null)),
      values: rows.map((b) => fm.columns.map((_, col) => { let v = 0; for (let t = b.from; t <= b.to; t++) v = Math.max(v, fm.values[t][col]); return v; })),
      max: fm.maxAbs, scale: 'log', unit: '|activation|', massive: (r, col) => cells.has(`${r}:${col}`),
    }) });
    return [c.figureHeading(`the token × channel map of block ${fm.layer}`), '', `![Block ${fm.layer}: |activation| over tokens and channels](${fig})`, '',
      `Massive channels ${fm.massiveChannels.join(', ') || 'none'}; ${fm.massive.length} massive activations (red), the largest |a| ${fm.maxAbs.toFixed(1)}, the median |a| ${fm.median.toPrecision(4)}.`];
  },
  attention: (at: AttentionAnalysis, c) => {
    const share = `Share of attention on the massive-activation tokens: ${at.massiveTokenShare === null ? '—' : `${(at.massiveTokenShare * 100).toFixed(1)}%`}.`;
    if (!at.heads.length) return [c.figureHeading(`the attention of block ${at.layer}`), '', `Not drawn: sink heads: ${sinkHeadsText(at)}.`];
    const label = (i: number) => { const b = at.bins[i]; return b.from === b.to ? `${b.from} ${at.tokens[b.from]?.text ?? ''}` : `${b.from}–${b.to}`; };
    const fig = c.unique(`figures/${c.stem}`, 'svg');
    c.files.push({ path: fig, content: heatmap({
      title: `Block ${at.layer}: attention probabilities, the mean of ${at.heads.length} heads`, xLabel: 'key', yLabel: 'query',
      rowLabels: at.probabilities.map((_, i) => label(i)), colLabels: at.bins.map((b) => (b.kept ? `${b.from}` : null)),
      values: at.probabilities, max: Math.max(1e-6, ...at.probabilities.flat().filter((v): v is number => v !== null)), scale: 'linear', unit: 'probability',
    }) });
    return [c.figureHeading(`the attention of block ${at.layer}`), '', `![Block ${at.layer}: attention probabilities](${fig})`, '',
      `Sink heads (≥ 0.3 of their attention on the first token): ${sinkHeadsText(at)}. ${share}`];
  },
};
