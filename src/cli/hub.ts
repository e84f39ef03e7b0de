import { sizePart, terminalSafe } from '../engine/base/text';
import { stringFlag, type Flags } from '../experiments/flags';
import { fetchModel, type Fetched } from '../hub/fetch';
import { isHubRef } from '../hub/ref';
import type { CliArgs } from './args';

export const DOWNLOAD_USAGE = 'download hf://OWNER/NAME[@REVISION] [--variant NAME] [--json] [--out FILE]';

/**
 * hf://OWNER/NAME[@REVISION] wherever a command takes a model: fetched into the Hugging Face cache
 * (only what the chosen variant needs) and replaced by its folder there. Notes go to standard error.
 */
export async function resolveHubModels(args: CliArgs): Promise<CliArgs> {
  if (!isHubRef(args.model) && !args.rest.some(isHubRef)) return args;
  const local = async (m: string) => (isHubRef(m) ? (await fetchHub(m, args.flags)).folder : m);
  return { ...args, model: args.model && (await local(args.model)), rest: await Promise.all(args.rest.map(local)) };
}

export async function fetchHub(spec: string, flags: Flags): Promise<Fetched> {
  const tty = process.stderr.isTTY && !flags.has('json');
  const f = await fetchModel(spec, {
    variant: stringFlag(flags, 'variant'),
    onProgress: tty ? (p) => process.stderr.write(`\r${terminalSafe(p.file)} ${sizePart(p.done, p.total)}`.padEnd(70)) : undefined,
  });
  if (tty) process.stderr.write('\r'.padEnd(71) + '\r');
  for (const n of f.notes) process.stderr.write(`massive-activations: note: ${terminalSafe(n)}\n`);
  return f;
}

/** massive-activations download hf://…: fetch without running; the local folder as text, and as a JSON document. */
export async function download(model: string, flags: Flags): Promise<{ text: string; json: string }> {
  const f = await fetchHub(model, flags);
  return { text: f.folder, json: JSON.stringify({ folder: f.folder, commit: f.commit, variant: f.variant, variants: f.variants, files: f.files }, null, 2) };
}
