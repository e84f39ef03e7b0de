import { EngineError } from '../engine/errors';

export type Flags = Map<string, string | true>;

export interface CliArgs {
  command: string | undefined;
  model: string | undefined;
  flags: Flags;
}

const VALUED = new Set([
  'prompt', 'prompt-file', 'ids', 'image', 'images', 'image-dir', 'top', 'max-tokens', 'abs-threshold', 'ratio-threshold',
  'threads', 'memory-limit-mb', 'layer', 'mode', 'values', 'channels', 'mean-text-file', 'eval-text-file', 'text-file',
  'prompts-file', 'seq-len', 'count', 'first-id', 'max-columns', 'csv', 'out',
]);
const BOOLEAN = new Set(['json', 'no-attention', 'no-perplexity', 'per-head', 'help']);

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
    if (!VALUED.has(name)) throw new EngineError('bad-argument', `Unknown option --${name}. Run "massive-activations --help" for the options.`);
    const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new EngineError('bad-argument', `--${name} needs a value.`);
    flags.set(name, value);
  }
  return { command: positional[0], model: positional[1], flags };
}

export function numberFlag(flags: Map<string, string | true>, name: string, opts: { min?: number; integer?: boolean } = {}): number | undefined {
  const v = flags.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min)) {
    throw new EngineError('bad-argument', `--${name} must be ${opts.integer ? 'an integer' : 'a number'}${opts.min !== undefined ? ` ≥ ${opts.min}` : ''}; got "${v}".`);
  }
  return n;
}

export function idsFlag(v: string | true | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  if (v === true || !v.trim()) throw new EngineError('bad-ids', 'No token ids given: pass them as --ids 1,2,3.');
  return v.split(/[,\s]+/).filter(Boolean).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n)) throw new EngineError('bad-ids', `"${s}" is not a token id; pass integers, e.g. --ids 1,2,3.`);
    return n;
  });
}

export function stringFlag(flags: Flags, name: string): string | undefined {
  const v = flags.get(name);
  if (v === true) throw new EngineError('bad-argument', `--${name} needs a value.`);
  return v;
}

export function listFlag(flags: Flags, name: string): string[] | undefined {
  const v = stringFlag(flags, name);
  return v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean);
}
