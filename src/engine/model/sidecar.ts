import { existsSync } from 'node:fs';
import { brokenLink, FILE_LIMITS, readJsonFile } from '../base/files';
import { printable } from '../base/text';

/**
 * The JSON files beside a model (config.json, generation_config.json, genai_config.json,
 * tokenizer_config.json, preprocessor_config.json) come from many tools, and some hold what the
 * engine does not expect: the whole file `null` or a list, a layer count written as "12", a token id
 * as [1]. Each reader names the fields it uses and their types here; a file that holds no object
 * counts as empty and a field of another type counts as absent — so a wrong type can neither crash
 * a run nor be taken at a guess — and what was ignored is said once, in a note of the run.
 */

/**
 * `count`: a whole number ≥ 0 (layers, widths, token ids); `number`: any finite number; `list`: any
 * JSON array; `strings`: an array of strings; `token`: a string or an object (tokenizers write
 * special tokens both ways); a nested schema: an object whose own fields are checked the same way.
 */
export type FieldKind = 'count' | 'number' | 'string' | 'boolean' | 'list' | 'strings' | 'token';
export interface Schema { readonly [field: string]: FieldKind | Schema }

type KindType<K> = K extends 'count' | 'number' ? number : K extends 'string' ? string : K extends 'boolean' ? boolean
  : K extends 'list' ? unknown[] : K extends 'strings' ? string[] : K extends 'token' ? string | Record<string, unknown>
    : K extends Schema ? Typed<K> : never;
export type Typed<S extends Schema> = { [F in keyof S]?: KindType<S[F]> };

export interface Sidecar<S extends Schema> {
  file: string;
  /** The schema's fields that hold the type it names; absent, null and wrong-typed ones are left out. */
  fields: Typed<S>;
  /** The whole object without its wrong-typed fields, for a library that reads more than the schema names. */
  object: Record<string, unknown>;
  /** Each field ignored (its path, `model.decoder.hidden_size` when nested), with what it held and what was expected. */
  ignored: Ignored[];
  /** What was ignored, in one sentence (undefined when nothing was). */
  note?: string;
}

export interface Ignored { field: string; value: unknown; expected: string }

/** An ignored field in words: `num_hidden_layers is "12" (not a whole number)`. */
export const ignoredPhrase = (i: Ignored) => `${printable(i.field)} is ${shortJson(i.value)} (${i.expected})`;

const EXPECTED: Record<FieldKind, string> = {
  count: 'not a whole number', number: 'not a number', string: 'not a string', boolean: 'not true or false',
  list: 'not a list', strings: 'not a list of strings', token: 'not a string',
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function fits(v: unknown, kind: FieldKind): boolean {
  switch (kind) {
    case 'count': return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'string': return typeof v === 'string';
    case 'boolean': return typeof v === 'boolean';
    case 'list': return Array.isArray(v);
    case 'strings': return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'token': return typeof v === 'string' || isObject(v);
  }
}

/** A JSON value as the note shows it: short, and safe to print. */
export function shortJson(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return printable(s.length > 40 ? `${s.slice(0, 39)}…` : s);
}

/** What a value is, in a phrase: "null", "a list", "a string". */
function kindOfValue(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : `a ${typeof v}`;
}

/** The schema's fields of `o`, by type; wrong-typed ones are removed from `o` and listed. */
function pick(o: Record<string, unknown>, schema: Schema, prefix: string, ignored: Ignored[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, kind] of Object.entries(schema)) {
    const v = o[field];
    if (v === undefined || v === null) continue;
    const name = `${prefix}${field}`;
    if (typeof kind === 'string' ? fits(v, kind) : isObject(v)) {
      out[field] = typeof kind === 'string' ? v : pick(v as Record<string, unknown>, kind, `${name}.`, ignored);
      continue;
    }
    ignored.push({ field: name, value: v, expected: typeof kind === 'string' ? EXPECTED[kind] : 'not an object' });
    delete o[field];
  }
  return out;
}

/** Reads a parsed sidecar through its schema; `name` is how notes name the file (its name, or ../name one folder up). */
export function typedSidecar<S extends Schema>(value: unknown, file: string, name: string, schema: S): Sidecar<S> {
  if (!isObject(value)) {
    const note = `${printable(name)} holds ${kindOfValue(value)}, not a JSON object, so it was ignored. Restore the file that came with the model.`;
    return { file, fields: {}, object: {}, ignored: [], note };
  }
  const object = { ...value };
  const ignored: Ignored[] = [];
  const fields = pick(object, schema, '', ignored) as Typed<S>;
  const one = ignored.length === 1;
  const note = ignored.length
    ? `${printable(name)} has ${one ? 'a field' : 'fields'} of the wrong type, ignored: ${ignored.map(ignoredPhrase).join(', ')}. `
      + `Correct ${one ? 'it' : 'them'}, or restore the file that came with the model.`
    : undefined;
  return { file, fields, object, ignored, note };
}

/**
 * A sidecar file read through its schema. A file that is not there is undefined; one that is a
 * broken link counts as empty and is said in the note. A file that cannot be read or is not JSON is
 * refused by readJsonFile, in a sentence naming it.
 */
export function readSidecar<S extends Schema>(file: string, name: string, what: string, schema: S, maxBytes = FILE_LIMITS.config): Sidecar<S> | undefined {
  const broken = brokenLink(file);
  if (broken) return { file, fields: {}, object: {}, ignored: [], note: `${printable(name)} is ${broken}, so it was ignored.` };
  if (!existsSync(file)) return undefined;
  return typedSidecar(readJsonFile(file, what, maxBytes), file, name, schema);
}

/** The notes of several sidecars, each once. */
export function sidecarNotes(...cars: (Sidecar<Schema> | undefined)[]): string[] {
  return [...new Set(cars.map((c) => c?.note).filter((n): n is string => !!n))];
}
