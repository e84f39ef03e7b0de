import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../engine/errors';
import * as csv from '../engine/export';
import type { EngineCalls, EngineMethod } from '../shared/protocol';
import type { Flags } from './args';
import { feedsFlag, idsFlag, idsListFlag, listFlag, numberFlag, stringFlag } from './args';
import { fileError, FILE_LIMITS, readTextFile, textOf } from '../engine/files';
import { LIMITS } from '../engine/limits';
import { checkpointPaths } from '../engine/experiments/compare';
import { DEFAULT_PROMPT } from '../engine/input';
import { printable } from '../engine/text';
import * as fmt from './format';

/** One subcommand: how its flags become an engine call, and how its result is shown. */
export interface Command<M extends EngineMethod> {
  method: M;
  usage: string;
  args(model: string, flags: Flags, rest: string[]): EngineCalls[M]['args'];
  text(result: EngineCalls[M]['result']): string;
  /** The --json document (default: the result itself). */
  json?(result: EngineCalls[M]['result']): unknown;
  csv?(result: EngineCalls[M]['result']): string;
}

/** Keeps each entry typed by its method while the table holds them all. */
function define<M extends EngineMethod>(c: Command<M>): Command<EngineMethod> {
  return c as unknown as Command<EngineMethod>;
}

/** A text input: regular file, bounded, UTF-8 (unless --replace-invalid-utf8), not binary; "-" is standard input. */
function readText(file: string, what: string, flags: Flags): string {
  const replace = flags.has('replace-invalid-utf8');
  if (file !== '-') return readTextFile(file, what, replace);
  let bytes: Buffer;
  try { bytes = readFileSync(0); } catch (e) { throw fileError(e, 'standard input', what); }
  if (bytes.length > FILE_LIMITS.text) throw new EngineError('bad-file', `The ${what} on standard input is over ${FILE_LIMITS.text / 2 ** 20} MB; give a shorter text.`);
  return textOf(bytes, what, replace);
}

/** Every file a command reads besides the model: outputs must never land on one of them. */
export function inputFiles(flags: Flags): { file: string; what: string }[] {
  const out: { file: string; what: string }[] = [];
  for (const name of ['prompt-file', 'text-file', 'prompts-file', 'mean-text-file', 'eval-text-file', 'image']) {
    const v = flags.get(name);
    if (typeof v === 'string' && v !== '-') out.push({ file: v, what: `--${name} input` });
  }
  for (const f of listFlag(flags, 'images') ?? []) out.push({ file: f, what: '--images input' });
  for (const [name, f] of Object.entries(feedsFlag(flags) ?? {})) out.push({ file: f, what: `--feed ${name} input` });
  return out;
}

/** Prompt, ids or image, plus the settings every run shares. */
function common(flags: Flags) {
  const file = stringFlag(flags, 'prompt-file');
  let prompt = stringFlag(flags, 'prompt');
  if (file !== undefined) {
    if (prompt !== undefined) throw new EngineError('bad-argument', 'Give either --prompt or --prompt-file, not both.');
    prompt = readText(file, 'prompt file', flags);
  } else if (prompt?.includes('\uFFFD') && !flags.has('replace-invalid-utf8')) {
    // The command line arrives decoded: invalid UTF-8 bytes are already U+FFFD here.
    throw new EngineError('bad-prompt', `The prompt contains U+FFFD at character ${prompt.indexOf('\uFFFD')}, the mark of bytes that were not valid UTF-8. Pass the text as UTF-8 (or in a file with --prompt-file), or allow replacement with --replace-invalid-utf8.`);
  }
  const ids = idsFlag(flags.get('ids'));
  if (prompt !== undefined && ids) throw new EngineError('bad-argument', 'Give either a prompt or --ids, not both.');
  const abs = numberFlag(flags, 'abs-threshold', { min: 0 });
  const ratio = numberFlag(flags, 'ratio-threshold', { min: 0 });
  const limitMb = numberFlag(flags, 'memory-limit-mb', { min: 1 });
  return {
    prompt, ids,
    image: stringFlag(flags, 'image'),
    feeds: feedsFlag(flags),
    variant: stringFlag(flags, 'variant'),
    maxTokens: numberFlag(flags, 'max-tokens', { min: 1, max: LIMITS.tokens, integer: true }),
    threads: threadsFlag(flags),
    ...(flags.has('whole-graph') ? { wholeGraph: true } : {}),
    thresholds: abs !== undefined || ratio !== undefined ? { absolute: abs ?? 100, ratio: ratio ?? 1000 } : undefined,
    memoryLimitBytes: limitMb !== undefined ? limitMb * 2 ** 20 : undefined,
  };
}

