import { EngineError } from '../engine/base/errors';
import { printable } from '../engine/base/text';

/** The command line's options by name; a repeated option's values one per line (see cli/args.ts). */
export type Flags = Map<string, string | true>;

/** Plain decimal numbers only: "0x10", "0b11", "1e2" or "" are not what a user means by a count or an id. */
const INTEGER = /^\d+$/;
const DECIMAL = /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function numberFlag(flags: Flags, name: string, opts: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
  const v = flags.get(name);
  if (v === undefined) return undefined;
  const s = typeof v === 'string' ? v.trim() : '';
  const n = Number(s);
  const shaped = opts.integer ? INTEGER.test(s) : DECIMAL.test(s);
  if (!shaped || !Number.isFinite(n) || (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
    const range = opts.max !== undefined ? ` from ${opts.min ?? 0} to ${opts.max.toLocaleString('en-US')}` : opts.min !== undefined ? ` ≥ ${opts.min}` : '';
    throw new EngineError('bad-argument', `--${name} must be ${opts.integer ? 'a whole number' : 'a number'}${range}; got "${printable(String(v))}".`);
  }
  return n;
}

export function idsFlag(v: string | true | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  if (v === true || !v.trim()) throw new EngineError('bad-ids', 'No token ids given: pass them as --ids 1,2,3.');
  return idList(v);
}

/** "1,2,3;1,4,5": several id sequences (scan-many). */
export function idsListFlag(v: string | true | undefined): number[][] | undefined {
  if (v === undefined) return undefined;
  if (v === true || !v.trim()) throw new EngineError('bad-ids', 'No token ids given: pass them as --ids 1,2,3 (sequences separated by ";").');
  return v.split(';').filter((s) => s.trim()).map(idList);
}

function idList(v: string): number[] {
  return v.split(/[,\s]+/).filter(Boolean).map((s) => {
    if (!INTEGER.test(s) || !Number.isSafeInteger(Number(s))) throw new EngineError('bad-ids', `"${printable(s)}" is not a token id; pass decimal whole numbers, e.g. --ids 1,2,3.`);
    return Number(s);
  });
}

export function stringFlag(flags: Flags, name: string): string | undefined {
  const v = flags.get(name);
  if (v === true) throw new EngineError('bad-argument', `--${name} needs a value.`);
  return v;
}

/** --feed NAME=FILE (repeatable): input name → tensor file. */
export function feedsFlag(flags: Flags): Record<string, string> | undefined {
  const v = stringFlag(flags, 'feed');
  if (v === undefined) return undefined;
  const out: Record<string, string> = Object.create(null);
  for (const entry of v.split('\n')) {
    const eq = entry.indexOf('=');
    if (eq <= 0 || eq === entry.length - 1) throw new EngineError('bad-argument', `--feed takes NAME=FILE (a .npy or .json tensor for the input NAME); got "${printable(entry)}".`);
    const name = entry.slice(0, eq);
    // Each input has one source: a second file for it would silently win.
    if (name in out) {
      const first = `--feed ${printable(name)}=${printable(out[name])}`;
      throw new EngineError('bad-argument', `${first} and --feed ${printable(entry)} both give ${printable(name)}; give one.`);
    }
    out[name] = entry.slice(eq + 1);
  }
  return out;
}

export function listFlag(flags: Flags, name: string): string[] | undefined {
  const v = stringFlag(flags, name);
  return v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean);
}
