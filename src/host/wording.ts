import { word, type Wording } from '../engine/base/errors';

/**
 * Engine messages in VS Code's words: an option is the setting or the panel control that sets it,
 * never a command-line flag.
 */
export const vscodeWording: Wording = (o, arg) => {
  switch (o) {
    case 'maxTokens': return 'the massiveActivations.maxTokens setting';
    case 'prompt': return 'the panel\'s prompt';
    case 'ids': return arg !== undefined ? `the panel's Token ids box, e.g. ${arg}` : 'the panel\'s Token ids box';
    case 'image': return 'an image (Choose image…)';
    case 'feed': {
      const [name, file] = (arg ?? 'NAME=FILE.npy').split('=');
      return `the massiveActivations.feeds setting ({ "${name}": "${file}" })`;
    }
    case 'decoderIds': return `a decoder_start_token_id in config.json (e.g. ${arg ?? '0'})`;
    case 'variant': return 'open one of its .onnx files, or pick a variant when asked';
    case 'replaceInvalidUtf8': return 'the CLI\'s --replace-invalid-utf8; in VS Code, reopen the file with its encoding and save it as UTF-8';
    case 'alignByText': return 'the CLI\'s --align-by-text';
    case 'memoryLimit': return 'the CLI\'s --memory-limit-mb';
    case 'truncate': return 'the button beside this message in the panel';
    case 'hubToken': return 'run "Massive Activations: Sign in to Hugging Face" with an access token of an account that may read it (https://huggingface.co/settings/tokens)';
  }
};

/** A result's warnings in VS Code's words (they can name options, as errors do). */
export function wordWarnings<T extends { warnings?: string[] }>(r: T): T {
  return r.warnings?.length ? { ...r, warnings: r.warnings.map((w) => word(w, vscodeWording)) } : r;
}
