import { mkdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { npy } from '../models/npy';
import { png } from '../models/hostile';

/**
 * Corpus cases about a run's input rather than the model (issue 25): the engine call's options,
 * the CLI's arguments, feed files written beside the case (never inside its folder, which is
 * fingerprinted), and what the case must give — a refusal in a sentence matching a pattern, or a
 * result whose tokens are the ids that ran. Such recipes carry no mutations.
 */

/** A feed file: its text, or a .npy of values; `size` extends it with a hole (a sparse file of that size). */
export type FeedFile = { file: string; size?: number } & ({ text: string } | { npy: { descr: string; shape: number[]; values?: number[] } });

export interface RecipeInput {
  /** The engine method and the CLI command ('scan' unless said). */
  method?: 'scan' | 'compare';
  /** The engine call's options besides the model (compare gets `files: [model]`) and feeds. */
  options?: Record<string, unknown>;
  /** The CLI's arguments after the model; a --feed per feed is added. */
  args?: string[];
  /** Feeds by input name. */
  feeds?: Record<string, FeedFile>;
  /** An image beside the case: the engine's `image` option and the CLI's --image. */
  image?: boolean;
  /** The case's folder without tokenizer.json (nor tokenizer_config.json). */
  withoutTokenizer?: boolean;
  /** A refusal matching `refused` (in the engine's and the CLI's words), or a result with these token ids (null: no id). */
  expect: { refused: string } | { tokens: (number | null)[] };
}

/** Writes the case's inputs into `dir`; returns the engine options and the CLI arguments. */
export function writeInputs(input: RecipeInput, model: string, dir: string): { method: string; options: Record<string, unknown>; args: string[] } {
  mkdirSync(dir, { recursive: true });
  if (input.withoutTokenizer) for (const f of ['tokenizer.json', 'tokenizer_config.json']) rmSync(path.join(path.dirname(model), f), { force: true });
  const feeds: Record<string, string> = {};
  for (const [name, f] of Object.entries(input.feeds ?? {})) {
    const file = path.join(dir, f.file);
    if ('text' in f) writeFileSync(file, f.text);
    else {
      const { descr, shape, values = [] } = f.npy;
      const data = descr === '<i8' ? BigInt64Array.from(values.map(BigInt)) : descr === '<f8' ? Float64Array.from(values) : Float32Array.from(values);
      writeFileSync(file, npy(descr, shape, data));
    }
    if (f.size !== undefined) truncateSync(file, f.size);
    feeds[name] = file;
  }
  const method = input.method ?? 'scan';
  const image = input.image ? png(path.join(dir, 'image.png')) : undefined;
  const options = { ...input.options, ...(method === 'compare' ? { files: [model] } : {}), ...(image ? { image } : {}), ...(input.feeds ? { feeds } : {}) };
  const args = [...(input.args ?? []), ...(image ? ['--image', image] : []), ...Object.entries(feeds).flatMap(([name, file]) => ['--feed', `${name}=${file}`])];
  return { method, options, args };
}

/** What is wrong with an answer, against the case's expectation (empty: as expected). */
export function unexpected(input: RecipeInput, answer: { value?: unknown; error?: unknown }, message?: string): string[] {
  const e = input.expect;
  // No answer at all (a timeout) is reported by the harness itself.
  if (answer.value === undefined && answer.error === undefined) return [];
  if ('refused' in e) {
    if (answer.error === undefined) return [`expected a refusal matching /${e.refused}/, got a result`];
    const said = message ?? String((answer.error as Error)?.message);
    return new RegExp(e.refused).test(said) ? [] : [`the refusal does not match /${e.refused}/: ${said}`];
  }
  if (answer.error !== undefined) return [`expected a result, got: ${message ?? String((answer.error as Error)?.message)}`];
  const tokens = (answer.value as { tokens?: { id: number | null }[] }).tokens?.map((t) => t.id);
  const [shown, ran] = [tokens, e.tokens].map((x) => JSON.stringify(x));
  return shown === ran ? [] : [`the tokens are ${shown}, not the ids that ran ${ran}`];
}