/** --threads above the cores is capped (ONNX Runtime would only thrash); main prints a note. */
export function threadsFlag(flags: Flags): number | undefined {
  return numberFlag(flags, 'threads', { min: 0, max: 1_000_000, integer: true });
}

function layerFlag(flags: Flags): number {
  const l = numberFlag(flags, 'layer', { min: 0, integer: true });
  if (l === undefined) throw new EngineError('bad-argument', 'Give the block with --layer L (blocks count from 0).');
  return l;
}

function imagesFlag(flags: Flags): string[] | undefined {
  const list = listFlag(flags, 'images');
  const dir = stringFlag(flags, 'image-dir');
  if (!dir) return list;
  let names: string[];
  try { names = readdirSync(dir); } catch (e) { throw fileError(e, dir, 'image folder'); }
  const found = names.filter((n) => /\.(png|jpe?g)$/i.test(n)).sort().map((n) => path.join(dir, n));
  if (!found.length) throw new EngineError('bad-argument', `No PNG or JPEG images in ${printable(dir)}.`);
  if (found.length > LIMITS.count) throw new EngineError('bad-argument', `${printable(dir)} holds ${found.length.toLocaleString('en-US')} images; one run takes at most ${LIMITS.count.toLocaleString('en-US')}. Use a folder with fewer.`);
  return [...(list ?? []), ...found];
}

