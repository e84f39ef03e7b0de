import * as path from 'node:path';
import type { CompareOptions, CompareResult } from './run';
import { checkpointSeries } from '../../engine/model/checkpoints';
import { listed } from '../../engine/base/files';
import { EngineError } from '../../engine/base/errors';
import { DEFAULT_PROMPT } from '../../engine/base/defaults';
import { LIMITS } from '../../engine/base/limits';
import type { Flags } from '../flags';
import { numberFlag, stringFlag } from '../flags';
import { common, corpusFlag, readText } from '../options';
import { experiment, type Wire } from '../experiment';
import { commonFlags, corpusFlags, promptsFlags, type KeepInput } from '../commandLine';
import { plainNumber, table, toCsv } from '../format';
import { printable } from '../../engine/base/text';

/** Several models on one input (variants, checkpoints), or one model on several prompts. */
export default experiment<CompareOptions, CompareResult>()({
  method: 'compare',
  card: false,
  text: compareText,
  csv: compareCsv,
  cli: {
    name: 'compare',
    usage: 'compare A B [C …] | compare CHECKPOINTS_FOLDER | compare --list F | compare MODEL --prompt P --prompt2 Q  [--prompt T | --ids … | --text-file F --count N --seq-len L] [--align-by-text]',
    args: compareArgs,
    flags: compareFlags,
  },
});

/**
 * compare A B [C …]; compare FOLDER (a checkpoint series, sorted naturally); compare --list F;
 * compare MODEL --prompt P --prompt2 Q (two inputs on one model).
 */
function compareArgs(file: string, flags: Flags, rest: string[]) {
  const list = stringFlag(flags, 'list');
  let files = [file, ...rest];
  let series = false;
  const notes: string[] = [];
  const shared = common(flags);
  const prompt2 = stringFlag(flags, 'prompt2');
  const promptsFile = stringFlag(flags, 'prompts-file');
  // Each run of one model is labelled by its prompt: ids would replace every prompt unseen.
  if (shared.ids && (prompt2 !== undefined || promptsFile !== undefined)) {
    const flag = prompt2 !== undefined ? '--prompt2' : '--prompts-file';
    const how = `${flag} compares prompts on one model (--prompt P --prompt2 Q, or --prompts-file F)`;
    throw new EngineError('bad-argument', `--ids and ${flag} both give the model's input: ${how}; give prompts, not --ids.`);
  }
  const prompts = prompt2 !== undefined ? [shared.prompt ?? DEFAULT_PROMPT, prompt2]
    : promptsFile !== undefined ? readText(promptsFile, 'prompts file', flags).split('\n').filter((l) => l.trim()) : undefined;
  if (list) {
    files = readText(list, 'checkpoint list', flags).split('\n').map((l) => l.trim()).filter(Boolean).map((l) => path.resolve(path.dirname(list), l));
    series = true;
  } else if (files.length === 1) {
    const found = checkpointSeries(file);
    if (found && found.files.length >= 2) {
      files = found.files;
      series = true;
      if (found.skipped.length) notes.push(`Skipped ${listed(found.skipped)}.`);
    } else if (found?.skipped.length && !prompts) {
      throw new EngineError('bad-argument',
        `${printable(file)} holds no two checkpoints that can be read: ${found.skipped.join(', ')}. Fix or remove those entries, or name the models.`);
    }
  }
  if (files.length < 2 && !prompts) throw new EngineError('bad-argument', 'Give two models to compare (compare A B), a folder of checkpoints, --list FILE, or one model with --prompt and --prompt2.');
  if (prompts && files.length > 1) throw new EngineError('bad-argument', 'Compare either several models on one input, or one model on several prompts, not both.');
  return {
    file: files[0],
    options: {
      ...shared, files, series, prompts, ...(notes.length ? { notes } : {}),
      alignByText: flags.has('align-by-text'), topK: numberFlag(flags, 'top', { min: 1, max: LIMITS.topK, integer: true }),
      text: corpusFlag(flags, 'text-file', 'text file'),
      count: numberFlag(flags, 'count', { min: 1, max: LIMITS.count, integer: true }),
      seqLen: numberFlag(flags, 'seq-len', { min: 2, max: LIMITS.tokens, integer: true }),
    },
  };
}

/** compare's command line: the other models, or the list of a series, then the shared input. */
function compareFlags(o: Wire<CompareOptions>, keep: KeepInput): string[] {
  if (o.idSets) throw new EngineError('bad-argument', 'compare takes one id sequence (--ids) on the command line: this comparison of several id sequences has no command line.');
  const models = o.series ? ['--list', keep('checkpoints.txt', `${o.files.join('\n')}\n`)] : o.files.slice(1);
  return [
    ...models, ...commonFlags(o, keep), ...promptsFlags(o.prompts, keep), ...(o.alignByText ? ['--align-by-text'] : []), ...(o.topK !== undefined ? ['--top', String(o.topK)] : []),
    ...corpusFlags('--text-file', o.text, keep), ...(o.count !== undefined ? ['--count', String(o.count)] : []), ...(o.seqLen !== undefined ? ['--seq-len', String(o.seqLen)] : []),
  ];
}

