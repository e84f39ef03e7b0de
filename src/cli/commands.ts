import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../engine/errors';
import * as csv from '../engine/export';
import type { EngineCalls, EngineMethod } from '../shared/protocol';
import type { Flags } from './args';
import { idsFlag, listFlag, numberFlag, stringFlag } from './args';
import * as fmt from './format';

/** One subcommand: how its flags become an engine call, and how its result is shown. */
export interface Command<M extends EngineMethod> {
  method: M;
  usage: string;
  args(model: string, flags: Flags): EngineCalls[M]['args'];
  text(result: EngineCalls[M]['result']): string;
  /** The --json document (default: the result itself). */
  json?(result: EngineCalls[M]['result']): unknown;
  csv?(result: EngineCalls[M]['result']): string;
}

/** Keeps each entry typed by its method while the table holds them all. */
function define<M extends EngineMethod>(c: Command<M>): Command<EngineMethod> {
  return c as unknown as Command<EngineMethod>;
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new EngineError('bad-argument', `Cannot read the ${what} ${file}: ${(e as Error).message}`);
  }
}

/** Prompt, ids or image, plus the settings every run shares. */
function common(flags: Flags) {
  const file = stringFlag(flags, 'prompt-file');
  let prompt = stringFlag(flags, 'prompt');
  if (file !== undefined) {
    if (prompt !== undefined) throw new EngineError('bad-argument', 'Give either --prompt or --prompt-file, not both.');
    prompt = readText(file, 'prompt file');
  }
  const ids = idsFlag(flags.get('ids'));
  if (prompt !== undefined && ids) throw new EngineError('bad-argument', 'Give either a prompt or --ids, not both.');
  const abs = numberFlag(flags, 'abs-threshold', { min: 0 });
  const ratio = numberFlag(flags, 'ratio-threshold', { min: 0 });
  const limitMb = numberFlag(flags, 'memory-limit-mb', { min: 1 });
  return {
    prompt, ids,
    image: stringFlag(flags, 'image'),
    maxTokens: numberFlag(flags, 'max-tokens', { min: 1, integer: true }),
    threads: numberFlag(flags, 'threads', { min: 0, integer: true }),
    thresholds: abs !== undefined || ratio !== undefined ? { absolute: abs ?? 100, ratio: ratio ?? 1000 } : undefined,
    memoryLimitBytes: limitMb !== undefined ? limitMb * 2 ** 20 : undefined,
  };
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
  try { names = readdirSync(dir); } catch (e) { throw new EngineError('bad-argument', `Cannot read the folder ${dir}: ${(e as Error).message}`); }
  const found = names.filter((n) => /\.(png|jpe?g)$/i.test(n)).sort().map((n) => path.join(dir, n));
  if (!found.length) throw new EngineError('bad-argument', `No PNG or JPEG images in ${dir}.`);
  return [...(list ?? []), ...found];
}

export const COMMANDS: { [name: string]: Command<EngineMethod> } = {
  inspect: define({
    method: 'inspect',
    usage: 'inspect MODEL [--json]',
    args: (file) => ({ file }),
    text: (r) => fmt.inspectText(r),
    json: (r) => fmt.inspectJson(r),
  }),
  scan: define({
    method: 'scan',
    usage: 'scan MODEL [--prompt TEXT | --prompt-file F | --ids 1,2,3 | --image IMG] [--top K] [--no-attention]',
    args: (file, flags) => ({ file, options: { ...common(flags), topK: numberFlag(flags, 'top', { min: 1, integer: true }), attention: !flags.has('no-attention') } }),
    text: (r) => fmt.scanTable(r),
    json: (r) => fmt.scanJson(r),
    csv: (r) => csv.scanCsv(r),
  }),
  'scan-many': define({
    method: 'scanMany',
    usage: 'scan-many MODEL [--text-file F --seq-len N | --prompts-file F | --images a,b | --image-dir D] [--count N]',
    args: (file, flags) => {
      const textFile = stringFlag(flags, 'text-file');
      const promptsFile = stringFlag(flags, 'prompts-file');
      return {
        file,
        options: {
          ...common(flags),
          text: textFile !== undefined ? readText(textFile, 'text file') : undefined,
          prompts: promptsFile !== undefined ? readText(promptsFile, 'prompts file').split('\n').filter((l) => l.trim()) : undefined,
          images: imagesFlag(flags),
          seqLen: numberFlag(flags, 'seq-len', { min: 2, integer: true }),
          count: numberFlag(flags, 'count', { min: 1, integer: true }),
          firstId: numberFlag(flags, 'first-id', { min: 0, integer: true }),
        },
      };
    },
    text: (r) => fmt.scanManyText(r),
    csv: (r) => csv.scanManyCsv(r) + '\n' + csv.constancyCsv(r),
  }),
  'feature-map': define({
    method: 'featureMap',
    usage: 'feature-map MODEL --layer L [--prompt T | --ids … | --image IMG] [--max-columns N]',
    args: (file, flags) => ({ file, options: { ...common(flags), layer: layerFlag(flags), maxColumns: numberFlag(flags, 'max-columns', { min: 4, integer: true }) } }),
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
          meanText: meanFile !== undefined ? readText(meanFile, 'mean text file') : undefined,
          meanCount: numberFlag(flags, 'count', { min: 1, integer: true }),
          evalText: flags.has('no-perplexity') ? null : evalFile !== undefined ? readText(evalFile, 'evaluation text file') : undefined,
          seqLen: numberFlag(flags, 'seq-len', { min: 2, integer: true }),
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
  'fix-reg-mean': define({
    method: 'fixRegMean',
    usage: 'fix-reg-mean MODEL [--images a.png,b.png | --image-dir D | --count N]',
    args: (file, flags) => ({ file, options: { threads: numberFlag(flags, 'threads', { min: 0, integer: true }), images: imagesFlag(flags), count: numberFlag(flags, 'count', { min: 2, integer: true }) } }),
    text: (r) => fmt.fixRegMeanText(r),
    csv: (r) => csv.fixRegMeanCsv(r),
  }),
};

function integer(s: string, what: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new EngineError('bad-argument', `"${s}" is not a ${what} number.`);
  return n;
}

/** --values "0:7=2000,4:42=-1500" → token 0 channel 7 set to 2000, … */
function valuesFlag(v: string | undefined) {
  if (v === undefined) return undefined;
  return v.split(',').filter(Boolean).map((entry) => {
    const m = /^\s*(\d+):(\d+)=(-?[\d.eE+-]+)\s*$/.exec(entry);
    if (!m || !Number.isFinite(Number(m[3]))) throw new EngineError('bad-argument', `"${entry}" is not token:channel=value (e.g. --values 0:7=0,4:42=-1500).`);
    return { token: Number(m[1]), channel: Number(m[2]), value: Number(m[3]) };
  });
}
