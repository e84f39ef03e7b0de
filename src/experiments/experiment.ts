import type { KeepInput } from './commandLine';
import type { Flags } from './flags';

/** Options cross the process boundary without their callbacks (progress, cancellation, sessions). */
export type Wire<T> = Omit<T, 'onProgress' | 'signal' | 'open'>;

/**
 * The front-end half of one experiment: its engine method, its command-line subcommand, its text /
 * CSV / JSON views and whether the inspector shows it as a card. It holds no engine values, so the
 * extension host, the CLI and the webview can import it without loading the engine; the worker
 * half (run.ts beside it) is reached only through runners.ts, in the engine process.
 */
export interface Experiment<M extends string, O, R, C extends boolean> {
  method: M;
  card: C;
  text(result: R): string;
  csv(result: R): string;
  /** The --json document (default: the result itself). */
  json?(result: R): unknown;
  cli: {
    name: string;
    usage: string;
    args(model: string, flags: Flags, rest: string[]): { file: string; options: Wire<O> };
    /** The inverse of args: the flags (after MODEL) that give these options, inline inputs kept as files. */
    flags(options: Wire<O>, keep: KeepInput): string[];
  };
  /** Carries the options and result types (never set): the runner map is checked against them. */
  readonly types?: { options: O; result: R };
}

/** experiment<Options, Result>()({ … }): the types are given, the method and card inferred. */
export function experiment<O, R>() {
  return <M extends string, C extends boolean>(e: Experiment<M, O, R, C>): Experiment<M, O, R, C> => e;
}
