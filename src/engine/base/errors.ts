/**
 * Errors the user can act on. Everything the engine refuses is thrown as an EngineError whose
 * message says what happened and what to do; front ends print the message without a stack.
 */
export type ErrorCode =
  | 'not-found'
  | 'not-onnx'
  | 'not-transformer'
  | 'training-graph'
  | 'missing-external-data'
  | 'unsafe-external-data'
  | 'unsupported-input'
  | 'bad-prompt'
  | 'bad-ids'
  | 'too-long'
  | 'out-of-memory'
  | 'runtime'
  | 'cancelled'
  | 'worker-crashed'
  | 'bad-argument'
  /** A file the run needs is not a regular, readable, sanely sized file. */
  | 'bad-file'
  /** The ONNX file parses but is not a valid model (cycles, impossible sizes, bad fields). */
  | 'invalid-model'
  /** The model produced NaN or infinite values where a measure needs finite ones. */
  | 'non-finite'
  /** An output path would overwrite an input (the model, its weights, tokenizer, config, or another output). */
  | 'unsafe-output'
  /** A command needs what the user has not done yet: a model open in the inspector, a result to export. */
  | 'not-ready';

/**
 * A setting the user can change to get past an error. The engine names it; each front end words
 * it (a flag in the CLI, a setting or a panel control in VS Code), so no message inside VS Code
 * tells the user to pass a command-line flag.
 */
const USER_OPTIONS = ['maxTokens', 'prompt', 'ids', 'image', 'feed', 'decoderIds', 'variant', 'replaceInvalidUtf8', 'alignByText', 'memoryLimit', 'hubToken', 'truncate'] as const;
export type UserOption = typeof USER_OPTIONS[number];

/** The input itself was refused (no tokens, ids outside the vocabulary, too long): a mistake to show beside the input. */
export function isInputError(e: unknown): boolean {
  return isEngineError(e) && (e.code === 'bad-prompt' || e.code === 'bad-ids' || e.code === 'too-long');
}

/** How a front end words a user option; `arg` is the option's value where the message gives one. */
export type Wording = (option: UserOption, arg?: string) => string;

const MARK = /\u27e6(\w+)(?: ([^\u27e7]*))?\u27e7/g;

/** A user option inside a message: worded later, by whoever shows the message. */
export function option(o: UserOption, arg?: string): string {
  return `\u27e6${o}${arg !== undefined ? ` ${arg}` : ''}\u27e7`;
}

/** The front-end-neutral wording (engine tests and logs): the option's name in the engine's API. */
export const apiWording: Wording = (o, arg) => (arg !== undefined ? `${o} ${arg}` : `the ${o} option`);

/** A message template (or warning, or any text carrying one) with its options worded by `w`. */
export function word(template: string, w: Wording): string {
  return template.replace(MARK, (m, o: string, arg?: string) => ((USER_OPTIONS as readonly string[]).includes(o) ? w(o as UserOption, arg) : m));
}

export class EngineError extends Error {
  /** The message with its user options marked (see `option`), for a front end to word. */
  readonly template: string;

  constructor(
    readonly code: ErrorCode,
    template: string,
    /** What the message is about, as data (e.g. a too-long input's tokens and limit). */
    readonly facts: Record<string, string | number> = {},
  ) {
    super(word(template, apiWording));
    this.template = template;
    this.name = 'EngineError';
  }

  /** The message in a front end's words. */
  worded(w: Wording): string {
    return word(this.template, w);
  }
}

/** Any error's message for a user, worded by `w` where it is an engine error. */
export function userMessage(e: unknown, w: Wording): string {
  if (isEngineError(e)) return typeof (e as EngineError).worded === 'function' ? (e as EngineError).worded(w) : e.message;
  return `Unexpected error: ${(e as Error)?.message ?? String(e)}`;
}

export function isEngineError(e: unknown): e is EngineError {
  return e instanceof Error && (e as EngineError).name === 'EngineError' && typeof (e as EngineError).code === 'string';
}

/** The one error a cancelled call ends with, wherever it stops (queue, engine, segment border). */
export function cancelled(): EngineError {
  return new EngineError('cancelled', 'Cancelled.');
}

export function isCancelled(e: unknown): boolean {
  return isEngineError(e) && e.code === 'cancelled';
}

/** Stops between model runs once the call is cancelled. */
export function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw cancelled();
}
