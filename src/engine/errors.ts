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
  | 'unsafe-output';

export class EngineError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export function isEngineError(e: unknown): e is EngineError {
  return e instanceof Error && (e as EngineError).name === 'EngineError' && typeof (e as EngineError).code === 'string';
}
