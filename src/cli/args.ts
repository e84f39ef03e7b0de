import { EngineError } from '../engine/base/errors';
import { printable } from '../engine/base/text';

import type { Flags } from '../experiments/flags';

export interface CliArgs {
  command: string | undefined;
  model: string | undefined;
  /** Positional arguments after the model (compare's other models). */
  rest: string[];
  flags: Flags;
}

/** Options that take a value, and options that are flags: every one is documented (test/cli/contract.test.ts). */
export const VALUED = new Set([
  'prompt', 'prompt-file', 'ids', 'image', 'images', 'image-dir', 'top', 'max-tokens', 'abs-threshold', 'ratio-threshold',
  'threads', 'memory-limit-mb', 'layer', 'mode', 'values', 'channels', 'mean-text-file', 'eval-text-file', 'text-file',
  'prompts-file', 'seq-len', 'count', 'first-id', 'max-columns', 'csv', 'out', 'feed', 'variant', 'decoder-ids',
  'prompt2', 'list', 'epsilon', 'matrix-tokens',
]);
/** Options that may be given more than once; their values are kept in order, one per line. */
const REPEATABLE = new Set(['feed']);
export const BOOLEAN = new Set(['json', 'no-attention', 'no-perplexity', 'per-head', 'help', 'replace-invalid-utf8', 'align-by-text', 'whole-graph', 'truncate']);

export function parseArgs(argv: string[]): CliArgs {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h') { flags.set('help', true); continue; }
    if (!a.startsWith('--')) { positional.push(a); continue; }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if (BOOLEAN.has(name)) { flags.set(name, true); continue; }
    if (!VALUED.has(name)) throw new EngineError('bad-argument', `Unknown option --${printable(name)}. Run "massive-activations --help" for the options.`);
    const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new EngineError('bad-argument', `--${name} needs a value.`);
    const prev = flags.get(name);
    // A second value would silently win: say so instead (--feed, one per input, is the repeatable one).
    if (typeof prev === 'string' && !REPEATABLE.has(name)) {
      const shown = (v: string) => `"${printable(v.length > 40 ? `${v.slice(0, 40)}…` : v)}"`;
      throw new EngineError('bad-argument', `--${name} is given twice (${shown(prev)} and ${shown(value)}); give it once.`);
    }
    flags.set(name, REPEATABLE.has(name) && typeof prev === 'string' ? `${prev}\n${value}` : value);
  }
  return { command: positional[0], model: positional[1], rest: positional.slice(2), flags };
}
