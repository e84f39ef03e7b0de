import { word, type UserOption, type Wording } from '../engine/base/errors';
import { jsonSafe } from '../engine/base/text';

/* The command line's words for the engine's user options: shared, as a report from VS Code cites command lines too. */

const FLAGS = {
  maxTokens: '--max-tokens', prompt: '--prompt', ids: '--ids', image: '--image', feed: '--feed NAME=FILE', decoderIds: '--decoder-ids',
  variant: '--variant NAME', replaceInvalidUtf8: '--replace-invalid-utf8', alignByText: '--align-by-text', memoryLimit: '--memory-limit-mb',
  truncate: '--truncate',
} as const;

/** Options that are not a flag: said whole. */
const SENTENCES: Partial<Record<UserOption, string>> = {
  hubToken: 'set HF_TOKEN to an access token of an account that may read it (https://huggingface.co/settings/tokens)',
};

/** Engine messages in the command line's words: each option is its flag. */
export const cliWording: Wording = (o, arg) => {
  const sentence = SENTENCES[o];
  if (sentence) return sentence;
  const flag = FLAGS[o as keyof typeof FLAGS];
  return arg !== undefined ? `${flag.split(' ')[0]} ${arg}` : flag;
};

/** A result document as `--json` prints it: indented, JSON-safe, its option marks worded as flags. */
export function cliJson(doc: unknown): string {
  return word(jsonSafe(JSON.stringify(doc, null, 2)), cliWording);
}