export const COMMANDS: { [name: string]: Command<EngineMethod> } = {
  inspect: define({
    method: 'inspect',
    usage: 'inspect MODEL [--json] [--variant NAME]',
    args: (file, flags) => ({ file, variant: stringFlag(flags, 'variant') }),
    text: (r) => fmt.inspectText(r),
    json: (r) => fmt.inspectJson(r),
  }),
  scan: define({
    method: 'scan',
    usage: 'scan MODEL|FOLDER [--prompt TEXT | --prompt-file F | --ids 1,2,3 | --image IMG] [--top K] [--no-attention] [--variant NAME] [--decoder-ids 0]',
    args: (file, flags) => ({ file, options: { ...common(flags), topK: numberFlag(flags, 'top', { min: 1, max: LIMITS.topK, integer: true }), attention: !flags.has('no-attention'), decoderIds: idsFlag(flags.get('decoder-ids')) } }),
    text: (r) => fmt.scanTable(r),
    json: (r) => fmt.scanJson(r),
    csv: (r) => csv.scanCsv(r),
  }),
  'scan-many': define({
    method: 'scanMany',
    usage: 'scan-many MODEL [--text-file F --seq-len N | --prompts-file F | --ids "1,2;1,3" | --images a,b | --image-dir D] [--count N]',
    args: (file, flags) => {
      const textFile = stringFlag(flags, 'text-file');
      const promptsFile = stringFlag(flags, 'prompts-file');
      // --ids here may hold several sequences ("1,2;1,3"): read it below, not as one prompt's ids.
      const single = new Map(flags);
      single.delete('ids');
      const { prompt, image, ...shared } = common(single);
      const sources = [textFile !== undefined, promptsFile !== undefined, flags.has('ids'), prompt !== undefined, !!image || flags.has('images') || flags.has('image-dir')].filter(Boolean).length;
      if (sources > 1) throw new EngineError('bad-argument', 'Give one source of inputs: --text-file, --prompts-file, --prompt, --ids, or images.');
      let prompts = promptsFile !== undefined ? readText(promptsFile, 'prompts file', flags).split('\n').filter((l) => l.trim()) : prompt !== undefined ? [prompt] : undefined;
      if (prompts && prompts.length > LIMITS.prompts) throw new EngineError('bad-argument', `The prompts file holds ${prompts.length.toLocaleString('en-US')} prompts; one run takes at most ${LIMITS.prompts.toLocaleString('en-US')}.`);
      if (prompts && !prompts.length) prompts = undefined;
      const images = imagesFlag(flags) ?? (image ? [image] : undefined);
      return {
        file,
        options: {
          ...shared,
          text: textFile !== undefined ? readText(textFile, 'text file', flags) : undefined,
          prompts,
          idsList: idsListFlag(flags.get('ids')),
          images,
          seqLen: numberFlag(flags, 'seq-len', { min: 2, max: LIMITS.tokens, integer: true }),
          count: numberFlag(flags, 'count', { min: 1, max: LIMITS.count, integer: true }),
          firstId: numberFlag(flags, 'first-id', { min: 0, max: 2 ** 31, integer: true }),
          topK: numberFlag(flags, 'top', { min: 1, max: LIMITS.topK, integer: true }),
        },
      };
    },
    text: (r) => fmt.scanManyText(r),
    csv: (r) => csv.scanManyCsv(r) + '\n' + csv.constancyCsv(r),
  }),
  'feature-map': define({
    method: 'featureMap',
    usage: 'feature-map MODEL --layer L [--prompt T | --ids … | --image IMG] [--max-columns N]',
    args: (file, flags) => ({ file, options: { ...common(flags), layer: layerFlag(flags), maxColumns: numberFlag(flags, 'max-columns', { min: 4, max: LIMITS.maxColumns, integer: true }) } }),
    text: (r) => fmt.featureMapText(r),
    csv: (r) => csv.featureMapCsv(r),
  }),
  intervene: define({
    method: 'intervene',
    usage: 'intervene MODEL --layer L --mode zero|mean|values [--values t:c=v,…] [--channels 7,42] [--mean-text-file F] [--eval-text-file F | --no-perplexity]',
    args: (file, flags) => {
      const mode = stringFlag(flags, 'mode') ?? 'zero';
      if (!['zero', 'mean', 'values'].includes(mode)) throw new EngineError('bad-argument', `--mode must be zero, mean or values; got "${mode}".`);
      const meanFile = stringFlag(flags, 'mean-text-file');
      const evalFile = stringFlag(flags, 'eval-text-file');
      return {
        file,
        options: {
          ...common(flags), layer: layerFlag(flags), mode: mode as 'zero' | 'mean' | 'values',
          values: valuesFlag(stringFlag(flags, 'values')),
          channels: listFlag(flags, 'channels')?.map((c) => integer(c, 'channel')),
          meanText: meanFile !== undefined ? readText(meanFile, 'mean text file', flags) : undefined,
          meanCount: numberFlag(flags, 'count', { min: 1, max: LIMITS.count, integer: true }),
          evalText: flags.has('no-perplexity') ? null : evalFile !== undefined ? readText(evalFile, 'evaluation text file', flags) : undefined,
          seqLen: numberFlag(flags, 'seq-len', { min: 2, max: LIMITS.tokens, integer: true }),
        },
      };
    },
    text: (r) => fmt.interveneText(r),
    csv: (r) => csv.interveneCsv(r),
  }),
  attention: define({
    method: 'attention',
    usage: 'attention MODEL --layer L [--prompt T | --ids … | --image IMG] [--per-head]',
    args: (file, flags) => ({ file, options: { ...common(flags), layer: layerFlag(flags), perHead: flags.has('per-head') } }),
    text: (r) => fmt.attentionText(r),
    csv: (r) => csv.attentionCsv(r),
  }),
  'implicit-bias': define({
    method: 'implicitBias',
    usage: 'implicit-bias MODEL --layer L [--prompt T | --ids … | --image IMG]',
    args: (file, flags) => ({ file, options: { ...common(flags), layer: layerFlag(flags) } }),
    text: (r) => fmt.implicitBiasText(r),
    csv: (r) => csv.implicitBiasCsv(r),
  }),
  'super-weights': define({
    method: 'superWeights',
    usage: 'super-weights MODEL [--prompt T | --ids … | --image IMG]',
    args: (file, flags) => ({ file, options: common(flags) }),
    text: (r) => fmt.superWeightsText(r),
    csv: (r) => csv.superWeightsCsv(r),
  }),
  compare: define({
    method: 'compare',
    usage: 'compare A B [C …] | compare CHECKPOINTS_FOLDER | compare --list F | compare MODEL --prompt P --prompt2 Q  [--prompt T | --ids … | --text-file F --count N --seq-len L] [--align-by-text]',
    args: compareArgs,
    text: (r) => fmt.compareText(r),
    csv: (r) => csv.compareCsv(r),
  }),
  'fix-reg-mean': define({
    method: 'fixRegMean',
    usage: 'fix-reg-mean MODEL [--images a.png,b.png | --image-dir D | --count N]',
    args: (file, flags) => ({ file, options: { threads: threadsFlag(flags), images: imagesFlag(flags), count: numberFlag(flags, 'count', { min: 2, max: LIMITS.count, integer: true }) } }),
    text: (r) => fmt.fixRegMeanText(r),
    csv: (r) => csv.fixRegMeanCsv(r),
  }),
};

