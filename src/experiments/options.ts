import { readFileSync } from 'node:fs';
import { EngineError } from '../engine/base/errors';
import type { Flags } from './flags';
import { feedsFlag, idsFlag, listFlag, numberFlag, stringFlag } from './flags';
import { fileError, FILE_LIMITS, imagesInFolder, readTextFile, textOf } from '../engine/base/files';
import { LIMITS } from '../engine/base/limits';
import { printable } from '../engine/base/text';
import type { Corpus } from '../engine/model/corpus';
import * as path from 'node:path';

/** The command line's shared options: inputs, thresholds, limits, and the files they read. */

/** A text input: regular file, bounded, UTF-8 (unless --replace-invalid-utf8), not binary; "-" is standard input. */
export function readText(file: string, what: string, flags: Flags): string {
  const replace = flags.has('replace-invalid-utf8');
  if (file !== '-') return readTextFile(file, what, replace);
  let bytes: Buffer;
  try { bytes = readFileSync(0); } catch (e) { throw fileError(e, 'standard input', what); }
  if (bytes.length > FILE_LIMITS.text) throw new EngineError('bad-file', `The ${what} on standard input is over ${FILE_LIMITS.text / 2 ** 20} MB; give a shorter text.`);
  return textOf(bytes, what, replace);
}

/**
 * A corpus file for the engine to read itself, only as far as the run needs (a 100 MB text is not
 * read whole for 2 × 64 tokens); standard input ("-") is read here, bounded.
 */
export function corpusFlag(flags: Flags, name: string, what: string): Corpus | undefined {
  const file = stringFlag(flags, name);
  if (file === undefined) return undefined;
  if (file === '-') return readText(file, what, flags);
  return { file: path.resolve(file), what, ...(flags.has('replace-invalid-utf8') ? { replaceInvalidUtf8: true } : {}) };
}

/** Every file a command reads besides the model: outputs must never land on one of them. */
export function inputFiles(flags: Flags): { file: string; what: string }[] {
  const out: { file: string; what: string }[] = [];
  for (const name of ['prompt-file', 'text-file', 'prompts-file', 'mean-text-file', 'eval-text-file', 'image', 'list']) {
    const v = flags.get(name);
    if (typeof v === 'string' && v !== '-') out.push({ file: v, what: `--${name} input` });
  }
  for (const f of listFlag(flags, 'images') ?? []) out.push({ file: f, what: '--images input' });
  for (const [name, f] of Object.entries(feedsFlag(flags) ?? {})) out.push({ file: f, what: `--feed ${name} input` });
  return out;
}

/** Prompt, ids or image, plus the settings every run shares (`ids: false`: the command reads --ids its own way). */
export function common(flags: Flags, opts: { ids?: boolean } = {}) {
  const file = stringFlag(flags, 'prompt-file');
  let prompt = stringFlag(flags, 'prompt');
  if (file !== undefined) {
    if (prompt !== undefined) throw new EngineError('bad-argument', 'Give either --prompt or --prompt-file, not both.');
    prompt = readText(file, 'prompt file', flags);
  } else if (prompt?.includes('\uFFFD') && !flags.has('replace-invalid-utf8')) {
    // The command line arrives decoded: invalid UTF-8 bytes are already U+FFFD here.
    throw new EngineError('bad-prompt', `The prompt contains U+FFFD at character ${prompt.indexOf('\uFFFD')}, the mark of bytes that were not valid UTF-8. Pass the text as UTF-8 (or in a file with --prompt-file), or allow replacement with --replace-invalid-utf8.`);
  }
  const ids = opts.ids === false ? undefined : idsFlag(flags.get('ids'));
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
    ...(flags.has('truncate') ? { truncate: true } : {}),
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

export function blockFlag(flags: Flags): number {
  const l = numberFlag(flags, 'layer', { min: 0, integer: true });
  if (l === undefined) throw new EngineError('bad-argument', 'Give the block with --layer L (blocks count from 0).');
  return l;
}

export function imagesFlag(flags: Flags): string[] | undefined {
  const list = listFlag(flags, 'images');
  const dir = stringFlag(flags, 'image-dir');
  return dir ? [...(list ?? []), ...imagesInFolder(dir)] : list;
}

export function integer(s: string, what: string): number {
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw new EngineError('bad-argument', `"${printable(s)}" is not a ${what} number; give a decimal whole number.`);
  return Number(s);
}

/** --values "0:7=2000,4:42=-1500" → token 0 channel 7 set to 2000, … */
export function valuesFlag(v: string | undefined) {
  if (v === undefined) return undefined;
  return v.split(',').filter(Boolean).map((entry) => {
    const m = /^\s*(\d+):(\d+)=(-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*$/.exec(entry);
    if (!m || !Number.isFinite(Number(m[3]))) throw new EngineError('bad-argument', `"${printable(entry)}" is not token:channel=value (e.g. --values 0:7=0,4:42=-1500).`);
    return { token: Number(m[1]), channel: Number(m[2]), value: Number(m[3]) };
  });
}
