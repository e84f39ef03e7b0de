import type { Flags } from '../cli/args';

/** Options cross the process boundary without their callbacks (progress, cancellation, sessions). */
export type Wire<T> = Omit<T, 'onProgress' | 'signal' | 'open'>;

/**
 * Everything about one experiment, in one place: the engine method that runs it, its command-line
 * subcommand, its text / CSV / JSON views and whether the inspector shows it as a card. The
 * protocol's types, the engine process's handlers, the CLI's subcommands and the exports are all
 * derived from these (see registry.ts); the panel's card is the one other file a new experiment
 * needs (webview/inspector/cards.ts, checked against `card` by the compiler).
 */
export interface Experiment<M extends string, O, R, C extends boolean> {
  method: M;
  card: C;
  /** Runs in the engine process. Loaded on first use, so that the extension host never loads ONNX Runtime. */
  run(file: string, options: O): Promise<R>;
  text(result: R): string;
  csv(result: R): string;
  /** The --json document (default: the result itself). */
  json?(result: R): unknown;
  cli: { name: string; usage: string; args(model: string, flags: Flags, rest: string[]): { file: string; options: Wire<O> } };
}

export function experiment<M extends string, O, R, C extends boolean>(e: Experiment<M, O, R, C>): Experiment<M, O, R, C> {
  return e;
}
