import attention from './attention/view';
import compare from './compare/view';
import featureMap from './featureMap/view';
import fixRegMean from './fixRegMean/view';
import implicitBias from './implicitBias/view';
import intervene from './intervene/view';
import scanMany from './scanMany/view';
import sinkRate from './sinkRate/view';
import superWeights from './superWeights/view';

/**
 * Every experiment's front-end half, by engine method: what the extension host, the CLI and the
 * webview know of it. The protocol's types, the CLI's subcommands and the exports are derived from
 * here; the engine process runs each through runners.ts. Adding an experiment "name":
 *   1. src/experiments/name/run.ts (the worker half) and view.ts (this half: experiment<O, R>()({ … }));
 *   2. here, an import and its name in EXPERIMENTS; in runners.ts, an import and its line in RUNNERS;
 *   3. with card: true, its card in webview/inspector/experiments.ts (the compiler asks for it);
 *   4. its subcommand's options, if new, in VALUED or BOOLEAN of src/cli/args.ts, and a line of the README.
 */
export const EXPERIMENTS = { scanMany, featureMap, intervene, attention, implicitBias, superWeights, fixRegMean, compare, sinkRate };

export type Experiments = typeof EXPERIMENTS;
export type ExperimentMethod = keyof Experiments;
export type OptionsOf<K extends ExperimentMethod> = NonNullable<Experiments[K]['types']>['options'];
export type ResultOf<K extends ExperimentMethod> = NonNullable<Experiments[K]['types']>['result'];
/** The experiments the inspector shows as cards. */
export type CardMethod = { [K in ExperimentMethod]: Experiments[K]['card'] extends true ? K : never }[ExperimentMethod];