/** compare: the models, then per block each model's statistics and what differs; variants' errors; a series' emergence. */
function compareText(r: CompareResult): string {
  const lines: string[] = [];
  const label = (k: number) => String.fromCharCode(65 + (k % 26)) + (k >= 26 ? String(Math.floor(k / 26)) : '');
  r.models.forEach((m, k) => lines.push(`${label(k)}: ${printable(m.input !== undefined ? `"${m.input}" on ${m.name}` : m.path)} (${m.blocks} blocks, width ${m.hiddenSize ?? '?'}, ${m.dtype}, ${m.tokens} tokens)`));
  for (const n of r.notes) lines.push(`note: ${n}`);
  lines.push('');
  if (r.series) return [...lines, ...seriesText(r)].join('\n');
  const head = ['block', ...r.models.flatMap((_, k) => [`${label(k)} top-1`, `${label(k)} median`, `${label(k)} massive`]), 'shared', 'only in'];
  const rows = [head, ...r.layers.map((l) => [
    String(l.index),
    ...l.models.flatMap((m) => [m.top[0] ? plainNumber(m.top[0].value) : '—', plainNumber(m.median), String(m.massive.length)]),
    String(l.shared.length),
    l.onlyIn.length ? [...new Set(l.onlyIn.map((o) => `${label(o.model)}: ${o.kind} ch${o.channel}`))].join(', ') : '—',
  ])];
  lines.push(...table(rows));
  const diffs = new Map<string, Set<number>>();
  for (const l of r.layers) for (const d of l.differences) {
    const k = `${d.kind} ch${d.channel} in ${d.models.map(label).join('+')}`;
    if (!diffs.has(k)) diffs.set(k, new Set());
    diffs.get(k)!.add(l.index);
  }
  lines.push('', diffs.size
    ? `Differences (by token kind and channel): ${[...diffs].map(([k, b]) => `${k} (blocks ${[...b].join(', ')})`).join('; ')}.`
    : 'The same massive activations (by token kind and channel) in every block of every model.');
  const errs = r.layers.flatMap((l) => l.errors.map((e) => ({ l: l.index, ...e })));
  if (errs.length) {
    lines.push('', 'Error against A (mean |Δ|, relative):');
    lines.push(...table([['block', 'model', 'at massive entries', 'elsewhere'], ...errs.map((e) => [String(e.l), label(e.model), e.massive ? `${plainNumber(e.massive.abs)} (${(e.massive.rel * 100).toFixed(3)}%)` : '—', `${plainNumber(e.elsewhere.abs)} (${(e.elsewhere.rel * 100).toFixed(3)}%)`])]));
  }
  for (const v of r.variants) lines.push(`next-token KL (A ‖ ${label(v.model)}): ${v.kl === null ? 'n/a' : v.kl.toExponential(3)} nats; top-1 agreement ${v.top1Agreement === null ? 'n/a' : `${(v.top1Agreement * 100).toFixed(1)}%`}`);
  return lines.join('\n');
}

/** A checkpoint series: the ratio per block over training and where each massive activation appears. */
function seriesText(r: CompareResult): string[] {
  const s = r.series!;
  const massive = (k: number) => r.layers.reduce((a, l) => a + l.models[k].massive.length, 0);
  return [
    'Emergence over the checkpoints (top-1 ÷ median, per block):',
    ...table([['checkpoint', 'step', ...r.layers.map((l) => `b${l.index}`), 'massive'], ...s.checkpoints.map((c, k) => [printable(c.name), c.step === null ? '—' : String(c.step), ...s.ratio[k].map((x) => (x === null ? 'n/a' : plainNumber(x))), String(massive(k))])]),
    '',
    s.emergence.length
      ? `First passing the criterion: ${s.emergence.map((e) => `${e.kind} ch${e.channel} at ${printable(s.checkpoints[e.checkpoint].name)}${e.step !== null ? ` (step ${e.step})` : ''}, block ${e.block}`).join('; ')}.`
      : 'No checkpoint has massive activations.',
  ];
}

/** One row per block and model: its statistics, and how it differs from the first model. */
function compareCsv(r: CompareResult): string {
  return toCsv(r.layers.flatMap((l) => l.models.map((m, k) => {
    const e = l.errors.find((x) => x.model === k);
    return {
      block: l.index, model: k, path: r.models[k].path, matched_block: m.block, top1: m.top[0]?.value ?? null, median: m.median, ratio: m.ratio,
      massive: m.massive.length, shared: l.shared.length, only_here: l.onlyIn.filter((o) => o.model === k).map((o) => `${o.token}:${o.channel}`).join(' '),
      error_massive_abs: e?.massive?.abs ?? null, error_massive_rel: e?.massive?.rel ?? null,
      error_elsewhere_abs: e?.elsewhere.abs ?? null, error_elsewhere_rel: e?.elsewhere.rel ?? null,
      attention_share: m.attentionShare,
    };
  })));
}
