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
  | 'bad-argument';

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