/**
 * compare A B [C …]; compare FOLDER (a checkpoint series, sorted naturally); compare --list F;
 * compare MODEL --prompt P --prompt2 Q (two inputs on one model).
 */
function compareArgs(file: string, flags: Flags, rest: string[]) {
  const list = stringFlag(flags, 'list');
  let files = [file, ...rest];
  let series = false;
  if (list) {
    files = readText(list, 'checkpoint list', flags).split('\n').map((l) => l.trim()).filter(Boolean).map((l) => path.resolve(path.dirname(list), l));
    series = true;
  } else if (files.length === 1 && checkpointPaths(file)) {
    files = checkpointPaths(file)!;
    series = true;
  }
  const shared = common(flags);
  const prompt2 = stringFlag(flags, 'prompt2');
  const promptsFile = stringFlag(flags, 'prompts-file');
  const prompts = prompt2 !== undefined ? [shared.prompt ?? DEFAULT_PROMPT, prompt2]
    : promptsFile !== undefined ? readText(promptsFile, 'prompts file', flags).split('\n').filter((l) => l.trim()) : undefined;
  if (files.length < 2 && !prompts) throw new EngineError('bad-argument', 'Give two models to compare (compare A B), a folder of checkpoints, --list FILE, or one model with --prompt and --prompt2.');
  if (prompts && files.length > 1) throw new EngineError('bad-argument', 'Compare either several models on one input, or one model on several prompts, not both.');
  const textFile = stringFlag(flags, 'text-file');
  return {
    file: files[0],
    options: {
      ...shared, files, series, prompts, alignByText: flags.has('align-by-text'), topK: numberFlag(flags, 'top', { min: 1, max: LIMITS.topK, integer: true }),
      text: textFile !== undefined ? readText(textFile, 'text file', flags) : undefined,
      count: numberFlag(flags, 'count', { min: 1, max: LIMITS.count, integer: true }),
      seqLen: numberFlag(flags, 'seq-len', { min: 2, max: LIMITS.tokens, integer: true }),
    },
  };
}

function integer(s: string, what: string): number {
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw new EngineError('bad-argument', `"${printable(s)}" is not a ${what} number; give a decimal whole number.`);
  return Number(s);
}

/** --values "0:7=2000,4:42=-1500" → token 0 channel 7 set to 2000, … */
function valuesFlag(v: string | undefined) {
  if (v === undefined) return undefined;
  return v.split(',').filter(Boolean).map((entry) => {
    const m = /^\s*(\d+):(\d+)=(-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*$/.exec(entry);
    if (!m || !Number.isFinite(Number(m[3]))) throw new EngineError('bad-argument', `"${printable(entry)}" is not token:channel=value (e.g. --values 0:7=0,4:42=-1500).`);
    return { token: Number(m[1]), channel: Number(m[2]), value: Number(m[3]) };
  });
}
