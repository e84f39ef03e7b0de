import type { Wording } from '../engine/base/errors';

const FLAGS = {
  maxTokens: '--max-tokens', prompt: '--prompt', ids: '--ids', image: '--image', feed: '--feed NAME=FILE', decoderIds: '--decoder-ids',
  variant: '--variant NAME', replaceInvalidUtf8: '--replace-invalid-utf8', alignByText: '--align-by-text', memoryLimit: '--memory-limit-mb',
} as const;

/** Engine messages in the command line's words: each option is its flag. */
export const cliWording: Wording = (o, arg) => (arg !== undefined ? `${FLAGS[o].split(' ')[0]} ${arg}` : FLAGS[o]);
