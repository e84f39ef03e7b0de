import type { Corpus } from '../engine/model/corpus';
import type { Thresholds } from '../engine/measure/stats';
import { PAPER_THRESHOLDS } from '../engine/measure/stats';
import { EngineError } from '../engine/base/errors';
import { printable } from '../engine/base/text';

/*
 * Options back into the command line that makes them: the inverse of each subcommand's `args`, so
 * that a run started in VS Code can be cited as the command that reproduces it (Export Report).
 * test/unit/commandLine.test.ts reads every line back through the CLI's own parser.
 */

/**
 * Keeps an input given inline (a long prompt, a document's text) as a file beside the report and
 * returns the path the command line names it by.
 */
export type KeepInput = (name: string, content: string) => string;

/** The options common() reads (inputs and the settings every run shares). */
export interface CommonOptions {
  prompt?: string; ids?: number[]; image?: string; feeds?: Record<string, string>; variant?: string;
  maxTokens?: number; truncate?: boolean; threads?: number; wholeGraph?: boolean; thresholds?: Thresholds; memoryLimitBytes?: number;
}

/** A prompt longer than this, or on several lines, goes into a file: a command line should stay one readable line. */
const INLINE_PROMPT = 160;

/** The flags that make common() read back these options. Defaults are left out: threads 0 and the paper's thresholds are what no flag gives. */
export function commonFlags(o: CommonOptions, keep: KeepInput): string[] {
  const out: string[] = [];
  if (o.prompt !== undefined) {
    // Control characters and U+FFFD (refused on a command line) go into a file; a leading BOM never does (a file's BOM is dropped as it is read).
    const inline = o.prompt.startsWith('\ufeff') || (o.prompt.length <= INLINE_PROMPT && ![...o.prompt].some((ch) => ch < ' ' || ch === '\u007f' || ch === '\ufffd'));
    out.push(...(inline ? ['--prompt', o.prompt] : ['--prompt-file', keep('prompt.txt', o.prompt)]));
  }
  if (o.ids) out.push('--ids', o.ids.join(','));
  if (o.image !== undefined) out.push('--image', o.image);
  for (const [name, file] of Object.entries(o.feeds ?? {})) out.push('--feed', `${name}=${file}`);
  if (o.variant !== undefined) out.push('--variant', o.variant);
  if (o.maxTokens !== undefined) out.push('--max-tokens', String(o.maxTokens));
  if (o.truncate) out.push('--truncate');
  if (o.threads) out.push('--threads', String(o.threads));
  if (o.wholeGraph) out.push('--whole-graph');
  const t = o.thresholds;
  if (t && (t.absolute !== PAPER_THRESHOLDS.absolute || t.ratio !== PAPER_THRESHOLDS.ratio)) out.push('--abs-threshold', String(t.absolute), '--ratio-threshold', String(t.ratio));
  if (o.memoryLimitBytes !== undefined) out.push('--memory-limit-mb', String(o.memoryLimitBytes / 2 ** 20));
  return out;
}

/** --images a.png,b.png: a path the comma list cannot carry (a comma in it, spaces at its ends) has no command line. */
export function imagesFlags(images: string[] | undefined): string[] {
  if (!images) return [];
  const odd = images.find((f) => f.includes(',') || f.trim() !== f);
  if (odd !== undefined) throw new EngineError('bad-argument', `${printable(odd)} cannot be given in --images (its list is split at commas and trimmed); rename the image to cite the run as a command line.`);
  return ['--images', images.join(',')];
}

/** --prompts-file: one prompt a line, so a prompt over several lines (or a blank one) has no command line. */
export function promptsFlags(prompts: string[] | undefined, keep: KeepInput): string[] {
  if (!prompts) return [];
  if (prompts.some((p) => p.includes('\n') || !p.trim())) throw new EngineError('bad-argument', 'A prompt spans several lines or is blank, and a prompts file holds one prompt a line: this run has no command line.');
  return ['--prompts-file', keep('prompts.txt', `${prompts.join('\n')}\n`)];
}

/** A text to cut sequences from: its file as given, or the text kept beside the report. */
export function corpusFlags(flag: string, text: Corpus | undefined, keep: KeepInput): string[] {
  if (text === undefined) return [];
  if (typeof text === 'string') return [flag, keep('text.txt', text)];
  return [flag, text.file, ...(text.replaceInvalidUtf8 ? ['--replace-invalid-utf8'] : [])];
}

/** Numbers as the command line takes them (plain decimals: "1e-7" is refused where a whole number is meant). */
export const decimal = (n: number): string => (/e/i.test(String(n)) ? n.toFixed(20).replace(/0+$/, '').replace(/\.$/, '') : String(n));

/** One argument as a POSIX shell reads it back: bare when safe, else single-quoted. */
export function shellQuote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** The line a shell runs: `massive-activations` and each argument quoted. */
export function commandText(argv: string[]): string {
  return `massive-activations ${argv.map(shellQuote).join(' ')}`;
}
